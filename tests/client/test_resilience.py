"""Retries that never post twice, Discourse-aware rate limiting, and waits taken from the server."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections import deque
from collections.abc import Callable

import httpx
import pytest

from discourse_async import (
    APIConnectionError,
    APITimeoutError,
    Discourse,
    InternalServerError,
    RateLimitError,
)
from discourse_async._http import parse_retry_after
from discourse_async._limits import PROXY_LIMITS, MemoryStore, RateLimit

KEY = "admin-key-that-must-stay-secret"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Virtual time: sleeping advances it at once and records how long each sleep was."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def make(handler: Handler, clock: FakeClock | None = None, **kwargs: object) -> Discourse:
    kwargs.setdefault("rate_limits", None)
    return Discourse(
        "https://forum.example.com",
        api_key=KEY,
        api_username="system",
        transport=httpx.MockTransport(handler),
        clock=clock or FakeClock(),
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def topic() -> dict[str, object]:
    return {"id": 1, "title": "A topic title long enough"}


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``responses`` in order (the last one repeats)."""
    queue = deque(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


JSON_429 = httpx.Response(
    429,
    json={
        "errors": ["You’ve performed this action too many times. Please wait 12 seconds before trying again."],
        "error_type": "rate_limit",
        "extras": {"wait_seconds": 12, "time_left": "12 seconds"},
    },
    headers={"Retry-After": "12", "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate_limit"},
)
JSON_429_NO_HEADER = httpx.Response(
    429, json={"errors": ["slow down"], "error_type": "rate_limit", "extras": {"wait_seconds": 9}}
)
TEXT_429 = httpx.Response(
    429,
    text="Slow down, too many requests from this IP address. Please retry again in 10 seconds. "
    "Error code: ip_10_secs_limit.",
    headers={"Retry-After": "10"},
)
TEXT_429_NO_HEADER = httpx.Response(429, text="Please retry again in 4 seconds.")
HTML_429 = httpx.Response(429, html="<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>")


@pytest.mark.parametrize(
    ("shape", "expected_wait"),
    [
        (JSON_429, 12.0),
        (JSON_429_NO_HEADER, 9.0),
        (TEXT_429, 10.0),
        (TEXT_429_NO_HEADER, 4.0),
        (HTML_429, None),  # no hint: exponential backoff
    ],
    ids=["json", "json-extras-only", "text", "text-body-only", "html-proxy"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_each_429_shape_is_waited_out_and_retried(
    shape: httpx.Response, expected_wait: float | None, method: str
) -> None:
    handler, seen = scripted(shape, httpx.Response(200, json={"id": 5, "topic_id": 1}))
    clock = FakeClock()
    async with make(handler, clock) as dc:
        if method == "GET":
            response = await dc.posts.with_raw_response.get_post(id="5")
        else:
            response = await dc.posts.with_raw_response.create_post(raw="A reply that is long enough.", topic_id=1)
    assert len(seen) == 2, "one 429, then the retry that succeeded"
    assert response.retries_taken == 1
    assert response.parse().id == 5
    waits = [s for s in clock.sleeps if s > 0]
    if expected_wait is None:
        assert len(waits) >= 1 and 0.25 <= waits[0] <= 0.5  # first backoff: 0.5 s with jitter
    else:
        assert expected_wait in waits


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.ReadTimeout("read timed out"), APITimeoutError),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), APIConnectionError),
        (httpx.ReadError("connection reset by peer"), APIConnectionError),
        (httpx.Response(502, html="<html><title>502 Bad Gateway</title></html>"), InternalServerError),
        (httpx.Response(500, json={"errors": ["boom"]}), InternalServerError),
        (httpx.Response(503, text="down"), InternalServerError),
        (httpx.Response(504, text="gateway timeout"), InternalServerError),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_a_write_that_may_have_been_processed_is_sent_exactly_once(
    failure: Exception | httpx.Response, error: type[Exception], method: str
) -> None:
    handler, seen = scripted(failure, httpx.Response(200, json={"id": 5}))
    async with make(handler, max_retries=5) as dc:
        with pytest.raises(error) as info:
            if method == "POST":
                await dc.posts.create_post(raw="A reply that is long enough.", topic_id=1)
            elif method == "PUT":
                await dc.posts.update_post(id="5", post={"raw": "Edited text that is long enough."})
            else:
                await dc.topics.delete_topic(id="1")
    assert len(seen) == 1, f"{method} must not be repeated after it may have reached Discourse"
    if isinstance(info.value, APIConnectionError):
        assert info.value.request_sent is True


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")]
)
async def test_a_write_that_never_left_is_retried(failure: Exception) -> None:
    handler, seen = scripted(failure, httpx.Response(200, json={"id": 5, "topic_id": 1}))
    async with make(handler) as dc:
        response = await dc.posts.with_raw_response.create_post(raw="A reply that is long enough.", topic_id=1)
    assert len(seen) == 2
    assert response.retries_taken == 1


