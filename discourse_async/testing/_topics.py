"""Routes for content: topics, posts, private messages, lists, search, categories, tags, notifications."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from discourse_async.testing import _serialize as ser
from discourse_async.testing._context import Ctx
from discourse_async.testing._registry import op, route
from discourse_async.testing._store import (
    ACTION_TYPES,
    MAX_TOPIC_TITLE_LENGTH,
    MIN_PM_POST_LENGTH,
    MIN_PM_TITLE_LENGTH,
    MIN_POST_LENGTH,
    MIN_TOPIC_TITLE_LENGTH,
    NOTIFICATION_TYPES,
    POST_ACTION_TYPES,
    DiscourseHTTPError,
    Group,
    Post,
    Store,
    TagGroup,
    Topic,
    TopicTimer,
    User,
    cook,
    excerpt,
    invalid_access,
    invalid_parameters,
    iso,
    mentions,
    not_found,
    parse_time,
    record_invalid,
    slugify,
)

JSON = dict[str, Any]
TOPICS_PER_PAGE = 30
POSTS_PER_PAGE = 50  # /posts.json
POST_CHUNK = 20  # posts in a topic view
SEARCH_PER_PAGE = 50
TOP_PERIODS = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91, "yearly": 365, "all": None}


# ------------------------------------------------------------------------------------- creating posts


def _post_event(store: Store, post: Post) -> JSON:
    topic = store.topics[post.topic_id]
    body = ser.post(store, None, post, raw=True)
    body |= {
        "topic_title": topic.title,
        "topic_archetype": topic.archetype,
        "category_id": topic.category_id,
        "topic_posts_count": topic.live_posts,
    }
    return {"post": body}


def topic_event(store: Store, topic: Topic) -> JSON:
    """A topic as a webhook delivers it."""
    body = ser.topic_list_item(store, None, topic)
    creator, last = store.users.get(topic.user_id), store.users.get(topic.last_post_user_id)
    body |= {
        "created_by": ser.basic_user(creator) if creator else None,
        "last_poster": ser.basic_user(last) if last else None,
    }
    return {"topic": body}


def check_post(topic_private: bool, raw: str) -> None:
    """Discourse's post body rules."""
    minimum = MIN_PM_POST_LENGTH if topic_private else MIN_POST_LENGTH
    if len(raw.strip()) < minimum:
        raise record_invalid(f"Body is too short (minimum is {minimum} characters)")
    if len(raw) > 32000:
        raise record_invalid("Body is too long (maximum is 32000 characters)")


def check_title(store: Store, title: str, *, private: bool, current: Topic | None = None) -> None:
    """Discourse's title rules: length, and no duplicate titles among public topics."""
    minimum = MIN_PM_TITLE_LENGTH if private else MIN_TOPIC_TITLE_LENGTH
    if len(title.strip()) < minimum:
        raise record_invalid(f"Title is too short (minimum is {minimum} characters)")
    if len(title) > MAX_TOPIC_TITLE_LENGTH:
        raise record_invalid(f"Title is too long (maximum is {MAX_TOPIC_TITLE_LENGTH} characters)")
    if not private:
        wanted = title.strip().lower()
        for other in store.topics.values():
            if (
                other is not current
                and not other.private
                and other.deleted_at is None
                and other.title.lower() == wanted
            ):
                raise record_invalid("Title has already been used")


def _notify_new_post(store: Store, post: Post, author: User) -> None:
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
    for name in mentions(post.raw):
        target = store.users_by_name.get(name)
        if target is None or target.id in notified or not store.can_see_topic(target, topic):
            continue
        store.notify(target, "mentioned", topic=topic, post=post, data=data)
        store.add_action(target, ACTION_TYPES["mention"], author, topic, post, post.created_at)
        notified.add(target.id)
    if post.reply_to_post_number is not None:
        parent = topic.post_by_number(post.reply_to_post_number)
        target = store.users.get(parent.user_id) if parent else None
        if target is not None and target.id not in notified:
            store.notify(target, "replied", topic=topic, post=post, data=data)
            store.add_action(target, ACTION_TYPES["response"], author, topic, post, post.created_at)
            notified.add(target.id)
    kind = "private_message" if topic.private else "posted"
    watchers = (
        topic.allowed_user_ids
        if topic.private
        else [uid for uid, user in store.users.items() if user.topic_levels.get(topic.id) == 3]
    )
    for uid in watchers:
        target = store.users.get(uid)
        if target is not None and target.id not in notified:
            store.notify(target, kind, topic=topic, post=post, data=data)
            notified.add(uid)


def _reply(ctx: Ctx, author: User, topic_id: int, raw: str, created_at: float | None) -> Post:
    store = ctx.store
    topic = store.topics.get(topic_id)
    if topic is None or topic.deleted_at is not None or not store.can_see_topic(author, topic):
        raise invalid_access() if topic is not None and topic.deleted_at is None else not_found()
    if topic.archived or (topic.closed and not author.staff):
        raise invalid_access("This topic is closed; it no longer accepts new replies.")
    check_post(topic.private, raw)
    reply_to = ctx.param_int("reply_to_post_number")
    if reply_to is not None and topic.post_by_number(reply_to) is None:
        reply_to = None  # Discourse ignores a reply target that does not exist
    post = store.create_reply(author, topic, raw, reply_to_post_number=reply_to, created_at=created_at)
    _notify_new_post(store, post, author)
    ctx.events.append(("post", "post_created", _post_event(store, post)))
    return post


def _recipients(store: Store, names: list[Any]) -> tuple[list[User], list[Group]]:
    users, groups = [], []
    for name in (str(n).lower() for n in names):
        user = store.users_by_name.get(name)
        group = next((g for g in store.groups.values() if g.name.lower() == name), None)
        if user is not None:
            users.append(user)
        elif group is not None:
            groups.append(group)
        else:
            raise record_invalid(f"The user or group '{name}' could not be found.")
    if not users and not groups:
        raise record_invalid("You must choose a valid user.")
    return users, groups


