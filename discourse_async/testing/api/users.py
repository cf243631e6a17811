"""Users: profiles, the directory, admin user tools, User API keys, DiscourseConnect sync."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, for_viewer, op, route
from discourse_async.testing.api import groups as _groups


def basic_user(user: backend.User) -> JSON:
    """BasicUserSerializer."""
    return {"id": user.id, "username": user.username, "name": user.name, "avatar_template": user.avatar_template}


def user_with_rank(user: backend.User) -> JSON:
    """A basic user with the rank fields (admin, moderator, trust level) that sessions and webhooks carry."""
    return basic_user(user) | {"admin": user.admin, "moderator": user.moderator, "trust_level": user.trust_level}


#: The flair fields of the user serializers: the fake has no flair groups, so they are all null.
FLAIR: JSON = dict.fromkeys(
    ("primary_group_name", "flair_name", "flair_url", "flair_color", "flair_bg_color", "flair_group_id")
)


def user_with_flair(user: backend.User) -> JSON:
    """A basic user with the flair and rank fields that participant lists carry."""
    return user_with_rank(user) | FLAIR


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

#: The lists a user keeps with PUT /u/{username} (people, tags and categories to watch or mute); own view only.
_LIST_PREFERENCES: tuple[str, ...] = ("muted_usernames", "allowed_pm_usernames", "sidebar_category_ids")
_LIST_PREFERENCES += ("watched_tags", "tracked_tags", "watching_first_post_tags", "muted_tags")
_LIST_PREFERENCES += ("watched_category_ids", "tracked_category_ids", "muted_category_ids")
_LIST_PREFERENCES += ("regular_category_ids", "watched_first_post_category_ids")


def user_detail(store: backend.Store, viewer: backend.User | None, user: backend.User) -> JSON:
    """UserSerializer: a profile, with private fields only for the user and staff."""
    me = viewer is not None and viewer.id == user.id
    staff = viewer is not None and viewer.staff
    badges = [b for b in store.user_badges if b.user_id == user.id]
    groups = [store.groups[g] for g in sorted(store.group_ids_of(user)) if g in store.groups and g != 0]
    profile = user.profile
    bio, website = profile.get("bio_raw"), profile.get("website")
    data: JSON = user_with_flair(user) | {
        "last_posted_at": backend.iso(user.last_posted_at),
        "last_seen_at": backend.iso(user.last_seen_at),
        "created_at": backend.iso(user.created_at),
        "ignored": False,
        "muted": False,
        "can_ignore_user": viewer is not None and not me and not user.staff,
        "can_ignore_users": viewer is not None,
        "can_mute_user": viewer is not None and not me,
        "can_mute_users": viewer is not None,
        "can_send_private_messages": viewer is not None,
        "can_send_private_message_to_user": viewer is not None and not me,
        "title": user.title,
        "badge_count": len(badges),
        "user_fields": {"1": None, "2": None} | user.profile.get("user_fields", {}),
        "custom_fields": {},
        "time_read": 0,
        "recent_time_read": 0,
        "primary_group_id": user.primary_group_id,
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
        "bio_raw": bio,
        "bio_cooked": bio and backend.cook(bio),
        "bio_excerpt": bio and backend.excerpt(backend.cook(bio)),
        "location": profile.get("location"),
        "website": website,
        "website_name": urlsplit(website).hostname if website else None,
        "profile_background_upload_url": profile.get("profile_background_upload_url"),
        "card_background_upload_url": profile.get("card_background_upload_url"),
        "groups": [_groups.group_json(store, viewer, g) for g in groups],
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
            "ignored_usernames": [],
            "mailing_list_posts_per_day": 0,
            "can_change_bio": True,
            "can_change_location": True,
            "can_change_website": True,
            "can_change_tracking_preferences": True,
            "user_api_keys": None,
            "user_passkeys": [],
            "sidebar_tags": [],
            "display_sidebar_tags": True,
            "can_pick_theme_with_custom_homepage": False,
            "user_auth_tokens": [],
            "user_notification_schedule": {"enabled": False}
            | {
                f"day_{d}_{edge}_time": (480 if edge == "start" else 1020)
                for d in range(7)
                for edge in ("start", "end")
            },
            "user_option": {"user_id": user.id}
            | _USER_OPTION
            | {k: v for k, v in profile.items() if k in _USER_OPTION},
        }
        data |= {name: [] for name in _LIST_PREFERENCES}
    data |= {k: v for k, v in profile.items() if k in data and k != "user_fields"}  # the lists: own view only
    return for_viewer(viewer, data)


def admin_user(store: backend.Store, user: backend.User, *, detailed: bool = False, show_email: bool = False) -> JSON:
    """AdminUserListSerializer, or AdminDetailedUserSerializer with ``detailed``."""
    now = store.now()
    data: JSON = user_with_rank(user) | {
        "active": user.active,
        "last_seen_at": backend.iso(user.last_seen_at),
        "last_emailed_at": None,
        "created_at": backend.iso(user.created_at),
        "last_seen_age": None if user.last_seen_at is None else round(now - user.last_seen_at, 3),
        "last_emailed_age": None,
        "created_at_age": round(now - user.created_at, 3),
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
        data |= {"suspended_at": backend.iso(user.suspended_at), "suspended_till": backend.iso(user.suspended_till)}
    if user.silenced(now):
        data["silenced_till"] = backend.iso(user.silenced_till)
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
        "next_penalty": backend.iso(now + 86400),
        "groups": [_groups.group_json(store, None, g) for g in groups],
        "external_ids": dict(user.external_ids),
        "include_ip": True,
        "upcoming_changes_stats": [],
    }
    return data


def user_action(store: backend.Store, action: backend.UserAction) -> JSON:
    """UserActionSerializer."""
    topic = store.topics[action.topic_id]
    p = store.posts.get(action.post_id) if action.post_id is not None else None
    acting = store.users.get(action.acting_user_id)
    owner = store.users.get(action.user_id)
    target = store.users.get(p.user_id if p else topic.user_id)
    return {
        "excerpt": backend.excerpt(p.cooked) if p else None,
        "action_type": action.action_type,
        "created_at": backend.iso(action.created_at),
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


DIRECTORY_PER_PAGE = 50


USER_ACTIONS_PER_PAGE = 30


ADMIN_USERS_PER_PAGE = 100


def user_event(user: backend.User) -> JSON:
    """A user as a webhook delivers them."""
    return {"user": user_with_rank(user) | {"created_at": backend.iso(user.created_at)}}


@op("create_user")
async def create_user(ctx: Ctx) -> JSON:
    """POST /users.json. Like Discourse, a refused account is a 200 with ``success: false``."""
    ctx.require_admin()  # signups through the API need an admin key (no browser session here)
    username, email = ctx.require("username"), ctx.require("email")
    name, password = ctx.param("name"), ctx.require("password")
    store = ctx.store
    errors: dict[str, list[str]] = {}
    problems = store.validate_username(username)
    if problems:
        errors["username"] = [p.removeprefix("Username ") for p in problems]
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["email"] = ["is invalid"]
    elif any(u.email.lower() == email.lower() for u in store.users.values()):
        errors["email"] = ["has already been taken"]
    if len(password) < store.settings.min_password_length:
        errors["password"] = [f"is too short (minimum is {store.settings.min_password_length} characters)"]
    if errors:
        messages = [f"{field.capitalize()} {text}" for field, texts in errors.items() for text in texts]
        return {
            "success": False,
            "message": "\n".join(messages),
            "errors": errors,
            "values": {"name": name, "username": username, "email": email},
            "is_developer": False,
        }
    external = {str(k): str(v) for k, v in ctx.param_dict("external_ids").items()}
    ctx.guard("external_ids", providers=tuple(external))
    active = ctx.param_bool("active")
    user = store.create_user(username, email=email, name=name, password=password, active=active)
    user.external_ids.update(external)
    ctx.events.append(("user", "user_created", user_event(user)))
    message = (
        "Your account is activated and ready to use."
        if active
        else f"<p>You're almost done! We sent an activation mail to <b>{email}</b>.</p>"
    )
    return {"success": True, "active": active, "message": message, "user_id": user.id}


def _user_for(ctx: Ctx, user: backend.User) -> JSON:
    if user.id <= 0 and user.username != "system":
        raise backend.not_found()
    badges = [b for b in ctx.store.user_badges if b.user_id == user.id]
    return {
        "user_badges": [{"id": b.id, "granted_at": backend.iso(b.granted_at), "badge_id": b.badge_id} for b in badges],
        "user": user_detail(ctx.store, ctx.user, user),
    }


@op("get_user")
async def get_user(ctx: Ctx) -> JSON:
    """GET /u/{username}.json: a public profile (private fields for the user and staff)."""
    user = ctx.store.user(ctx.path("username"))
    if (user.suspended(ctx.store.now()) or not user.active) and not (ctx.user and ctx.user.staff):
        raise backend.not_found()
    return _user_for(ctx, user)


def _own_or_staff(ctx: Ctx, username: str) -> tuple[backend.User, backend.User]:
    actor = ctx.require_user()
    target = ctx.store.user(username)
    ctx.guard("edit_user", target=target)
    return actor, target


#: What PUT /u/{username} stores beyond name, title and primary group (UserUpdater's fields), each with a
#: value of its type; the user options among them come back in ``user_option``.
_EDITABLE: dict[str, Any] = dict.fromkeys(("bio_raw", "location", "website", "locale"), "")
_EDITABLE |= dict.fromkeys(("profile_background_upload_url", "card_background_upload_url"), "")
_EDITABLE |= {"flair_group_id": 0, "user_fields": {}, "custom_fields": {}} | _USER_OPTION
_EDITABLE |= dict.fromkeys(_LIST_PREFERENCES, ())


def _edited(ctx: Ctx, name: str, like: Any) -> Any:
    """A parameter cast like the field's value (form bodies send strings)."""
    if isinstance(like, bool):
        return ctx.param_bool(name)
    if isinstance(like, int):
        return ctx.param_int(name)
    if isinstance(like, tuple | list):
        values = ctx.param_list(name)
        return [int(v) for v in values] if name.endswith("_ids") else [str(v) for v in values]
    if isinstance(like, dict):
        return {str(k): v for k, v in ctx.param_dict(name).items()}
    return ctx.param(name)


