"""A fleet of worker processes sharing one site's budget through a real Redis.

N processes (not tasks) with one admin key each call the fake Discourse (uvicorn on 127.0.0.1).
The site allows 60 requests per window (compressed from a minute); the workers share a RedisStore.

Nothing here depends on how fast the machine is: each assertion follows from the order of events
(a request reaches the fake after its worker's limiter let it go; a pause written to Redis before
a worker starts holds that worker), never from a duration being short enough, and a failure names
the worker, the call and what it got.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.redis_server import REDIS_SERVER, SKIP_REASON, RedisProcess

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=SKIP_REASON)
pytest.importorskip("redis")
pytest.importorskip("starlette")

from discourse_async.testing import FakeDiscourse, serve  # noqa: E402
from tests import fleet_worker  # noqa: E402

WINDOW = 1.0
BUDGET = 60
WORKERS = 3
# Per worker: more than one window's budget, so no worker (even one that started long before the
# others) can be done within the first window: 270 calls in all, four and a half windows' worth.
CALLS = 90
#: How long the site asks the fleet to pause (its Retry-After) in the pause test.
PAUSE = 5.0
#: How long to wait for a worker's message before failing (a deadline for a hung worker, not a timing).
DEADLINE = 300.0


@pytest.fixture
async def site() -> AsyncIterator[tuple[FakeDiscourse, str]]:
    fake = FakeDiscourse()
    fake.seed_topics(1)
    async with fake.serve() as url:
        yield fake, url


class Fleet:
    """Worker processes and the queue they report on."""

    def __init__(self, url: str, key: str, redis_url: str) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.out: Any = self.ctx.Queue()
        self.base = {"url": url, "key": key, "redis_url": redis_url, "budget": BUDGET, "window": WINDOW}
        self.procs: dict[str, Any] = {}
        self.messages: list[tuple[str, str, Any]] = []

    def start(self, name: str, go: Any = None, **cfg: Any) -> None:
        config = self.base | {"name": name, "calls": CALLS} | cfg
        proc = self.ctx.Process(target=fleet_worker.run, args=(config, self.out, go), name=name)
        proc.start()
        self.procs[name] = proc

    async def wait_for(self, kind: str, names: list[str]) -> dict[str, Any]:
        """Each named worker's message of this kind (kept messages of other kinds for later)."""
        found = {name: data for k, name, data in self.messages if k == kind and name in names}
        deadline = time.monotonic() + DEADLINE
        while set(found) != set(names):
            try:
                kind_, name, data = await asyncio.to_thread(self.out.get, True, 1.0)
            except queue.Empty:
                dead = [n for n, p in self.procs.items() if n in names and n not in found and not p.is_alive()]
                missing = sorted(set(names) - set(found))
                assert time.monotonic() < deadline and not dead, f"no {kind!r} from {missing} (dead: {dead})"
                continue
            self.messages.append((kind_, name, data))
            if kind_ == kind and name in names:
                found[name] = data
        return found

    async def results(self) -> dict[str, dict[str, Any]]:
        found = await self.wait_for("result", list(self.procs))
        for proc in self.procs.values():
            await asyncio.to_thread(proc.join, 30)
        return found


def no_errors(results: dict[str, dict[str, Any]]) -> None:
    errors = [e for r in results.values() for e in r["errors"]]
    assert not errors, "calls that failed:\n" + "\n".join(errors[:20])
    done = {name: r["done"] for name, r in results.items()}
    assert all(r["done"] == CALLS for r in results.values()), f"calls done per worker: {done}"


