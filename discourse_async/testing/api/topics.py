"""Topics: the topic view, topic lists and their paging, status, timers, invites."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, for_viewer, op, route
from discourse_async.testing.api import posts as _posts
from discourse_async.testing.api import users as _users


def _posters(store: backend.Store, topic: backend.Topic) -> list[JSON]:
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


def tag_objects(store: backend.Store, topic: backend.Topic) -> list[Any]:
    """A topic's tags: plain names, as most sites send them; objects where ``store.tags_as_objects`` is on."""
    if not store.tags_as_objects:
        return [name for name in topic.tags if name in store.tags]
    return [{"id": store.tags[name].id, "name": name, "slug": name} for name in topic.tags if name in store.tags]


def _topic_fields(store: backend.Store, topic: backend.Topic) -> JSON:
    """The fields that topic lists and the topic view share."""
    first = topic.posts[0] if topic.posts else None
    return basic_topic(topic) | {
        "reply_count": max(0, topic.live_posts - 1),
        "highest_post_number": topic.highest_post_number,
        "image_url": None,
        "created_at": backend.iso(topic.created_at),
        "last_posted_at": backend.iso(topic.last_posted_at),
        "archetype": topic.archetype,
        "pinned": topic.pinned_at is not None,
        "unpinned": None,
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "views": topic.views,
        "like_count": topic.like_count,
        "has_summary": False,
        "category_id": topic.category_id,
        "op_like_count": len(first.likes) if first else 0,
        "pinned_globally": topic.pinned_globally,
        "featured_link": topic.featured_link,
        "tags": tag_objects(store, topic),
        "tags_descriptions": {},
    }


def topic_list_item(store: backend.Store, viewer: backend.User | None, topic: backend.Topic) -> JSON:
    """TopicListItemSerializer (PM lists add participants and allowed_user_count)."""
    last_poster = store.users.get(topic.last_post_user_id)
    first = topic.posts[0] if topic.posts else None
    data: JSON = _topic_fields(store, topic) | {
        "bumped": topic.bumped_at > topic.created_at,
        "bumped_at": backend.iso(topic.bumped_at),
        "unseen": False,
        "last_poster_username": last_poster.username if last_poster else "system",
        "posters": _posters(store, topic),
    }
    if topic.pinned_at is not None and first is not None:
        data["excerpt"] = backend.excerpt(first.cooked)
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
    store: backend.Store,
    viewer: backend.User | None,
    topics: list[backend.Topic],
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
    users = [_users.basic_user(store.users[uid]) for uid in user_ids if uid in store.users]
    return {"users": users, "primary_groups": [], "topic_list": body}


def basic_topic(topic: backend.Topic) -> JSON:
    """BasicTopicSerializer."""
    return {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.fancy_title,
        "slug": topic.slug,
        "posts_count": topic.live_posts,
    }


def topic_timer(topic: backend.Topic) -> JSON | None:
    """TopicTimerSerializer (the record holds its fields), or None."""
    timer = topic.timer
    return None if timer is None else dataclasses.asdict(timer) | {"execute_at": backend.iso(timer.execute_at)}


def topic_view(
    store: backend.Store,
    viewer: backend.User | None,
    topic: backend.Topic,
    posts: list[backend.Post],
    stream: list[int],
    *,
    raw: bool = False,
) -> JSON:
    """TopicViewSerializer: the topic, its first chunk of posts (with ``raw`` on request) and all their ids."""
    staff = viewer is not None and viewer.staff
    mine = viewer is not None and viewer.id == topic.user_id
    creator = store.users.get(topic.user_id)
    last = store.users.get(topic.last_post_user_id)
    counts = Counter(p.user_id for p in topic.posts if p.deleted_at is None and p.post_type == 1)
    participants = [
        _users.user_with_flair(store.users[uid]) | {"post_count": n}
        for uid, n in counts.most_common(24)
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
        "created_by": _users.basic_user(creator) if creator else None,
        "last_poster": _users.basic_user(last) if last else None,
    }
    if viewer is not None and topic.private and viewer.id in topic.allowed_user_ids:
        details["can_remove_self_id"] = viewer.id
    if topic.private:
        details["allowed_users"] = [
            _users.basic_user(store.users[u]) for u in topic.allowed_user_ids if u in store.users
        ]
        details["allowed_groups"] = [
            {"id": g, "name": store.groups[g].name} for g in topic.allowed_group_ids if g in store.groups
        ]
    return _topic_fields(store, topic) | {
        "post_stream": {"posts": [_posts.stream_post(store, viewer, p, raw=raw) for p in posts], "stream": stream},
        "timeline_lookup": [[1, 0]],
        "suggested_topics": [],
        "word_count": sum(len(p.raw.split()) for p in posts),
        "deleted_at": backend.iso(topic.deleted_at),
        "user_id": topic.user_id,
        "pinned_at": backend.iso(topic.pinned_at),
        "pinned_until": backend.iso(topic.pinned_until),
        "slow_mode_seconds": 0,
        "draft": None,
        "draft_key": f"topic_{topic.id}",
        "draft_sequence": 0 if viewer is not None else None,
        "current_post_number": 1,
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
        "details": for_viewer(viewer, details),
    }


