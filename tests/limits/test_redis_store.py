"""RedisStore against a real redis-server: shared budgets, pauses, Redis time, and the fallback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from discourse_async import RateLimit
from tests.redis_server import REDIS_SERVER, SKIP_REASON, RedisProcess, redis_server

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=SKIP_REASON)

redis = pytest.importorskip("redis")
from discourse_async.redis_store import RedisStore  # noqa: E402


@pytest.fixture
def server() -> Iterator[RedisProcess]:
    with redis_server() as process:
        yield process


async def test_two_stores_share_one_budget(server: RedisProcess) -> None:
    """Two stores stand for two worker processes: together they get exactly the budget."""
    a, b = RedisStore(server.url), RedisStore(server.url)
    limits = [RateLimit(5, 60.0)]
    taken = 0
    for store in (a, b, a, b, a, b, a, b):
        wait, stamp = await store.take("site|admin", limits)
        if wait == 0:
            taken += 1
            assert stamp > 1e9  # Redis time (seconds since the epoch), not a worker's monotonic clock
        else:
            assert 59 < wait <= 60
    assert taken == 5
    # Another bucket (another site, or a user key) has its own budget.
    assert (await a.take("other|admin", limits))[0] == 0
    await a.aclose()
    await b.aclose()


async def test_all_limits_or_none(server: RedisProcess) -> None:
    store = RedisStore(server.url)
    limits = [RateLimit(3, 60.0), RateLimit(4, 86400.0)]
    results = [(await store.take("user|k", limits))[0] for _ in range(5)]
    assert results[:3] == [0, 0, 0]
    assert results[3] > 0 and results[4] > 0
    await store.aclose()


async def test_a_slot_in_flight_does_not_leave_the_window(server: RedisProcess) -> None:
    """A request waiting longer than a window (for a connection, say) still holds its slot."""
    store = RedisStore(server.url)
    limits = [RateLimit(1, 0.3)]
    wait, stamp = await store.take("b", limits)
    assert wait == 0
    await asyncio.sleep(0.4)
    wait, _ = await store.take("b", limits)
    assert wait == pytest.approx(0.3)  # at the soonest, a window after it finishes
    await store.settle("b", limits, stamp)
    wait, _ = await store.take("b", limits)
    assert 0 < wait <= 0.3  # the window slides from the settle
    await asyncio.sleep(wait + 0.02)
    assert (await store.take("b", limits))[0] == 0
    await store.aclose()


async def test_the_lease_bounds_what_a_dead_worker_holds(server: RedisProcess) -> None:
    dead, alive = RedisStore(server.url, in_flight_lease=0.2), RedisStore(server.url)
    limits = [RateLimit(1, 0.3)]
    assert (await dead.take("b", limits))[0] == 0  # and it never settles
    assert (await alive.take("b", limits))[0] > 0
    await asyncio.sleep(0.2 + 0.3 + 0.05)
    assert (await alive.take("b", limits))[0] == 0
    with pytest.raises(ValueError, match="in_flight_lease"):
        RedisStore(server.url, in_flight_lease=-1)
    await dead.aclose()
    await alive.aclose()


async def test_settle_moves_a_slot_to_when_its_request_finished(server: RedisProcess) -> None:
    store = RedisStore(server.url)
    limits = [RateLimit(1, 0.5)]
    wait, stamp = await store.take("b", limits)
    assert wait == 0
    await asyncio.sleep(0.3)
    await store.settle("b", limits, stamp)
    wait, _ = await store.take("b", limits)
    assert 0.35 < wait <= 0.5  # counted from the settle, not from the take
    await store.aclose()


async def test_a_pause_holds_every_worker(server: RedisProcess) -> None:
    a, b = RedisStore(server.url), RedisStore(server.url)
    await a.pause("site|admin", 0.5)
    wait, _ = await b.take("site|admin", [RateLimit(100, 60.0)])
    assert 0.3 < wait <= 0.5
    assert 0.3 < await b.paused_for("site|admin") <= 0.5
    await a.pause("site|admin", 0.1)  # a shorter pause never cuts a longer one
    assert await b.paused_for("site|admin") > 0.3
    wait, _ = await b.take("site|admin", [])
    assert wait > 0  # even without limits, a pause holds
    await a.aclose()
    await b.aclose()


async def test_redis_going_away_falls_back_and_recovers(server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="discourse_async")
    store = RedisStore(server.url, retry_after=0.2, socket_timeout=0.2)
    limits = [RateLimit(3, 60.0)]
    assert (await store.take("b", limits))[0] == 0
    server.stop()
    # Never blocks, never drops: the local budget answers at once.
    answers = [await asyncio.wait_for(store.take("b", limits), 2) for _ in range(4)]
    assert store.using_fallback
    assert [w == 0 for w, _ in answers] == [True, True, True, False]
    assert any("Redis unreachable" in r.getMessage() for r in caplog.records)
    server.start()
    await asyncio.sleep(0.3)
    wait, _ = await store.take("b2", limits)
    assert wait == 0
    assert not store.using_fallback
    assert any("Redis is back" in r.getMessage() for r in caplog.records)
    await store.aclose()


async def test_client_uses_the_store(server: RedisProcess) -> None:
    import httpx

    from discourse_async import Discourse

    store = RedisStore(server.url)
    seen = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal seen
        seen += 1
        return httpx.Response(200, json={"id": 1, "title": "A title long enough"})

    async with Discourse(
        "https://forum.example.com",
        api_key="k",
        api_username="system",
        transport=httpx.MockTransport(handler),
        rate_limits=[RateLimit(3, 60.0)],
        rate_limit_store=store,
    ) as dc:
        for _ in range(3):
            await dc.topics.get_topic(id="1")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(dc.topics.get_topic(id="1"), 0.3)  # the fourth waits for budget
    assert seen == 3
    keys = [k.decode() for k in await store._redis.keys("*")]
    assert any("admin" in k for k in keys)
    assert not any(part == "k" for key in keys for part in key.split("|"))  # keys never hold a credential
    await store.aclose()