@op("update_user")
async def update_user(ctx: Ctx) -> JSON:
    """PUT /u/{username}.json: the profile, preferences and options a user may edit; (admins) external ids."""
    actor, user = _own_or_staff(ctx, ctx.path("username"))
    if ctx.has("name"):
        user.name = ctx.param("name")
    if ctx.has("title"):
        user.title = ctx.param("title")
    if ctx.has("primary_group_id"):
        user.primary_group_id = ctx.param_int("primary_group_id")
    for name in _EDITABLE.keys() & ctx.params.keys():
        value = _edited(ctx, name, _EDITABLE[name])
        user.profile[name] = user.profile.get(name, {}) | value if name.endswith("_fields") else value
    external = {str(k): str(v) for k, v in ctx.param_dict("external_ids").items()}
    if external and actor.admin:  # Discourse reads external ids from admins only and ignores them otherwise
        ctx.guard("external_ids", providers=tuple(external))
        user.external_ids.update(external)
    ctx.store.changed()
    ctx.events.append(("user", "user_updated", user_event(user)))
    return {"success": "OK", "user": user_detail(ctx.store, actor, user)}


@op("get_user_external_id")
@op("get_user_identiy_provider_external_id")
async def get_user_external_id(ctx: Ctx) -> JSON:
    """GET /u/by-external/[{provider}/]{external_id}.json (staff); without a provider, DiscourseConnect's id."""
    ctx.require_staff()
    provider = ctx.path_params.get("provider", "discourse_connect")
    for user in ctx.store.users.values():
        if user.external_ids.get(provider) == ctx.path("external_id"):
            return _user_for(ctx, user)
    raise backend.not_found()


