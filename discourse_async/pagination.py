"""One ``async for`` over every list Discourse serves.

Discourse pages its lists in half a dozen ways (``page=`` with ``more_topics_url`` on topic lists,
``before=`` post ids on ``/posts.json``, ``offset=`` with ``meta.total`` on group members,
``load_more_*`` keys that are sometimes present even on the last page, a topic's post ids fetched
in chunks). Each list gets a small *page function* that knows its scheme; :class:`Paginator` turns
it into a lazy async iterator of typed items, with ``max_items``, a ``.pages()`` view, read-ahead,
and de-duplication where Discourse shifts pages while you read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Page", "Paginator", "before_ids", "offsets", "page_numbers", "topic_posts"]

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")
CursorT = TypeVar("CursorT")


@dataclass(frozen=True)
class Page(Generic[ItemT, PageT]):
    """One fetched page: the typed response, its items, and the cursor of the next page (None: last)."""

    response: PageT
    items: Sequence[ItemT]
    next: Any = None


#: A page function: cursor -> the page at that cursor.
PageFunction = Callable[[Any], Awaitable[Page[ItemT, PageT]]]


def _default_key(item: object) -> Hashable | None:
    # Models read an absent id as None (they no longer hold an UNSET marker).
    value = getattr(item, "id", None)
    return value if isinstance(value, Hashable) and value is not None else None


class Paginator(Generic[ItemT, PageT]):
    """Lazily iterate the items of a paged list; ``.pages()`` iterates whole typed pages.

    Args:
        fetch: the page function of the list.
        first: the cursor of the first page.
        max_items: stop after this many items.
        prefetch: how many pages to fetch ahead while the caller works (0 or 1 are sensible).
        key: how to recognise an item seen on an earlier page (default: its ``id``). Discourse
            shifts pages when items arrive while you read; the last ``dedupe_window`` keys are
            remembered, so memory stays flat however long the list.
    """

    def __init__(
        self,
        fetch: PageFunction[ItemT, PageT],
        first: Any,
        *,
        max_items: int | None = None,
        prefetch: int = 0,
        key: Callable[[ItemT], Hashable | None] = _default_key,
        dedupe_window: int = 1000,
    ) -> None:
        if max_items is not None and max_items < 0:
            raise ValueError("max_items must not be negative")
        if prefetch < 0:
            raise ValueError("prefetch must not be negative")
        self._fetch = fetch
        self._first = first
        self._max_items = max_items
        self._prefetch = prefetch
        self._key = key
        self._window = dedupe_window
        self._walk: AsyncGenerator[ItemT, None] | None = None

    def __aiter__(self) -> AsyncIterator[ItemT]:
        """A fresh walk from the first page: ``async for`` over one paginator twice reads the list twice."""
        return self._items()

    async def __anext__(self) -> ItemT:
        """The next item of the paginator's own walk, so ``await anext(dc.topics.iter_latest())`` works.

        The walk is separate from ``async for`` (which starts afresh); it ends with ``StopAsyncIteration``.
        """
        if self._walk is None:
            self._walk = self._items()
        return await anext(self._walk)

    async def aclose(self) -> None:
        """Stop the walk ``anext()`` started (read-ahead pages are cancelled)."""
        if self._walk is not None:
            await self._walk.aclose()

    async def _items(self) -> AsyncGenerator[ItemT, None]:
        remaining = self._max_items
        if remaining == 0:
            return
        seen: set[Hashable] = set()
        order: deque[Hashable] = deque()
        async with contextlib.aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.items:
                    key = self._key(item)
                    if key is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                        order.append(key)
                        if len(order) > self._window:
                            seen.discard(order.popleft())
                    yield item
                    if remaining is not None:
                        remaining -= 1
                        if remaining == 0:
                            return

    async def pages(self) -> AsyncGenerator[Page[ItemT, PageT], None]:
        """Yield whole pages. An empty page, or a page without a next cursor, ends the list.

        Without ``prefetch`` a page is requested only when the previous one has been handed out;
        with ``prefetch=n`` the next ``n`` pages are fetched while the caller works.
        """
        last: asyncio.Future[Page[ItemT, PageT] | None] = asyncio.ensure_future(self._fetch(self._first))
        queue = deque([last])
        try:
            while queue:
                page = await queue.popleft()
                if page is None or not page.items:
                    return
                if page.next is None:
                    yield page
                    return
                while len(queue) < self._prefetch:
                    last = asyncio.ensure_future(self._after(last))
                    queue.append(last)
                yield page
                if not queue:
                    last = asyncio.ensure_future(self._after(last))
                    queue.append(last)
        finally:
            for task in queue:
                task.cancel()
                # Mark a failure of a read-ahead nobody will use as seen (no "never retrieved" noise).
                task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _after(self, previous: asyncio.Future[Page[ItemT, PageT] | None]) -> Page[ItemT, PageT] | None:
        page = await previous
        if page is None or not page.items or page.next is None:
            return None
        return await self._fetch(page.next)


# ------------------------------------------------------------------------------------------------
# The paging schemes of Discourse's lists, used by the generated ``iter_*`` methods
# (codegen/pagination.yaml says which list pages how).

Call = Callable[..., Awaitable[Any]]


def _at(value: Any, path: str) -> Any:
    """The value at a dotted path of a model (``topic_list.topics``); None where a step is missing."""
    for step in path.split(".") if path else ():
        value = getattr(value, step, None)
    return value


def _items(response: Any, path: str) -> list[Any]:
    # A site that sent something else than a list gives no items, not an error.
    value = _at(response, path)
    return list(value) if isinstance(value, list) else []


def _key_of(fields: Sequence[str] | None) -> Callable[[Any], Hashable | None]:
    if not fields:
        return _default_key
    return lambda item: tuple(getattr(item, f, None) for f in fields)


def page_numbers(
    call: Call,
    arguments: dict[str, Any],
    *,
    items: str,
    more: str | None = None,
    total: str | None = None,
    first: int = 0,
    max_items: int | None = None,
    prefetch: int = 0,
) -> Paginator[Any, Any]:
    """``page=`` 0, 1, 2... (or from ``first``).

    The end is an empty page, a missing ``more`` marker, or ``total`` items seen.
    """
    seen = [0]

    async def fetch(page: int) -> Page[Any, Any]:
        response = await call(**arguments, page=page)
        found = _items(response, items)
        seen[0] += len(found)
        if more is not None:
            go_on = bool(_at(response, more))
        elif total is not None:
            count = _at(response, total)
            go_on = not isinstance(count, int) or seen[0] < count
        else:
            go_on = True
        return Page(response, found, page + 1 if found and go_on else None)

    return Paginator(fetch, first, max_items=max_items, prefetch=prefetch)


def offsets(
    call: Call,
    arguments: dict[str, Any],
    *,
    items: str,
    total: str | None = None,
    key: Sequence[str] | None = None,
    max_items: int | None = None,
    prefetch: int = 0,
) -> Paginator[Any, Any]:
    """``offset=`` the items seen so far; the end is an empty page or ``total`` reached."""

    async def fetch(offset: int) -> Page[Any, Any]:
        response = await call(**arguments, offset=offset)
        found = _items(response, items)
        end = offset + len(found)
        count = _at(response, total) if total else None
        go_on = bool(found) and (not isinstance(count, int) or end < count)
        return Page(response, found, end if go_on else None)

    return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch, key=_key_of(key))


def before_ids(
    call: Call, arguments: dict[str, Any], *, items: str, max_items: int | None = None, prefetch: int = 0
) -> Paginator[Any, Any]:
    """``before=`` the smallest id seen: newest first, walking back."""

    async def fetch(before: int | None) -> Page[Any, Any]:
        response = await (call(**arguments, before=before) if before is not None else call(**arguments))
        found = _items(response, items)
        ids = [i for i in (getattr(item, "id", None) for item in found) if isinstance(i, int)]
        return Page(response, found, min(ids) if ids else None)

    return Paginator(fetch, None, max_items=max_items, prefetch=prefetch)


#: How many post ids Discourse serves per /t/{id}/posts.json request (its own chunk size).
POST_CHUNK = 20


def topic_posts(
    call: Call, arguments: dict[str, Any], *, max_items: int | None = None, prefetch: int = 0
) -> Paginator[Any, Any]:
    """A topic's posts: the first chunk and every id from ``get_topic``, then 20 ids a request.

    Memory holds the id list and one chunk, however long the topic.
    """
    topics = call.__self__  # type: ignore[attr-defined] # the namespace, for get_topic_posts
    topic_id = arguments["id"]
    ids: list[int] = []

    async def fetch(offset: int) -> Page[Any, Any]:
        if offset == 0:
            topic = await call(**arguments)
            ids[:] = [i for i in _items(topic, "post_stream.stream") if isinstance(i, int)]
            first = {p.id: p for p in _items(topic, "post_stream.posts") if hasattr(p, "id")}
            chunk = ids[:POST_CHUNK]
            if all(i in first for i in chunk):
                return Page(topic, [first[i] for i in chunk], len(chunk) if len(ids) > len(chunk) else None)
        chunk = ids[offset : offset + POST_CHUNK]
        response = await topics.get_topic_posts(id=topic_id, post_ids=chunk)
        posts = _items(response, "post_stream.posts")
        by_id = {p.id: p for p in posts if hasattr(p, "id")}
        # Discourse answers in its own order and leaves out posts deleted meanwhile: keep stream order.
        ordered = [by_id[i] for i in chunk if i in by_id]
        end = offset + POST_CHUNK
        return Page(response, ordered or posts, end if end < len(ids) else None)

    return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)