def create_post(ctx: Ctx, author: User) -> Post:
    """Discourse's PostCreator: a reply (``topic_id``), a private message, or a new topic."""
    store = ctx.store
    raw = ctx.require("raw")
    created_at = parse_time(ctx.require("created_at")) if ctx.has("created_at") else None
    topic_id = ctx.param_int("topic_id")
    if topic_id is not None:
        return _reply(ctx, author, topic_id, raw, created_at)
    title = ctx.require("title")
    archetype = ctx.param("archetype") or "regular"
    recipients = ctx.param_list("target_recipients") or ctx.param_list("target_usernames")
    private = archetype == "private_message" or (bool(recipients) and archetype != "regular")
    check_title(store, title, private=private)
    check_post(private, raw)
    users, groups = _recipients(store, recipients) if private else ([], [])
    category_id = None
    if not private:
        category_id = ctx.param_int("category") or 1
        category = store.categories.get(category_id)
        if category is None:
            raise record_invalid("Category can't be blank")
        if not store.can_see_category(author, category):
            raise invalid_access()
    external_id = ctx.param("external_id")
    if external_id and any(t.external_id == external_id for t in store.topics.values()):
        raise record_invalid("External ID has already been taken")
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
    ctx.events.append(("topic", "topic_created", topic_event(store, topic)))
    ctx.events.append(("post", "post_created", _post_event(store, post)))
    return post


# ------------------------------------------------------------------------------------- topic lists


def _page(ctx: Ctx) -> int:
    page = ctx.param_int("page", 0) or 0
    if page < 0:
        raise invalid_parameters("page must be 0 or more")
    return page


def _listed(store: Store, viewer: User | None, topic: Topic) -> bool:
    """Whether a public topic list shows a topic to this viewer."""
    if topic.private or topic.deleted_at is not None:
        return False
    if not topic.visible and not (viewer and viewer.staff):
        return False
    return store.can_see_category(viewer, store.categories.get(topic.category_id or 0))


_ORDERS: dict[str, Callable[[Topic], Any]] = {
    "activity": lambda t: (t.bumped_at, t.id),
    "default": lambda t: (t.bumped_at, t.id),
    "created": lambda t: (t.created_at, t.id),
    "views": lambda t: (t.views, t.id),
    "posts": lambda t: (t.live_posts, t.id),
    "likes": lambda t: (t.like_count, t.id),
    "op_likes": lambda t: (len(t.posts[0].likes) if t.posts else 0, t.id),
    "posters": lambda t: (len({p.user_id for p in t.posts[-50:]}), t.id),
}


def _sorted_topics(
    ctx: Ctx, kind: str, keep: Callable[[Topic], bool], order: str = "activity", ascending: bool = False
) -> list[Topic]:
    """Topics a list shows, pinned first, cached until the state changes (so paging is cheap)."""
    store, viewer = ctx.store, ctx.user
    key_fn = _ORDERS.get(order, _ORDERS["activity"])

    def build() -> list[Topic]:
        chosen = [t for t in store.topics.values() if keep(t)]
        chosen.sort(key=key_fn, reverse=not ascending)
        if kind in ("latest", "category") and order in ("activity", "default"):
            # Pinned topics lead the list: globally pinned in /latest, pinned ones in their category list.
            def pinned(t: Topic) -> bool:
                return t.pinned_at is not None and (t.pinned_globally or kind == "category")

            chosen = [t for t in chosen if pinned(t)] + [t for t in chosen if not pinned(t)]
        return chosen

    result: list[Topic] = store.cached(
        (kind, viewer.id if viewer else None, order, ascending, ctx.request.url.path), build
    )
    return result


def _topic_list_page(
    ctx: Ctx, topics: list[Topic], base: str, *, extra: JSON | None = None, keep_query: tuple[str, ...] = ()
) -> JSON:
    """One page of a topic list; ``more_topics_url`` only when the page is full, as Discourse does."""
    page = _page(ctx)
    per_page = TOPICS_PER_PAGE
    if ctx.has("per_page"):
        per_page = max(1, min(ctx.param_int("per_page") or TOPICS_PER_PAGE, 100))
    chunk = topics[page * per_page : (page + 1) * per_page]
    more = None
    if len(chunk) == per_page:
        query = {name: ctx.param(name) for name in ("per_page", *keep_query) if ctx.has(name)}
        more = f"{base}?{urlencode({**query, 'page': page + 1})}"
    return ser.topic_list(ctx.store, ctx.user, chunk, more_topics_url=more, per_page=per_page, extra=extra)


@op("list_latest_topics")
async def list_latest_topics(ctx: Ctx) -> JSON:
    """GET /latest.json."""
    order = ctx.param("order") or "activity"
    topics = _sorted_topics(
        ctx, "latest", lambda t: _listed(ctx.store, ctx.user, t), order, ctx.param_bool("ascending")
    )
    return _topic_list_page(ctx, topics, "/latest", keep_query=("order", "ascending"))


@op("list_top_topics")
async def list_top_topics(ctx: Ctx) -> JSON:
    """GET /top.json: topics of the period by activity."""
    period = ctx.param("period") or "all"
    if period not in TOP_PERIODS:
        raise invalid_parameters(f"invalid period: {period}")
    days = TOP_PERIODS[period]
    since = ctx.store.now() - days * 86400 if days else float("-inf")

    def keep(t: Topic) -> bool:
        return t.created_at >= since and _listed(ctx.store, ctx.user, t)

    def score(t: Topic) -> tuple[float, int]:
        return (t.like_count * 10 + t.live_posts * 5 + t.views, t.id)

    topics = ctx.store.cached(
        ("top", period, ctx.user.id if ctx.user else None),
        lambda: sorted(filter(keep, ctx.store.topics.values()), key=score, reverse=True),
    )
    return _topic_list_page(ctx, topics, f"/top/{period}", extra={"for_period": period}, keep_query=("period",))


@op("list_category_topics")
@route("GET", "/c/{id}.json")
async def list_category_topics(ctx: Ctx) -> JSON:
    """GET /c/{slug}/{id}.json: a category's topics and its subcategories' (pinned ones first)."""
    category = ctx.store.category(ctx.path_int("id"))
    if not ctx.store.can_see_category(ctx.user, category):
        raise not_found()
    ids = {category.id, *ctx.store.subcategory_ids(category)}
    topics = _sorted_topics(ctx, "category", lambda t: t.category_id in ids and _listed(ctx.store, ctx.user, t))
    extra = {"filter": "default", "top_tags": []}
    return _topic_list_page(ctx, topics, f"/c/{category.slug}/{category.id}/l/latest", extra=extra)


@route("GET", "/topics/created-by/{username}.json")
async def list_topics_created_by(ctx: Ctx) -> JSON:
    """GET /topics/created-by/{username}.json: the public topics a user started."""
    author = ctx.store.user(ctx.path("username"))
    topics = _sorted_topics(
        ctx, f"created-by-{author.id}", lambda t: t.user_id == author.id and _listed(ctx.store, ctx.user, t)
    )
    return _topic_list_page(ctx, topics, f"/topics/created-by/{author.username}")