@op("update_avatar")
async def update_avatar(ctx: Ctx) -> JSON:
    """PUT /u/{username}/preferences/avatar/pick.json: use an upload (or the system avatar)."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    kind = ctx.require("type")
    if kind == "system":
        user.uploaded_avatar_id = None
    else:
        upload = ctx.store.uploads.get(ctx.require_int("upload_id"))
        ctx.guard("avatar.missing", upload=upload)
        ctx.guard("pick_avatar", upload=upload, target=user)
        assert upload is not None
        user.uploaded_avatar_id = upload.id
    ctx.store.changed()
    return {"success": "OK"}


@op("update_email")
async def update_email(ctx: Ctx) -> JSON:
    """PUT /u/{username}/preferences/email.json (staff change it at once)."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    email = ctx.require("email")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise backend.record_invalid("Email is invalid")
    if any(u.email.lower() == email.lower() and u is not user for u in ctx.store.users.values()):
        raise backend.record_invalid("Email has already been taken")
    user.email = email
    ctx.store.changed()
    return {"success": "OK"}


@op("update_username")
async def update_username(ctx: Ctx) -> JSON:
    """PUT /u/{username}/preferences/username.json."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    new = ctx.require("new_username")
    problems = ctx.store.validate_username(new, current=user)
    if problems:
        raise backend.record_invalid(*problems)
    ctx.store.rename_user(user, new)
    return {"id": user.id, "username": user.username}


@route("GET", "/u/{username}/summary.json")
async def get_user_summary(ctx: Ctx) -> JSON:
    """GET /u/{username}/summary.json (UserSummarySerializer): counts, best topics and replies, people, categories.

    Not modelled: reading (time read, days visited, topics entered and posts read are 0) and links.
    """
    store, viewer = ctx.store, ctx.user
    user = store.user(ctx.path("username"))
    if (user.suspended(store.now()) or not user.active) and not (viewer and viewer.staff):
        raise backend.not_found()
    posts = [p for p in store.posts.values() if p.user_id == user.id and p.deleted_at is None and p.post_type == 1]
    posts = [
        p
        for p in posts
        if not store.topics[p.topic_id].private and store.can_see_topic(viewer, store.topics[p.topic_id])
    ]
    topics = sorted((store.topics[p.topic_id] for p in posts if p.post_number == 1), key=lambda t: -t.like_count)[:6]
    replies = sorted((p for p in posts if p.post_number > 1), key=lambda p: -len(p.likes))[:6]
    like = backend.ACTION_TYPES["like"]
    liked = [store.posts[a.post_id].user_id for a in user.actions if a.action_type == like and a.post_id in store.posts]
    parents = [store.topics[p.topic_id].post_by_number(p.reply_to_post_number or 0) for p in posts]

    def people(ids: Iterable[int]) -> list[JSON]:
        counts = Counter(i for i in ids if i != user.id and i in store.users).most_common(6)
        return [user_with_flair(store.users[i]) | {"count": n} for i, n in counts]

    categories = Counter(store.topics[p.topic_id].category_id for p in posts)
    shown = {t.id: t for t in topics} | {p.topic_id: store.topics[p.topic_id] for p in replies}
    summary: JSON = {
        "likes_given": user.likes_given,
        "likes_received": user.likes_received,
        "topics_entered": 0,
        "posts_read_count": 0,
        "days_visited": 0,
        "topic_count": user.topic_count,
        "post_count": user.post_count,
        "time_read": 0,
        "recent_time_read": 0,
        "can_see_summary_stats": True,
        "can_see_user_actions": True,
        "topic_ids": [t.id for t in topics],
        "replies": [
            {
                "post_number": p.post_number,
                "like_count": len(p.likes),
                "created_at": backend.iso(p.created_at),
                "topic_id": p.topic_id,
            }
            for p in replies
        ],
        "links": [],
        "most_liked_by_users": people(liker for p in posts for liker in p.likes),
        "most_liked_users": people(liked),
        "most_replied_to_users": people(parent.user_id for parent in parents if parent is not None),
        "badges": [],
        "top_categories": [
            {"topic_count": sum(1 for t in topics if t.category_id == c.id), "post_count": n}
            | {
                k: getattr(c, k)
                for k in ("id", "name", "color", "text_color", "slug", "read_restricted", "parent_category_id")
            }
            for cid, n in categories.most_common(5)
            if (c := store.categories.get(cid or 0)) is not None
        ],
    }
    if viewer is not None and viewer.id == user.id:
        summary["bookmark_count"] = len(user.bookmarked_topics)
    body_topics = [
        {"id": t.id, "title": t.title, "fancy_title": t.fancy_title, "slug": t.slug, "posts_count": t.live_posts}
        | {"category_id": t.category_id, "like_count": t.like_count, "created_at": backend.iso(t.created_at)}
        for t in shown.values()
    ]
    return {"topics": body_topics, "badges": [], "user_summary": summary}


def _directory_stats(ctx: Ctx, user: backend.User, since: float | None) -> JSON:
    if since is None:
        likes_received, likes_given, topics, posts = (
            user.likes_received,
            user.likes_given,
            user.topic_count,
            user.post_count,
        )
    else:
        recent = [a for a in user.actions if a.created_at >= since]

        def count(kind: str) -> int:
            return sum(1 for a in recent if a.action_type == backend.ACTION_TYPES[kind])

        likes_received, likes_given, topics = count("was_liked"), count("like"), count("new_topic")
        posts = topics + count("reply")
    return {
        "id": user.id,
        "likes_received": likes_received,
        "likes_given": likes_given,
        "topics_entered": 0,
        "topic_count": topics,
        "post_count": posts,
        "posts_read": 0,
        "days_visited": 1,
        "user": basic_user(user) | {"title": user.title},
    }


_DIRECTORY_ORDERS = (
    "likes_received",
    "likes_given",
    "topic_count",
    "post_count",
    "topics_entered",
    "posts_read",
    "days_visited",
)


@op("list_users_public")
async def list_users_public(ctx: Ctx) -> JSON:
    """GET /directory_items.json: 50 a page; ``load_more_directory_items`` only when more exist.

    Not modelled: reading (``days_visited`` is 1, ``topics_entered`` and ``posts_read`` 0) and user-field columns.
    """
    period, order = ctx.require("period"), ctx.param("order") or _DIRECTORY_ORDERS[0]  # Discourse's default
    if period not in backend.PERIOD_DAYS:
        raise backend.invalid_parameters(f"invalid period: {period}")
    days = backend.PERIOD_DAYS[period]
    since = None if days is None else ctx.store.now() - days * 86400
    users = [u for u in ctx.store.users.values() if u.id > 0 and u.active and not u.staged]
    rows = [_directory_stats(ctx, u, since) for u in users]
    asc = ctx.param_bool("asc")
    if order not in _DIRECTORY_ORDERS:
        raise backend.invalid_parameters(f"invalid order: {order}")
    rows.sort(key=lambda r: (r[order], -r["id"] if not asc else r["id"]), reverse=not asc)
    page = max(0, ctx.param_int("page", 0) or 0)
    chunk = rows[page * DIRECTORY_PER_PAGE : (page + 1) * DIRECTORY_PER_PAGE]
    meta: JSON = {"last_updated_at": backend.iso(ctx.store.now()), "total_rows_directory_items": len(rows)}
    if (page + 1) * DIRECTORY_PER_PAGE < len(rows):
        query = {"order": order, "page": page + 1, "period": period} | ({"asc": "true"} if asc else {})
        meta["load_more_directory_items"] = f"/directory_items?{urlencode(query)}"
    return {"directory_items": chunk, "meta": meta}


@op("list_user_actions")
async def list_user_actions(ctx: Ctx) -> JSON:
    """GET /user_actions.json: newest first, 30 from ``offset``, ``filter`` a list of action types."""
    user = ctx.store.user(ctx.require("username"))
    offset = ctx.param_int("offset", 0) or 0
    if offset < 0:
        raise backend.invalid_parameters("offset must be 0 or more")
    try:
        kinds = {int(k) for k in ctx.param_list("filter")}
    except ValueError:
        raise backend.invalid_parameters("filter must be a list of action types") from None
    private = {backend.ACTION_TYPES["new_private_message"], backend.ACTION_TYPES["got_private_message"]}
    may_see_private = ctx.user is not None and (ctx.user.id == user.id or ctx.user.admin)
    picked = []
    store = ctx.store
    for action in reversed(user.actions):
        if kinds and action.action_type not in kinds:
            continue
        if action.action_type in private and not may_see_private:
            continue
        topic = store.topics.get(action.topic_id)
        if topic is None or not store.can_see_topic(ctx.user, topic):
            continue
        picked.append(action)
        if len(picked) >= offset + USER_ACTIONS_PER_PAGE:
            break
    return {"user_actions": [user_action(store, a) for a in picked[offset:]]}


@op("get_user_emails")
async def get_user_emails(ctx: Ctx) -> JSON:
    """GET /u/{username}/emails.json (the user or staff)."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    return {
        "email": user.email,
        "secondary_emails": list(user.secondary_emails),
        "unconfirmed_emails": [],
        "associated_accounts": [],
    }


