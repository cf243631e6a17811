"""A 429 is a schedule; budgets pace like the nginx in front of Discourse; the rate adapts to 429s.

The proxy is modelled after nginx's ``limit_req`` as its documentation describes it (a leaky
bucket per zone: the excess drains at the zone's rate, a request that would take the excess past
``burst`` is refused and not counted, ``nodelay`` answers the rest at once), not after the client:
the client's schedules are checked against it, in virtual time.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field

import httpx
import pytest

from discourse_async import InternalServerError, RateLimitError
from discourse_async._limits import ADMIN_LIMITS, PROXY_LIMITS, MemoryStore, RateLimit
from tests.client.test_resilience import FakeClock, make, scripted, topic

PROXY_429 = httpx.Response(429, html="<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>")
ASKED_429 = httpx.Response(
    429,
    json={"errors": ["slow down"], "error_type": "rate_limit", "extras": {"wait_seconds": 10}},
    headers={"Retry-After": "10", "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate_limit"},
)


# -------------------------------------------------------------------------------- a 429 is a schedule


async def test_429s_are_waited_out_whatever_max_retries_says() -> None:
    handler, seen = scripted(*[PROXY_429] * 6, httpx.Response(200, json=topic()))
    async with make(handler, FakeClock(), max_retries=0) as dc:
        result = await dc.topics.get_topic(id="1")
    assert result.id == 1
    assert len(seen) == 7


async def test_errors_still_count_against_max_retries() -> None:
    handler, seen = scripted(*[httpx.Response(503)] * 5, httpx.Response(200, json=topic()))
    async with make(handler, FakeClock(), max_retries=2) as dc:
        with pytest.raises(InternalServerError) as info:
            await dc.topics.get_topic(id="1")
    assert "503" in str(info.value)
    assert len(seen) == 3


async def test_a_ceiling_on_the_total_wait_ends_the_call_saying_how_long_it_waited() -> None:
    handler, seen = scripted(*[ASKED_429] * 10)
    clock = FakeClock()
    async with make(handler, clock, max_rate_limit_wait=35) as dc:
        with pytest.raises(RateLimitError) as info:
            await dc.topics.get_topic(id="1")
    # 10 s asked each time: three waits fit in 35 s, a fourth would not.
    assert len(seen) == 4
    assert "waiting 30.0s in total" in str(info.value) and "max_rate_limit_wait=35" in str(info.value)
    assert sum(clock.sleeps) == pytest.approx(30)


async def test_a_pause_counts_towards_the_ceiling_of_the_calls_it_holds() -> None:
    handler, seen = scripted(ASKED_429, httpx.Response(200, json=topic()))
    clock = FakeClock()
    async with make(handler, clock) as dc:
        with pytest.raises(RateLimitError):
            await dc.with_options(max_rate_limit_wait=5).topics.get_topic(id="1")  # the 10 s asked is too long
        with pytest.raises(RateLimitError) as info:  # the site-wide pause is too long for this call too
            await dc.with_options(max_rate_limit_wait=5).topics.get_topic(id="2")
        assert "nothing was sent" in str(info.value)
        assert (await dc.topics.get_topic(id="3")).id == 1  # a call that may wait, waits the pause out
    assert len(seen) == 2


def test_the_ceiling_is_an_option_with_a_default() -> None:
    dc = make(scripted()[0])
    assert dc._path.retry.max_rate_limit_wait == 300
    assert dc.with_options(max_rate_limit_wait=10)._path.retry.max_rate_limit_wait == 10
    with pytest.raises(ValueError, match="max_rate_limit_wait"):
        dc.with_options(max_rate_limit_wait=-1)


# ------------------------------------------------------------------------- nginx's limit_req, modelled


@dataclass
class LimitReq:
    """One ``limit_req zone=... rate=R burst=B nodelay`` for one client address."""

    rate: float  # requests a second
    burst: int
    excess: float = 0.0
    last: float | None = None

    def would_admit(self, t: float) -> float | None:
        """The excess after admitting a request at ``t``, or None if refused."""
        if self.last is None:
            return 0.0
        excess = max(self.excess - self.rate * (t - self.last) + 1, 0.0)
        return None if excess > self.burst else excess


@dataclass
class Nginx:
    """Every zone must admit; only an admitted request is counted (refused ones change nothing)."""

    zones: list[LimitReq]
    refused: int = 0
    admitted: list[float] = field(default_factory=list)

    def request(self, t: float) -> bool:
        excesses = [zone.would_admit(t) for zone in self.zones]
        if any(e is None for e in excesses):
            self.refused += 1
            return False
        for zone, excess in zip(self.zones, excesses, strict=True):
            zone.excess, zone.last = excess or 0.0, t
        self.admitted.append(t)
        return True


def discourse_nginx() -> Nginx:
    """The per-IP zones of discourse_docker's web.ratelimited template: 12 r/s burst 12, 200 r/m burst 100."""
    return Nginx([LimitReq(12, 12), LimitReq(200 / 60, 100)])


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - the simulation moves time itself
        self.t += seconds


