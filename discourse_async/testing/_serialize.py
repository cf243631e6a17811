"""Records as a current Discourse serializes them, field for field where it matters to clients.

Each function mirrors one Discourse serializer (BasicUserSerializer, PostSerializer,
TopicListItemSerializer, ...). Fields that only make sense on a real site (flair, reviewables,
drafts) carry the value a fresh site sends.
"""

from __future__ import annotations

from typing import Any

from discourse_async.testing._store import (
    NOTIFICATION_TYPES,
    POST_ACTION_TYPES,
    POST_TYPES,
    TRUST_LEVELS,
    Badge,
    Category,
    Group,
    Notification,
    Post,
    Store,
    Topic,
    Upload,
    User,
    UserAction,
    excerpt,
    iso,
)

JSON = dict[str, Any]
_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def basic_user(user: User) -> JSON:
    """BasicUserSerializer."""
    return {"id": user.id, "username": user.username, "name": user.name, "avatar_template": user.avatar_template}


def user_with_flair(user: User) -> JSON:
    """A basic user with the flair and rank fields that participant lists carry."""
    return basic_user(user) | {
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_color": None,
        "flair_bg_color": None,
        "flair_group_id": None,
        "admin": user.admin,
        "moderator": user.moderator,
        "trust_level": user.trust_level,
    }


# ------------------------------------------------------------------------------------- posts


def _actions_summary(post: Post, viewer: User | None) -> list[JSON]:
    summary: JSON = {"id": POST_ACTION_TYPES["like"]}
    if post.likes:
        summary["count"] = len(post.likes)
    if viewer is not None and viewer.id in post.likes:
        summary |= {"acted": True, "can_undo": True}
    elif viewer is not None and viewer.id != post.user_id:
        summary["can_act"] = True
    return [summary] if len(summary) > 1 else []


def post(store: Store, viewer: User | None, p: Post, *, raw: bool = False) -> JSON:
    """PostSerializer: one post as a viewer sees it (``raw`` as /posts/{id}.json adds it)."""
    topic = store.topics[p.topic_id]
    author = store.users.get(p.user_id)
    staff = viewer is not None and viewer.staff
    mine = viewer is not None and viewer.id == p.user_id
    can_edit = viewer is not None and (staff or (mine and not p.locked and not topic.archived))
    data: JSON = {
        "id": p.id,
        "name": author.name if author else None,
        "username": author.username if author else "deleted",
        "avatar_template": author.avatar_template if author else "/images/avatar.png",
        "created_at": iso(p.created_at),
        "cooked": p.cooked,
        "post_number": p.post_number,
        "post_type": p.post_type,
        "posts_count": author.post_count if author else 0,
        "updated_at": iso(p.updated_at),
        "reply_count": p.reply_count,
        "reply_to_post_number": p.reply_to_post_number,
        "quote_count": 0,
        "incoming_link_count": 0,
        "reads": 1,
        "readers_count": 0,
        "score": float(len(p.likes) * 15 + p.reply_count * 5),
        "yours": mine,
        "topic_id": topic.id,
        "topic_slug": topic.slug,
        "display_username": author.name if author else None,
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "flair_group_id": None,
        "badges_granted": [],
        "version": p.version,
        "can_edit": can_edit,
        "can_delete": viewer is not None and (staff or mine) and p.deleted_at is None,
        "can_recover": staff and p.deleted_at is not None,
        "can_see_hidden_post": staff,
        "can_wiki": staff,
        "user_title": author.title if author else None,
        "bookmarked": viewer is not None and viewer.id in p.bookmarked_by,
        "actions_summary": _actions_summary(p, viewer),
        "moderator": bool(author and author.moderator),
        "admin": bool(author and author.admin),
        "staff": bool(author and author.staff),
        "user_id": p.user_id,
        "hidden": p.hidden,
        "trust_level": author.trust_level if author else 0,
        "deleted_at": iso(p.deleted_at),
        "user_deleted": author is None,
        "edit_reason": p.edit_reason,
        "can_view_edit_history": True,
        "wiki": p.wiki,
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
        "post_url": f"/t/{topic.slug}/{topic.id}/{p.post_number}",
        "mentioned_users": [],
    }
    if p.action_code is not None:
        data["action_code"] = p.action_code
    if staff:
        data["locked"] = p.locked
    if raw:
        data["raw"] = p.raw
    if p.reply_to_post_number is not None:
        parent = topic.post_by_number(p.reply_to_post_number)
        if parent is not None and parent.user_id in store.users:
            data["reply_to_user"] = basic_user(store.users[parent.user_id])
    return for_viewer(viewer, data)


def stream_post(store: Store, viewer: User | None, p: Post) -> JSON:
    """A post as topic views list it (post_stream.posts), with the viewer's read state."""
    data = post(store, viewer, p)
    del data["badges_granted"], data["mentioned_users"]
    data["read"] = viewer is not None
    if viewer is not None:
        data["reviewable_id"] = 0
    data["link_counts"] = []
    return data


