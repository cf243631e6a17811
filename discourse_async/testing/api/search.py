"""Full-text search with Discourse's filters (in:, @user, #category, tags:, status:...)."""

from __future__ import annotations

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op
from discourse_async.testing.api import categories as _categories
from discourse_async.testing.api import topics as _topics
from discourse_async.testing.api import users as _users

SEARCH_PER_PAGE = 50


#: The ``name:value`` filters a search query may hold.
_FILTERS = ("tag", "tags", "in", "status", "order", "user", "category")


def _parse_query(q: str) -> tuple[str, dict[str, str]]:
    filters: dict[str, str] = {}
    words = []
    for token in q.split():
        lowered = token.lower()
        if lowered.startswith("@") and len(token) > 1:
            filters["user"] = lowered[1:]
        elif lowered.startswith("#") and len(token) > 1:
            filters["category"] = lowered[1:]
        elif ":" in lowered and lowered.split(":", 1)[0] in _FILTERS:
            name, value = lowered.split(":", 1)
            filters["tags" if name == "tag" else name] = value
        else:
            words.append(token)
    return " ".join(words), filters


def _topic_matches(
    store: backend.Store, viewer: backend.User | None, topic: backend.Topic, filters: dict[str, str]
) -> bool:
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


def _search_posts(
    store: backend.Store, viewer: backend.User | None, needle: str, filters: dict[str, str]
) -> list[backend.Post]:
    """Matching posts: substring of the title (first posts) or raw; title hits first unless order:latest."""
    in_title = filters.get("in") == "title"
    by_user = filters.get("user")
    matches: list[tuple[bool, backend.Post]] = []
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
    """GET /search.json: case-insensitive substring search of titles and raws, 50 posts a page.

    Not modelled: stemming and ranking (it matches substrings), and searching users, categories and tags.
    """
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
    topics: dict[int, backend.Topic] = {}
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
                "created_at": backend.iso(p.created_at),
                "like_count": len(p.likes),
                "blurb": backend.excerpt(p.cooked, 200),
                "post_number": p.post_number,
                "topic_title_headline": topic.fancy_title,
                "topic_id": topic.id,
            }
        )
    result["topics"] = [_topics.topic_list_item(store, viewer, t) for t in topics.values()]
    if needle and page == 1 and not filters:
        users = [u for u in store.users.values() if u.id > 0 and needle in u.username.lower()][:10]
        result["users"] = [_users.basic_user(u) for u in users]
        cats = [c for c in store.categories.values() if needle in c.name.lower() and store.can_see_category(viewer, c)]
        result["categories"] = [_categories.category_json(store, viewer, c) for c in cats]
        found_tags = [t for t in store.tags.values() if needle in t.name]
        result["tags"] = [{"id": t.id, "name": t.name, "slug": t.name} for t in found_tags]
    grouped = result["grouped_search_result"]
    grouped["post_ids"] = [p["id"] for p in result["posts"]]
    grouped["user_ids"] = [u["id"] for u in result["users"]]
    grouped["category_ids"] = [c["id"] for c in result["categories"]]
    grouped["tag_ids"] = [t["id"] for t in result["tags"]]
    return result
