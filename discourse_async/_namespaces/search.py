"""``dc.search``: the generated search operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated.api.search import Search as _Search
from discourse_async._namespaces import _list
from discourse_async.pagination import Page, Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        SearchResult,
        SearchResultPostsItem,
    )


class Search(_Search):
    """Search, plus an iterator over every matching post."""

    def iter(
        self, q: str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[SearchResultPostsItem, SearchResult]:
        """Every post matching ``q``, page after page (Discourse numbers search pages from 1)."""

        async def fetch(page: int) -> Page[Any, Any]:
            response = await self.search(q=q, page=page)
            posts = _list(response.posts)
            grouped = response.grouped_search_result
            more = grouped is not None and bool(grouped.more_full_page_results)
            return Page(response, posts, page + 1 if more else None)

        return Paginator(fetch, 1, max_items=max_items, prefetch=prefetch)
