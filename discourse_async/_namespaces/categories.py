"""``dc.categories``: the generated categories operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discourse_async._generated.api.categories import Categories as _Categories
from discourse_async._namespaces import _topic_pages
from discourse_async.pagination import Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        TopicListItem,
        TopicListResponse,
    )


class Categories(_Categories):
    """Category operations, plus an iterator over a category's topics."""

    def iter_topics(
        self, slug: str, id: int | str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[TopicListItem, TopicListResponse]:
        """Every topic of a category (``/c/{slug}/{id}.json``)."""
        return _topic_pages(
            lambda page: self.list_category_topics(slug=slug, id=int(id), page=page), max_items, prefetch
        )