TOPICS_PER_PAGE = 30


POST_CHUNK = 20  # posts in a topic view


def topic_event(store: backend.Store, topic: backend.Topic) -> JSON:
    """A topic as a webhook delivers it."""
    body = topic_list_item(store, None, topic)
    creator, last = store.users.get(topic.user_id), store.users.get(topic.last_post_user_id)
    body |= {
        "created_by": _users.basic_user(creator) if creator else None,
        "last_poster": _users.basic_user(last) if last else None,
    }
    return {"topic": body}


def check_title(store: backend.Store, title: str, *, private: bool, current: backend.Topic | None = None) -> None:
    """Discourse's title rules: length, and no duplicate titles among public topics."""
    settings = store.settings
    minimum = settings.min_personal_message_title_length if private else settings.min_topic_title_length
    if len(title.strip()) < minimum:
        raise backend.record_invalid(f"Title is too short (minimum is {minimum} characters)")
    if len(title) > settings.max_topic_title_length:
        raise backend.record_invalid(f"Title is too long (maximum is {settings.max_topic_title_length} characters)")
    if not private:
        wanted = title.strip().lower()
        for other in store.topics.values():
            if (
                other is not current
                and not other.private
                and other.deleted_at is None
                and other.title.lower() == wanted
            ):
                raise backend.record_invalid("Title has already been used")


def _page(ctx: Ctx) -> int:
    page = ctx.param_int("page", 0) or 0
    if page < 0:
        raise backend.invalid_parameters("page must be 0 or more")
    return page


def _listed(store: backend.Store, viewer: backend.User | None, topic: backend.Topic) -> bool:
    """Whether a public topic list shows a topic to this viewer."""
    if topic.private or topic.deleted_at is not None:
        return False
    if not topic.visible and not (viewer and viewer.staff):
        return False
    return store.can_see_category(viewer, store.categories.get(topic.category_id or 0))


_ORDERS: dict[str, Callable[[backend.Topic], Any]] = {
    "activity": lambda t: (t.bumped_at, t.id),
    "default": lambda t: (t.bumped_at, t.id),
    "created": lambda t: (t.created_at, t.id),
    "views": lambda t: (t.views, t.id),
    "posts": lambda t: (t.live_posts, t.id),
    "likes": lambda t: (t.like_count, t.id),
    "op_likes": lambda t: (len(t.posts[0].likes) if t.posts else 0, t.id),
    "posters": lambda t: (len({p.user_id for p in t.posts[-50:]}), t.id),
    "likes_op": lambda t: (len(t.posts[0].likes) if t.posts else 0, t.id),
    "latest_post": lambda t: (t.last_posted_at, t.id),
    "title": lambda t: (t.title.lower(), t.id),
}


def _sorted_topics(
    ctx: Ctx, kind: str, keep: Callable[[backend.Topic], bool], order: str = "activity", ascending: bool = False
) -> list[backend.Topic]:
    """Topics a list shows, pinned first, cached until the state changes (so paging is cheap)."""
    store, viewer = ctx.store, ctx.user
    key_fn = _ORDERS.get(order, _ORDERS["activity"])

    def build() -> list[backend.Topic]:
        chosen = [t for t in store.topics.values() if keep(t)]
        chosen.sort(key=key_fn, reverse=not ascending)
        if kind in ("latest", "category") and order in ("activity", "default"):
            # Pinned topics lead the list: globally pinned in /latest, pinned ones in their category list.
            def pinned(t: backend.Topic) -> bool:
                return t.pinned_at is not None and (t.pinned_globally or kind == "category")

            chosen = [t for t in chosen if pinned(t)] + [t for t in chosen if not pinned(t)]
        return chosen

    result: list[backend.Topic] = store.cached(
        (kind, viewer.id if viewer else None, order, ascending, ctx.request.url.path), build
    )
    return result