def simulate(
    limits: tuple[RateLimit, ...], server: Nginx, *, in_flight: int, seconds: float, latency: float = 0.02
) -> MemoryStore:
    """``in_flight`` callers sending back to back through the store's schedule to ``server``, in virtual time.

    Each caller takes a slot and sends when it is due; the request reaches the server after half
    of ``latency`` and its answer the caller after all of it. On a 429 the caller gives the slot
    back, reports it and waits a backoff of 0.25-0.5 s (as the request path does).
    """
    rng = random.Random(1)
    clock = Clock()
    store = MemoryStore(clock)
    bucket = "site|admin"
    # (time, order, kind, caller, stamp, admitted)
    events: list[tuple[float, int, str, int, float, bool]] = [(0.0, i, "take", i, 0.0, False) for i in range(in_flight)]
    heapq.heapify(events)
    order = in_flight

    def push(t: float, kind: str, caller: int, stamp: float = 0.0, admitted: bool = False) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (t, order, kind, caller, stamp, admitted))

    while events:
        t, _, kind, caller, stamp, admitted = heapq.heappop(events)
        if t > seconds:
            break
        clock.t = t
        if kind == "take":
            wait, stamp = store.take_now(bucket, limits)
            if stamp:
                push(t + max(wait, 0.0) + latency / 2, "arrive", caller, stamp)
            else:
                push(t + wait, "take", caller)
        elif kind == "arrive":
            push(t + latency / 2, "answer", caller, stamp, server.request(t))
        else:
            store.settle_now(bucket, limits, counted=admitted)
            if not admitted:
                store.throttled_now(bucket, stamp)
            push(t if admitted else t + 0.25 + rng.random() * 0.25, "take", caller)
    return store


def test_the_default_budget_never_earns_a_429_from_discourses_nginx_and_uses_the_api_budget() -> None:
    server = discourse_nginx()
    window = RateLimit(60, 60.0)
    simulate(ADMIN_LIMITS, server, in_flight=200, seconds=180)
    assert server.refused == 0
    # Discourse's own window is never overrun either...
    admitted = server.admitted
    assert all(sum(1 for u in admitted if t - window.per < u <= t) <= window.requests for t in admitted)
    # ...and it is used: at least 90% of 60 a minute over the 3 minutes.
    assert len(admitted) >= 0.9 * 180


def test_calls_are_released_at_the_budgets_pace_not_in_a_burst() -> None:
    server = discourse_nginx()
    simulate(ADMIN_LIMITS, server, in_flight=200, seconds=60)
    admitted = server.admitted
    # Five at once at most, then about one a second: no second holds more than the burst.
    assert max(sum(1 for u in admitted if t <= u < t + 1.0) for t in admitted) <= 5
    gaps = [b - a for a, b in itertools.pairwise(admitted[4:])]
    assert min(gaps) >= 0.99


def test_the_proxy_limits_alone_are_met_exactly() -> None:
    server = discourse_nginx()
    simulate(PROXY_LIMITS, server, in_flight=200, seconds=120)
    assert server.refused == 0
    # 200 a minute sustained (after its burst of 100), and nothing more.
    assert 0.95 * (100 + 200 * 2) <= len(server.admitted) <= 100 + 200 * 2 + 1


def test_with_no_limits_the_rate_adapts_to_what_the_server_admits() -> None:
    server = Nginx([LimitReq(100, 12)])
    simulate((), server, in_flight=200, seconds=120)
    late = [t for t in server.admitted if t >= 20]  # after the first waves have taught it the rate
    assert len(late) / 100 >= 85  # >= 85 requests a second sustained against a limit of 100
    assert server.refused < 0.1 * len(server.admitted)


def test_a_refused_request_gives_its_slot_back() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    limits = (RateLimit(2, 60.0), RateLimit(2, 60.0, burst=2))
    for _ in range(10):  # ten refusals in a row: none of them spends the budget
        wait, stamp = store.take_now("b", limits)
        assert wait == 0 and stamp
        store.settle_now("b", limits, counted=False)
    assert store.take_now("b", limits)[0] == 0
    store.settle_now("b", limits)
    assert store.take_now("b", limits)[0] == 0
    store.settle_now("b", limits)
    wait, stamp = store.take_now("b", limits)
    assert wait > 0 and not stamp  # two counted: the window is full


def test_one_wave_of_429s_cuts_the_rate_once() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    stamps = [store.take_now("b", ())[1] for _ in range(50)]
    clock.t = 0.1
    for stamp in stamps:  # fifty 429s for requests all sent before the first came back
        store.throttled_now("b", stamp)
    assert store.rate("b") == pytest.approx(0.8 * 50)
    later = store.take_now("b", ())[1]
    clock.t = 0.2
    store.throttled_now("b", later)  # a request sent after the cut: the rate was still too high
    assert store.rate("b") == pytest.approx(0.8 * 0.8 * 50, rel=0.01)