async def test_get_503_three_times_raises_after_max_retries_plus_one_attempts() -> None:
    handler, seen = scripted(httpx.Response(503, text="Service Unavailable"))
    async with make(handler) as dc:
        assert dc.max_retries == 2
        with pytest.raises(InternalServerError) as info:
            await dc.topics.get_topic(id="1")
    assert len(seen) == 3
    assert info.value.status_code == 503


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("t"),
        httpx.ConnectError("c"),
        httpx.RemoteProtocolError("p"),
        httpx.Response(408, text="timeout"),
        httpx.Response(500, text="x"),
        httpx.Response(502, text="x"),
        httpx.Response(504, text="x"),
    ],
)
async def test_reads_retry_network_errors_and_transient_statuses(failure: Exception | httpx.Response) -> None:
    handler, seen = scripted(failure, httpx.Response(200, json=topic()))
    async with make(handler) as dc:
        response = await dc.topics.with_raw_response.get_topic(id="1")
    assert len(seen) == 2 and response.retries_taken == 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_client_errors_are_not_retried(status: int) -> None:
    handler, seen = scripted(httpx.Response(status, json={"errors": ["no"]}))
    async with make(handler) as dc:
        with pytest.raises(Exception, match=str(status)):
            await dc.topics.get_topic(id="1")
    assert len(seen) == 1


async def test_max_retries_zero_and_per_call_options() -> None:
    handler, seen = scripted(httpx.Response(503, text="down"), httpx.Response(200, json=topic()))
    async with make(handler) as dc:
        with pytest.raises(InternalServerError):
            await dc.with_options(max_retries=0).topics.get_topic(id="1")
        assert len(seen) == 1
        assert (await dc.topics.get_topic(id="1")).id == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0", 0.0),
        ("-1", None),
        ("3", 3.0),
        ("2.5", 2.5),
        ("garbage", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        ("99999999999", 86400.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: go now
    ],
)
def test_retry_after_values_are_safe(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date_in_the_future() -> None:
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    wait = parse_retry_after(header, now=now)
    assert wait is not None and 29 <= wait <= 31


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, text="down", headers={"Retry-After": "7"}),
        httpx.Response(503, json={"errors": ["read only"], "extras": {"wait_seconds": 7}}),
        httpx.Response(503, text="Under maintenance, retry in 7 seconds"),
    ],
)
async def test_a_503_waits_as_long_as_it_asks(answer: httpx.Response) -> None:
    handler, seen = scripted(answer, httpx.Response(200, json=topic()))
    clock = FakeClock()
    async with make(handler, clock) as dc:
        await dc.topics.get_topic(id="1")
    assert len(seen) == 2
    assert clock.sleeps == [7.0]


@pytest.mark.parametrize("header", ["0", "-1", "garbage", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_odd_retry_after_headers_still_retry(header: str) -> None:
    handler, seen = scripted(
        httpx.Response(429, json={"errors": ["x"], "error_type": "rate_limit"}, headers={"Retry-After": header}),
        httpx.Response(200, json=topic()),
    )
    clock = FakeClock()
    async with make(handler, clock) as dc:
        await dc.topics.get_topic(id="1")
    assert len(seen) == 2
    assert all(0 <= s <= 8 for s in clock.sleeps)


async def test_a_long_wait_raises_at_once_instead_of_blocking() -> None:
    handler, seen = scripted(
        httpx.Response(429, json={"errors": ["wait"], "error_type": "rate_limit"}, headers={"Retry-After": "3600"})
    )
    clock = FakeClock()
    async with make(handler, clock) as dc:
        with pytest.raises(RateLimitError) as info:
            await dc.topics.get_topic(id="1")
    assert info.value.retry_after == 3600
    assert "max_retry_after" in str(info.value)
    assert len(seen) == 1
    assert not [s for s in clock.sleeps if s > 1]


async def test_a_retry_logs_one_line_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="discourse_async")
    handler, _ = scripted(httpx.Response(502, text="bad gateway"), httpx.Response(200, json=topic()))
    async with make(handler) as dc:
        await dc.topics.get_topic(id="1")
    retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retry_lines) == 1
    assert "get_topic" in retry_lines[0] and "502" in retry_lines[0]
    assert KEY not in " ".join(r.getMessage() for r in caplog.records)


async def test_a_global_429_pauses_every_task_sharing_the_client() -> None:
    clock = FakeClock()
    sent_at: list[float] = []
    first = True

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal first
        sent_at.append(clock.now())
        if first:
            first = False
            return JSON_429  # admin_api_key_rate_limit: 12 s for everyone
        return httpx.Response(200, json=topic())

    async with make(handler, clock) as dc:
        await asyncio.gather(*(dc.topics.get_topic(id=str(i)) for i in range(10)))
    # Ten successful requests, none of them sent during the 12 s pause that began at t=1000.
    after_pause = [t for t in sent_at[1:] if t >= 1012]
    during_pause = [t for t in sent_at[1:] if 1000 < t < 1012]
    assert not during_pause
    assert len(sent_at) >= 11 and len(after_pause) >= 1


