"""Tags and tag groups."""

from __future__ import annotations

import dataclasses
from typing import Any

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op, route
from discourse_async.testing.api import topics as _topics


@op("get_tag")
async def get_tag(ctx: Ctx) -> JSON:
    """GET /tag/{name}.json: the topics with a tag."""
    tag = backend.found(ctx.store.tags, ctx.path("name").lower())
    topics = _topics._sorted_topics(
        ctx, "tag", lambda t: tag.name in t.tags and _topics._listed(ctx.store, ctx.user, t)
    )
    count = sum(1 for t in ctx.store.topics.values() if tag.name in t.tags and t.deleted_at is None)
    extra = {"tags": [{"id": tag.id, "name": tag.name, "topic_count": count, "staff": False}]}
    return _topics._topic_list_page(ctx, topics, f"/tag/{tag.name}/l/latest", extra=extra)


def _tag_group_json(store: backend.Store, group: backend.TagGroup, *, names: bool) -> JSON:
    data = dataclasses.asdict(group)  # the record holds the fields of the ``names`` shape
    # TagGroupSerializer keys permissions by group id (0 is everyone), as Discourse's own MCP server reads them.
    ids = {g.name: g.id for g in store.groups.values()}
    data["permissions"] = {str(ids[name]): kind for name, kind in group.permissions.items() if name in ids}
    if not names:
        data["tags"] = [{"id": i, "name": n, "slug": n} for i, n in enumerate(data.pop("tag_names"), 1)]
        data["parent_tag"] = [{"id": 0, "name": n, "slug": n} for n in data.pop("parent_tag_name")]
    return data


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
    return {"tag_groups": [_tag_group_json(ctx.store, g, names=False) for g in ctx.store.tag_groups.values()]}


def _unwrap(ctx: Ctx) -> None:
    """Discourse takes a tag group's fields at the top level or under ``tag_group`` (merged over them)."""
    ctx.params.update(ctx.param_dict("tag_group"))


def _apply_tag_group(ctx: Ctx, group: Any) -> None:
    if ctx.has("name"):
        group.name = ctx.param("name")
    if "tag_names" in ctx.params:
        group.tag_names = [ctx.store.ensure_tag(str(n)).name for n in ctx.param_list("tag_names")]
    elif "tags" in ctx.params:  # current Discourse also takes tags by id or name: [{"id": 3}, {"name": "x"}]
        by_id = {t.id: t.name for t in ctx.store.tags.values()}
        chosen = [str(t.get("id", t.get("name"))) if isinstance(t, dict) else str(t) for t in ctx.param_list("tags")]
        wanted = [by_id.get(int(t), "") if t.isdigit() else t.lower() for t in chosen]
        group.tag_names = [name for name in wanted if name in ctx.store.tags]
    if "parent_tag_name" in ctx.params:
        group.parent_tag_name = [ctx.store.ensure_tag(str(n)).name for n in ctx.param_list("parent_tag_name")]
    if "one_per_topic" in ctx.params:
        group.one_per_topic = ctx.param_bool("one_per_topic")
    if ctx.param_dict("permissions"):
        # keyed by group name or id, as Discourse takes them
        names = {str(g.id): g.name for g in ctx.store.groups.values()}
        group.permissions = {names.get(str(k), str(k)): int(v) for k, v in ctx.param_dict("permissions").items()}
    ctx.store.changed()


@op("create_tag_group")
async def create_tag_group(ctx: Ctx) -> JSON:
    """POST /tag_groups.json (staff)."""
    ctx.require_staff()
    _unwrap(ctx)
    name = ctx.require("name")
    if any(g.name.lower() == name.lower() for g in ctx.store.tag_groups.values()):
        raise backend.record_invalid("Name has already been taken")
    group = backend.TagGroup(id=ctx.store.next_id("tag_group"), name=name)
    ctx.store.tag_groups[group.id] = group
    _apply_tag_group(ctx, group)
    return {"tag_group": _tag_group_json(ctx.store, group, names=False)}


def _tag_group(ctx: Ctx) -> backend.TagGroup:
    return backend.found(ctx.store.tag_groups, ctx.path_int("id"))


@op("get_tag_group")
async def get_tag_group(ctx: Ctx) -> JSON:
    """GET /tag_groups/{id}.json."""
    return {"tag_group": _tag_group_json(ctx.store, _tag_group(ctx), names=True)}


@op("update_tag_group")
async def update_tag_group(ctx: Ctx) -> JSON:
    """PUT /tag_groups/{id}.json (staff)."""
    ctx.require_staff()
    group = _tag_group(ctx)
    _unwrap(ctx)
    _apply_tag_group(ctx, group)
    return {"success": "OK", "tag_group": _tag_group_json(ctx.store, group, names=True)}


@route("GET", "/tag_groups/filter/search.json")
async def search_tag_groups(ctx: Ctx) -> JSON:
    """GET /tag_groups/filter/search.json: tag groups by ``q`` (part of the name) or ``names[]``, ``limit`` (5)."""
    staff = ctx.user is not None and ctx.user.staff
    needle, names = (ctx.param("q") or "").strip().lower(), {str(n).lower() for n in ctx.param_list("names")}
    found = [
        g
        for g in ctx.store.tag_groups.values()
        if (staff or "everyone" in g.permissions)
        and needle in g.name.lower()
        and (not names or g.name.lower() in names)
    ]
    found.sort(key=lambda g: g.name)
    limit = max(1, ctx.param_int("limit", 5) or 5)
    tags = ctx.store.tags
    return {
        "results": [
            {
                "name": g.name,
                "tags": [{"id": tags[n].id, "name": n, "slug": n} for n in sorted(g.tag_names) if n in tags],
            }
            for g in found[:limit]
        ]
    }