def latest_post(store: Store, viewer: User | None, p: Post) -> JSON:
    """A post as /posts.json lists it: with its raw and its topic's title."""
    topic = store.topics[p.topic_id]
    data = post(store, viewer, p, raw=True)
    data |= {
        "topic_title": topic.title,
        "topic_html_title": topic.fancy_title,
        "category_id": topic.category_id,
        "excerpt": excerpt(p.cooked),
        "truncated": False,
        "posts_count": topic.live_posts,
    }
    del data["mentioned_users"]
    return data


# ------------------------------------------------------------------------------------- topics


def _posters(store: Store, topic: Topic) -> list[JSON]:
    """Up to five posters: the original poster, frequent ones, and the most recent (Discourse's order)."""
    first = topic.posts[0].user_id if topic.posts else topic.user_id
    recent: list[int] = []
    for p in reversed(topic.posts[-40:]):
        if p.deleted_at is None and p.post_type == 1 and p.user_id not in recent and p.user_id != first:
            recent.append(p.user_id)
    ids = [first, *reversed(recent[:4])]
    out = []
    for index, uid in enumerate(ids):
        last = index == len(ids) - 1
        if index == 0:
            description = "Original Poster" + (", Most Recent Poster" if last else "")
        else:
            description = "Most Recent Poster" if last else "Frequent Poster"
        out.append(
            {"extras": "latest" if last else None, "description": description, "user_id": uid, "primary_group_id": None}
        )
    return out


def tag_objects(store: Store, topic: Topic) -> list[Any]:
    """A topic's tags: plain names, as most sites send them; objects where ``store.tags_as_objects`` is on."""
    if not store.tags_as_objects:
        return [name for name in topic.tags if name in store.tags]
    return [{"id": store.tags[name].id, "name": name, "slug": name} for name in topic.tags if name in store.tags]


def for_viewer(viewer: User | None, data: JSON) -> JSON:
    """Anonymous views leave out the ``can_*`` permission flags and reviewable counts, as real sites do."""
    if viewer is None:
        for key in [k for k in data if k.startswith(("can_", "reviewable_"))]:
            del data[key]
    return data


def topic_list_item(store: Store, viewer: User | None, topic: Topic) -> JSON:
    """TopicListItemSerializer (PM lists add participants and allowed_user_count)."""
    last_poster = store.users.get(topic.last_post_user_id)
    first = topic.posts[0] if topic.posts else None
    data: JSON = {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.fancy_title,
        "slug": topic.slug,
        "posts_count": topic.live_posts,
        "reply_count": max(0, topic.live_posts - 1),
        "highest_post_number": topic.highest_post_number,
        "image_url": None,
        "created_at": iso(topic.created_at),
        "last_posted_at": iso(topic.last_posted_at),
        "bumped": topic.bumped_at > topic.created_at,
        "bumped_at": iso(topic.bumped_at),
        "archetype": topic.archetype,
        "unseen": False,
        "pinned": topic.pinned_at is not None,
        "unpinned": None,
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "views": topic.views,
        "like_count": topic.like_count,
        "has_summary": False,
        "last_poster_username": last_poster.username if last_poster else "system",
        "category_id": topic.category_id,
        "op_like_count": len(first.likes) if first else 0,
        "pinned_globally": topic.pinned_globally,
        "featured_link": topic.featured_link,
        "tags": tag_objects(store, topic),
        "tags_descriptions": {},
        "posters": _posters(store, topic),
    }
    if topic.pinned_at is not None and first is not None:
        data["excerpt"] = excerpt(first.cooked)
    if viewer is not None:
        data |= {
            "last_read_post_number": topic.highest_post_number if viewer.id == topic.user_id else 0,
            "unread_posts": 0,
            "notification_level": viewer.topic_levels.get(topic.id, 1),
            "bookmarked": topic.id in viewer.bookmarked_topics,
            "liked": any(viewer.id in p.likes for p in topic.posts[:1]),
        }
    if topic.private:
        data["allowed_user_count"] = len(topic.allowed_user_ids)
        data["participants"] = [
            {"extras": None, "description": None, "user_id": uid, "primary_group_id": None}
            for uid in topic.allowed_user_ids
        ]
    return data


def topic_list(
    store: Store,
    viewer: User | None,
    topics: list[Topic],
    *,
    more_topics_url: str | None,
    per_page: int,
    extra: JSON | None = None,
) -> JSON:
    """The body of every topic list: the page's topics, their users, and the next page's URL."""
    items = [topic_list_item(store, viewer, t) for t in topics]
    user_ids: dict[int, None] = {}
    for item in items:
        for poster in item["posters"]:
            user_ids[poster["user_id"]] = None
        for participant in item.get("participants", []):
            user_ids[participant["user_id"]] = None
    body: JSON = {
        "draft": None,
        "draft_key": "new_topic",
        "draft_sequence": 0 if viewer is not None else None,
        "per_page": per_page,
        "topics": items,
    }
    if viewer is not None:
        body["can_create_topic"] = True
    if more_topics_url is not None:
        body["more_topics_url"] = more_topics_url
    body |= extra or {}
    users = [basic_user(store.users[uid]) for uid in user_ids if uid in store.users]
    return {"users": users, "primary_groups": [], "topic_list": body}


def basic_topic(topic: Topic) -> JSON:
    """BasicTopicSerializer."""
    return {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.fancy_title,
        "slug": topic.slug,
        "posts_count": topic.live_posts,
    }