@op("refresh_gravatar")
async def refresh_gravatar(ctx: Ctx) -> JSON:
    """POST /user_avatar/{username}/refresh_gravatar.json (no Gravatar offline: nothing found)."""
    _own_or_staff(ctx, ctx.path("username"))
    return {"gravatar_upload_id": None, "gravatar_avatar_template": None}


@op("send_password_reset_email")
async def send_password_reset_email(ctx: Ctx) -> JSON:
    """POST /session/forgot_password.json: "sends" a reset link (see ``fake.emails``)."""
    ctx.guard("local_logins")
    login = ctx.require("login").lower()
    user = ctx.store.users_by_name.get(login) or next(
        (u for u in ctx.store.users.values() if u.email.lower() == login), None
    )
    if user is not None and user.id > 0:
        token = secrets.token_hex(16)
        ctx.store.password_reset_tokens[token] = user.id
        ctx.store.emails.append(backend.Email(to=user.email, kind="forgot_password", token=token))
    return {"success": "OK", "user_found": user is not None}


@op("change_password")
async def change_password(ctx: Ctx) -> JSON:
    """PUT /users/password-reset/{token}.json."""
    user_id = ctx.store.password_reset_tokens.get(ctx.path("token"))
    if user_id is None:
        raise backend.record_invalid("Password reset link has expired")
    password = ctx.require("password")
    shortest = ctx.store.settings.min_password_length
    if len(password) < shortest:
        raise backend.record_invalid(f"Password is too short (minimum is {shortest} characters)")
    del ctx.store.password_reset_tokens[ctx.path("token")]
    ctx.store.users[user_id].password = password
    ctx.store.changed()
    return {"success": True, "message": "Your password was changed.", "requires_approval": False}


