"""Stopping a bot cleanly: ``aclose(drain=...)`` lets calls in flight finish, cancels the rest at
the deadline, and never lets a write happen twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from discourse_async import APIConnectionError, ClientClosedError

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from discourse_async.testing import FakeDiscourse

ENGINES = ["builtin", "httpx", "aiohttp"]


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeDiscourse, str]]:
    fake = FakeDiscourse()
    fake.create_user("alice", trust_level=4)
    fake.seed_topics(1)
    async with fake.serve() as url:
        yield fake, url


async def settled(fake: FakeDiscourse) -> None:
    """Wait until the fake has answered every request it received (a cut client does not stop it)."""
    for _ in range(600):
        if all(r.processed or r.status for r in fake.requests):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the fake still holds requests")


@pytest.mark.parametrize("engine", ENGINES)
async def test_200_writes_closed_with_a_2s_deadline_each_happen_once_or_never(
    served: tuple[FakeDiscourse, str], engine: str
) -> None:
    fake, url = served
    topic_id = next(iter(fake.store.topics))
    # Every write takes 0.3 s at the server and ten are out at a time: 200 need at least 6 s, so
    # the 2 s deadline comes with some done, some at the server, and most never sent.
    fake.add_fault("POST", "/posts.json", delay=0.3)
    fake.clear_log()
    dc = fake.client("alice", base_url=url, engine=engine, max_concurrency=10, max_retries=3)
    raws = [f"Reply number {i} of the drain test, long enough to post." for i in range(200)]
    calls = [asyncio.create_task(dc.posts.create_post(topic_id=topic_id, raw=raw)) for raw in raws]
    await asyncio.sleep(0)  # every call has started
    await dc.aclose(drain=2.0)
    assert all(call.done() for call in calls)  # aclose returns once every call has ended
    with pytest.raises(ClientClosedError):
        await dc.posts.create_post(topic_id=topic_id, raw="A call after close is refused at once.")
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    await settled(fake)

    stored: dict[str, int] = {}
    for post in fake.store.posts.values():
        stored[post.raw] = stored.get(post.raw, 0) + 1
    done, unsent, maybe = [], [], []
    for raw, outcome in zip(raws, outcomes, strict=True):
        if isinstance(outcome, ClientClosedError):
            unsent.append(raw)
        elif isinstance(outcome, APIConnectionError) and outcome.request_sent:
            maybe.append(raw)
        else:
            assert not isinstance(outcome, BaseException), outcome
            assert outcome.raw == raw
            done.append(raw)
    assert all(count == 1 for count in stored.values())  # no write twice
    assert all(stored.get(raw) == 1 for raw in done)  # what the bot saw done, happened once
    assert not any(raw in stored for raw in unsent)  # what it was told was not sent, never happened
    assert all(stored.get(raw, 0) <= 1 for raw in maybe)
    # Nothing was retried: each write reached the server at most once.
    posts = fake.count_requests("POST", "/posts.json")
    assert len(done) <= posts <= len(done) + len(maybe)
    assert done, "the calls in flight were not let finish"
    assert unsent, "200 writes of 0.3 s, ten at a time, cannot all finish in 2 s"
    assert len(done) + len(unsent) + len(maybe) == 200


async def test_a_drain_with_nothing_in_flight_closes_at_once(served: tuple[FakeDiscourse, str]) -> None:
    fake, url = served
    dc = fake.client("alice", base_url=url)
    await dc.site.get_site()
    await dc.aclose(drain=3600)  # returns without waiting: nothing is in flight
    with pytest.raises(ClientClosedError):
        await dc.site.get_site()


async def test_calls_that_finish_in_time_are_not_cut(served: tuple[FakeDiscourse, str]) -> None:
    fake, url = served
    fake.add_fault("GET", "/site.json", delay=0.2)
    dc = fake.client("alice", base_url=url)
    copy = dc.with_options(max_retries=0)  # a copy's calls are the client's calls
    calls = [asyncio.create_task(client.site.get_site()) for client in (dc, copy) for _ in range(5)]
    await asyncio.sleep(0)
    await dc.aclose(drain=3600)
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []


async def test_a_cut_call_leaves_its_task_running_and_a_cancel_of_the_callers_own_stays_a_cancel(
    served: tuple[FakeDiscourse, str],
) -> None:
    fake, url = served
    fake.add_fault("GET", "/site.json", delay=30)
    dc = fake.client("alice", base_url=url)

    async def worker() -> str:
        try:
            await dc.site.get_site()
        except APIConnectionError as exc:
            return f"went on after the cut (request_sent={exc.request_sent})"
        return "unexpected answer"

    async def at_the_server(count: int) -> None:
        while len(fake.requests) < count:
            await asyncio.sleep(0.01)

    task = asyncio.create_task(worker())
    await at_the_server(1)
    await dc.aclose(drain=0)
    assert await task == "went on after the cut (request_sent=True)"

    dc = fake.client("alice", base_url=url)
    own = asyncio.create_task(dc.site.get_site())
    await at_the_server(2)
    own.cancel()
    with pytest.raises(asyncio.CancelledError):
        await own
    await dc.aclose(drain=0)
