"""Categories: the list, one category, its topics, creating and editing."""

from __future__ import annotations

from typing import Any

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op, route
from discourse_async.testing.api import topics as _topics

#: The category columns every category serializer sends as they are stored.
_COLUMNS = ("id", "name", "color", "text_color", "style_type", "emoji", "icon", "slug", "position", "description")


def category_json(
    store: backend.Store, viewer: backend.User | None, c: backend.Category, *, full: bool = False
) -> JSON:
    """BasicCategorySerializer, or CategorySerializer with ``full``."""
    visible_topics = [t for t in store.topics.values() if t.category_id == c.id and t.deleted_at is None]
    staff = viewer is not None and viewer.staff
    subcategories = store.subcategory_ids(c)
    data: JSON = {name: getattr(c, name) for name in _COLUMNS} | {
        "topic_count": len(visible_topics),
        "post_count": sum(t.live_posts for t in visible_topics),
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


def category_list_entry(store: backend.Store, viewer: backend.User | None, c: backend.Category) -> JSON:
    """A category as /categories.json lists it: with topic counts per period and its subcategories."""
    data = category_json(store, viewer, c)
    now = store.now()
    created = [t.created_at for t in store.topics.values() if t.category_id == c.id and t.deleted_at is None]
    for name, days in (("day", 1), ("week", 7), ("month", 30), ("year", 365)):
        data[f"topics_{name}"] = sum(1 for ts in created if ts > now - days * 86400)
    data["topics_all_time"] = len(created)
    data["is_uncategorized"] = c.uncategorized
    data["subcategory_ids"] = store.subcategory_ids(c)
    data["subcategory_list"] = None
    return data


@op("list_category_topics")
@route("GET", "/c/{id}.json")
async def list_category_topics(ctx: Ctx) -> JSON:
    """GET /c/{slug}/{id}.json: a category's topics and its subcategories' (pinned ones first)."""
    category = ctx.store.category(ctx.path_int("id"), ctx.user, check=True)
    ids = {category.id, *ctx.store.subcategory_ids(category)}
    topics = _topics._sorted_topics(
        ctx, "category", lambda t: t.category_id in ids and _topics._listed(ctx.store, ctx.user, t)
    )
    extra = {"filter": "default", "top_tags": []}
    return _topics._topic_list_page(ctx, topics, f"/c/{category.slug}/{category.id}/l/latest", extra=extra)


@op("list_categories")
async def list_categories(ctx: Ctx) -> JSON:
    """GET /categories.json: top-level categories, 20 a page (with subcategories when asked).

    Not modelled: each category's featured topics (``include_topics``).
    """
    store, viewer = ctx.store, ctx.user
    cats = [c for c in store.categories.values() if store.can_see_category(viewer, c)]
    page = max(1, ctx.param_int("page", 1) or 1)  # Discourse pages 20 at a time; page 0 and 1 are the first
    top = [c for c in cats if c.parent_category_id is None][(page - 1) * 20 : page * 20]
    entries = []
    for c in top:
        entry = category_list_entry(store, viewer, c)
        if ctx.param_bool("include_subcategories"):
            subs = [s for s in cats if s.parent_category_id == c.id]
            entry["subcategory_list"] = [category_list_entry(store, viewer, s) for s in subs]
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
    ctx.events.append(("category", "category_created", {"category": category_json(ctx.store, None, category)}))
    return {"category": category_json(ctx.store, user, category, full=True)}


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
            raise backend.record_invalid("Category Name has already been taken")
    category.name = name
    for key, value in _category_fields(ctx).items():
        if value is not None:
            setattr(category, key, value)
    for key in ("style_type", "emoji", "icon"):
        if ctx.has(key):
            setattr(category, key, ctx.param(key))
    ctx.store.changed()
    return {"success": "OK", "category": category_json(ctx.store, user, category, full=True)}


@op("get_category")
async def get_category(ctx: Ctx) -> JSON:
    """GET /c/{id}/show.json."""
    category = ctx.store.category(ctx.path_int("id"), ctx.user, check=True)
    return {"category": category_json(ctx.store, ctx.user, category, full=True)}


def _categories_answer(ctx: Ctx, found: list[backend.Category]) -> JSON:
    """``categories`` (and their ``ancestors`` on request), as category search and find give them."""
    store, viewer = ctx.store, ctx.user
    # include_permissions=true switches Discourse to its full CategorySerializer (group_permissions...).
    full = ctx.param_bool("include_permissions")
    body: JSON = {"categories": [category_json(store, viewer, c, full=full) for c in found]}
    if ctx.param_bool("include_ancestors"):
        ids = {c.parent_category_id for c in found if c.parent_category_id is not None} - {c.id for c in found}
        body["ancestors"] = [category_json(store, viewer, store.categories[i]) for i in sorted(ids)]
    return body


def _visible_categories(ctx: Ctx) -> list[backend.Category]:
    return [c for c in ctx.store.categories.values() if ctx.store.can_see_category(ctx.user, c)]


@route("POST", "/categories/search.json")
async def search_categories(ctx: Ctx) -> JSON:
    """POST /categories/search.json: visible categories whose name holds ``term``, prefix matches first.

    Also ``parent_category_id`` (-1: top level only), ``include_uncategorized``, ``select_category_ids``,
    ``reject_category_ids``, ``include_ancestors``, ``limit`` and ``page`` (from 1).
    """
    term = (ctx.param("term") or "").strip().lower()
    found = [c for c in _visible_categories(ctx) if term in c.name.lower()]
    if ctx.has("parent_category_id"):
        parent = ctx.param_int("parent_category_id")
        found = [c for c in found if c.parent_category_id == (None if parent == -1 else parent)]
    if not ctx.param_bool("include_uncategorized", default=True):
        found = [c for c in found if not c.uncategorized]
    for name, keep in (("select_category_ids", True), ("reject_category_ids", False)):
        if ctx.has(name):
            ids = {int(i) for i in ctx.param_list(name)}
            found = [c for c in found if (c.id in ids) == keep]
    found.sort(key=lambda c: (not c.name.lower().startswith(term), c.name.lower()))
    limit, page = max(1, ctx.param_int("limit", 25) or 25), max(1, ctx.param_int("page", 1) or 1)
    return _categories_answer(ctx, found[(page - 1) * limit : page * limit])


@route("GET", "/categories/find.json")
async def find_categories(ctx: Ctx) -> JSON:
    """GET /categories/find.json?ids[]=...: those of the categories the caller may see, in id order.

    With ``include_permissions=true``, each in full (``group_permissions``, ``available_groups``...).
    """
    try:
        ids = {int(i) for i in ctx.param_list("ids")}
    except ValueError:
        raise backend.invalid_parameters("ids must be integers") from None
    return _categories_answer(ctx, [c for c in _visible_categories(ctx) if c.id in ids])
