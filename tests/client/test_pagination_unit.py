"""The Paginator itself: laziness, max_items, pages(), read-ahead, de-duplication, stop rules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from discourse_async.pagination import Page, Paginator


@dataclass(frozen=True)
class Item:
    id: int


def pages_of(*sizes: int, start: int = 0) -> tuple[list[list[Item]], list[int]]:
    pages, n = [], start
    for size in sizes:
        pages.append([Item(n + i) for i in range(size)])
        n += size
    return pages, []


def fetcher(pages: list[list[Item]], calls: list[int], *, next_on_last: bool = False):  # type: ignore[no-untyped-def]
    async def fetch(cursor: int) -> Page[Item, str]:
        calls.append(cursor)
        await asyncio.sleep(0)
        items = pages[cursor] if cursor < len(pages) else []
        more = cursor + 1 < len(pages) or next_on_last
        return Page(f"page {cursor}", items, cursor + 1 if more else None)

    return fetch


async def test_items_in_order_and_lazy() -> None:
    pages, calls = pages_of(30, 30, 5)
    paginator = Paginator(fetcher(pages, calls), 0)
    seen = []
    async for item in paginator:
        seen.append(item.id)
        if item.id == 0:
            assert calls == [0], "the second page is not fetched before it is needed"
    assert seen == list(range(65))
    assert calls == [0, 1, 2]


async def test_max_items_stops_fetching() -> None:
    pages, calls = pages_of(30, 30, 30)
    got = [i.id async for i in Paginator(fetcher(pages, calls), 0, max_items=31)]
    assert got == list(range(31))
    assert calls == [0, 1]
    assert [i async for i in Paginator(fetcher(pages, []), 0, max_items=0)] == []


async def test_pages_view() -> None:
    pages, calls = pages_of(3, 3, 1)
    got = [(p.response, len(p.items)) async for p in Paginator(fetcher(pages, calls), 0).pages()]
    assert got == [("page 0", 3), ("page 1", 3), ("page 2", 1)]


async def test_an_empty_page_ends_even_if_a_marker_says_more() -> None:
    pages, calls = pages_of(2, 0)
    got = [i.id async for i in Paginator(fetcher(pages, calls, next_on_last=True), 0)]
    assert got == [0, 1]
    assert calls == [0, 1]


async def test_duplicates_from_shifted_pages_are_dropped() -> None:
    shifted = [[Item(1), Item(2), Item(3)], [Item(3), Item(4), Item(5)], [Item(5), Item(6)]]
    got = [i.id async for i in Paginator(fetcher(shifted, []), 0)]
    assert got == [1, 2, 3, 4, 5, 6]


async def test_dedupe_memory_is_bounded() -> None:
    pages, _ = pages_of(*([100] * 20))
    paginator = Paginator(fetcher(pages, []), 0, dedupe_window=50)
    assert sum([1 async for _ in paginator]) == 2000


async def test_prefetch_fetches_the_next_page_while_the_caller_works() -> None:
    pages, calls = pages_of(5, 5, 5)
    paginator = Paginator(fetcher(pages, calls), 0, prefetch=1)
    it = paginator.pages()
    first = await it.__anext__()
    assert first.response == "page 0"
    await asyncio.sleep(0.01)  # the caller "works"; the read-ahead runs meanwhile
    assert calls == [0, 1]
    rest = [p.response async for p in it]
    assert rest == ["page 1", "page 2"]
    assert calls == [0, 1, 2]


async def test_breaking_out_cancels_the_read_ahead() -> None:
    pages, calls = pages_of(5, 5, 5, 5)
    async for item in Paginator(fetcher(pages, calls), 0, prefetch=2):
        if item.id == 2:
            break
    await asyncio.sleep(0.01)
    assert len(calls) <= 3


async def test_errors_propagate() -> None:
    async def fetch(cursor: int) -> Page[Item, str]:
        if cursor == 1:
            raise RuntimeError("boom")
        return Page("p", [Item(cursor)], cursor + 1)

    with pytest.raises(RuntimeError, match="boom"):
        [i async for i in Paginator(fetch, 0)]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_items"):
        Paginator(fetcher([], []), 0, max_items=-1)
    with pytest.raises(ValueError, match="prefetch"):
        Paginator(fetcher([], []), 0, prefetch=-1)
