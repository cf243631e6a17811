"""Groups: listing, showing, creating, editing, and their members."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op, route
from discourse_async.testing.api import users as _users

#: The group columns that are not sent as they are stored; the serializers send every other one under its own name.
_NOT_SENT = ("created_at", "members", "flair_icon")


def group_json(store: backend.Store, viewer: backend.User | None, g: backend.Group, *, detailed: bool = False) -> JSON:
    """BasicGroupSerializer, or GroupShowSerializer with ``detailed``."""
    members = store.group_members(g)
    in_group = viewer is not None and viewer.id in {u.id for u, _ in members}
    owner = viewer is not None and any(u.id == viewer.id and m.owner for u, m in members)
    admin = viewer is not None and viewer.admin
    data: JSON = {k: v for k, v in vars(g).items() if k not in _NOT_SENT} | {
        "display_name": g.name,
        "user_count": len(members),
        "incoming_email": None,
        "has_messages": False,
        "flair_url": g.flair_icon,
        "flair_color": None,
        "bio_cooked": f"<p>{g.bio_raw}</p>" if g.bio_raw else None,
        "bio_excerpt": g.bio_raw,
        "membership_request_template": None,
        "is_group_user": in_group,
        "is_group_owner": owner,
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


def group_member(user: backend.User, membership_added_at: float) -> JSON:
    """GroupUserSerializer."""
    return _users.basic_user(user) | {
        "title": user.title,
        "last_posted_at": backend.iso(user.last_posted_at or user.created_at),
        "last_seen_at": backend.iso(user.last_seen_at or user.created_at),
        "added_at": backend.iso(membership_added_at),
        "timezone": "UTC",
    }


GROUPS_PER_PAGE = 36


def _group_by_name(ctx: Ctx, name: str) -> backend.Group:
    group = next((g for g in ctx.store.groups.values() if g.name.lower() == name.lower()), None)
    if group is None or not _can_see_group(ctx, group):
        raise backend.not_found()
    return group


def _group_by_id(ctx: Ctx) -> backend.Group:
    group = ctx.store.groups.get(ctx.path_int("id"))
    if group is None or not _can_see_group(ctx, group):
        raise backend.not_found()
    return group


def _can_see_group(ctx: Ctx, group: backend.Group) -> bool:
    viewer = ctx.user
    if group.visibility_level == 0 or (viewer is not None and viewer.staff):
        return True
    return viewer is not None and (group.visibility_level == 1 or viewer.id in group.members)


def _apply_group(ctx: Ctx, group: backend.Group, fields: dict[str, Any]) -> None:
    for name in ("full_name", "bio_raw", "title", "flair_icon", "flair_bg_color"):
        if name in fields:
            setattr(group, name, fields[name] or None)
    for name in (
        "visibility_level",
        "members_visibility_level",
        "mentionable_level",
        "messageable_level",
        "default_notification_level",
    ):
        if fields.get(name) not in (None, ""):
            setattr(group, name, int(fields[name]))
    for name in ("primary_group", "public_admission", "public_exit", "allow_membership_requests"):
        if name in fields:
            setattr(group, name, str(fields[name]).lower() in ("true", "1"))
    now = ctx.store.now()
    for key, owner in (("usernames", False), ("owner_usernames", True)):
        for username in [n.strip() for n in str(fields.get(key) or "").split(",") if n.strip()]:
            user = ctx.store.users_by_name.get(username.lower())
            if user is None:
                raise backend.record_invalid(f"The user '{username}' could not be found.")
            membership = group.members.setdefault(user.id, backend.Membership(added_at=now))
            membership.owner = membership.owner or owner
    ctx.store.changed()


@op("create_group")
async def create_group(ctx: Ctx) -> JSON:
    """POST /admin/groups.json: ``{"group": {"name": ..., "usernames": "a,b", ...}}``."""
    ctx.require_admin()
    fields = ctx.param_dict("group")
    name = str(fields.get("name") or "")
    if not name:
        raise backend.invalid_parameters("param is missing or the value is empty: group")
    if not re.fullmatch(r"[\w.-]{1,60}", name) or len(name) < 3:
        raise backend.record_invalid(
            "Name must be at least 3 characters and use only letters, numbers, dashes and underscores"
        )
    if (
        any(g.name.lower() == name.lower() for g in ctx.store.groups.values())
        or name.lower() in ctx.store.users_by_name
    ):
        raise backend.record_invalid("Name has already been taken")
    group = backend.Group(id=ctx.store.next_id("group"), name=name, created_at=ctx.store.now())
    ctx.store.groups[group.id] = group
    _apply_group(ctx, group, fields)
    return {"basic_group": group_json(ctx.store, ctx.user, group)}


@op("delete_group")
async def delete_group(ctx: Ctx) -> JSON:
    """DELETE /admin/groups/{id}.json: automatic groups stay."""
    ctx.require_admin()
    group = _group_by_id(ctx)
    if group.automatic:
        raise backend.invalid_access("Automatic groups can't be deleted.")
    del ctx.store.groups[group.id]
    ctx.store.changed()
    return {"success": "OK"}


def _group_show(ctx: Ctx, group: backend.Group) -> JSON:
    names = [g.name for g in ctx.store.groups.values() if _can_see_group(ctx, g)]
    return {"group": group_json(ctx.store, ctx.user, group, detailed=True), "extras": {"visible_group_names": names}}


@op("get_group")
async def get_group(ctx: Ctx) -> JSON:
    """GET /groups/{name}.json."""
    return _group_show(ctx, _group_by_name(ctx, ctx.path("name")))


@op("get_group_by_id")
async def get_group_by_id(ctx: Ctx) -> JSON:
    """GET /groups/by-id/{id}.json."""
    return _group_show(ctx, _group_by_id(ctx))


def _owned_group(ctx: Ctx) -> backend.Group:
    """The group of the path, which the acting user must own (or be an admin)."""
    group = _group_by_id(ctx)
    ctx.require_user()
    ctx.guard("group_owner", group=group)
    return group


@op("update_group")
async def update_group(ctx: Ctx) -> JSON:
    """PUT /groups/{id}.json: owners and admins."""
    group = _owned_group(ctx)
    fields = ctx.param_dict("group")
    if fields.get("name") and str(fields["name"]) != group.name:
        if any(g.name.lower() == str(fields["name"]).lower() for g in ctx.store.groups.values()):
            raise backend.record_invalid("Name has already been taken")
        group.name = str(fields["name"])
    _apply_group(ctx, group, fields)
    return {"success": "OK"}


@op("list_group_members")
async def list_group_members(ctx: Ctx) -> JSON:
    """GET /groups/{name}/members.json: owners first then by username; ``offset``/``limit`` and ``meta``."""
    group = _group_by_name(ctx, ctx.path("name"))
    limit = ctx.param_int("limit", 50) or 50
    offset = ctx.param_int("offset", 0) or 0
    if limit < 1 or limit > 1000 or offset < 0:
        raise backend.invalid_parameters("limit must be 1 to 1000 and offset 0 or more")
    members = ctx.store.group_members(group)
    if ctx.has("filter"):
        needle = (ctx.param("filter") or "").lower()
        members = [(u, m) for u, m in members if needle in u.username.lower() or needle in (u.name or "").lower()]
    order = ctx.param("order")
    desc = not ctx.param_bool("asc")
    members.sort(key=lambda um: um[0].username.lower())
    if order == "added_at":
        members.sort(key=lambda um: um[1].added_at, reverse=desc)
    elif order in ("last_posted_at", "last_seen_at"):
        members.sort(key=lambda um: getattr(um[0], order) or 0, reverse=desc)
    members.sort(key=lambda um: not um[1].owner)
    owners = [group_member(u, m.added_at) for u, m in members if m.owner]
    chunk = members[offset : offset + limit]
    return {
        "members": [group_member(u, m.added_at) for u, m in chunk],
        "owners": owners,
        "meta": {"total": len(members), "limit": limit, "offset": offset},
    }


def _usernames(ctx: Ctx) -> list[str]:
    names = [str(n).strip() for n in ctx.param_list("usernames") if str(n).strip()]
    if not names and not ctx.has("emails"):
        raise backend.invalid_parameters("param is missing or the value is empty: usernames")
    return names


@op("add_group_members")
async def add_group_members(ctx: Ctx) -> JSON:
    """PUT /groups/{id}/members.json: ``usernames`` comma-separated; all already in is a 422."""
    group = _owned_group(ctx)
    if group.automatic:
        raise backend.invalid_access("You can't add members to an automatic group.")
    users = []
    for name in _usernames(ctx):
        user = ctx.store.users_by_name.get(name.lower())
        if user is None:
            raise backend.invalid_parameters(f"Could not find user(s): {name}")
        users.append(user)
    new = [u for u in users if u.id not in group.members]
    if users and not new:
        raise backend.record_invalid(f"{', '.join(u.username for u in users)} is already a member of this group")
    for user in new:
        group.members[user.id] = backend.Membership(added_at=ctx.store.now())
    ctx.store.changed()
    return {"success": "OK", "usernames": [u.username for u in new], "emails": []}


@op("remove_group_members")
async def remove_group_members(ctx: Ctx) -> JSON:
    """DELETE /groups/{id}/members.json."""
    group = _owned_group(ctx)
    removed, skipped = [], []
    for name in _usernames(ctx):
        user = ctx.store.users_by_name.get(name.lower())
        if user is not None and user.id in group.members:
            del group.members[user.id]
            removed.append(user.username)
        else:
            skipped.append(name)
    ctx.store.changed()
    return {"success": "OK", "usernames": removed, "skipped_usernames": skipped}


@op("list_groups")
async def list_groups(ctx: Ctx) -> JSON:
    """GET /groups.json: 36 a page; ``load_more_groups`` is there even on the last page (a real quirk)."""
    groups = [g for g in ctx.store.groups.values() if _can_see_group(ctx, g) and g.id != 0]
    kind = ctx.param("type")
    viewer = ctx.user
    kinds: dict[str | None, Callable[[backend.Group], bool]] = {
        "automatic": lambda g: g.automatic,
        "custom": lambda g: not g.automatic,
        "my": lambda g: viewer is not None and viewer.id in g.members,
        "owner": lambda g: viewer is not None and viewer.id in g.members and g.members[viewer.id].owner,
        "public": lambda g: g.public_admission,
        "close": lambda g: not g.public_admission and not g.automatic,
    }
    if kind in kinds:
        groups = [g for g in groups if kinds[kind](g)]
    if ctx.has("filter"):
        needle = (ctx.param("filter") or "").lower()
        groups = [g for g in groups if needle in g.name.lower() or needle in (g.full_name or "").lower()]
    groups.sort(key=lambda g: g.name.lower())
    page = max(0, ctx.param_int("page", 0) or 0)
    chunk = groups[page * GROUPS_PER_PAGE : (page + 1) * GROUPS_PER_PAGE]
    query = {k: ctx.param(k) for k in ("type", "filter") if ctx.has(k)} | {"page": page + 1}
    return {
        "groups": [group_json(ctx.store, viewer, g) for g in chunk],
        "extras": {
            "type_filters": ["my", "owner", "public", "close", "automatic"]
            if viewer
            else ["public", "close", "automatic"]
        },
        "total_rows_groups": len(groups),
        "load_more_groups": f"/groups?{urlencode(query)}",
    }


@route("GET", "/groups/search.json")
async def search_groups(ctx: Ctx) -> list[JSON]:
    """GET /groups/search.json: visible groups whose name contains ``term``, as a bare array."""
    needle = (ctx.param("term") or "").lower()
    groups = [g for g in ctx.store.groups.values() if g.id != 0 and _can_see_group(ctx, g) and needle in g.name.lower()]
    return [group_json(ctx.store, ctx.user, g) for g in sorted(groups, key=lambda g: g.name.lower())]


@route("POST", "/admin/users/{id}/groups.json")
async def admin_add_user_to_group(ctx: Ctx) -> JSON:
    """POST /admin/users/{id}/groups.json: put a user in a custom group by ids."""
    user = _users._admin_target(ctx)
    group = backend.found(ctx.store.groups, ctx.require_int("group_id"))
    if group.automatic:
        raise backend.invalid_access("You can't add members to an automatic group.")
    group.members.setdefault(user.id, backend.Membership(added_at=ctx.store.now()))
    ctx.store.changed()
    return {"success": "OK"}


@route("DELETE", "/admin/users/{id}/groups/{group_id}.json")
async def admin_remove_user_from_group(ctx: Ctx) -> JSON:
    """DELETE /admin/users/{id}/groups/{group_id}.json."""
    user = _users._admin_target(ctx)
    group = ctx.store.groups.get(ctx.path_int("group_id"))
    if group is None or group.automatic:
        raise backend.not_found()
    group.members.pop(user.id, None)
    ctx.store.changed()
    return {"success": "OK"}


@route("GET", "/groups/{name}/posts.json")
async def list_group_posts(ctx: Ctx) -> list[JSON]:
    """GET /groups/{name}/posts.json (GroupPostSerializer, a bare array): members' posts, 20 newest first.

    ``before_post_id`` pages back and ``category_id`` narrows; private messages are left out.
    """
    store, group = ctx.store, _group_by_name(ctx, ctx.path("name"))
    members = {u.id for u, _ in store.group_members(group)}
    before, category = ctx.param_int("before_post_id"), ctx.param_int("category_id")
    found: list[JSON] = []
    for post_id in reversed(store.post_ids):
        p = store.posts[post_id]
        topic = store.topics[p.topic_id]
        if (before is not None and post_id >= before) or p.user_id not in members or p.deleted_at is not None:
            continue
        if p.post_type != 1 or topic.private or not store.can_see_topic(ctx.user, topic):
            continue
        if category is not None and topic.category_id != category:
            continue
        author = store.users[p.user_id]
        found.append(
            {
                "id": p.id,
                "created_at": backend.iso(p.created_at),
                "topic_id": topic.id,
                "topic_title": topic.title,
                "topic_slug": topic.slug,
                "topic_html_title": topic.fancy_title,
                "url": f"/t/{topic.slug}/{topic.id}/{p.post_number}",
                "category_id": topic.category_id,
                "post_number": p.post_number,
                "posts_count": topic.live_posts,
                "post_type": p.post_type,
                "user_id": author.id,
                "username": author.username,
                "name": author.name,
                "avatar_template": author.avatar_template,
                "user_title": author.title,
                "primary_group_name": None,
                "excerpt": backend.excerpt(p.cooked, 300),
                "truncated": len(backend.excerpt(p.cooked, 301)) > 300,
                "user": _users.basic_user(author) | {"title": author.title},
            }
        )
        if len(found) == 20:
            break
    return found
