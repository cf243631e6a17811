"""A fleet of worker processes sharing one site's budget through a real Redis.

N processes (not tasks) with one admin key each call the fake Discourse (uvicorn on 127.0.0.1).
The site allows 60 requests per window (compressed from a minute); the workers share a RedisStore.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from tests.redis_server import REDIS_SERVER, SKIP_REASON, RedisProcess

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=SKIP_REASON)
pytest.importorskip("redis")
pytest.importorskip("starlette")

from discourse_async.testing import FakeDiscourse  # noqa: E402
from tests import fleet_worker  # noqa: E402

WINDOW = 1.0
BUDGET = 60
WORKERS = 3
# Per worker: more than one window's budget, so no worker (even one that started long before the
# others) can be done within the first window: 270 calls in all, four and a half windows' worth.
CALLS = 90


@pytest.fixture
async def site() -> AsyncIterator[tuple[FakeDiscourse, str]]:
    fake = FakeDiscourse()
    fake.seed_topics(1)
    async with fake.serve() as url:
        yield fake, url


def start_workers(url: str, key: str, redis_url: str) -> tuple[list[multiprocessing.Process], object]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=fleet_worker.run, args=(url, key, redis_url, CALLS, BUDGET, WINDOW, out))
        for _ in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    return procs, out


async def collect(procs: list[multiprocessing.Process], out: object) -> list[dict[str, object]]:
    results = []
    for _ in procs:
        results.append(await asyncio.to_thread(out.get, True, 120))  # type: ignore[attr-defined]
    for proc in procs:
        await asyncio.to_thread(proc.join, 30)
    return results


async def run_fleet(fake: FakeDiscourse, url: str) -> list[dict[str, object]]:
    """Every worker's result, from a clean log, with Redis up for the whole run."""
    redis = RedisProcess()
    redis.start()
    try:
        fake.clear_log()
        procs, out = start_workers(url, fake.admin_api_key, redis.url)
        return await collect(procs, out)
    finally:
        redis.stop()


def per_window(fake: FakeDiscourse) -> list[int]:
    served = sorted(r.at for r in fake.requests if not r.rate_limited)
    start = served[0]
    counts = Counter(int((t - start) // WINDOW) for t in served)
    return [counts[i] for i in range(max(counts) + 1)]


async def test_workers_share_one_budget(site: tuple[FakeDiscourse, str]) -> None:
    fake, url = site
    fake.set_rate_limit(BUDGET, WINDOW, scope="admin")
    results = await run_fleet(fake, url)
    assert [r["errors"] for r in results] == [[]] * WORKERS
    assert sum(int(r["done"]) for r in results) == WORKERS * CALLS  # type: ignore[call-overload]
    refused = sum(1 for r in fake.requests if r.rate_limited)
    worst = fake.max_requests_in_window(WINDOW)
    print(
        f"\n{WORKERS} worker processes, {WORKERS * CALLS} calls, budget {BUDGET}/{WINDOW}s: "
        f"per window {per_window(fake)}, worst sliding window {worst}, refused {refused}"
    )
    assert worst <= BUDGET
    assert refused == 0


async def test_a_global_429_seen_by_one_worker_pauses_the_others(site: tuple[FakeDiscourse, str]) -> None:
    fake, url = site
    # The site allows less than the workers believe: someone will get a site-wide 429.
    fake.set_rate_limit(20, WINDOW, scope="admin", error_code="admin_api_key_rate_limit")
    results = await run_fleet(fake, url)
    assert sum(int(r["done"]) for r in results) == WORKERS * CALLS  # type: ignore[call-overload]
    refused = [r for r in fake.requests if r.rate_limited]
    served = sorted(r.at for r in fake.requests if not r.rate_limited)
    assert refused
    first = min(r.at for r in refused)
    # Requests already in flight when the 429 was sent may land just after it; after that, nobody
    # (in any process) asks again until the site's Retry-After (1 s) has passed.
    during_pause = [t for t in served if first + 0.1 < t < first + 0.9]
    print(
        f"\nfirst 429 at +{first - served[0]:.2f}s; {len(refused)} refused in all; "
        f"served during the pause: {len(during_pause)}"
    )
    assert during_pause == []


async def test_killing_redis_mid_run_keeps_the_workers_going(site: tuple[FakeDiscourse, str]) -> None:
    fake, url = site
    redis = RedisProcess()
    redis.start()
    procs, out = start_workers(url, fake.admin_api_key, redis.url)
    # Kill it mid-run: once a window's worth is served (however long the workers took to start).
    deadline = time.monotonic() + 60
    while len(fake.requests) < BUDGET and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    redis.stop()
    killed_at = time.time()
    results = await collect(procs, out)
    assert sum(int(r["done"]) for r in results) == WORKERS * CALLS  # type: ignore[call-overload]
    assert all(r["errors"] == [] for r in results)
    assert all(float(r["finished"]) > killed_at for r in results), "they went on after Redis died"  # type: ignore[arg-type]
    assert any(r["fell_back_at_end"] for r in results)