def per_window(fake: FakeDiscourse) -> list[int]:
    served = sorted(r.at for r in fake.requests if not r.rate_limited)
    start = served[0]
    counts = Counter(int((t - start) // WINDOW) for t in served)
    return [counts[i] for i in range(max(counts) + 1)]


async def test_workers_share_one_budget(site: tuple[FakeDiscourse, str]) -> None:
    fake, url = site
    fake.set_rate_limit(BUDGET, WINDOW, scope="admin")
    redis = RedisProcess()
    redis.start()
    try:
        fleet = Fleet(url, fake.admin_api_key, redis.url)
        for n in range(WORKERS):
            fleet.start(f"worker{n + 1}")
        results = await fleet.results()
    finally:
        redis.stop()
    no_errors(results)
    refused = [r for r in fake.requests if r.rate_limited]
    worst = fake.max_requests_in_window(WINDOW)
    print(
        f"\n{WORKERS} worker processes, {WORKERS * CALLS} calls, budget {BUDGET}/{WINDOW}s: "
        f"per window {per_window(fake)}, worst sliding window {worst}, refused {len(refused)}"
    )
    # A slot stays taken in Redis from before its request is sent until a window after its answer came
    # back, so requests that reach the fake within one window all held a slot at once: at most BUDGET,
    # however late any of them arrived.
    assert worst <= BUDGET
    assert not refused, [f"{r.method} {r.path} at +{r.at - fake.requests[0].at:.3f}s" for r in refused[:5]]


async def pause_key_ttl(redis_url: str) -> tuple[float, int]:
    """(when asked, milliseconds left) of the fleet's pause key in Redis, once a worker has written it."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            keys = await client.keys("*|pause")
            if keys:
                asked = time.time()
                left = int(await client.pttl(keys[0]))
                if left > 0:
                    return asked, left
            assert time.monotonic() < deadline, "no worker wrote the pause to Redis after the site's 429"
            await asyncio.sleep(0.01)
    finally:
        await client.aclose()


async def test_a_global_429_seen_by_one_worker_pauses_the_others(site: tuple[FakeDiscourse, str]) -> None:
    fake, url = site
    names = ["first", "second", "third"]
    for name in names:  # each worker acts as its own admin, so the fake's log tells who sent what
        fake.create_user(name, admin=True)
    # The site has no admin budget left: the first worker's call gets a site-wide 429
    # (admin_api_key_rate_limit) asking the fleet to wait PAUSE seconds.
    fake.set_rate_limit(0, PAUSE, scope="admin", error_code="admin_api_key_rate_limit")
    redis = RedisProcess()
    redis.start()
    try:
        fleet = Fleet(url, fake.admin_api_key, redis.url)
        go = {name: fleet.ctx.Event() for name in names}
        fleet.start("first", go["first"], username="first", calls=1)
        for name in names[1:]:
            fleet.start(name, go[name], username=name)
        await fleet.wait_for("ready", names)
        go["first"].set()
        asked, left_ms = await pause_key_ttl(redis.url)
        # Redis keeps the key at least until then (its clock is this machine's, counted in whole ms).
        pause_ends = asked + left_ms / 1000 - 0.001
        fake.rate_limits.clear()  # the site has room again: only the shared pause holds anyone back now
        for name in names[1:]:
            go[name].set()
        started = await fleet.wait_for("started", names[1:])
        results = await fleet.results()
    finally:
        redis.stop()
    no_errors({name: r for name, r in results.items() if name != "first"})
    assert results["first"]["errors"] == [] and results["first"]["done"] == 1, results["first"]
    refused = [r for r in fake.requests if r.rate_limited]
    assert [(r.username, r.status) for r in refused] == [("first", 429)], "one 429, to the first worker's call"
    early = [
        f"{r.username}: {r.method} {r.path} reached the site {pause_ends - r.at:.3f}s before the pause ended"
        for r in fake.requests
        if r.username in names[1:] and r.at < pause_ends
    ]
    print(
        f"\npause of {left_ms} ms seen in Redis; the others started "
        f"{', '.join(f'{pause_ends - t:.2f}s' for t in started.values())} before it ended; sent early: {len(early)}"
    )
    assert not early, "\n".join(early[:10])
    # The check above only means something if the others were calling while the pause held.
    assert all(t < pause_ends for t in started.values()), f"the others started after the pause ended: {started}"


class KillRedisOnRequest:
    """The fake, behind a gate that kills Redis as the ``n``-th request arrives (before it is served)."""

    def __init__(self, fake: FakeDiscourse, redis: RedisProcess, n: int) -> None:
        self.fake, self.redis, self.n = fake, redis, n
        self.seen = 0
        self.killed_at: float | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen += 1
            if self.seen == self.n:
                self.redis.stop()
                self.killed_at = time.time()
        await self.fake(scope, receive, send)


async def test_killing_redis_mid_run_keeps_the_workers_going() -> None:
    fake = FakeDiscourse()
    fake.seed_topics(1)
    redis = RedisProcess()
    redis.start()
    # Redis dies as the budget's worth of requests has arrived: every worker still has calls to make
    # (each has CALLS > BUDGET), however the machine scheduled them.
    gate = KillRedisOnRequest(fake, redis, BUDGET)
    try:
        async with serve(gate) as url:
            fleet = Fleet(url, fake.admin_api_key, redis.url)
            for n in range(WORKERS):
                fleet.start(f"worker{n + 1}")
            results = await fleet.results()
    finally:
        redis.stop()
    no_errors(results)
    assert gate.killed_at is not None
    finished = {name: r["finished"] for name, r in results.items()}
    assert all(t > gate.killed_at for t in finished.values()), f"they went on after Redis died: {finished}"
    fell_back = {name: r["fell_back_at_end"] for name, r in results.items()}
    assert all(fell_back.values()), f"each worker fell back to its own budget: {fell_back}"