def topic_timer(topic: Topic) -> JSON | None:
    """TopicTimerSerializer, or None."""
    timer = topic.timer
    if timer is None:
        return None
    return {
        "id": timer.id,
        "execute_at": iso(timer.execute_at),
        "duration_minutes": timer.duration_minutes,
        "based_on_last_post": timer.based_on_last_post,
        "status_type": timer.status_type,
        "category_id": timer.category_id,
    }


def topic_view(store: Store, viewer: User | None, topic: Topic, posts: list[Post], stream: list[int]) -> JSON:
    """TopicViewSerializer: the topic, its first chunk of posts and the ids of all of them."""
    staff = viewer is not None and viewer.staff
    mine = viewer is not None and viewer.id == topic.user_id
    creator = store.users.get(topic.user_id)
    last = store.users.get(topic.last_post_user_id)
    counts: dict[int, int] = {}
    for p in topic.posts:
        if p.deleted_at is None and p.post_type == 1:
            counts[p.user_id] = counts.get(p.user_id, 0) + 1
    participants = [
        user_with_flair(store.users[uid]) | {"post_count": n}
        for uid, n in sorted(counts.items(), key=lambda kv: -kv[1])[:24]
        if uid in store.users
    ]
    can_post = viewer is not None and not topic.archived and (not topic.closed or staff)
    details: JSON = {
        "can_edit": staff or mine,
        "notification_level": viewer.topic_levels.get(topic.id, 1) if viewer else 1,
        "can_move_posts": staff,
        "can_delete": staff,
        "can_remove_allowed_users": staff,
        "can_create_post": can_post,
        "can_reply_as_new_topic": can_post,
        "can_invite_to": viewer is not None and (staff or topic.private),
        "can_invite_via_email": staff,
        "can_flag_topic": viewer is not None,
        "can_convert_topic": staff,
        "can_review_topic": staff,
        "can_close_topic": staff,
        "can_archive_topic": staff,
        "can_split_merge_topic": staff,
        "can_edit_staff_notes": staff,
        "can_toggle_topic_visibility": staff,
        "can_pin_unpin_topic": staff,
        "can_banner_topic": staff,
        "can_moderate_category": staff,
        "participants": participants,
        "created_by": basic_user(creator) if creator else None,
        "last_poster": basic_user(last) if last else None,
    }
    if viewer is not None and topic.private and viewer.id in topic.allowed_user_ids:
        details["can_remove_self_id"] = viewer.id
    if topic.private:
        details["allowed_users"] = [basic_user(store.users[u]) for u in topic.allowed_user_ids if u in store.users]
        details["allowed_groups"] = [
            {"id": g, "name": store.groups[g].name} for g in topic.allowed_group_ids if g in store.groups
        ]
    first = topic.posts[0] if topic.posts else None
    return {
        "post_stream": {"posts": [stream_post(store, viewer, p) for p in posts], "stream": stream},
        "timeline_lookup": [[1, 0]],
        "suggested_topics": [],
        "tags": tag_objects(store, topic),
        "tags_descriptions": {},
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.fancy_title,
        "posts_count": topic.live_posts,
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": max(0, topic.live_posts - 1),
        "like_count": topic.like_count,
        "last_posted_at": iso(topic.last_posted_at),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "has_summary": False,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": topic.category_id,
        "word_count": sum(len(p.raw.split()) for p in posts),
        "deleted_at": iso(topic.deleted_at),
        "user_id": topic.user_id,
        "featured_link": topic.featured_link,
        "pinned_globally": topic.pinned_globally,
        "pinned_at": iso(topic.pinned_at),
        "pinned_until": iso(topic.pinned_until),
        "image_url": None,
        "slow_mode_seconds": 0,
        "draft": None,
        "draft_key": f"topic_{topic.id}",
        "draft_sequence": 0 if viewer is not None else None,
        "unpinned": None,
        "pinned": topic.pinned_at is not None,
        "current_post_number": 1,
        "highest_post_number": topic.highest_post_number,
        "deleted_by": None,
        "has_deleted": any(p.deleted_at is not None for p in topic.posts) if staff else False,
        "actions_summary": [{"id": 4, "count": 0, "hidden": False, "can_act": viewer is not None}],
        "chunk_size": 20,
        "bookmarked": viewer is not None and topic.id in viewer.bookmarked_topics,
        "bookmarks": [],
        "topic_timer": topic_timer(topic),
        "message_bus_last_id": 0,
        "participant_count": len(counts),
        "show_read_indicator": False,
        "thumbnails": None,
        "slow_mode_enabled_until": None,
        "external_id": topic.external_id,
        "op_like_count": len(first.likes) if first else 0,
        "details": for_viewer(viewer, details),
    }


# ------------------------------------------------------------------------------------- categories


