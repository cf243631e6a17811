"""Hand-written additions to the generated namespaces: the ``iter_*`` pagination methods.

One module per tag: each subclass adds iterators to the generated namespace of its tag, and
``Discourse`` exposes it under the same attribute (``dc.topics``, ``dc.groups``, ...), imported on
first use so that a bot touching two namespaces loads two.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from discourse_async._runtime import Model
from discourse_async.pagination import Page, Paginator

#: How many post ids Discourse serves per /t/{id}/posts.json request (its own chunk size).
POST_CHUNK = 20


def _list(value: Any) -> list[Any]:
    # A value that is not a list (a site that sent something else) gives no items, not an error.
    return list(value) if isinstance(value, list) else []


def _is_model(value: Any) -> bool:
    """Whether a field holds the model it documents (a site may send null or something else)."""
    return isinstance(value, Model)


def _topic_page(response: Any, page: int) -> Page[Any, Any]:
    """Topic lists: 30 per page; ``more_topics_url`` is present only when another page may follow."""
    topic_list: Any = response.topic_list
    if not _is_model(topic_list):
        return Page(response, [])
    return Page(response, _list(topic_list.topics), page + 1 if topic_list.more_topics_url else None)


def _topic_pages(call: Callable[[int], Awaitable[Any]], max_items: int | None, prefetch: int) -> Paginator[Any, Any]:
    """An iterator over a page-numbered topic list; ``call(page)`` fetches one page (from 0)."""

    async def fetch(page: int) -> Page[Any, Any]:
        return _topic_page(await call(page), page)

    return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)