def _topic_list_page(
    ctx: Ctx, topics: list[backend.Topic], base: str, *, extra: JSON | None = None, keep_query: tuple[str, ...] = ()
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
    return topic_list(ctx.store, ctx.user, chunk, more_topics_url=more, per_page=per_page, extra=extra)


@op("list_latest_topics")
async def list_latest_topics(ctx: Ctx) -> JSON:
    """GET /latest.json.

    Not modelled: read tracking (unread and new), and list filters other than ``order``, ``ascending``,
    ``page`` and ``per_page``.
    """
    order = ctx.param("order") or "activity"
    topics = _sorted_topics(
        ctx, "latest", lambda t: _listed(ctx.store, ctx.user, t), order, ctx.param_bool("ascending")
    )
    return _topic_list_page(ctx, topics, "/latest", keep_query=("order", "ascending"))


@op("list_top_topics")
async def list_top_topics(ctx: Ctx) -> JSON:
    """GET /top.json: topics of the period by activity."""
    period = ctx.param("period") or "all"
    if period not in backend.PERIOD_DAYS:
        raise backend.invalid_parameters(f"invalid period: {period}")
    days = backend.PERIOD_DAYS[period]
    since = ctx.store.now() - days * 86400 if days else float("-inf")

    def keep(t: backend.Topic) -> bool:
        return t.created_at >= since and _listed(ctx.store, ctx.user, t)

    def score(t: backend.Topic) -> tuple[float, int]:
        return (t.like_count * 10 + t.live_posts * 5 + t.views, t.id)

    topics = ctx.store.cached(
        ("top", period, ctx.user.id if ctx.user else None),
        lambda: sorted(filter(keep, ctx.store.topics.values()), key=score, reverse=True),
    )
    return _topic_list_page(ctx, topics, f"/top/{period}", extra={"for_period": period}, keep_query=("period",))


_STATUSES: dict[str, Callable[[backend.Topic], bool]] = {
    "open": lambda t: not t.closed and not t.archived,
    "closed": lambda t: t.closed,
    "archived": lambda t: t.archived,
    "listed": lambda t: t.visible,
    "unlisted": lambda t: not t.visible,
    "deleted": lambda t: t.deleted_at is not None,
}
_LEVELS = {"watching": 3, "tracking": 2, "muted": 0}


def _filter_term(  # noqa: PLR0911 - one return a kind of term reads best
    ctx: Ctx, key: str, value: str, exact: bool
) -> Callable[[backend.Topic], bool] | None:
    """One ``key:value`` term of the topic filter; None for what Discourse would ignore."""
    store, viewer, values = ctx.store, ctx.user, set(value.replace("+", ",").split(","))
    if key == "status" and value in _STATUSES:
        return _STATUSES[value]
    if key == "status" and value == "public":
        return lambda t: not store.categories[t.category_id or 1].read_restricted
    if key in ("category", "categories"):
        ids = {c.id for c in store.categories.values() if c.slug in values or str(c.id) in values}
        ids |= set() if exact else {c.id for c in store.categories.values() if c.parent_category_id in ids}
        return lambda t: t.category_id in ids
    if key in ("tag", "tags"):
        every = "+" in value
        return lambda t: (all if every else any)(name in t.tags for name in values)
    if key == "created-by":
        names = {v.lstrip("@").lower() for v in values}
        return lambda t: t.user_id in store.users and store.users[t.user_id].username.lower() in names
    if key != "in" or value not in ("pinned", "bookmarked", "posted", *_LEVELS):
        return None
    if value == "pinned":
        return lambda t: t.pinned_at is not None
    if viewer is None:  # the viewer's own topics: none for anonymous callers
        return lambda t: False
    if value == "bookmarked":
        return lambda t: t.id in viewer.bookmarked_topics
    if value == "posted":
        return lambda t: any(p.user_id == viewer.id for p in t.posts)
    return lambda t: viewer.topic_levels.get(t.id, 1) == _LEVELS[value]


@route("GET", "/filter.json")
async def filter_topics(ctx: Ctx) -> JSON:
    """GET /filter.json?q=...: Discourse's topic filter, paged like /latest (``page``, ``per_page``).

    Terms: ``order:`` (``-asc``), ``status:``, ``category:``, ``tag:`` (``a,b`` any, ``a+b`` all), ``in:``,
    ``created-by:``; ``-`` negates a term, ``=category:`` leaves out subcategories, bare words match titles.
    Not modelled: the ``activity-``/``created-``/``latest-post-`` date terms, ``posts-``/``likes-``/``views-`` ranges,
    ``in:new``/``in:unread`` (the fake has no read tracking), and plugin terms; they are ignored.
    """
    query = ctx.param("q") or ""
    order, ascending, terms, words = "activity", False, [], []
    for token in query.split():
        key, _, value = token.lstrip("-=").partition(":")
        if not value:
            words.append(token.lower())
        elif key == "order":
            order, ascending = value.removesuffix("-asc").replace("-", "_"), value.endswith("-asc")
        elif (term := _filter_term(ctx, key, value, token.startswith("="))) is not None:
            terms.append((term, token.startswith("-")))
    staff = ctx.user is not None and ctx.user.staff
    deleted = staff and "status:deleted" in query.split()

    def keep(t: backend.Topic) -> bool:
        shown = (not t.private and t.deleted_at is not None) if deleted else _listed(ctx.store, ctx.user, t)
        return shown and all(w in t.title.lower() for w in words) and all(f(t) != neg for f, neg in terms)

    topics = _sorted_topics(ctx, f"filter:{query}", keep, order if order in _ORDERS else "activity", ascending)
    return _topic_list_page(ctx, topics, "/filter", keep_query=("q",))


@route("GET", "/t/{id}/post_ids.json")
async def get_post_ids(ctx: Ctx) -> JSON:
    """GET /t/{id}/post_ids.json: the ids of the posts after ``post_number``, in order (``username_filters``)."""
    topic = ctx.store.visible_topic(ctx.user, ctx.path_int("id"))
    after, staff = ctx.param_int("post_number", 0) or 0, ctx.user is not None and ctx.user.staff
    names = {str(n).lower() for n in ctx.param_list("username_filters")}
    users = ctx.store.users
    return {
        "post_ids": [
            p.id
            for p in topic.posts
            if p.post_number > after
            and (staff or p.deleted_at is None)
            and (not names or (p.user_id in users and users[p.user_id].username.lower() in names))
        ]
    }


@route("GET", "/t/{id}/view-stats.json")
async def get_view_stats(ctx: Ctx) -> JSON:
    """GET /t/{id}/view-stats.json: views a day from ``from`` to ``to`` (dates; the last 30 days by default).

    Not modelled: Discourse counts one view a visitor a day; the fake counts every read of the topic.
    """
    topic = ctx.store.visible_topic(ctx.user, ctx.path_int("id"))
    now = ctx.store.now()
    start = ctx.param("from") or (backend.iso(now - 30 * 86400) or "")[:10]
    end = ctx.param("to") or (backend.iso(now) or "")[:10]
    stats = [{"viewed_at": day, "views": n} for day, n in sorted(topic.daily_views.items()) if start <= day <= end]
    return {"topic_id": topic.id, "stats": stats}


@route("GET", "/topics/created-by/{username}.json")
async def list_topics_created_by(ctx: Ctx) -> JSON:
    """GET /topics/created-by/{username}.json: the public topics a user started."""
    author = ctx.store.user(ctx.path("username"))
    topics = _sorted_topics(
        ctx, f"created-by-{author.id}", lambda t: t.user_id == author.id and _listed(ctx.store, ctx.user, t)
    )
    return _topic_list_page(ctx, topics, f"/topics/created-by/{author.username}")


def _topic_view(ctx: Ctx, topic: backend.Topic) -> JSON:
    staff = ctx.user is not None and ctx.user.staff
    live = [p for p in topic.posts if staff or p.deleted_at is None]
    start = 0
    if "post_number" in ctx.path_params:
        # As Discourse's TopicView: the chunk of 20 around the post, a quarter of it before.
        wanted = ctx.path_int("post_number")
        at = next((i for i, p in enumerate(live) if p.post_number >= wanted), max(len(live) - 1, 0))
        start = max(0, min(at - POST_CHUNK // 4, len(live) - POST_CHUNK))
    ctx.store.count_view(topic)
    chunk = live[start : start + POST_CHUNK]
    return topic_view(ctx.store, ctx.user, topic, chunk, [p.id for p in live], raw=ctx.param_bool("include_raw"))


@op("get_topic")
async def get_topic(ctx: Ctx) -> JSON:
    """GET /t/{id}.json: the first 20 posts and the ids of all of them (``post_stream.stream``).

    Not modelled: read tracking (last read post, unread counts), suggested and related topics, the
    timeline beyond its first entry.
    """
    return _topic_view(ctx, ctx.store.visible_topic(ctx.user, ctx.path_int("id")))


@route("GET", "/t/{slug}/{id}.json")
@route("GET", "/t/{id}/{post_number}.json")
@route("GET", "/t/{slug}/{id}/{post_number}.json")
async def get_topic_with_slug(ctx: Ctx) -> JSON:
    """GET /t/{slug}/{id}.json (where external-id lookups redirect), and at a post: /t/{id}/{post_number}.json."""
    return _topic_view(ctx, ctx.store.visible_topic(ctx.user, ctx.path_int("id")))


@op("get_topic_by_external_id")
async def get_topic_by_external_id(ctx: Ctx) -> Response:
    """GET /t/external_id/{external_id}.json: a 301 to the topic, as Discourse answers."""
    wanted = ctx.path("external_id")
    topic = next((t for t in ctx.store.topics.values() if t.external_id == wanted), None)
    if topic is None or not ctx.store.can_see_topic(ctx.user, topic):
        raise backend.not_found()
    return RedirectResponse(f"/t/{topic.slug}/{topic.id}.json", status_code=301)


@op("get_specific_posts_from_topic")
async def get_specific_posts_from_topic(ctx: Ctx) -> JSON:
    """GET /t/{id}/posts.json?post_ids[]=...: those posts of the topic, in topic order."""
    topic = ctx.store.visible_topic(ctx.user, ctx.path_int("id"))
    try:
        wanted = {int(v) for v in ctx.param_list("post_ids")}
    except (TypeError, ValueError):
        raise backend.invalid_parameters("post_ids must be integers") from None
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
    raw = ctx.param_bool("include_raw")
    return {
        "post_stream": {"posts": [_posts.stream_post(ctx.store, ctx.user, p, raw=raw) for p in posts]},
        "id": topic.id,
    }


@op("remove_topic")
async def remove_topic(ctx: Ctx) -> None:
    """DELETE /t/{id}.json: staff or the author of a topic without replies."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    ctx.guard("delete_topic", topic=topic)
    ctx.store.delete_post(topic.posts[0], user)
    ctx.events.append(("topic", "topic_destroyed", topic_event(ctx.store, topic)))


@op("update_topic")
@route("PUT", "/t/{slug}/{id}.json")
@route("PUT", "/t/{id}.json")
async def update_topic(ctx: Ctx) -> JSON:
    """PUT /t/-/{id}.json: a new title, category or tags, read from the top level of the body.

    As in Discourse's ``TopicsController#update``, the nested body the document describes
    (``{"topic": {"title": ...}}``) changes nothing and still answers 200.
    """
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    ctx.guard("edit_topic", topic=topic)
    fields = ctx.params
    if fields.get("title"):
        title = str(fields["title"])
        check_title(ctx.store, title, private=topic.private, current=topic)
        topic.title, topic.slug = title, backend.slugify(title)
        first = topic.posts[0]
        first.revisions.append(first.raw)
        first.version += 1
    if fields.get("category_id") not in (None, ""):
        category = ctx.store.category(int(fields["category_id"]))
        if category.id != topic.category_id:
            ctx.guard("uncategorized_topics", category=category)
            ctx.guard("create_topic", category=category)
        topic.category_id = category.id
    if "tags" in fields:
        topic.tags = [ctx.store.ensure_tag(str(t)).name for t in fields.get("tags") or []]
    ctx.store.changed()
    ctx.events.append(("topic", "topic_edited", topic_event(ctx.store, topic)))
    return {"basic_topic": basic_topic(topic)}


@op("invite_to_topic")
async def invite_to_topic(ctx: Ctx) -> JSON:
    """POST /t/{id}/invite.json: add a user to a message, or point a user at a topic."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    ctx.guard("topic_invite.not_pm", topic=topic)
    name = ctx.param("user") or ctx.param("username")
    if not name:
        if ctx.has("email"):
            raise backend.invalid_access("Inviting by email is not enabled on this site.")
        raise backend.invalid_parameters("param is missing or the value is empty: user")
    target = ctx.store.users_by_name.get(name.lower())
    if target is None:
        raise backend.record_invalid(f"The user '{name}' could not be found.")
    if target.id not in topic.allowed_user_ids:
        topic.allowed_user_ids.append(target.id)
    ctx.store.notify(
        target,
        "invited_to_private_message",
        topic=topic,
        post=topic.posts[0],
        data={"topic_title": topic.title, "display_username": user.username},
    )
    return {"user": _users.basic_user(target)}


@op("invite_group_to_topic")
async def invite_group_to_topic(ctx: Ctx) -> JSON:
    """POST /t/{id}/invite-group.json: let a group into a private message."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    name = ctx.require("group")
    group = next((g for g in ctx.store.groups.values() if g.name.lower() == name.lower()), None)
    if group is None:
        raise backend.not_found()
    ctx.guard("invite_group.not_pm", topic=topic)
    if group.id not in topic.allowed_group_ids:
        topic.allowed_group_ids.append(group.id)
        ctx.store.changed()
    return {"group": {"id": group.id, "name": group.name}}


@op("bookmark_topic")
async def bookmark_topic(ctx: Ctx) -> None:
    """PUT /t/{id}/bookmark.json: bookmark the topic for the acting user."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    if topic.id in user.bookmarked_topics:
        raise backend.invalid_parameters("You have already bookmarked this topic.")
    user.bookmarked_topics.add(topic.id)
    topic.posts[0].bookmarked_by.add(user.id)
    ctx.store.changed()


_STATUS_FLAGS = ("closed", "pinned", "pinned_globally", "archived", "visible")


@op("update_topic_status")
async def update_topic_status(ctx: Ctx) -> JSON:
    """PUT /t/{id}/status.json: close, pin, archive or unlist (staff), leaving a small-action post."""
    user = ctx.require_staff()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    status = ctx.require("status")
    if status not in _STATUS_FLAGS:
        raise backend.invalid_parameters(f"invalid status: {status}")
    enabled = ctx.require("enabled").lower() == "true"
    if status in ("closed", "archived", "visible"):  # a flag of the topic's own name, and a small action
        setattr(topic, status, enabled)
        ctx.store.add_small_action(user, topic, f"{status}.{'enabled' if enabled else 'disabled'}")
    else:
        topic.pinned_at = ctx.store.now() if enabled else None
        topic.pinned_globally = enabled and status == "pinned_globally"
        topic.pinned_until = backend.parse_time(ctx.require("until")) if enabled and ctx.has("until") else None
    ctx.store.changed()
    ctx.events.append(("topic", "topic_edited", topic_event(ctx.store, topic)))
    return {"success": "OK", "topic_status_update": None}


@op("set_notification_level")
async def set_notification_level(ctx: Ctx) -> JSON:
    """POST /t/{id}/notifications.json: watch (3), track (2), regular (1) or mute (0)."""
    user = ctx.require_user()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    level = ctx.require_int("notification_level")
    if level not in (0, 1, 2, 3):
        raise backend.invalid_parameters("notification_level must be 0, 1, 2 or 3")
    user.topic_levels[topic.id] = level
    ctx.store.changed()
    return {"success": "OK"}


@op("update_topic_timestamp")
async def update_topic_timestamp(ctx: Ctx) -> JSON:
    """PUT /t/{id}/change-timestamp.json: move a topic in time (staff)."""
    user = ctx.require_staff()
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    raw = ctx.require("timestamp")
    when = float(raw) if raw.replace(".", "", 1).isdigit() else backend.parse_time(raw)
    if when > ctx.store.now() + 60:
        raise backend.invalid_parameters("The timestamp must be in the past.")
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
    topic = ctx.store.visible_topic(user, ctx.path_int("id"))
    status_type = ctx.param("status_type") or "close"
    if status_type not in _TIMER_TYPES:
        raise backend.invalid_parameters(f"invalid status_type: {status_type}")
    raw = ctx.param("time") or ""
    based = ctx.param_bool("based_on_last_post") and raw != ""
    hours: float | None = None
    execute_at: float | None = None
    try:
        hours = float(raw)
        execute_at = (topic.last_posted_at if based else ctx.store.now()) + hours * 3600
    except ValueError:  # a timestamp, or "" to remove the timer
        execute_at = backend.parse_time(raw) if raw else None
    topic.timer = None
    if raw:
        ctx.store.timer_topic_ids.add(topic.id)
        topic.timer = backend.TopicTimer(
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
        "execute_at": backend.iso(execute_at),
        "duration": None if hours is None else str(hours),
        "based_on_last_post": based,
        "closed": topic.closed,
        "category_id": topic.timer.category_id if topic.timer else None,
    }


def run_due_timers(store: backend.Store) -> None:
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
