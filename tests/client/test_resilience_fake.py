"""Resilience against the fake Discourse over a real socket: budgets, the three 429 shapes, pauses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from discourse_async import RateLimit, RateLimitError

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from discourse_async.testing import FakeDiscourse

WINDOW = 0.5  # Discourse's 60 s window, compressed; the budget stays 60


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeDiscourse, str]]:
    fake = FakeDiscourse()
    fake.seed_topics(3)
    async with fake.serve() as url:
        yield fake, url


async def test_500_concurrent_calls_within_a_60_per_window_budget(served: tuple[FakeDiscourse, str]) -> None:
    fake, url = served
    fake.set_rate_limit(60, WINDOW, scope="admin")
    fake.clear_log()
    async with fake.client(
        base_url=url, rate_limits=[RateLimit(60, WINDOW)], max_retries=0, max_rate_limit_wait=0
    ) as dc:
        results = await asyncio.gather(*(dc.topics.get_topic(id="1") for _ in range(500)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []  # no RateLimitError surfaced, and max_rate_limit_wait=0: none was even received
    assert sum(1 for r in fake.requests if r.rate_limited) == 0
    worst = fake.max_requests_in_window(WINDOW)
    print(f"500 calls, budget 60 per {WINDOW}s window: at most {worst} in any window, 0 refused")
    assert worst <= 60


@pytest.mark.parametrize(
    ("scope", "shape"),
    [("admin", "json"), ("ip", "text"), ("proxy", "html")],
    ids=["json+Retry-After", "text/plain", "html-no-Retry-After"],
)
async def test_each_429_shape_is_waited_out(served: tuple[FakeDiscourse, str], scope: str, shape: str) -> None:
    fake, url = served
    rule = fake.set_rate_limit(2, 0.4, scope=scope, shape=shape)  # type: ignore[arg-type]
    async with fake.client(base_url=url, max_retries=3) as dc:  # no client-side budget: earn the 429s
        responses = [await dc.topics.with_raw_response.get_topic(id="1") for _ in range(3)]
    assert rule.refused >= 1
    assert sum(r.retries_taken for r in responses) >= 1
    assert all(r.status_code == 200 for r in responses)


async def test_a_global_429_pauses_every_task(served: tuple[FakeDiscourse, str]) -> None:
    fake, url = served
    fake.set_rate_limit(5, 1.0, scope="admin", error_code="admin_api_key_rate_limit")
    fake.clear_log()

    async with fake.client(base_url=url, max_retries=5) as dc:

        async def call_later(delay: float) -> None:
            await asyncio.sleep(delay)
            await dc.topics.get_topic(id="1")

        # Calls trickle in 30 ms apart; the sixth earns a site-wide 429 (Retry-After: 1).
        await asyncio.gather(*(call_later(i * 0.03) for i in range(12)))
    first = next(r for r in fake.requests if r.rate_limited)
    during_pause = [r for r in fake.requests if first.at + 0.05 < r.at < first.at + 0.9]
    # The tasks that started after the 429 arrived waited for the pause instead of asking again.
    assert during_pause == []
    assert sum(1 for r in fake.requests if not r.rate_limited) == 12


async def test_a_long_wait_raises_with_retry_after(served: tuple[FakeDiscourse, str]) -> None:
    fake, url = served
    fake.set_rate_limit(1, 3600, scope="admin")
    async with fake.client(base_url=url, max_retry_after=5) as dc:
        await dc.topics.get_topic(id="1")
        with pytest.raises(RateLimitError) as info:
            await dc.topics.get_topic(id="1")
    assert info.value.retry_after is not None
    assert info.value.retry_after > 5
