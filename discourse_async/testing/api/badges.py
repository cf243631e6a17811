"""Badges: the admin list, creating, editing, and a user's badges."""

from __future__ import annotations

import dataclasses

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op
from discourse_async.testing.api import users as _users


def badge_json(b: backend.Badge, *, admin: bool = False) -> JSON:
    """BadgeSerializer (AdminBadgeSerializer fields with ``admin``)."""
    data = dataclasses.asdict(b) | {
        "image_url": None,
        "slug": b.slug,
        "manually_grantable": not b.system,
    }
    if not admin:
        del data["long_description"]  # the one stored field that only admins see
    else:
        data |= {
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


def _badge_lists(badges: list[backend.Badge], *, admin: bool) -> JSON:
    return {"badges": [badge_json(b, admin=admin) for b in badges], "badge_types": BADGE_TYPES}


@op("admin_list_badges")
async def admin_list_badges(ctx: Ctx) -> JSON:
    """GET /admin/badges.json."""
    ctx.require_admin()
    body = _badge_lists(list(ctx.store.badges.values()), admin=True)
    body |= {
        "badge_groupings": BADGE_GROUPINGS,
        "admin_badges": {
            "protected_system_fields": [
                "name",
                "badge_type_id",
                "multiple_grant",
                "target_posts",
                "show_posts",
                "query",
                "trigger",
                "auto_revoke",
                "listable",
            ],
            "triggers": {"user_change": 8, "none": 0, "post_revision": 2, "trust_level_change": 4, "post_action": 1},
            "badge_ids": list(ctx.store.badges),
            "badge_grouping_ids": [1, 2, 3, 4, 5],
            "badge_type_ids": [1, 2, 3],
        },
    }
    return body


def _apply_badge(ctx: Ctx, badge: backend.Badge) -> None:
    name = ctx.require("name")
    if any(b.name.lower() == name.lower() and b is not badge for b in ctx.store.badges.values()):
        raise backend.record_invalid("Name has already been taken")
    type_id = ctx.require_int("badge_type_id")
    if type_id not in (1, 2, 3):
        raise backend.record_invalid("Badge type can't be blank")
    badge.name, badge.badge_type_id = name, type_id
    if ctx.has("description"):
        badge.description = ctx.param("description")
    for key in ("allow_title", "multiple_grant", "listable", "enabled"):
        if key in ctx.params:
            setattr(badge, key, ctx.param_bool(key))
    if ctx.has("icon"):
        badge.icon = ctx.param("icon") or "certificate"
    if ctx.has("badge_grouping_id"):
        badge.badge_grouping_id = ctx.param_int("badge_grouping_id") or 5
    ctx.store.changed()


def _badge_answer(badge: backend.Badge) -> JSON:
    """What creating or editing a badge answers: the admin fields, with a description that is never null."""
    return {
        "badge_types": BADGE_TYPES,
        "badge": badge_json(badge, admin=True) | {"description": badge.description or ""},
    }


@op("create_badge")
async def create_badge(ctx: Ctx) -> JSON:
    """POST /admin/badges.json."""
    ctx.require_admin()
    badge = backend.Badge(id=ctx.store.next_id("badge"), name="", badge_type_id=3)
    _apply_badge(ctx, badge)
    ctx.store.badges[badge.id] = badge
    return _badge_answer(badge)


@op("update_badge")
async def update_badge(ctx: Ctx) -> JSON:
    """PUT /admin/badges/{id}.json."""
    ctx.require_admin()
    badge = backend.found(ctx.store.badges, ctx.path_int("id"))
    _apply_badge(ctx, badge)
    return _badge_answer(badge)


@op("delete_badge")
async def delete_badge(ctx: Ctx) -> None:
    """DELETE /admin/badges/{id}.json: system badges stay."""
    ctx.require_admin()
    badge = backend.found(ctx.store.badges, ctx.path_int("id"))
    if badge.system:
        raise backend.invalid_access("System badges can't be deleted.")
    del ctx.store.badges[badge.id]
    ctx.store.user_badges = [b for b in ctx.store.user_badges if b.badge_id != badge.id]
    ctx.store.changed()


@op("list_user_badges")
async def list_user_badges(ctx: Ctx) -> JSON:
    """GET /user-badges/{username}.json."""
    user = ctx.store.user(ctx.path("username"))
    granted = [b for b in ctx.store.user_badges if b.user_id == user.id and b.badge_id in ctx.store.badges]
    badges = {b.badge_id: ctx.store.badges[b.badge_id] for b in granted}
    granters = {
        b.granted_by_id: ctx.store.users[b.granted_by_id] for b in granted if b.granted_by_id in ctx.store.users
    }
    return {
        "badges": [badge_json(b) for b in badges.values()],
        "badge_types": BADGE_TYPES,
        "granted_bies": [_users.user_with_flair(u) for u in granters.values()],
        "user_badges": [
            {
                "id": b.id,
                "granted_at": backend.iso(b.granted_at),
                "grouping_position": 1,
                "is_favorite": None,
                "can_favorite": False,
                "badge_id": b.badge_id,
                "granted_by_id": b.granted_by_id,
            }
            for b in granted
        ],
    }