def _admin_target(ctx: Ctx) -> backend.User:
    ctx.require_admin()
    return backend.found(ctx.store.users, ctx.path_int("id"))


@op("admin_get_user")
async def admin_get_user(ctx: Ctx) -> JSON:
    """GET /admin/users/{id}.json."""
    return admin_user(ctx.store, _admin_target(ctx), detailed=True)


_ADMIN_ORDERS: dict[str, Callable[[backend.User], Any]] = {
    "created": lambda u: u.created_at,
    "seen": lambda u: u.last_seen_at or 0,
    "username": lambda u: u.username.lower(),
    "email": lambda u: u.email.lower(),
    "trust_level": lambda u: u.trust_level,
    "posts": lambda u: u.post_count,
    "topics_viewed": lambda u: 0,
    "days_visited": lambda u: 1,
    "posts_read": lambda u: 0,
    "read_time": lambda u: 0,
    "last_emailed": lambda u: 0,
}


@op("admin_list_users")
@op("admin_list_users_flag")
async def admin_list_users(ctx: Ctx) -> list[JSON]:
    """GET /admin/users.json (active users) or /admin/users/list/{flag}.json: 100 a page."""
    ctx.require_admin()
    flag = ctx.path_params.get("flag", "active")
    now = ctx.store.now()
    filters: dict[str, Callable[[backend.User], bool]] = {
        "active": lambda u: u.active,
        "new": lambda u: u.trust_level == 0,
        "staff": lambda u: u.staff,
        "suspended": lambda u: u.suspended(now),
        "blocked": lambda u: u.silenced(now),
        "silenced": lambda u: u.silenced(now),
        "suspect": lambda u: False,
        "staged": lambda u: u.staged,
        "admins": lambda u: u.admin,
        "moderators": lambda u: u.moderator,
    }
    if flag not in filters:
        raise backend.not_found()
    users = [u for u in ctx.store.users.values() if u.id > 0 and filters[flag](u)]
    if ctx.has("email"):
        users = [u for u in users if (ctx.param("email") or "").lower() in u.email.lower()]
    if ctx.has("filter"):
        needle = (ctx.param("filter") or "").lower()
        users = [u for u in users if needle in u.username.lower() or needle in u.email.lower()]
    order = ctx.param("order") or "created"
    users.sort(key=_ADMIN_ORDERS.get(order, _ADMIN_ORDERS["created"]), reverse=not ctx.param_bool("asc"))
    page = max(1, ctx.param_int("page", 1) or 1)  # Discourse's admin list pages count from 1
    chunk = users[(page - 1) * ADMIN_USERS_PER_PAGE : page * ADMIN_USERS_PER_PAGE]
    return [admin_user(ctx.store, u, show_email=ctx.param_bool("show_emails")) for u in chunk]