def category(store: Store, viewer: User | None, c: Category, *, full: bool = False) -> JSON:
    """BasicCategorySerializer, or CategorySerializer with ``full``."""
    visible_topics = [t for t in store.topics.values() if t.category_id == c.id and t.deleted_at is None]
    staff = viewer is not None and viewer.staff
    subcategories = store.subcategory_ids(c)
    data: JSON = {
        "id": c.id,
        "name": c.name,
        "color": c.color,
        "text_color": c.text_color,
        "style_type": c.style_type,
        "emoji": c.emoji,
        "icon": c.icon,
        "slug": c.slug,
        "topic_count": len(visible_topics),
        "post_count": sum(t.live_posts for t in visible_topics),
        "position": c.position,
        "description": c.description,
        "description_text": c.description,
        "description_excerpt": c.description,
        "topic_url": f"/t/about-the-{c.slug}-category/{c.id}",
        "read_restricted": c.read_restricted,
        "permission": (1 if staff or not c.read_restricted else 3) if viewer is not None else None,
        "notification_level": 1,
        "can_edit": staff,
        "topic_template": None,
        "topic_title_placeholder": None,
        "has_children": bool(subcategories),
        "subcategory_count": len(subcategories) or None,
        "sort_order": None,
        "sort_ascending": None,
        "show_subcategory_list": False,
        "num_featured_topics": 3,
        "default_view": None,
        "subcategory_list_style": "rows_with_featured_topics",
        "default_top_period": "all",
        "default_list_filter": "all",
        "minimum_required_tags": 0,
        "navigate_to_first_post_after_read": False,
        "allow_global_tags": False,
        "required_tag_groups": [],
        "read_only_banner": None,
        "uploaded_logo": None,
        "uploaded_logo_dark": None,
        "uploaded_background": None,
        "uploaded_background_dark": None,
        "form_template_ids": [],
        "custom_fields": {},
        "category_types": {},
    }
    if c.parent_category_id is not None:
        data["parent_category_id"] = c.parent_category_id
    if full:
        data |= {
            "locale": None,
            "allowed_tags": [],
            "allowed_tag_groups": [],
            "category_setting": {
                "auto_bump_cooldown_days": 1,
                "num_auto_bump_daily": None,
                "require_reply_approval": None,
                "require_topic_approval": None,
                "nested_replies_default": None,
                "topic_posting_review_mode": "no_one",
                "reply_posting_review_mode": "no_one",
            },
            "category_localizations": [],
            "available_groups": [g.name for g in store.groups.values() if g.name not in c.permissions],
            "auto_close_hours": None,
            "auto_close_based_on_last_post": False,
            "allow_unlimited_owner_edits_on_first_post": False,
            "default_slow_mode_seconds": None,
            "group_permissions": [
                {
                    "permission_type": level,
                    "group_name": name,
                    "group_id": next((g.id for g in store.groups.values() if g.name == name), 0),
                }
                for name, level in c.permissions.items()
            ],
            "email_in": None,
            "email_in_allow_strangers": False,
            "mailinglist_mirror": False,
            "all_topics_wiki": False,
            "can_delete": staff and not visible_topics and not c.uncategorized,
            "allow_badges": c.allow_badges,
            "topic_featured_link_allowed": c.topic_featured_link_allowed,
            "search_priority": c.search_priority,
            "topic_posting_review_group_ids": [],
            "reply_posting_review_group_ids": [],
            "category_type_settings": {},
            "available_category_types": [],
        }
    return data


def category_list_entry(store: Store, viewer: User | None, c: Category) -> JSON:
    """A category as /categories.json lists it: with topic counts per period and its subcategories."""
    data = category(store, viewer, c)
    now = store.now()
    created = [t.created_at for t in store.topics.values() if t.category_id == c.id and t.deleted_at is None]
    for name, days in (("day", 1), ("week", 7), ("month", 30), ("year", 365)):
        data[f"topics_{name}"] = sum(1 for ts in created if ts > now - days * 86400)
    data["topics_all_time"] = len(created)
    data["is_uncategorized"] = c.uncategorized
    data["subcategory_ids"] = store.subcategory_ids(c)
    data["subcategory_list"] = None
    return data


# ------------------------------------------------------------------------------------- groups


def group(store: Store, viewer: User | None, g: Group, *, detailed: bool = False) -> JSON:
    """BasicGroupSerializer, or GroupShowSerializer with ``detailed``."""
    members = store.group_members(g)
    in_group = viewer is not None and viewer.id in {u.id for u, _ in members}
    owner = viewer is not None and any(u.id == viewer.id and m.owner for u, m in members)
    admin = viewer is not None and viewer.admin
    data: JSON = {
        "id": g.id,
        "automatic": g.automatic,
        "name": g.name,
        "display_name": g.name,
        "user_count": len(members),
        "mentionable_level": g.mentionable_level,
        "messageable_level": g.messageable_level,
        "visibility_level": g.visibility_level,
        "primary_group": g.primary_group,
        "title": g.title,
        "grant_trust_level": None,
        "incoming_email": None,
        "has_messages": False,
        "flair_url": g.flair_icon,
        "flair_bg_color": g.flair_bg_color,
        "flair_color": None,
        "bio_raw": g.bio_raw,
        "bio_cooked": f"<p>{g.bio_raw}</p>" if g.bio_raw else None,
        "bio_excerpt": g.bio_raw,
        "public_admission": g.public_admission,
        "public_exit": g.public_exit,
        "allow_membership_requests": g.allow_membership_requests,
        "full_name": g.full_name,
        "default_notification_level": g.default_notification_level,
        "membership_request_template": None,
        "is_group_user": in_group,
        "is_group_owner": owner,
        "members_visibility_level": g.members_visibility_level,
        "can_see_members": True,
        "can_admin_group": admin or owner,
        "can_edit_group": admin or owner,
        "publish_read_state": False,
    }
    if detailed:
        data |= {
            "is_group_owner_display": owner,
            "mentionable": viewer is not None and g.mentionable_level == 99,
            "messageable": viewer is not None and (viewer.staff or g.messageable_level == 99),
            "automatic_membership_email_domains": None,
            "smtp_updated_at": None,
            "smtp_updated_by": None,
            "smtp_enabled": False,
            "smtp_server": None,
            "smtp_port": None,
            "smtp_ssl_mode": None,
            "email_username": None,
            "email_from_alias": None,
            "email_password": None,
            "message_count": 0,
            "allow_unknown_sender_topic_replies": False,
            "associated_group_ids": [],
            "watching_category_ids": [],
            "tracking_category_ids": [],
            "watching_first_post_category_ids": [],
            "regular_category_ids": [],
            "muted_category_ids": [],
            "watching_tags": [],
            "watching_first_post_tags": [],
            "tracking_tags": [],
            "regular_tags": [],
            "muted_tags": [],
        }
    return data