async def test_client_side_limit_keeps_500_concurrent_calls_within_the_budget() -> None:
    """500 calls at once against a site allowing 60 per window: all succeed, none gets a 429."""
    window = 0.25  # Discourse's 60 s window, compressed so the test takes a couple of seconds
    budget = 60
    arrivals: deque[float] = deque()
    all_arrivals: list[float] = []
    refused = 0

    def server(request: httpx.Request) -> httpx.Response:
        nonlocal refused
        now = time.monotonic()
        while arrivals and arrivals[0] <= now - window:
            arrivals.popleft()
        if len(arrivals) >= budget:
            refused += 1
            return httpx.Response(
                429,
                json={"errors": ["slow down"], "error_type": "rate_limit", "extras": {"wait_seconds": window}},
                headers={"Retry-After": "1", "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate_limit"},
            )
        arrivals.append(now)
        all_arrivals.append(now)
        return httpx.Response(200, json=topic())

    dc = Discourse(
        "https://forum.example.com",
        api_key=KEY,
        api_username="system",
        transport=httpx.MockTransport(server),
        rate_limits=[RateLimit(budget, window)],
        max_rate_limit_wait=0,  # any 429 would surface as an error
    )
    async with dc:
        results = await asyncio.gather(*(dc.topics.get_topic(id=str(i)) for i in range(500)))
    assert len(results) == 500
    assert refused == 0
    # No sliding window of the server's length ever saw more than the budget.
    worst = max(sum(1 for t in all_arrivals if start <= t < start + window) for start in all_arrivals)
    assert worst <= budget


async def test_memory_store_takes_all_limits_or_none() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    limits = [RateLimit(2, 10.0), RateLimit(3, 100.0)]

    async def call() -> float:
        wait, stamp = await store.take("b", limits)
        if wait == 0:
            await store.settle("b", limits, stamp)  # the request finished at once
        return wait

    assert await call() == 0
    assert await call() == 0
    assert await call() == pytest.approx(10.0)
    clock.t += 10.0
    assert await call() == 0  # the 10 s window freed one
    clock.t += 10.0
    wait = await call()  # the 100 s window is full (3 taken)
    assert 70 < wait <= 80
    await store.pause("b", 5)
    assert await store.paused_for("b") == pytest.approx(5)
    assert await store.paused_for("other") == 0


async def test_a_slot_does_not_expire_while_its_request_is_in_flight() -> None:
    # A request that waits long for a connection must still count: the server has not seen it yet.
    clock = FakeClock()
    store = MemoryStore(clock)
    limits = [RateLimit(2, 1.0)]
    first = await store.take("b", limits)
    second = await store.take("b", limits)
    clock.t += 5.0  # five windows later, both still in flight
    wait, _ = await store.take("b", limits)
    assert wait == pytest.approx(1.0)  # at the soonest, a window after one of them finishes
    await store.settle("b", limits, first[1])
    await store.settle("b", limits, second[1])
    assert (await store.take("b", limits))[0] == pytest.approx(1.0)  # they count from when they finished
    clock.t += 1.0
    assert (await store.take("b", limits))[0] == 0


async def test_default_budgets_follow_the_credential() -> None:
    admin = Discourse("https://a.example", api_key="k", api_username="system")
    user = Discourse("https://a.example", user_api_key="uk")
    anon = Discourse("https://a.example")

    def windows(client: Discourse) -> list[tuple[int, float]]:
        return [(lim.requests, lim.per) for lim in client._path.limiter.limits if lim.burst is None]

    assert windows(admin) == [(60, 60.0)]
    assert windows(user) == [(20, 60.0), (2880, 86400.0)]
    assert windows(anon) == [(50, 10.0), (200, 60.0)]
    for client in (admin, user, anon):  # and the per-IP limits of discourse_docker's nginx
        assert set(PROXY_LIMITS) <= set(client._path.limiter.limits)
    other_admin = Discourse("https://a.example", api_key="k2", api_username="sam")
    # All admin keys of a site share one bucket on the server, so they do here too.
    assert admin._path.limiter.bucket == other_admin._path.limiter.bucket
    assert "uk" not in user._path.limiter.bucket
    for client in (admin, user, anon, other_admin):
        await client.aclose()


async def test_max_concurrency_bounds_requests_in_flight() -> None:
    in_flight = 0
    peak = 0

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1
            return httpx.Response(200, json=topic())

    async with Discourse("https://forum.example.com", transport=Slow(), rate_limits=None, max_concurrency=4) as dc:
        await asyncio.gather(*(dc.topics.get_topic(id=str(i)) for i in range(50)))
    assert peak == 4
