"""``dc.private_messages``: the generated private_messages operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discourse_async._generated.api.private_messages import PrivateMessages as _PrivateMessages
from discourse_async._namespaces import _topic_pages
from discourse_async.pagination import Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        TopicListItem,
        TopicListResponse,
    )


class PrivateMessages(_PrivateMessages):
    """Private message operations, plus iterators over a user's inbox and sent messages."""

    def iter_inbox(
        self, username: str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[TopicListItem, TopicListResponse]:
        """Every message topic in a user's inbox."""
        return _topic_pages(
            lambda page: self.list_user_private_messages(username=username, page=page), max_items, prefetch
        )

    def iter_sent(
        self, username: str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[TopicListItem, TopicListResponse]:
        """Every message topic a user has sent."""
        return _topic_pages(
            lambda page: self.get_user_sent_private_messages(username=username, page=page), max_items, prefetch
        )