def group_member(user: User, membership_added_at: float) -> JSON:
    """GroupUserSerializer."""
    return basic_user(user) | {
        "title": user.title,
        "last_posted_at": iso(user.last_posted_at or user.created_at),
        "last_seen_at": iso(user.last_seen_at or user.created_at),
        "added_at": iso(membership_added_at),
        "timezone": "UTC",
    }


# ------------------------------------------------------------------------------------- users


_USER_OPTION = {
    "mailing_list_mode": False,
    "mailing_list_mode_frequency": 1,
    "email_digests": True,
    "email_level": 1,
    "email_messages_level": 0,
    "external_links_in_new_tab": False,
    "bookmark_auto_delete_preference": 3,
    "color_scheme_id": None,
    "dark_scheme_id": None,
    "dynamic_favicon": False,
    "enable_quoting": True,
    "enable_smart_lists": True,
    "enable_markdown_monospace_font": False,
    "digest_after_minutes": 10080,
    "automatically_unpin_topics": True,
    "auto_track_topics_after_msecs": 240000,
    "notification_level_when_replying": 2,
    "new_topic_duration_minutes": 2880,
    "email_previous_replies": 2,
    "email_in_reply_to": False,
    "like_notification_frequency": 1,
    "notify_on_linked_posts": True,
    "push_notification_level": "all",
    "enable_upcoming_change_available_notifications": False,
    "include_tl0_in_digests": False,
    "theme_ids": [1],
    "theme_key_seq": 0,
    "allow_private_messages": True,
    "enable_allowed_pm_users": False,
    "homepage_id": None,
    "hide_profile_and_presence": False,
    "hide_profile": False,
    "hide_presence": False,
    "text_size": "normal",
    "text_size_seq": 0,
    "title_count_mode": "notifications",
    "timezone": None,
    "skip_new_user_tips": False,
    "default_calendar": "none_selected",
    "oldest_search_log_date": None,
    "sidebar_link_to_filtered_list": False,
    "sidebar_show_count_of_new_items": False,
    "watched_precedence_over_muted": False,
    "seen_popups": None,
    "topics_unread_when_closed": True,
    "composition_mode": 1,
    "interface_color_mode": 1,
    "automatically_translate": False,
    "understood_languages": [],
    "show_original_content": False,
    "send_shortcut": "ctrl_enter",
}


