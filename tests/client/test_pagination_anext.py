"""A Paginator is an async iterator as well as an async iterable: ``anext()`` works on it."""

from __future__ import annotations

import collections.abc

from discourse_async.pagination import Page, Paginator


async def fetch(cursor: int) -> Page[int, str]:
    pages = [[1, 2], [3]]
    return Page(f"page {cursor}", [], None) if cursor >= len(pages) else Page("p", pages[cursor], cursor + 1)


async def test_anext_walks_the_items_then_stops() -> None:
    paginator = Paginator(fetch, 0, key=lambda item: item)
    assert isinstance(paginator, collections.abc.AsyncIterator)
    assert [await anext(paginator), await anext(paginator), await anext(paginator)] == [1, 2, 3]
    assert await anext(paginator, None) is None
    await paginator.aclose()


async def test_async_for_starts_afresh_beside_anext() -> None:
    paginator = Paginator(fetch, 0, key=lambda item: item)
    assert await anext(paginator) == 1
    assert [item async for item in paginator] == [1, 2, 3]
    assert await anext(paginator) == 2
    await paginator.aclose()


async def test_aclose_before_any_item() -> None:
    await Paginator(fetch, 0).aclose()
