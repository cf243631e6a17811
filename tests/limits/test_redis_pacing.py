"""Pacing in Redis: workers share a leaky bucket's schedule, refused slots go back, and one worker's 429 slows all."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from discourse_async import RateLimit
from tests.redis_server import RedisProcess, redis_server

redis = pytest.importorskip("redis")
from discourse_async.redis_store import RedisStore  # noqa: E402


@pytest.fixture
def server() -> Iterator[RedisProcess]:
    with redis_server() as process:
        yield process


async def test_workers_share_one_schedule(server: RedisProcess) -> None:
    a, b = RedisStore(server.url), RedisStore(server.url)
    limits = [RateLimit(10, 1.0, burst=3)]  # 3 at once, then one every 0.1 s
    stamps = []
    for store in (a, b, a, b, a, b):
        _, stamp = await store.take("site|admin", limits)
        assert stamp > 0  # every one is taken: a leaky bucket schedules rather than refuses
        stamps.append(stamp)  # the time each is due (plus the in-flight lease)
    # The first three are due at once (when asked); from the fourth on, 0.1 s apart, whichever worker asked.
    gaps = [round(later - earlier, 3) for earlier, later in itertools.pairwise(stamps)]
    assert all(gap < 0.1 for gap in gaps[:2])
    assert gaps[3:] == [0.1, 0.1]
    assert 0 < gaps[2] <= 0.1
    await a.aclose()
    await b.aclose()


async def test_a_refused_request_gives_its_slot_back(server: RedisProcess) -> None:
    store = RedisStore(server.url)
    limits = [RateLimit(2, 60.0), RateLimit(2, 60.0, burst=2)]
    for _ in range(5):
        delay, stamp = await store.take("b", limits)
        assert delay == 0 and stamp
        await store.settle("b", limits, stamp, counted=False)
    for _ in range(2):
        delay, stamp = await store.take("b", limits)
        assert delay == 0 and stamp
        await store.settle("b", limits, stamp)
    wait, stamp = await store.take("b", limits)
    assert wait > 0 and not stamp  # two counted: the window is full
    await store.aclose()


async def test_one_workers_429_slows_every_worker(server: RedisProcess) -> None:
    a, b = RedisStore(server.url), RedisStore(server.url)
    stamps = [(await a.take("site|admin", []))[1] for _ in range(20)]
    for stamp in stamps:  # a wave of 429s for requests already out: one cut
        await a.throttled("site|admin", stamp)
    rate = await a._redis.hget("discourse-async:site|admin|rate", "rate")
    assert float(rate) == pytest.approx(0.8 * 20)
    # The other worker now goes at that rate: 16 a second, one every 1/16 s.
    due = [(await b.take("site|admin", []))[1] for _ in range(4)]
    gaps = [round(later - earlier, 4) for earlier, later in itertools.pairwise(due)]
    assert gaps == [0.0625, 0.0625, 0.0625]
    await a.aclose()
    await b.aclose()