def user_detail(store: Store, viewer: User | None, user: User) -> JSON:
    """UserSerializer: a profile, with private fields only for the user and staff."""
    me = viewer is not None and viewer.id == user.id
    staff = viewer is not None and viewer.staff
    badges = [b for b in store.user_badges if b.user_id == user.id]
    groups = [store.groups[g] for g in sorted(store.group_ids_of(user)) if g in store.groups and g != 0]
    data: JSON = {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "avatar_template": user.avatar_template,
        "last_posted_at": iso(user.last_posted_at),
        "last_seen_at": iso(user.last_seen_at),
        "created_at": iso(user.created_at),
        "ignored": False,
        "muted": False,
        "can_ignore_user": viewer is not None and not me and not user.staff,
        "can_ignore_users": viewer is not None,
        "can_mute_user": viewer is not None and not me,
        "can_mute_users": viewer is not None,
        "can_send_private_messages": viewer is not None,
        "can_send_private_message_to_user": viewer is not None and not me,
        "trust_level": user.trust_level,
        "moderator": user.moderator,
        "admin": user.admin,
        "title": user.title,
        "badge_count": len(badges),
        "user_fields": {"1": None, "2": None},
        "custom_fields": {},
        "time_read": 0,
        "recent_time_read": 0,
        "primary_group_id": user.primary_group_id,
        "primary_group_name": None,
        "flair_group_id": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "featured_topic": None,
        "staged": user.staged,
        "pending_posts_count": 0,
        "profile_view_count": 0,
        "post_count": user.post_count,
        "topic_count": user.topic_count,
        "can_be_deleted": staff and user.post_count == 0 and not user.admin,
        "can_delete_all_posts": staff,
        "locale": None,
        "system_avatar_upload_id": None,
        "system_avatar_template": user.avatar_template,
        "use_logo_small_as_avatar": False,
        "featured_user_badge_ids": [b.badge_id for b in badges[:3]],
        "invited_by": None,
        "groups": [group(store, viewer, g) for g in groups],
        "group_users": [
            {
                "group_id": g.id,
                "user_id": user.id,
                "notification_level": 3,
                "owner": bool(g.members.get(user.id) and g.members[user.id].owner),
            }
            for g in groups
        ],
    }
    if me or staff:
        data |= {
            "can_edit": True,
            "can_edit_username": True,
            "can_edit_email": True,
            "can_edit_name": True,
            "uploaded_avatar_id": user.uploaded_avatar_id,
            "has_title_badges": False,
            "pending_count": 0,
            "second_factor_enabled": False,
            "second_factor_backup_enabled": False,
            "can_upload_profile_header": True,
            "can_upload_user_card_background": True,
            "muted_category_ids": [],
            "regular_category_ids": [],
            "watched_tags": [],
            "watching_first_post_tags": [],
            "tracked_tags": [],
            "muted_tags": [],
            "tracked_category_ids": [],
            "watched_category_ids": [],
            "watched_first_post_category_ids": [],
            "muted_usernames": [],
            "ignored_usernames": [],
            "allowed_pm_usernames": [],
            "mailing_list_posts_per_day": 0,
            "can_change_bio": True,
            "can_change_location": True,
            "can_change_website": True,
            "can_change_tracking_preferences": True,
            "user_api_keys": None,
            "user_passkeys": [],
            "sidebar_tags": [],
            "sidebar_category_ids": [],
            "display_sidebar_tags": True,
            "can_pick_theme_with_custom_homepage": False,
            "user_auth_tokens": [],
            "user_notification_schedule": {"enabled": False}
            | {
                f"day_{d}_{edge}_time": (480 if edge == "start" else 1020)
                for d in range(7)
                for edge in ("start", "end")
            },
            "user_option": {"user_id": user.id} | _USER_OPTION,
        }
    return for_viewer(viewer, data)


def admin_user(store: Store, user: User, *, detailed: bool = False, show_email: bool = False) -> JSON:
    """AdminUserListSerializer, or AdminDetailedUserSerializer with ``detailed``."""
    now = store.now()
    data: JSON = basic_user(user) | {
        "active": user.active,
        "admin": user.admin,
        "moderator": user.moderator,
        "last_seen_at": iso(user.last_seen_at),
        "last_emailed_at": None,
        "created_at": iso(user.created_at),
        "last_seen_age": None if user.last_seen_at is None else round(now - user.last_seen_at, 3),
        "last_emailed_age": None,
        "created_at_age": round(now - user.created_at, 3),
        "trust_level": user.trust_level,
        "manual_locked_trust_level": None,
        "title": user.title,
        "time_read": 0,
        "staged": user.staged,
        "days_visited": 1,
        "posts_read_count": 0,
        "topics_entered": 0,
        "post_count": user.post_count,
    }
    if user.suspended(now):
        data |= {"suspended_at": iso(user.suspended_at), "suspended_till": iso(user.suspended_till)}
    if user.silenced(now):
        data["silenced_till"] = iso(user.silenced_till)
    if show_email or detailed:
        data |= {"email": user.email, "secondary_emails": list(user.secondary_emails)}
    if not detailed:
        return data
    groups = [store.groups[g] for g in sorted(store.group_ids_of(user)) if g in store.groups and g != 0]
    data |= {
        "associated_accounts": [],
        "can_send_activation_email": not user.active,
        "can_activate": not user.active,
        "can_deactivate": user.active and not user.admin,
        "can_change_trust_level": True,
        "ip_address": "127.0.0.1",
        "registration_ip_address": "127.0.0.1",
        "can_grant_admin": not user.admin,
        "can_revoke_admin": user.admin and user.id > 0,
        "can_grant_moderation": not user.moderator,
        "can_revoke_moderation": user.moderator and user.id > 0,
        "can_impersonate": not user.admin,
        "like_count": user.likes_received,
        "like_given_count": user.likes_given,
        "topic_count": user.topic_count,
        "flags_given_count": 0,
        "flags_received_count": 0,
        "private_topics_count": sum(1 for t in store.topics.values() if t.private and t.user_id == user.id),
        "can_delete_all_posts": user.post_count > 0,
        "can_be_deleted": user.post_count == 0 and not user.admin,
        "can_be_anonymized": not user.admin,
        "can_be_merged": not user.admin,
        "full_suspend_reason": user.suspend_reason if user.suspended(now) else None,
        "latest_export": None,
        "full_silence_reason": user.silence_reason if user.silenced(now) else None,
        "silence_reason": user.silence_reason if user.silenced(now) else None,
        "post_edits_count": 0,
        "primary_group_id": user.primary_group_id,
        "badge_count": sum(1 for b in store.user_badges if b.user_id == user.id),
        "warnings_received_count": 0,
        "bounce_score": 0,
        "reset_bounce_score_after": None,
        "can_view_action_logs": True,
        "can_disable_second_factor": False,
        "can_delete_sso_record": bool(user.external_ids),
        "api_key_count": sum(1 for k in store.api_keys.values() if k.user_id == user.id and not k.revoked),
        "similar_users_count": 0,
        "single_sign_on_record": None,
        "approved_by": None,
        "suspended_by": None,
        "silenced_by": None,
        "penalty_counts": {
            "silenced": int(user.silenced_at is not None),
            "suspended": int(user.suspended_at is not None),
        },
        "next_penalty": iso(now + 86400),
        "groups": [group(store, None, g) for g in groups],
        "external_ids": dict(user.external_ids),
        "include_ip": True,
        "upcoming_changes_stats": [],
    }
    return data


