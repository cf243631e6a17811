"""Categories: the list, one category, its topics, creating and editing."""

from __future__ import annotations

from typing import Any

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op, route
from discourse_async.testing.api import topics as _topics


def category_json(
    store: backend.Store, viewer: backend.User | None, c: backend.Category, *, full: bool = False
) -> JSON:
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
    category = ctx.store.category(ctx.path_int("id"))
    if not ctx.store.can_see_category(ctx.user, category):
        raise backend.not_found()
    ids = {category.id, *ctx.store.subcategory_ids(category)}
    topics = _topics._sorted_topics(
        ctx, "category", lambda t: t.category_id in ids and _topics._listed(ctx.store, ctx.user, t)
    )
    extra = {"filter": "default", "top_tags": []}
    return _topics._topic_list_page(ctx, topics, f"/c/{category.slug}/{category.id}/l/latest", extra=extra)


@op("list_categories")
async def list_categories(ctx: Ctx) -> JSON:
    """GET /categories.json: top-level categories (with subcategories when asked)."""
    store, viewer = ctx.store, ctx.user
    cats = [c for c in store.categories.values() if store.can_see_category(viewer, c)]
    top = [c for c in cats if c.parent_category_id is None]
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
    category = ctx.store.category(ctx.path_int("id"))
    if not ctx.store.can_see_category(ctx.user, category):
        raise backend.not_found()
    return {"category": category_json(ctx.store, ctx.user, category, full=True)}