@op("delete_user")
async def delete_user(ctx: Ctx) -> JSON:
    """DELETE /admin/users/{id}.json: refused while the user has posts unless ``delete_posts``."""
    user = _admin_target(ctx)
    ctx.guard("delete_admin", target=user)
    if user.post_count and not ctx.param_bool("delete_posts"):
        raise backend.DiscourseHTTPError(
            403,
            "",
            body={
                "deleted": False,
                "message": f"User {user.username} has {user.post_count} posts, so they can't be deleted.",
            },
        )
    for post in [p for p in ctx.store.posts.values() if p.user_id == user.id and p.deleted_at is None]:
        ctx.store.delete_post(post, ctx.require_user())
    del ctx.store.users[user.id]
    del ctx.store.users_by_name[user.username.lower()]
    ctx.store.changed()
    ctx.events.append(("user", "user_destroyed", user_event(user)))
    return {"deleted": True}


@op("activate_user")
async def activate_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/activate.json."""
    _admin_target(ctx).active = True
    ctx.store.changed()
    return {"success": "OK"}


@op("deactivate_user")
async def deactivate_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/deactivate.json."""
    _admin_target(ctx).active = False
    ctx.store.changed()
    return {"success": "OK"}


def _until(ctx: Ctx, name: str) -> float:
    value = ctx.require(name)
    if value == "forever":
        return ctx.store.now() + 1000 * 365 * 86400
    return backend.parse_time(value)


async def _restrict(ctx: Ctx, user: backend.User, verb: str, till: str) -> JSON:
    """Suspend or silence (``verb``) a user until ``till`` (a date or "forever")."""
    admin, done = ctx.require_admin(), f"{verb.removesuffix('e')}ed"
    reason, until, now = ctx.require("reason"), _until(ctx, till), ctx.store.now()
    for name, value in ((f"{done}_till", until), (f"{verb}_reason", reason), (f"{done}_at", now)):
        setattr(user, name, value)
    ctx.store.changed()
    body: JSON = {f"{verb}_reason": reason, f"full_{verb}_reason": reason, f"{done}_by": basic_user(admin)}
    body |= {f"{done}_till": backend.iso(until), f"{done}_at": backend.iso(now)}
    # Discourse answers {"suspension": {...}} and {"silence": {..., "silenced": true}}.
    if verb == "suspend":
        return {"suspension": body}
    return {verb: body | {"silenced": True}}


@op("suspend_user")
async def suspend_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/suspend.json: staff cannot be suspended."""
    user = _admin_target(ctx)
    ctx.guard("suspend_staff", target=user)
    return await _restrict(ctx, user, "suspend", "suspend_until")


@op("silence_user")
async def silence_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/silence.json: the user can read but not post."""
    user = _admin_target(ctx)
    ctx.guard("silence_staff", target=user)
    return await _restrict(ctx, user, "silence", "silenced_till")