def user_action(store: Store, action: UserAction) -> JSON:
    """UserActionSerializer."""
    topic = store.topics[action.topic_id]
    p = store.posts.get(action.post_id) if action.post_id is not None else None
    acting = store.users.get(action.acting_user_id)
    owner = store.users.get(action.user_id)
    target = store.users.get(p.user_id if p else topic.user_id)
    return {
        "excerpt": excerpt(p.cooked) if p else None,
        "action_type": action.action_type,
        "created_at": iso(action.created_at),
        "avatar_template": target.avatar_template if target else "",
        "acting_avatar_template": acting.avatar_template if acting else "",
        "slug": topic.slug,
        "topic_id": topic.id,
        "target_user_id": target.id if target else 0,
        "target_name": target.name if target else None,
        "target_username": target.username if target else "",
        "post_number": p.post_number if p else 1,
        "post_id": action.post_id,
        "username": owner.username if owner else "",
        "name": owner.name if owner else None,
        "user_id": action.user_id,
        "acting_username": acting.username if acting else "",
        "acting_name": acting.name if acting else None,
        "acting_user_id": action.acting_user_id,
        "title": topic.title,
        "deleted": bool(p and p.deleted_at is not None),
        "hidden": bool(p and p.hidden),
        "post_type": p.post_type if p else None,
        "action_code": p.action_code if p else None,
        "category_id": topic.category_id or 0,
        "closed": topic.closed,
        "archived": topic.archived,
    }


def notification(n: Notification) -> JSON:
    """NotificationSerializer."""
    return {
        "id": n.id,
        "user_id": n.user_id,
        "notification_type": n.notification_type,
        "read": n.read,
        "high_priority": n.high_priority,
        "created_at": iso(n.created_at),
        "post_number": n.post_number,
        "topic_id": n.topic_id,
        "slug": n.slug,
        "data": dict(n.data),
    }


def badge(b: Badge, *, admin: bool = False) -> JSON:
    """BadgeSerializer (AdminBadgeSerializer fields with ``admin``)."""
    data: JSON = {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "grant_count": b.grant_count,
        "allow_title": b.allow_title,
        "multiple_grant": b.multiple_grant,
        "icon": b.icon,
        "image_url": None,
        "listable": b.listable,
        "enabled": b.enabled,
        "badge_grouping_id": b.badge_grouping_id,
        "system": b.system,
        "slug": b.slug,
        "manually_grantable": not b.system,
        "badge_type_id": b.badge_type_id,
    }
    if admin:
        data |= {
            "long_description": b.long_description,
            "query": None,
            "trigger": None,
            "target_posts": False,
            "auto_revoke": True,
            "show_posts": False,
            "i18n_name": None,
            "image_upload_id": None,
            "show_in_post_header": False,
        }
    return data


BADGE_TYPES = [
    {"id": 1, "name": "Gold", "sort_order": 9},
    {"id": 2, "name": "Silver", "sort_order": 8},
    {"id": 3, "name": "Bronze", "sort_order": 7},
]
BADGE_GROUPINGS = [
    {"id": i, "name": n, "description": None, "position": 10 * i, "system": True}
    for i, n in enumerate(["Getting Started", "Community", "Posting", "Trust Level", "Other"], start=1)
]


# ------------------------------------------------------------------------------------- uploads


def base62(number: int) -> str:
    """Base 62 as Discourse's short upload URLs use it."""
    out = ""
    while number:
        number, rest = divmod(number, 62)
        out = _BASE62[rest] + out
    return out or "0"


