"""``dc.posts``: the generated posts operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated.api.posts import Posts as _Posts
from discourse_async._generated.types import UNSET
from discourse_async._namespaces import _list
from discourse_async.pagination import Page, Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        LatestPosts,
        Post,
    )


class Posts(_Posts):
    """Post operations, plus an iterator over the site's latest posts."""

    def iter_latest(self, *, max_items: int | None = None, prefetch: int = 0) -> Paginator[Post, LatestPosts]:
        """Every post of ``/posts.json``, newest first, walking back with ``before=<post id>``."""

        async def fetch(before: int | None) -> Page[Any, Any]:
            response = await self.list_posts(before=UNSET if before is None else before)
            posts = _list(response.latest_posts)
            ids = [p.id for p in posts if isinstance(p.id, int)]
            return Page(response, posts, min(ids) if ids else None)

        return Paginator(fetch, None, max_items=max_items, prefetch=prefetch)
