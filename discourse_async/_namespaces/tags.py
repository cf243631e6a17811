"""``dc.tags``: the generated tags operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discourse_async._generated.api.tags import Tags as _Tags
from discourse_async._namespaces import _topic_pages
from discourse_async.pagination import Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        TopicListItem,
        TopicListResponse,
    )


class Tags(_Tags):
    """Tag operations, plus an iterator over a tag's topics."""

    def iter_topics(
        self, name: str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[TopicListItem, TopicListResponse]:
        """Every topic carrying a tag (``/tag/{name}.json``)."""
        return _topic_pages(lambda page: self.get_tag(name=name, page=page), max_items, prefetch)
