"""``dc.groups``: the generated groups operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated.api.groups import Groups as _Groups
from discourse_async._generated.types import UNSET, Unset
from discourse_async._namespaces import _list
from discourse_async.pagination import Page, Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        Group,
        GroupList,
        GroupMember,
        GroupMemberList,
    )


class Groups(_Groups):
    """Group operations, plus iterators over groups and a group's members."""

    def iter(
        self,
        *,
        filter: str | Unset = UNSET,
        type: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[Group, GroupList]:
        """Every group visible to the caller.

        ``load_more_groups`` is present even on the last page, so the end is told by
        ``total_rows_groups`` (and an empty page).
        """
        seen = {"count": 0}

        async def fetch(page: int) -> Page[Any, Any]:
            response = await self.list_groups(page=page, filter_=filter, type_=type)
            groups = _list(response.groups)
            seen["count"] += len(groups)
            total = response.total_rows_groups
            more = bool(groups) and (not isinstance(total, int) or seen["count"] < total)
            return Page(response, groups, page + 1 if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)

    def iter_members(
        self,
        name: str,
        *,
        limit: int = 50,
        order: str | Unset = UNSET,
        asc: bool | Unset = UNSET,
        filter: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[GroupMember, GroupMemberList]:
        """Every member of a group, ``limit`` per request, until ``meta.total`` is reached."""

        async def fetch(offset: int) -> Page[Any, Any]:
            response = await self.list_group_members(
                name=name, offset=offset, limit=limit, order=order, asc=asc, filter_=filter
            )
            members = _list(response.members)
            meta = response.meta
            total = meta.total if meta is not None and isinstance(meta.total, int) else None
            end = offset + len(members)
            more = bool(members) and (total is None or end < total)
            return Page(response, members, end if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)