@op("get_tag")
async def get_tag(ctx: Ctx) -> JSON:
    """GET /tag/{name}.json: the topics with a tag."""
    tag = ctx.store.tags.get(ctx.path("name").lower())
    if tag is None:
        raise not_found()
    topics = _sorted_topics(ctx, "tag", lambda t: tag.name in t.tags and _listed(ctx.store, ctx.user, t))
    count = sum(1 for t in ctx.store.topics.values() if tag.name in t.tags and t.deleted_at is None)
    extra = {"tags": [{"id": tag.id, "name": tag.name, "topic_count": count, "staff": False}]}
    return _topic_list_page(ctx, topics, f"/tag/{tag.name}/l/latest", extra=extra)


def _pm_list(ctx: Ctx, keep: Callable[[Topic, User], bool], kind: str) -> JSON:
    viewer = ctx.require_user()
    owner = ctx.store.user(ctx.path("username"))
    if viewer.id != owner.id and not viewer.admin:
        raise invalid_access()
    topics = _sorted_topics(ctx, kind, lambda t: t.private and t.deleted_at is None and keep(t, owner))
    base = f"/topics/{'private-messages' if kind == 'inbox' else 'private-messages-sent'}/{owner.username}"
    return _topic_list_page(ctx, topics, base)


@op("list_user_private_messages")
async def list_user_private_messages(ctx: Ctx) -> JSON:
    """GET /topics/private-messages/{username}.json: every message the user takes part in."""
    store = ctx.store
    return _pm_list(
        ctx, lambda t, u: u.id in t.allowed_user_ids or bool(set(t.allowed_group_ids) & store.group_ids_of(u)), "inbox"
    )


@op("get_user_sent_private_messages")
async def get_user_sent_private_messages(ctx: Ctx) -> JSON:
    """GET /topics/private-messages-sent/{username}.json: messages the user has posted in."""
    return _pm_list(ctx, lambda t, u: any(p.user_id == u.id for p in t.posts), "sent")


# ------------------------------------------------------------------------------------- topics


def _topic_id(ctx: Ctx) -> int:
    return ctx.path_int("id")