@op("anonymize_user")
async def anonymize_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/anonymize.json."""
    user = _admin_target(ctx)
    ctx.guard("anonymize_admin", target=user)
    new_name = f"anon{secrets.token_hex(4)}"
    ctx.store.rename_user(user, new_name)
    user.name, user.email, user.title, user.external_ids = None, f"{new_name}@anonymized.invalid", None, {}
    return {"success": "OK", "username": user.username}


@op("log_out_user")
async def log_out_user(ctx: Ctx) -> JSON:
    """POST /admin/users/{id}/log_out.json."""
    user = _admin_target(ctx)
    user.auth_token_count = 0
    return {"success": "OK"}


def _encrypt_payload(public_key_pem: str, payload: bytes, padding_name: str) -> str:
    """RSA-encrypt with the app's public key and base64 it the way Ruby's Base64.encode64 does."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # pragma: no cover - the testing extra installs it
        raise backend.DiscourseHTTPError(
            500, "install 'cryptography' for the User API key flow", "server_error"
        ) from None
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        raise backend.invalid_parameters("public_key is not a valid PEM RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise backend.invalid_parameters("public_key must be an RSA key")
    if padding_name == "oaep":
        scheme: padding.AsymmetricPadding = padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - OAEP-SHA1 is what Discourse uses
            algorithm=hashes.SHA1(),  # noqa: S303
            label=None,
        )
    else:
        scheme = padding.PKCS1v15()
    encoded = base64.b64encode(key.encrypt(payload, scheme)).decode()
    # Base64.encode64 breaks lines every 60 characters and ends with a newline; clients must cope.
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


@route("GET", "/user-api-key/new")
async def user_api_key_new(ctx: Ctx) -> Response:
    """The User API key authorization: approves at once for the configured user and redirects with the payload.

    With no browser login here, the approving user is ``fake.user_api_key_approver`` or, failing
    that, the user the request's own credentials act as.
    """
    for name in ("application_name", "client_id", "scopes", "nonce", "public_key"):
        ctx.require(name)
    scopes = [s for s in (ctx.param("scopes") or "").split(",") if s]
    unknown = [s for s in scopes if s not in backend.USER_API_SCOPES]
    if unknown:
        raise backend.invalid_parameters(f"invalid scopes: {', '.join(unknown)}")
    padding_name = ctx.param("padding") or "pkcs1"
    if padding_name not in ("pkcs1", "oaep"):
        raise backend.invalid_parameters("padding must be pkcs1 or oaep")
    approver_name = ctx.fake.user_api_key_approver
    approver = ctx.store.users_by_name.get(approver_name.lower()) if approver_name else ctx.user
    if approver is None:
        raise backend.not_logged_in()
    key = ctx.store.create_user_api_key(
        approver, scopes=scopes, client_id=ctx.require("client_id"), application_name=ctx.require("application_name")
    )
    payload = json.dumps({"key": key.key, "nonce": ctx.require("nonce"), "push": False, "api": 4}).encode()
    encrypted = _encrypt_payload(ctx.require("public_key"), payload, padding_name)
    redirect = ctx.param("auth_redirect")
    if not redirect:
        return HTMLResponse(f"<html><body><p>Your key:</p><textarea id='payload'>{encrypted}</textarea></body></html>")
    parts = urlsplit(redirect)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("payload", encrypted)])
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


@route("POST", "/user-api-key/revoke")
async def user_api_key_revoke(ctx: Ctx) -> JSON:
    """Revoke the calling User API key (or, with ``id``, one of the caller's keys)."""
    user = ctx.require_user()
    key = ctx.user_api_key
    if ctx.has("id"):
        wanted = ctx.param_int("id")
        key = next((k for k in ctx.store.user_api_keys.values() if k.id == wanted), None)
        if key is None or (key.user_id != user.id and not user.admin):
            raise backend.not_found()
    if key is None:
        raise backend.invalid_access()
    key.revoked = True
    return {"success": "OK"}


@route("GET", "/session/current.json")
async def session_current(ctx: Ctx) -> JSON:
    """The acting user (what the ``session_info`` scope is for)."""
    return {"current_user": user_with_rank(ctx.require_user())}


@route("GET", "/srv/status")
async def status(ctx: Ctx) -> Response:
    """Discourse's health check."""
    return Response("ok", media_type="text/plain")


@route("GET", "/session/hp.json")
async def honeypot(ctx: Ctx) -> JSON:
    """GET /session/hp.json: the signup form's honeypot challenge, which some clients fetch before ``POST /users``."""
    return {"value": secrets.token_hex(16), "challenge": secrets.token_hex(16)}


