"""``dc.users``: the generated users operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated.api.users import Users as _Users
from discourse_async._generated.types import UNSET, Unset
from discourse_async._namespaces import _list
from discourse_async.pagination import Page, Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        AdminUserListItem,
        Directory,
        DirectoryDirectoryItemsItem,
        UserActionList,
        UserActionListUserActionsItem,
    )


class Users(_Users):
    """User operations, plus iterators over the directory, the admin lists and user actions."""

    def iter_directory(
        self,
        *,
        period: str = "all",
        order: str = "likes_received",
        asc: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[DirectoryDirectoryItemsItem, Directory]:
        """Every entry of the user directory (``/directory_items.json``) for a period and order."""

        async def fetch(page: int) -> Page[Any, Any]:
            response = await self.list_users_public(period=period, order=order, asc=asc, page=page)  # type: ignore[arg-type]
            items = _list(response.directory_items)
            meta = response.meta
            more = meta is not None and bool(meta.load_more_directory_items)
            return Page(response, items, page + 1 if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)

    def iter_admin_list(
        self,
        flag: str = "active",
        *,
        order: str | Unset = UNSET,
        asc: str | Unset = UNSET,
        show_emails: bool | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[AdminUserListItem, list[AdminUserListItem]]:
        """Every user of an admin list (``active``, ``new``, ``staff``, ``suspended``, ...), 100 a page.

        The admin list numbers pages from 1 and has no marker: an empty page ends it.
        """

        async def fetch(page: int) -> Page[Any, Any]:
            users = await self.admin_list_users_flag(
                flag=flag,  # type: ignore[arg-type]
                order=order,  # type: ignore[arg-type]
                asc=asc,  # type: ignore[arg-type]
                show_emails=show_emails,
                page=page,
            )
            return Page(users, list(users), page + 1)

        return Paginator(fetch, 1, max_items=max_items, prefetch=prefetch)

    def iter_actions(
        self,
        username: str,
        *,
        filter: str | int = "4,5",
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[UserActionListUserActionsItem, UserActionList]:
        """Every action of a user (``filter``: action types, e.g. ``"4,5"`` topics and replies).

        ``/user_actions.json`` pages by ``offset``; an empty page ends the list. Discourse can shift
        entries while you read, so items are de-duplicated on (action type, post or topic).
        """

        async def fetch(offset: int) -> Page[Any, Any]:
            response = await self.list_user_actions(offset=offset, username=username, filter_=str(filter))
            actions = _list(response.user_actions)
            return Page(response, actions, offset + len(actions))

        return Paginator(
            fetch,
            0,
            max_items=max_items,
            prefetch=prefetch,
            key=lambda a: (a.action_type, a.post_id, a.topic_id, a.target_user_id),
        )