def human_size(size: int) -> str:
    """A size as Discourse's number_to_human_size writes it."""
    value = float(size)
    for unit in ("Bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "Bytes":
                return f"{int(value)} Bytes"
            text = f"{value:.3g}"
            return f"{text} {unit}"
        value /= 1024
    return f"{size} Bytes"  # pragma: no cover


def upload(u: Upload, *, base_url: str) -> JSON:
    """UploadSerializer."""
    short = base62(int(u.sha1, 16))
    data: JSON = {
        "id": u.id,
        "url": upload_url(u, base_url=base_url),
        "original_filename": u.original_filename,
        "filesize": u.filesize,
        "extension": u.extension,
        "short_url": f"upload://{short}.{u.extension}" if u.extension else f"upload://{short}",
        "short_path": f"/uploads/short-url/{short}.{u.extension}" if u.extension else f"/uploads/short-url/{short}",
        "retain_hours": None,
        "human_filesize": human_size(u.filesize),
        "dominant_color": None,
        "thumbnail": None,
        "optimized_video": None,
    }
    if u.width is not None and u.height is not None:
        data |= {"width": u.width, "height": u.height, "thumbnail_width": u.width, "thumbnail_height": u.height}
    return data


def upload_url(u: Upload, *, base_url: str) -> str:
    """Where the file is served: the site for local storage, the bucket for S3."""
    name = f"{u.sha1}.{u.extension}" if u.extension else u.sha1
    if u.s3_key is not None:
        return f"{base_url}/{u.s3_key}"
    return f"/uploads/default/original/1X/{name}"


# ------------------------------------------------------------------------------------- site


def site(store: Store, viewer: User | None) -> JSON:
    """SiteSerializer: lookup tables, categories and groups for a client to start from."""
    visible = [c for c in store.categories.values() if store.can_see_category(viewer, c)]
    flags = [
        ("off_topic", "Off-Topic", 3),
        ("inappropriate", "Inappropriate", 4),
        ("spam", "Spam", 8),
        ("illegal", "Illegal", 10),
        ("notify_user", "Send @{{username}} a message", 6),
        ("notify_moderators", "Something Else", 7),
    ]
    action_types = [
        {
            "id": i,
            "name_key": key,
            "name": name,
            "description": name,
            "short_description": name,
            "is_flag": key != "like",
            "require_message": key in ("notify_user", "notify_moderators"),
            "enabled": True,
            "applies_to": ["Post", "Chat::Message"],
            "is_used": False,
            "position": pos,
            "auto_action_type": False,
            "system": True,
        }
        for pos, (key, name, i) in enumerate([("like", "Like", 2), *flags])
    ]
    return {
        "default_archetype": "regular",
        "notification_types": dict(NOTIFICATION_TYPES),
        "post_types": dict(POST_TYPES),
        "trust_levels": dict(TRUST_LEVELS),
        "user_tips": {
            "first_notification": 1,
            "topic_timeline": 2,
            "post_menu": 3,
            "topic_notification_levels": 4,
            "suggested_topics": 5,
        },
        "groups": [
            {
                "id": g.id,
                "name": g.name,
                "full_name": g.full_name or "",
                "display_name": g.name,
                "flair_url": None,
                "flair_bg_color": None,
                "flair_color": None,
                "automatic": g.automatic,
            }
            for g in store.groups.values()
        ],
        "filters": ["latest", "unread", "new", "unseen", "top", "read", "posted", "bookmarks", "hot"],
        "homepage_choices": [],
        "periods": ["all", "yearly", "quarterly", "monthly", "weekly", "daily"],
        "top_menu_items": ["latest", "unread", "new", "unseen", "top", "read", "posted", "bookmarks", "hot"],
        "anonymous_top_menu_items": ["latest", "top", "categories", "hot"],
        "uncategorized_category_id": 1,
        "user_field_max_length": 2048,
        "post_action_types": action_types,
        "topic_flag_types": [dict(t, applies_to=["Topic"]) for t in action_types if t["is_flag"]],
        "can_create_tag": bool(viewer and viewer.staff),
        "can_tag_topics": viewer is not None,
        "can_tag_pms": bool(viewer and viewer.staff),
        "tags_filter_regexp": "[\\/\\?#\\[\\]@!\\$&'\\(\\)\\*\\+,;=\\.%\\\\`^\\s|\\{\\}\"<>]+",
        "top_tags": [{"id": t.id, "name": t.name, "slug": t.name} for t in list(store.tags.values())[:10]],
        "wizard_required": False,
        "can_associate_groups": False,
        "email_configured": True,
        "upcoming_changes_with_css": [],
        "topic_featured_link_allowed_category_ids": [c.id for c in visible],
        "user_themes": [
            {
                "theme_id": 1,
                "name": "Default",
                "default": True,
                "color_scheme_id": None,
                "dark_color_scheme_id": None,
                "only_theme_color_schemes": False,
            }
        ],
        "user_color_schemes": [],
        "default_light_color_scheme": None,
        "default_dark_color_scheme": None,
        "censored_regexp": [],
        "custom_emoji_translation": {},
        "watched_words_replace": None,
        "watched_words_link": None,
        "markdown_additional_options": {},
        "hashtag_configurations": {"topic-composer": ["category", "tag"]},
        "hashtag_icons": {"category": "folder", "tag": "tag"},
        "displayed_about_plugin_stat_groups": [],
        "categories": [category(store, viewer, c) for c in visible],
        "archetypes": [
            {"id": "regular", "name": "Regular Topic", "options": []},
            {"id": "banner", "name": "Banner Topic", "options": []},
        ],
        "user_fields": [],
        "auth_providers": [],
        "whispers_allowed_groups_names": [],
        "denied_emojis": [],
        "valid_flag_applies_to_types": ["Post", "Topic", "Chat::Message"],
        "navigation_menu_site_top_tags": [],
        "full_name_required_for_signup": False,
        "full_name_visible_in_signup": True,
        "admin_config_login_routes": [],
        "access_control": {"mandatory_acl": {}, "banned_acl": {}},
        "permanent_upcoming_change_names": [],
        "category_types": [],
    }
