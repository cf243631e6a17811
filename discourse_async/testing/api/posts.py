"""Posts: creating topics, replies and messages (and their notifications), reading, editing, likes."""

from __future__ import annotations

import bisect
from typing import Any

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, for_viewer, op, route
from discourse_async.testing.api import topics as _topics
from discourse_async.testing.api import users as _users


def _actions_summary(post: backend.Post, viewer: backend.User | None) -> list[JSON]:
    summary: JSON = {"id": backend.POST_ACTION_TYPES["like"]}
    if post.likes:
        summary["count"] = len(post.likes)
    if viewer is not None and viewer.id in post.likes:
        summary |= {"acted": True, "can_undo": True}
    elif viewer is not None and viewer.id != post.user_id:
        summary["can_act"] = True
    return [summary] if len(summary) > 1 else []


def post_json(store: backend.Store, viewer: backend.User | None, p: backend.Post, *, raw: bool = False) -> JSON:
    """PostSerializer: one post as a viewer sees it (``raw`` as /posts/{id}.json adds it)."""
    topic = store.topics[p.topic_id]
    author = store.users.get(p.user_id)
    staff = viewer is not None and viewer.staff
    mine = viewer is not None and viewer.id == p.user_id
    can_edit = viewer is not None and (staff or (mine and not p.locked and not topic.archived))
    data: JSON = _users.FLAIR | {
        "id": p.id,
        "name": author.name if author else None,
        "username": author.username if author else "deleted",
        "avatar_template": author.avatar_template if author else "/images/avatar.png",
        "created_at": backend.iso(p.created_at),
        "cooked": p.cooked,
        "post_number": p.post_number,
        "post_type": p.post_type,
        "posts_count": author.post_count if author else 0,
        "updated_at": backend.iso(p.updated_at),
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
        "deleted_at": backend.iso(p.deleted_at),
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
            data["reply_to_user"] = _users.basic_user(store.users[parent.user_id])
    return for_viewer(viewer, data)


def stream_post(store: backend.Store, viewer: backend.User | None, p: backend.Post, *, raw: bool = False) -> JSON:
    """A post as topic views list it (post_stream.posts), with the viewer's read state (``raw`` on request)."""
    data = post_json(store, viewer, p, raw=raw)
    del data["badges_granted"], data["mentioned_users"]
    data["read"] = viewer is not None
    if viewer is not None:
        data["reviewable_id"] = 0
    data["link_counts"] = []
    return data


def latest_post(store: backend.Store, viewer: backend.User | None, p: backend.Post) -> JSON:
    """A post as /posts.json lists it: with its raw and its topic's title."""
    topic = store.topics[p.topic_id]
    data = post_json(store, viewer, p, raw=True)
    data |= {
        "topic_title": topic.title,
        "topic_html_title": topic.fancy_title,
        "category_id": topic.category_id,
        "excerpt": backend.excerpt(p.cooked),
        "truncated": False,
        "posts_count": topic.live_posts,
    }
    del data["mentioned_users"]
    return data


POSTS_PER_PAGE = 50  # /posts.json


def _post_event(store: backend.Store, post: backend.Post) -> JSON:
    topic = store.topics[post.topic_id]
    body = post_json(store, None, post, raw=True)
    body |= {
        "topic_title": topic.title,
        "topic_archetype": topic.archetype,
        "category_id": topic.category_id,
        "topic_posts_count": topic.live_posts,
    }
    return {"post": body}


def check_post(store: backend.Store, topic_private: bool, raw: str, *, first: bool = False) -> None:
    """Discourse's post body rules (the lengths are site settings)."""
    settings = store.settings
    if topic_private:
        minimum = settings.min_personal_message_post_length
    else:
        minimum = settings.min_first_post_length if first else settings.min_post_length
    if len(raw.strip()) < minimum:
        raise backend.record_invalid(f"Body is too short (minimum is {minimum} characters)")
    if len(raw) > settings.max_post_length:
        raise backend.record_invalid(f"Body is too long (maximum is {settings.max_post_length} characters)")


def _notify_new_post(store: backend.Store, post: backend.Post, author: backend.User) -> None:
    """PostAlerter, in short: mentions, then the replied-to author, then watchers; one note per user."""
    topic = store.topics[post.topic_id]
    notified = {author.id}
    data = {
        "topic_title": topic.title,
        "original_post_id": post.id,
        "original_post_type": post.post_type,
        "original_username": author.username,
        "revision_number": None,
        "display_username": author.username,
    }
    mentioned = [store.users_by_name.get(name) for name in backend.mentions(post.raw)]
    parent = topic.post_by_number(post.reply_to_post_number or 0)  # None when the post replies to no post
    if topic.private:
        watchers = [store.users.get(uid) for uid in topic.allowed_user_ids]
    else:
        watchers = [user for user in store.users.values() if user.topic_levels.get(topic.id) == 3]
    rounds: list[tuple[str, str | None, list[backend.User | None]]] = [
        ("mentioned", "mention", [u for u in mentioned if u is not None and store.can_see_topic(u, topic)]),
        ("replied", "response", [store.users.get(parent.user_id)] if parent else []),
        ("private_message" if topic.private else "posted", None, watchers),
    ]
    for kind, action, targets in rounds:
        for target in targets:
            if target is None or target.id in notified:
                continue
            store.notify(target, kind, topic=topic, post=post, data=data)
            if action is not None:
                store.add_action(target, backend.ACTION_TYPES[action], author, topic, post, post.created_at)
            notified.add(target.id)


def _reply(ctx: Ctx, author: backend.User, topic_id: int, raw: str, created_at: float | None) -> backend.Post:
    store = ctx.store
    topic = store.topics.get(topic_id)
    if topic is None or topic.deleted_at is not None or not store.can_see_topic(author, topic):
        raise backend.invalid_access() if topic is not None and topic.deleted_at is None else backend.not_found()
    ctx.guard("reply_to_closed_topic", topic=topic)
    if not topic.private:
        ctx.guard("reply_in_category", category=store.categories.get(topic.category_id or 0))
    check_post(store, topic.private, raw)
    reply_to = ctx.param_int("reply_to_post_number")
    if reply_to is not None and topic.post_by_number(reply_to) is None:
        reply_to = None  # Discourse ignores a reply target that does not exist
    post = store.create_reply(author, topic, raw, reply_to_post_number=reply_to, created_at=created_at)
    _notify_new_post(store, post, author)
    ctx.events.append(("post", "post_created", _post_event(store, post)))
    return post


def _recipients(store: backend.Store, names: list[Any]) -> tuple[list[backend.User], list[backend.Group]]:
    users, groups = [], []
    for name in (str(n).lower() for n in names):
        user = store.users_by_name.get(name)
        group = next((g for g in store.groups.values() if g.name.lower() == name), None)
        if user is not None:
            users.append(user)
        elif group is not None:
            groups.append(group)
        else:
            raise backend.record_invalid(f"The user or group '{name}' could not be found.")
    if not users and not groups:
        raise backend.record_invalid("You must choose a valid user.")
    return users, groups


def create_post(ctx: Ctx, author: backend.User) -> backend.Post:
    """Discourse's PostCreator: a reply (``topic_id``), a private message, or a new topic."""
    store = ctx.store
    raw = ctx.require("raw")
    created_at = backend.parse_time(ctx.require("created_at")) if ctx.has("created_at") else None
    topic_id = ctx.param_int("topic_id")
    if topic_id is not None:
        return _reply(ctx, author, topic_id, raw, created_at)
    title = ctx.require("title")
    archetype = ctx.param("archetype") or "regular"
    recipients = ctx.param_list("target_recipients") or ctx.param_list("target_usernames")
    private = archetype == "private_message" or (bool(recipients) and archetype != "regular")
    _topics.check_title(store, title, private=private)
    check_post(store, private, raw, first=True)
    if private:
        ctx.guard("send_private_message")
    users, groups = _recipients(store, recipients) if private else ([], [])
    category_id = None
    if not private:
        # Discourse takes a category id, or a name (its TopicCreator looks both up); an unknown one is none.
        wanted = ctx.param("category") or ""
        category = (
            store.categories.get(int(wanted))
            if wanted.lstrip("-").isdigit()
            else next((c for c in store.categories.values() if c.name.lower() == wanted.lower()), None)
            if wanted
            else None
        )
        ctx.guard("uncategorized_topics", category=category)
        if category is None:  # allowed: the site puts it in Uncategorized
            category = next(c for c in store.categories.values() if c.uncategorized)
        if not store.can_see_category(author, category):
            raise backend.invalid_access()
        ctx.guard("create_topic", category=category)
        category_id = category.id
    external_id = ctx.param("external_id")
    if external_id and any(t.external_id == external_id for t in store.topics.values()):
        raise backend.record_invalid("External ID has already been taken")
    topic, post = store.create_topic(
        author,
        title,
        raw,
        category_id=category_id,
        tags=[str(t) for t in ctx.param_list("tags")],
        archetype="private_message" if private else "regular",
        allowed_users=users,
        allowed_groups=groups,
        created_at=created_at,
        external_id=external_id,
    )
    _notify_new_post(store, post, author)
    ctx.events.append(("topic", "topic_created", _topics.topic_event(store, topic)))
    ctx.events.append(("post", "post_created", _post_event(store, post)))
    return post


@op("create_topic_post_pm")
async def create_topic_post_pm(ctx: Ctx) -> JSON:
    """POST /posts.json: a topic (title), a reply (topic_id) or a message (archetype=private_message).

    Not modelled: drafts, the review queue, Discourse's "too similar" check and group mentions.
    """
    user = ctx.require_poster()
    post = create_post(ctx, user)
    # The fake keeps no drafts, so the composer's draft sequence is always 0, as for a bot that never drafts.
    return post_json(ctx.store, user, post, raw=True) | {"draft_sequence": 0}


@op("list_posts")
async def list_posts(ctx: Ctx) -> JSON:
    """GET /posts.json: the newest 50 public posts; ``before=<post id>`` for older ones."""
    store, viewer = ctx.store, ctx.user
    before = ctx.param_int("before")
    ids = store.post_ids
    end = len(ids) if before is None else bisect.bisect_left(ids, before)
    found: list[backend.Post] = []
    for index in range(end - 1, -1, -1):
        p = store.posts[ids[index]]
        if p.deleted_at is None and p.post_type == 1 and _topics._listed(store, viewer, store.topics[p.topic_id]):
            found.append(p)
            if len(found) == POSTS_PER_PAGE:
                break
    return {"latest_posts": [latest_post(store, viewer, p) for p in found]}


@op("get_post")
async def get_post(ctx: Ctx) -> JSON:
    """GET /posts/{id}.json, with its raw."""
    return post_json(ctx.store, ctx.user, ctx.store.visible_post(ctx.user, ctx.path_int("id")), raw=True)


@route("GET", "/posts/by_number/{topic_id}/{post_number}.json")
async def get_post_by_number(ctx: Ctx) -> JSON:
    """GET /posts/by_number/{topic_id}/{post_number}.json: a post by its place in its topic."""
    topic = ctx.store.visible_topic(ctx.user, ctx.path_int("topic_id"))
    found = topic.post_by_number(ctx.path_int("post_number"))
    if found is None:
        raise backend.not_found()
    return post_json(ctx.store, ctx.user, ctx.store.visible_post(ctx.user, found.id), raw=True)


@op("update_post")
async def update_post(ctx: Ctx) -> JSON:
    """PUT /posts/{id}.json: new raw (``{"post": {"raw": ..., "edit_reason": ...}}``); each change is a version."""
    user = ctx.require_poster()
    post = ctx.store.visible_post(user, ctx.path_int("id"))
    topic = ctx.store.topics[post.topic_id]
    ctx.guard("edit_post", post=post, topic=topic)
    fields = ctx.param_dict("post") or ctx.params
    raw = fields.get("raw")
    if raw is None or str(raw) == "":
        raise backend.invalid_parameters("param is missing or the value is empty: post")
    check_post(ctx.store, topic.private, str(raw), first=post.post_number == 1)
    if str(raw) != post.raw:
        post.revisions.append(post.raw)
        post.raw = str(raw)
        post.cooked = backend.cook(post.raw)
        post.version += 1
        post.edit_reason = fields.get("edit_reason") or None
        post.updated_at = ctx.store.now()
        if not ctx.param_bool("bypass_bump") and post.post_number != 1:
            topic.bumped_at = post.updated_at
        ctx.store.changed()
        ctx.events.append(("post", "post_edited", _post_event(ctx.store, post)))
    return {"post": post_json(ctx.store, user, post, raw=True)}


@op("delete_post")
async def delete_post(ctx: Ctx) -> None:
    """DELETE /posts/{id}.json: the author or staff; ``force_destroy`` (admins) removes it for good."""
    user = ctx.require_user()
    post = ctx.store.visible_post(user, ctx.path_int("id"))
    force = ctx.param_bool("force_destroy")
    ctx.guard("delete_post", post=post, extra={"force": force})
    event = _post_event(ctx.store, post)
    ctx.store.delete_post(post, user, force=force)
    ctx.events.append(("post", "post_destroyed", event))


@route("GET", "/posts/{id}/reply-ids.json")
async def post_reply_ids(ctx: Ctx) -> list[JSON]:
    """GET /posts/{id}/reply-ids.json: every reply below this post, replies to replies too, with its depth."""
    post = ctx.store.visible_post(ctx.user, ctx.path_int("id"))
    topic = ctx.store.topics[post.topic_id]
    found: list[JSON] = []
    level, numbers = 1, {post.post_number}
    while numbers:
        below = [p for p in topic.posts if p.reply_to_post_number in numbers and p.deleted_at is None]
        found += [{"id": p.id, "level": level} for p in below]
        level, numbers = level + 1, {p.post_number for p in below}
    return found


@op("post_replies")
async def post_replies(ctx: Ctx) -> list[JSON]:
    """GET /posts/{id}/replies.json: the posts that reply directly to this one."""
    post = ctx.store.visible_post(ctx.user, ctx.path_int("id"))
    topic = ctx.store.topics[post.topic_id]
    replies = [p for p in topic.posts if p.reply_to_post_number == post.post_number and p.deleted_at is None]
    return [post_json(ctx.store, ctx.user, p) for p in replies]


@op("lock_post")
async def lock_post(ctx: Ctx) -> JSON:
    """PUT /posts/{id}/locked.json: lock a post against edits by its author (staff)."""
    user = ctx.require_staff()
    post = ctx.store.visible_post(user, ctx.path_int("id"))
    post.locked = ctx.param_bool("locked")
    ctx.store.changed()
    return {"locked": post.locked}


@op("perform_post_action")
async def perform_post_action(ctx: Ctx) -> JSON:
    """POST /post_actions.json: like (2) or flag a post."""
    user = ctx.require_user()
    post = ctx.store.visible_post(user, ctx.require_int("id"))
    kind = ctx.require_int("post_action_type_id")
    if kind not in backend.POST_ACTION_TYPES.values():
        raise backend.invalid_parameters("post_action_type_id is not valid")
    ctx.guard("act_on_post", post=post)
    store = ctx.store
    topic = store.topics[post.topic_id]
    author = store.users.get(post.user_id)
    if kind == backend.POST_ACTION_TYPES["like"]:
        if user.id in post.likes:
            raise backend.invalid_access("You already performed this action.")
        post.likes.add(user.id)
        topic.like_count += 1
        user.likes_given += 1
        store.add_action(user, backend.ACTION_TYPES["like"], user, topic, post, store.now())
        if author is not None:
            author.likes_received += 1
            store.add_action(author, backend.ACTION_TYPES["was_liked"], user, topic, post, store.now())
            store.notify(
                author,
                "liked",
                topic=topic,
                post=post,
                data={
                    "topic_title": topic.title,
                    "original_post_id": post.id,
                    "display_username": user.username,
                    "username": user.username,
                },
            )
            if user.likes_given == 1:
                first_like = next((b for b in store.badges.values() if b.name == "First Like"), None)
                if first_like is not None:
                    store.grant_badge(user, first_like, store.users[-1])
    else:
        if any(uid == user.id and t == kind for uid, t in post.flags):
            raise backend.invalid_access("You already performed this action.")
        post.flags.append((user.id, kind))
    store.changed()
    body = post_json(store, user, post)
    body["actions_summary"] = [
        {"id": kind, "count": len(post.likes) if kind == 2 else 1, "acted": True, "can_undo": True}
    ]
    return body