def _topic_view(ctx: Ctx, topic: Topic) -> JSON:
    staff = ctx.user is not None and ctx.user.staff
    live = [p for p in topic.posts if staff or p.deleted_at is None]
    start = 0
    if "post_number" in ctx.path_params:
        # As Discourse's TopicView: the chunk of 20 around the post, a quarter of it before.
        wanted = ctx.path_int("post_number")
        at = next((i for i, p in enumerate(live) if p.post_number >= wanted), max(len(live) - 1, 0))
        start = max(0, min(at - POST_CHUNK // 4, len(live) - POST_CHUNK))
    topic.views += 1
    return ser.topic_view(ctx.store, ctx.user, topic, live[start : start + POST_CHUNK], [p.id for p in live])


@op("get_topic")
async def get_topic(ctx: Ctx) -> JSON:
    """GET /t/{id}.json: the first 20 posts and the ids of all of them (``post_stream.stream``)."""
    return _topic_view(ctx, ctx.store.visible_topic(ctx.user, _topic_id(ctx)))


@route("GET", "/t/{slug}/{id}.json")
@route("GET", "/t/{id}/{post_number}.json")
@route("GET", "/t/{slug}/{id}/{post_number}.json")
async def get_topic_with_slug(ctx: Ctx) -> JSON:
    """GET /t/{slug}/{id}.json (where external-id lookups redirect), and at a post: /t/{id}/{post_number}.json."""
    return _topic_view(ctx, ctx.store.visible_topic(ctx.user, _topic_id(ctx)))


@op("get_topic_by_external_id")
async def get_topic_by_external_id(ctx: Ctx) -> Response:
    """GET /t/external_id/{external_id}.json: a 301 to the topic, as Discourse answers."""
    wanted = ctx.path("external_id")
    topic = next((t for t in ctx.store.topics.values() if t.external_id == wanted), None)
    if topic is None or not ctx.store.can_see_topic(ctx.user, topic):
        raise not_found()
    return RedirectResponse(f"/t/{topic.slug}/{topic.id}.json", status_code=301)


@op("get_specific_posts_from_topic")
async def get_specific_posts_from_topic(ctx: Ctx) -> JSON:
    """GET /t/{id}/posts.json?post_ids[]=...: those posts of the topic, in topic order."""
    topic = ctx.store.visible_topic(ctx.user, _topic_id(ctx))
    try:
        wanted = {int(v) for v in ctx.param_list("post_ids")}
    except (TypeError, ValueError):
        raise invalid_parameters("post_ids must be integers") from None
    staff = ctx.user is not None and ctx.user.staff
    if not wanted and ctx.has("post_number"):
        number = ctx.param_int("post_number") or 1
        found = topic.post_by_number(number)
        wanted = {found.id} if found else set()
    elif not wanted:  # no ids asked for: the first chunk, as Discourse's TopicView gives
        wanted = {p.id for p in [p for p in topic.posts if staff or p.deleted_at is None][:POST_CHUNK]}
    # Look the ids up directly: walking a 100,000-post topic for every chunk of 20 would be quadratic.
    candidates = [ctx.store.posts[i] for i in wanted if i in ctx.store.posts]
    posts = sorted(
        (p for p in candidates if p.topic_id == topic.id and (staff or p.deleted_at is None)),
        key=lambda p: p.post_number,
    )
    return {"post_stream": {"posts": [ser.stream_post(ctx.store, ctx.user, p) for p in posts]}, "id": topic.id}


@op("remove_topic")
async def remove_topic(ctx: Ctx) -> None:
    """DELETE /t/{id}.json: staff or the author of a topic without replies."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    if not (user.staff or (user.id == topic.user_id and topic.live_posts <= 1)):
        raise invalid_access()
    ctx.store.delete_post(topic.posts[0], user)
    ctx.events.append(("topic", "topic_destroyed", topic_event(ctx.store, topic)))


@op("update_topic")
@route("PUT", "/t/{slug}/{id}.json")
@route("PUT", "/t/{id}.json")
async def update_topic(ctx: Ctx) -> JSON:
    """PUT /t/-/{id}.json: a new title or category (body ``{"topic": {...}}`` or flat)."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    if not (user.staff or user.id == topic.user_id) or (topic.archived and not user.staff):
        raise invalid_access()
    fields = ctx.param_dict("topic") or ctx.params
    if fields.get("title"):
        title = str(fields["title"])
        check_title(ctx.store, title, private=topic.private, current=topic)
        topic.title, topic.slug = title, slugify(title)
        first = topic.posts[0]
        first.revisions.append(first.raw)
        first.version += 1
    if fields.get("category_id") not in (None, ""):
        category = ctx.store.category(int(fields["category_id"]))
        if not ctx.store.can_see_category(user, category):
            raise invalid_access()
        topic.category_id = category.id
    if "tags" in fields:
        topic.tags = [ctx.store.ensure_tag(str(t)).name for t in fields.get("tags") or []]
    ctx.store.changed()
    ctx.events.append(("topic", "topic_edited", topic_event(ctx.store, topic)))
    return {"basic_topic": ser.basic_topic(topic)}


@op("invite_to_topic")
async def invite_to_topic(ctx: Ctx) -> JSON:
    """POST /t/{id}/invite.json: add a user to a message, or point a user at a topic."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    name = ctx.param("user") or ctx.param("username")
    if not name:
        if ctx.has("email"):
            raise invalid_access("Inviting by email is not enabled on this site.")
        raise invalid_parameters("param is missing or the value is empty: user")
    target = ctx.store.users_by_name.get(name.lower())
    if target is None:
        raise record_invalid(f"The user '{name}' could not be found.")
    if topic.private:
        if target.id not in topic.allowed_user_ids:
            topic.allowed_user_ids.append(target.id)
        ctx.store.notify(
            target,
            "invited_to_private_message",
            topic=topic,
            post=topic.posts[0],
            data={"topic_title": topic.title, "display_username": user.username},
        )
    else:
        ctx.store.notify(
            target,
            "invited_to_topic",
            topic=topic,
            post=topic.posts[0],
            data={"topic_title": topic.title, "display_username": user.username},
        )
    return {"user": ser.basic_user(target)}


@op("invite_group_to_topic")
async def invite_group_to_topic(ctx: Ctx) -> JSON:
    """POST /t/{id}/invite-group.json: let a group into a private message."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    name = ctx.require("group")
    group = next((g for g in ctx.store.groups.values() if g.name.lower() == name.lower()), None)
    if group is None:
        raise not_found()
    if not topic.private:
        raise invalid_access("Groups can only be invited to messages.")
    if group.id not in topic.allowed_group_ids:
        topic.allowed_group_ids.append(group.id)
        ctx.store.changed()
    return {"group": {"id": group.id, "name": group.name}}


@op("bookmark_topic")
async def bookmark_topic(ctx: Ctx) -> None:
    """PUT /t/{id}/bookmark.json: bookmark the topic for the acting user."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    if topic.id in user.bookmarked_topics:
        raise DiscourseHTTPError(400, "You have already bookmarked this topic.", "invalid_parameters")
    user.bookmarked_topics.add(topic.id)
    topic.posts[0].bookmarked_by.add(user.id)
    ctx.store.changed()


_STATUS_FLAGS = ("closed", "pinned", "pinned_globally", "archived", "visible")


@op("update_topic_status")
async def update_topic_status(ctx: Ctx) -> JSON:
    """PUT /t/{id}/status.json: close, pin, archive or unlist (staff), leaving a small-action post."""
    user = ctx.require_staff()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    status = ctx.require("status")
    if status not in _STATUS_FLAGS:
        raise invalid_parameters(f"invalid status: {status}")
    enabled = ctx.require("enabled").lower() == "true"
    now = ctx.store.now()
    if status == "closed":
        topic.closed = enabled
    elif status == "archived":
        topic.archived = enabled
    elif status == "visible":
        topic.visible = enabled
    else:
        topic.pinned_at = now if enabled else None
        topic.pinned_globally = enabled and status == "pinned_globally"
        topic.pinned_until = parse_time(ctx.require("until")) if enabled and ctx.has("until") else None
    if status in ("closed", "archived", "visible"):
        code = f"{status}.{'enabled' if enabled else 'disabled'}"
        ctx.store.add_small_action(user, topic, code)
    ctx.store.changed()
    ctx.events.append(("topic", "topic_edited", topic_event(ctx.store, topic)))
    return {"success": "OK", "topic_status_update": None}


@op("set_notification_level")
async def set_notification_level(ctx: Ctx) -> JSON:
    """POST /t/{id}/notifications.json: watch (3), track (2), regular (1) or mute (0)."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    level = ctx.require_int("notification_level")
    if level not in (0, 1, 2, 3):
        raise invalid_parameters("notification_level must be 0, 1, 2 or 3")
    user.topic_levels[topic.id] = level
    ctx.store.changed()
    return {"success": "OK"}


@op("update_topic_timestamp")
async def update_topic_timestamp(ctx: Ctx) -> JSON:
    """PUT /t/{id}/change-timestamp.json: move a topic in time (staff)."""
    user = ctx.require_staff()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    raw = ctx.require("timestamp")
    when = float(raw) if raw.replace(".", "", 1).isdigit() else parse_time(raw)
    if when > ctx.store.now() + 60:
        raise invalid_parameters("The timestamp must be in the past.")
    delta = when - topic.created_at
    topic.created_at = when
    for p in topic.posts:
        p.created_at += delta
    topic.bumped_at = topic.last_posted_at = topic.posts[-1].created_at
    ctx.store.changed()
    return {"success": "OK"}


_TIMER_TYPES = ("close", "open", "publish_to_category", "delete", "reminder", "bump", "delete_replies", "silent_close")


@op("create_topic_timer")
async def create_topic_timer(ctx: Ctx) -> JSON:
    """POST /t/{id}/timer.json: schedule a close/open/delete...; ``time`` is hours or a timestamp, "" removes."""
    user = ctx.require_staff()
    topic = ctx.store.visible_topic(user, _topic_id(ctx))
    status_type = ctx.param("status_type") or "close"
    if status_type not in _TIMER_TYPES:
        raise invalid_parameters(f"invalid status_type: {status_type}")
    raw = ctx.param("time") or ""
    now = ctx.store.now()
    if raw == "":
        topic.timer = None
        ctx.store.changed()
        return {
            "success": "OK",
            "execute_at": None,
            "duration": None,
            "based_on_last_post": False,
            "closed": topic.closed,
            "category_id": None,
        }
    try:
        hours: float | None = float(raw)
        execute_at = now + hours * 3600 if hours is not None else now
    except ValueError:
        hours, execute_at = None, parse_time(raw)
    based = ctx.param_bool("based_on_last_post")
    if based and hours is not None:
        execute_at = topic.last_posted_at + hours * 3600
    ctx.store.timer_topic_ids.add(topic.id)
    topic.timer = TopicTimer(
        id=ctx.store.next_id("timer"),
        status_type=status_type,
        execute_at=execute_at,
        based_on_last_post=based,
        category_id=ctx.param_int("category_id"),
        duration_minutes=int(hours * 60) if hours is not None else None,
    )
    ctx.store.changed()
    return {
        "success": "OK",
        "execute_at": iso(execute_at),
        "duration": None if hours is None else str(hours),
        "based_on_last_post": based,
        "closed": topic.closed,
        "category_id": topic.timer.category_id,
    }


def run_due_timers(store: Store) -> None:
    """Carry out topic timers whose time has come (the fake's stand-in for Sidekiq)."""
    if not store.timer_topic_ids:
        return
    now = store.now()
    system = store.users[-1]
    for topic_id in sorted(store.timer_topic_ids):
        topic = store.topics[topic_id]
        timer = topic.timer
        if timer is None or timer.execute_at is None or timer.execute_at > now:
            continue
        topic.timer = None
        store.timer_topic_ids.discard(topic_id)
        kind = timer.status_type
        if kind in ("close", "silent_close", "open"):
            topic.closed = kind != "open"
            store.add_small_action(system, topic, f"autoclosed.{'enabled' if topic.closed else 'disabled'}")
        elif kind == "delete":
            store.delete_post(topic.posts[0], system)
        elif kind == "publish_to_category" and timer.category_id in store.categories:
            topic.category_id = timer.category_id
        elif kind == "bump":
            topic.bumped_at = now
        store.changed()


# ------------------------------------------------------------------------------------- posts


@op("create_topic_post_pm")
async def create_topic_post_pm(ctx: Ctx) -> JSON:
    """POST /posts.json: a topic (title), a reply (topic_id) or a message (archetype=private_message)."""
    user = ctx.require_poster()
    post = create_post(ctx, user)
    return ser.post(ctx.store, user, post, raw=True)


@op("list_posts")
async def list_posts(ctx: Ctx) -> JSON:
    """GET /posts.json: the newest 50 public posts; ``before=<post id>`` for older ones."""
    store, viewer = ctx.store, ctx.user
    before = ctx.param_int("before")
    ids = store.post_ids
    end = len(ids) if before is None else bisect.bisect_left(ids, before)
    found: list[Post] = []
    for index in range(end - 1, -1, -1):
        p = store.posts[ids[index]]
        if p.deleted_at is None and p.post_type == 1 and _listed(store, viewer, store.topics[p.topic_id]):
            found.append(p)
            if len(found) == POSTS_PER_PAGE:
                break
    return {"latest_posts": [ser.latest_post(store, viewer, p) for p in found]}


def _post_id(ctx: Ctx) -> int:
    return ctx.path_int("id")


@op("get_post")
async def get_post(ctx: Ctx) -> JSON:
    """GET /posts/{id}.json, with its raw."""
    return ser.post(ctx.store, ctx.user, ctx.store.visible_post(ctx.user, _post_id(ctx)), raw=True)


@route("GET", "/posts/by_number/{topic_id}/{post_number}.json")
async def get_post_by_number(ctx: Ctx) -> JSON:
    """GET /posts/by_number/{topic_id}/{post_number}.json: a post by its place in its topic."""
    topic = ctx.store.visible_topic(ctx.user, ctx.path_int("topic_id"))
    found = topic.post_by_number(ctx.path_int("post_number"))
    if found is None:
        raise not_found()
    return ser.post(ctx.store, ctx.user, ctx.store.visible_post(ctx.user, found.id), raw=True)


@op("update_post")
async def update_post(ctx: Ctx) -> JSON:
    """PUT /posts/{id}.json: new raw (``{"post": {"raw": ..., "edit_reason": ...}}``); each change is a version."""
    user = ctx.require_poster()
    post = ctx.store.visible_post(user, _post_id(ctx))
    topic = ctx.store.topics[post.topic_id]
    if not user.staff and (user.id != post.user_id or post.locked or topic.archived):
        raise invalid_access()
    fields = ctx.param_dict("post") or ctx.params
    raw = fields.get("raw")
    if raw is None or str(raw) == "":
        raise invalid_parameters("param is missing or the value is empty: post")
    check_post(topic.private, str(raw))
    if str(raw) != post.raw:
        post.revisions.append(post.raw)
        post.raw = str(raw)
        post.cooked = cook(post.raw)
        post.version += 1
        post.edit_reason = fields.get("edit_reason") or None
        post.updated_at = ctx.store.now()
        if not ctx.param_bool("bypass_bump") and post.post_number != 1:
            topic.bumped_at = post.updated_at
        ctx.store.changed()
        ctx.events.append(("post", "post_edited", _post_event(ctx.store, post)))
    return {"post": ser.post(ctx.store, user, post, raw=True)}


@op("delete_post")
async def delete_post(ctx: Ctx) -> None:
    """DELETE /posts/{id}.json: the author or staff; ``force_destroy`` (admins) removes it for good."""
    user = ctx.require_user()
    post = ctx.store.visible_post(user, _post_id(ctx))
    if not (user.staff or user.id == post.user_id):
        raise invalid_access()
    force = ctx.param_bool("force_destroy")
    if force and not user.admin:
        raise invalid_access()
    event = _post_event(ctx.store, post)
    ctx.store.delete_post(post, user, force=force)
    ctx.events.append(("post", "post_destroyed", event))


@op("post_replies")
async def post_replies(ctx: Ctx) -> list[JSON]:
    """GET /posts/{id}/replies.json: the posts that reply directly to this one."""
    post = ctx.store.visible_post(ctx.user, _post_id(ctx))
    topic = ctx.store.topics[post.topic_id]
    replies = [p for p in topic.posts if p.reply_to_post_number == post.post_number and p.deleted_at is None]
    return [ser.post(ctx.store, ctx.user, p) for p in replies]


@op("lock_post")
async def lock_post(ctx: Ctx) -> JSON:
    """PUT /posts/{id}/locked.json: lock a post against edits by its author (staff)."""
    user = ctx.require_staff()
    post = ctx.store.visible_post(user, _post_id(ctx))
    post.locked = ctx.param_bool("locked")
    ctx.store.changed()
    return {"locked": post.locked}


@op("perform_post_action")
async def perform_post_action(ctx: Ctx) -> JSON:
    """POST /post_actions.json: like (2) or flag a post."""
    user = ctx.require_user()
    post = ctx.store.visible_post(user, ctx.require_int("id"))
    kind = ctx.require_int("post_action_type_id")
    if kind not in POST_ACTION_TYPES.values():
        raise invalid_parameters("post_action_type_id is not valid")
    if post.user_id == user.id:
        raise invalid_access("You can't act on your own post.")
    store = ctx.store
    topic = store.topics[post.topic_id]
    author = store.users.get(post.user_id)
    if kind == POST_ACTION_TYPES["like"]:
        if user.id in post.likes:
            raise invalid_access("You already performed this action.")
        post.likes.add(user.id)
        topic.like_count += 1
        user.likes_given += 1
        store.add_action(user, ACTION_TYPES["like"], user, topic, post, store.now())
        if author is not None:
            author.likes_received += 1
            store.add_action(author, ACTION_TYPES["was_liked"], user, topic, post, store.now())
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
            raise invalid_access("You already performed this action.")
        post.flags.append((user.id, kind))
    store.changed()
    body = ser.post(store, user, post)
    body["actions_summary"] = [
        {"id": kind, "count": len(post.likes) if kind == 2 else 1, "acted": True, "can_undo": True}
    ]
    return body


# ------------------------------------------------------------------------------------- search


def _parse_query(q: str) -> tuple[str, dict[str, str]]:
    filters: dict[str, str] = {}
    words = []
    for token in q.split():
        lowered = token.lower()
        if lowered.startswith("@") and len(token) > 1:
            filters["user"] = lowered[1:]
        elif lowered.startswith("#") and len(token) > 1:
            filters["category"] = lowered[1:]
        elif ":" in lowered and lowered.split(":", 1)[0] in (
            "tag",
            "tags",
            "in",
            "status",
            "order",
            "user",
            "category",
        ):
            name, value = lowered.split(":", 1)
            filters["tags" if name == "tag" else name] = value
        else:
            words.append(token)
    return " ".join(words), filters


def _topic_matches(store: Store, viewer: User | None, topic: Topic, filters: dict[str, str]) -> bool:
    """Whether a topic passes a search's visibility and filters (#category, tags:, status:, in:personal)."""
    personal = filters.get("in") in ("personal", "messages")
    if topic.deleted_at is not None or topic.private != personal or not store.can_see_topic(viewer, topic):
        return False
    category = store.categories.get(topic.category_id or 0)
    if filters.get("category") and (category is None or category.slug != filters["category"]):
        return False
    tags = set(filters.get("tags", "").replace("+", ",").split(",")) - {""}
    if tags and not tags <= set(topic.tags):
        return False
    status = filters.get("status")
    return (
        not status
        or (status == "closed" and topic.closed)
        or (status == "open" and not topic.closed)
        or (status == "archived" and topic.archived)
    )


def _search_posts(store: Store, viewer: User | None, needle: str, filters: dict[str, str]) -> list[Post]:
    """Matching posts: substring of the title (first posts) or raw; title hits first unless order:latest."""
    in_title = filters.get("in") == "title"
    by_user = filters.get("user")
    matches: list[tuple[bool, Post]] = []
    for topic in store.topics.values():
        if not _topic_matches(store, viewer, topic, filters):
            continue
        title_hit = bool(needle) and needle in topic.title.lower()
        for p in topic.posts:
            if p.deleted_at is not None or p.post_type != 1:
                continue
            author = store.users.get(p.user_id)
            if by_user and (author is None or author.username.lower() != by_user):
                continue
            if needle and not ((title_hit and p.post_number == 1) or (not in_title and needle in p.raw.lower())):
                continue
            matches.append((title_hit and p.post_number == 1, p))
    if filters.get("order") == "latest":
        matches.sort(key=lambda m: -m[1].created_at)
    else:
        matches.sort(key=lambda m: (not m[0], -m[1].created_at))
    return [p for _, p in matches]


@op("search")
async def search(ctx: Ctx) -> JSON:
    """GET /search.json: case-insensitive substring search of titles and raws, 50 posts a page."""
    store, viewer = ctx.store, ctx.user
    q = ctx.param("q") or ctx.param("term") or ""
    term, filters = _parse_query(q)
    page = max(1, ctx.param_int("page", 1) or 1)  # 1-based; 0 and 1 both mean the first page
    result: JSON = {
        "posts": [],
        "users": [],
        "categories": [],
        "tags": [],
        "groups": [],
        "grouped_search_result": {
            "more_posts": None,
            "more_users": None,
            "more_categories": None,
            "term": q,
            "search_log_id": 1,
            "more_full_page_results": None,
            "can_create_topic": viewer is not None,
            "error": None,
            "extra": {"categories": None},
            "post_ids": [],
            "user_ids": [],
            "category_ids": [],
            "tag_ids": [],
            "group_ids": [],
        },
    }
    if len(term) < 3 and not filters:
        result["grouped_search_result"]["error"] = "Your search term is too short."
        return result
    needle = term.lower()
    matches = _search_posts(store, viewer, needle, filters)
    start = (page - 1) * SEARCH_PER_PAGE
    chunk = matches[start : start + SEARCH_PER_PAGE]
    if len(matches) > start + SEARCH_PER_PAGE:
        result["grouped_search_result"]["more_full_page_results"] = True
    topics: dict[int, Topic] = {}
    for p in chunk:
        topic = store.topics[p.topic_id]
        topics[topic.id] = topic
        author = store.users.get(p.user_id)
        result["posts"].append(
            {
                "id": p.id,
                "name": author.name if author else None,
                "username": author.username if author else "",
                "avatar_template": author.avatar_template if author else "",
                "created_at": iso(p.created_at),
                "like_count": len(p.likes),
                "blurb": excerpt(p.cooked, 200),
                "post_number": p.post_number,
                "topic_title_headline": topic.fancy_title,
                "topic_id": topic.id,
            }
        )
    result["topics"] = [ser.topic_list_item(store, viewer, t) for t in topics.values()]
    if needle and page == 1 and not filters:
        users = [u for u in store.users.values() if u.id > 0 and needle in u.username.lower()][:10]
        result["users"] = [ser.basic_user(u) for u in users]
        cats = [c for c in store.categories.values() if needle in c.name.lower() and store.can_see_category(viewer, c)]
        result["categories"] = [ser.category(store, viewer, c) for c in cats]
        found_tags = [t for t in store.tags.values() if needle in t.name]
        result["tags"] = [{"id": t.id, "name": t.name, "slug": t.name} for t in found_tags]
    grouped = result["grouped_search_result"]
    grouped["post_ids"] = [p["id"] for p in result["posts"]]
    grouped["user_ids"] = [u["id"] for u in result["users"]]
    grouped["category_ids"] = [c["id"] for c in result["categories"]]
    grouped["tag_ids"] = [t["id"] for t in result["tags"]]
    return result


# ------------------------------------------------------------------------------------- site and categories


@op("get_site")
async def get_site(ctx: Ctx) -> JSON:
    """GET /site.json."""
    return ser.site(ctx.store, ctx.user)


@op("get_site_basic_info")
async def get_site_basic_info(ctx: Ctx) -> JSON:
    """GET /site/basic-info.json."""
    return {
        "logo_url": "/images/discourse-logo-sketch.png",
        "logo_small_url": "/images/discourse-logo-sketch-small.png",
        "apple_touch_icon_url": "/images/default-apple-touch-icon.png",
        "favicon_url": "/images/default-favicon.png",
        "title": ctx.fake.title,
        "description": "A fake Discourse for tests (discourse_async.testing).",
        "header_primary_color": "333333",
        "header_background_color": "ffffff",
        "login_required": False,
        "locale": "en",
        "include_in_discourse_discover": False,
        "mobile_logo_url": "",
    }


@op("list_categories")
async def list_categories(ctx: Ctx) -> JSON:
    """GET /categories.json: top-level categories (with subcategories when asked)."""
    store, viewer = ctx.store, ctx.user
    cats = [c for c in store.categories.values() if store.can_see_category(viewer, c)]
    top = [c for c in cats if c.parent_category_id is None]
    entries = []
    for c in top:
        entry = ser.category_list_entry(store, viewer, c)
        if ctx.param_bool("include_subcategories"):
            subs = [s for s in cats if s.parent_category_id == c.id]
            entry["subcategory_list"] = [ser.category_list_entry(store, viewer, s) for s in subs]
        entries.append(entry)
    return {
        "category_list": {
            "can_create_category": bool(viewer and viewer.staff),
            "can_create_topic": viewer is not None,
            "categories": entries,
        }
    }


def _category_fields(ctx: Ctx) -> dict[str, Any]:
    permissions = ctx.param_dict("permissions")
    return {
        "color": ctx.param("color"),
        "text_color": ctx.param("text_color"),
        "slug": ctx.param("slug"),
        "parent_category_id": ctx.param_int("parent_category_id"),
        "permissions": {str(k): int(v) for k, v in permissions.items()} or None,
        "description": ctx.param("description"),
    }


@op("create_category")
async def create_category(ctx: Ctx) -> JSON:
    """POST /categories.json (staff)."""
    user = ctx.require_staff()
    fields = {k: v for k, v in _category_fields(ctx).items() if v is not None}
    category = ctx.store.create_category(user, ctx.require("name"), **fields)
    for name in ("style_type", "emoji", "icon"):
        if ctx.has(name):
            setattr(category, name, ctx.param(name))
    if ctx.has("search_priority"):
        category.search_priority = ctx.param_int("search_priority") or 0
    ctx.events.append(("category", "category_created", {"category": ser.category(ctx.store, None, category)}))
    return {"category": ser.category(ctx.store, user, category, full=True)}


@op("update_category")
async def update_category(ctx: Ctx) -> JSON:
    """PUT /categories/{id}.json (staff)."""
    user = ctx.require_staff()
    category = ctx.store.category(ctx.path_int("id"))
    name = ctx.require("name")
    for other in ctx.store.categories.values():
        if (
            other is not category
            and other.name.lower() == name.lower()
            and other.parent_category_id == category.parent_category_id
        ):
            raise record_invalid("Category Name has already been taken")
    category.name = name
    for key, value in _category_fields(ctx).items():
        if value is not None:
            setattr(category, key, value)
    for key in ("style_type", "emoji", "icon"):
        if ctx.has(key):
            setattr(category, key, ctx.param(key))
    ctx.store.changed()
    return {"success": "OK", "category": ser.category(ctx.store, user, category, full=True)}


@op("get_category")
async def get_category(ctx: Ctx) -> JSON:
    """GET /c/{id}/show.json."""
    category = ctx.store.category(ctx.path_int("id"))
    if not ctx.store.can_see_category(ctx.user, category):
        raise not_found()
    return {"category": ser.category(ctx.store, ctx.user, category, full=True)}


# ------------------------------------------------------------------------------------- tags


def _tag_group_json(group: Any, *, names: bool) -> JSON:
    if names:
        return {
            "id": group.id,
            "name": group.name,
            "tag_names": list(group.tag_names),
            "parent_tag_name": list(group.parent_tag_name),
            "one_per_topic": group.one_per_topic,
            "permissions": dict(group.permissions),
        }
    return {
        "id": group.id,
        "name": group.name,
        "tags": [{"id": i, "name": n, "slug": n} for i, n in enumerate(group.tag_names, 1)],
        "parent_tag": [{"id": 0, "name": n, "slug": n} for n in group.parent_tag_name],
        "one_per_topic": group.one_per_topic,
        "permissions": dict(group.permissions),
    }


@op("list_tags")
async def list_tags(ctx: Ctx) -> JSON:
    """GET /tags.json: every tag with its topic counts."""
    counts: dict[str, tuple[int, int]] = {}
    for topic in ctx.store.topics.values():
        if topic.deleted_at is None:
            for name in topic.tags:
                regular, pm = counts.get(name, (0, 0))
                counts[name] = (regular + (not topic.private), pm + topic.private)
    tags = [
        {
            "id": t.id,
            "text": t.name,
            "name": t.name,
            "count": counts.get(t.name, (0, 0))[0],
            "pm_count": counts.get(t.name, (0, 0))[1],
            "target_tag": None,
        }
        for t in ctx.store.tags.values()
    ]
    return {"tags": tags, "extras": {"categories": []}}


@op("list_tag_groups")
async def list_tag_groups(ctx: Ctx) -> JSON:
    """GET /tag_groups.json."""
    return {"tag_groups": [_tag_group_json(g, names=False) for g in ctx.store.tag_groups.values()]}


def _apply_tag_group(ctx: Ctx, group: Any) -> None:
    if ctx.has("name"):
        group.name = ctx.param("name")
    if "tag_names" in ctx.params:
        group.tag_names = [ctx.store.ensure_tag(str(n)).name for n in ctx.param_list("tag_names")]
    if "parent_tag_name" in ctx.params:
        group.parent_tag_name = [ctx.store.ensure_tag(str(n)).name for n in ctx.param_list("parent_tag_name")]
    if "one_per_topic" in ctx.params:
        group.one_per_topic = ctx.param_bool("one_per_topic")
    if ctx.param_dict("permissions"):
        group.permissions = {str(k): int(v) for k, v in ctx.param_dict("permissions").items()}
    ctx.store.changed()


@op("create_tag_group")
async def create_tag_group(ctx: Ctx) -> JSON:
    """POST /tag_groups.json (staff)."""
    ctx.require_staff()
    name = ctx.require("name")
    if any(g.name.lower() == name.lower() for g in ctx.store.tag_groups.values()):
        raise record_invalid("Name has already been taken")
    group = TagGroup(id=ctx.store.next_id("tag_group"), name=name)
    ctx.store.tag_groups[group.id] = group
    _apply_tag_group(ctx, group)
    return {"tag_group": _tag_group_json(group, names=False)}


def _tag_group(ctx: Ctx) -> Any:
    group = ctx.store.tag_groups.get(ctx.path_int("id"))
    if group is None:
        raise not_found()
    return group


@op("get_tag_group")
async def get_tag_group(ctx: Ctx) -> JSON:
    """GET /tag_groups/{id}.json."""
    return {"tag_group": _tag_group_json(_tag_group(ctx), names=True)}


@op("update_tag_group")
async def update_tag_group(ctx: Ctx) -> JSON:
    """PUT /tag_groups/{id}.json (staff)."""
    ctx.require_staff()
    group = _tag_group(ctx)
    _apply_tag_group(ctx, group)
    return {"success": "OK", "tag_group": _tag_group_json(group, names=True)}


# ------------------------------------------------------------------------------------- notifications


@op("get_notifications")
async def get_notifications(ctx: Ctx) -> JSON:
    """GET /notifications.json: newest first, ``offset``/``limit`` (default 60), read/unread filter."""
    user = ctx.require_user()
    if ctx.user_api_key is not None and not {"read", "write", "notifications"} & set(ctx.user_api_key.scopes):
        raise invalid_access()
    notes = list(reversed(user.notifications))
    wanted = ctx.param("filter")
    if wanted in ("read", "unread"):
        notes = [n for n in notes if n.read == (wanted == "read")]
    offset = max(0, ctx.param_int("offset", 0) or 0)
    limit = max(1, min(ctx.param_int("limit", 60) or 60, 60))
    chunk = notes[offset : offset + limit]
    body: JSON = {
        "notifications": [ser.notification(n) for n in chunk],
        "total_rows_notifications": len(notes),
        "seen_notification_id": user.seen_notification_id,
    }
    if offset + limit < len(notes):
        body["load_more_notifications"] = f"/notifications?offset={offset + limit}&username={user.username}"
    if user.notifications:
        user.seen_notification_id = user.notifications[-1].id
    return body


@op("mark_notifications_as_read")
async def mark_notifications_as_read(ctx: Ctx) -> JSON:
    """PUT /notifications/mark-read.json: one notification (``id``) or all of them."""
    user = ctx.require_user()
    wanted = ctx.param_int("id")
    for note in user.notifications:
        if wanted is None or note.id == wanted:
            note.read = True
    ctx.store.changed()
    return {"success": "OK"}


# ------------------------------------------------------------------------------------- events plugin


def _duration(event: Any) -> str:
    seconds = int((event.ends_at or event.starts_at) - event.starts_at)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _event_json(ctx: Ctx, event: Any) -> JSON | None:
    post = ctx.store.posts.get(event.post_id)
    if post is None or not ctx.store.can_see_topic(ctx.user, ctx.store.topics[post.topic_id]):
        return None
    topic = ctx.store.topics[post.topic_id]
    creator = ctx.store.users.get(post.user_id)
    category = ctx.store.categories.get(topic.category_id or 0)
    return {
        "id": event.id,
        "category_id": topic.category_id,
        "name": event.name,
        "recurrence": None,
        "recurrence_until": None,
        "starts_at": iso(event.starts_at),
        "ends_at": iso(event.ends_at),
        "rrule": "",
        "show_local_time": False,
        "timezone": event.timezone,
        "duration": _duration(event),
        "all_day": False,
        "custom_fields": {},
        "post": {
            "id": post.id,
            "post_number": post.post_number,
            "url": f"/t/{topic.slug}/{topic.id}/{post.post_number}",
            "category_slug": category.slug if category else "",
            "topic": {
                "id": topic.id,
                "title": topic.title,
                "tags": list(topic.tags),
                "tags_descriptions": {},
                "slug": topic.slug,
            },
        },
        "occurrences": [{"starts_at": iso(event.starts_at), "ends_at": iso(event.ends_at)}],
        "can_act_on_discourse_post_event": bool(ctx.user and ctx.user.staff),
        "can_update_attendance": ctx.user is not None,
        "creator": ser.basic_user(creator) if creator else None,
        "is_closed": False,
        "is_expired": (event.ends_at or event.starts_at) < ctx.store.now(),
        "is_ongoing": event.starts_at <= ctx.store.now() <= (event.ends_at or event.starts_at),
        "is_private": event.status == "private",
        "is_public": event.status == "public",
        "is_standalone": False,
        "minimal": None,
        "raw_invitees": None,
        "reminders": [],
        "sample_invitees": [],
        "should_display_invitees": False,
        "stats": {},
        "status": event.status,
        "url": event.url or "",
        "description": event.description,
        "description_html": event.description,
        "location": event.location,
        "url_restates_location": False,
        "watching_invitee": None,
        "chat_enabled": None,
        "channel": {},
        "livestream": False,
        "livestream_onebox": None,
        "is_zoom_livestream": False,
        "max_attendees": None,
        "at_capacity": False,
        "image_upload": None,
    }


def _events(ctx: Ctx) -> list[JSON]:
    events = sorted(ctx.store.events.values(), key=lambda e: e.starts_at, reverse=ctx.param("order") == "desc")
    category_id = ctx.param_int("category_id")
    before = parse_time(ctx.require("before")) if ctx.has("before") else None
    after = parse_time(ctx.require("after")) if ctx.has("after") else None
    out = []
    for event in events:
        data = _event_json(ctx, event)
        if data is None:
            continue
        if category_id is not None and data["category_id"] != category_id:
            continue
        if ctx.has("post_id") and event.post_id != ctx.param_int("post_id"):
            continue
        if before is not None and event.starts_at >= before:
            continue
        if after is not None and (event.ends_at or event.starts_at) < after:
            continue
        out.append(data)
    return out[: ctx.param_int("limit", 200) or 200]


@op("list_events")
async def list_events(ctx: Ctx) -> JSON:
    """GET /discourse-post-event/events.json (events are added with ``fake.add_event``)."""
    return {"events": _events(ctx)}


@op("export_events_ics")
async def export_events_ics(ctx: Ctx) -> Response:
    """GET /discourse-post-event/events.ics: the same events as an iCalendar feed."""

    def stamp(value: str | None) -> str:
        return (value or "").replace("-", "").replace(":", "").split(".")[0] + "Z"

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Discourse//discourse_async fake//EN"]
    for event in _events(ctx):
        lines += [
            "BEGIN:VEVENT",
            f"UID:discourse-post-event-{event['id']}@forum.test",
            f"DTSTART:{stamp(event['starts_at'])}",
            f"DTEND:{stamp(event['ends_at'] or event['starts_at'])}",
            f"SUMMARY:{event['name'] or event['post']['topic']['title']}",
            f"URL:{ctx.fake.base_url}{event['post']['url']}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return Response("\r\n".join(lines) + "\r\n", media_type="text/calendar")


NOTIFICATION_TYPE_NAMES = {v: k for k, v in NOTIFICATION_TYPES.items()}