@route("PUT", "/admin/users/{id}/unsuspend.json")
async def unsuspend_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/unsuspend.json."""
    user = _admin_target(ctx)
    user.suspended_till = user.suspended_at = None
    ctx.store.changed()
    return {"suspension": {"suspended_till": None, "suspended_at": None}}


def _suggest_username(ctx: Ctx, seed: str) -> str:
    """Discourse's UserNameSuggester, in short: allowed characters, padded with 1s to 3, a number if taken."""
    base = re.sub(r"[^\w.-]", "_", seed).strip("_.-")[:15].ljust(3, "1")
    candidates = [base, *(f"{base}{n}" for n in range(1, 1000))]
    return next(name for name in candidates if not ctx.store.validate_username(name))


@route("POST", "/admin/users/sync_sso.json")
async def sync_sso(ctx: Ctx) -> JSON:
    """POST /admin/users/sync_sso: create or update a user from a signed DiscourseConnect payload.

    Needs DiscourseConnect on (``fake.discourse_connect_secret = ...``, or the site settings
    ``enable_discourse_connect`` and ``discourse_connect_secret``); without it the route does not exist.
    """
    from discourse_async.connect import ConnectError, decode_payload

    ctx.require_admin()
    ctx.guard("discourse_connect")
    secret = ctx.fake.site_settings.discourse_connect_secret
    try:
        fields = decode_payload(ctx.require("sso"), ctx.param("sig"), secret)
    except ConnectError:
        fields = {}
    external_id, email = fields.get("external_id"), fields.get("email")
    if not external_id or not email:  # a bad signature, or a payload without the two fields Discourse needs
        raise backend.DiscourseHTTPError(422, [], body={"failed": "FAILED", "message": "Login Error"})
    store = ctx.store
    user = next((u for u in store.users.values() if u.external_ids.get("discourse_connect") == external_id), None)
    user = user or next((u for u in store.users.values() if u.email.lower() == email.lower()), None)
    username = fields.get("username") or _suggest_username(ctx, email.split("@")[0])
    if user is None:
        if store.validate_username(username):
            raise backend.DiscourseHTTPError(403, [], body={"failed": "FAILED", "message": "Username is invalid"})
        user = store.create_user(username, email=email, name=fields.get("name"))
        ctx.events.append(("user", "user_created", user_event(user)))
    else:
        user.email = email
        if fields.get("username") and fields["username"].lower() != user.username.lower():
            store.rename_user(user, fields["username"])
        user.name = fields.get("name") or user.name
    user.external_ids["discourse_connect"] = external_id
    for flag in ("admin", "moderator"):
        if flag in fields:
            setattr(user, flag, fields[flag] == "true")
    store.changed()
    return admin_user(store, user, detailed=True)


@route("GET", "/session/sso_provider")
async def sso_provider(ctx: Ctx) -> Response:
    """GET /session/sso_provider: Discourse as identity provider, answering for the request's user.

    The secret is ``fake.discourse_connect_provider_secrets[<return URL's host>]`` (Discourse's
    *discourse connect provider secrets*); the browser's login session is the request's credentials.
    """
    from discourse_async.connect import ConnectError, decode_payload, encode_payload, sign_payload

    if not ctx.fake.discourse_connect_provider_secrets:
        raise backend.not_found()
    sso, sig = ctx.require("sso"), ctx.param("sig")
    try:  # the secret depends on where the answer goes, so read that before checking the signature
        unverified = dict(parse_qsl(base64.b64decode(sso.replace(" ", "+")).decode("utf-8")))
        return_url = unverified["return_sso_url"]
        secret = ctx.fake.discourse_connect_provider_secrets[urlsplit(return_url).hostname or ""]
        fields = decode_payload(sso, sig, secret)
    except (ConnectError, KeyError, ValueError):
        raise backend.invalid_access("The DiscourseConnect request is not valid.") from None
    user = ctx.user
    if user is None:
        if fields.get("prompt") != "none":
            raise backend.not_logged_in()
        answer: dict[str, object] = {"nonce": fields.get("nonce"), "return_sso_url": return_url, "failed": True}
    else:
        groups = [ctx.store.groups[g].name for g in sorted(ctx.store.group_ids_of(user)) if g in ctx.store.groups]
        answer = {
            "nonce": fields.get("nonce"),
            "return_sso_url": return_url,
            "external_id": user.id,
            "email": user.email,
            "username": user.username,
            "name": user.name,
            "admin": user.admin,
            "moderator": user.moderator,
            "groups": ",".join(groups),
        }
    payload = encode_payload(answer)
    query = urlencode({"sso": payload, "sig": sign_payload(payload, secret)})
    return RedirectResponse(f"{return_url}{'&' if '?' in return_url else '?'}{query}", status_code=302)
