"""``dc.notifications``: the generated notifications operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated.api.notifications import Notifications as _Notifications
from discourse_async._generated.types import UNSET, Unset
from discourse_async._namespaces import _list
from discourse_async.pagination import Page, Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        Notification,
        NotificationList,
    )


class Notifications(_Notifications):
    """Notification operations, plus an iterator over all of the acting user's notifications."""

    def iter(
        self,
        *,
        filter: str | Unset = UNSET,
        limit: int = 60,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[Notification, NotificationList]:
        """Every notification, newest first, ``limit`` per request until the total is reached."""

        async def fetch(offset: int) -> Page[Any, Any]:
            response = await self.get_notifications(offset=offset, limit=limit, filter_=filter)  # type: ignore[arg-type]
            items = _list(response.notifications)
            total = response.total_rows_notifications
            end = offset + len(items)
            more = bool(items) and (not isinstance(total, int) or end < total)
            return Page(response, items, end if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)
