"""Client-side rate limiting that mirrors Discourse's own limits.

Discourse counts requests in sliding windows (its ``RateLimiter`` keeps the timestamps of the last
``max`` requests and refuses one more inside ``secs``). The client keeps the same kind of log per
bucket, so a bot waits for budget instead of earning 429s. Buckets are keyed by site origin and
credential scope: all admin keys of a site share one bucket (as on the server), each user API key
has its own, anonymous callers share the per-IP one.

A limit with a ``burst`` is a leaky bucket instead, as nginx's ``limit_req`` counts (the proxy in
front of every Discourse of ``discourse_docker`` limits each IP that way): requests go out at its
rate, up to ``burst`` of them ahead. Calls wait for the time their slot is due, each its own, so a
queue of waiting calls is released at the budget's rate, never all at once.

On top of the budgets, each bucket adapts to what the server admits: a 429 that limits the whole
site lowers the bucket's rate (to a share of what was going out when it came), and the rate rises
slowly while no 429 comes (AIMD, as TCP does). Only a 429 for a request sent at the new rate
lowers it again, so a wave of 429s for requests already out or already paced counts once.

State lives behind :class:`RateLimitStore`, so many processes can share one budget (a Redis store
is a drop-in replacement); :class:`MemoryStore` is the per-client default.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "ADMIN_LIMITS",
    "ANONYMOUS_LIMITS",
    "PROXY_LIMITS",
    "USER_API_KEY_LIMITS",
    "Clock",
    "MemoryStore",
    "RateLimit",
    "RateLimitStore",
    "SystemClock",
]


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` requests in any window of ``per`` seconds.

    With ``burst``, a leaky bucket instead (nginx's ``limit_req ... burst=N nodelay``): requests
    go out at ``requests / per`` a second, ``burst`` of them at once at most. Discourse counts in
    windows; its nginx in leaky buckets (which admit ``burst + 1`` at once: one below is kept,
    as the client cannot see when its requests arrive).
    """

    requests: int
    per: float
    burst: int | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per <= 0:
            raise ValueError("a rate limit needs requests >= 1 and per > 0")
        if self.burst is not None and self.burst < 0:
            raise ValueError("a rate limit's burst must not be negative")

    @property
    def interval(self) -> float:
        """Seconds between two requests at this limit's pace."""
        return self.per / self.requests

    @property
    def tolerance(self) -> float:
        """How far ahead of its pace a leaky bucket lets a request go: ``burst`` go out at once."""
        return max((self.burst or 0) - 1, 0) * self.interval


#: The per-IP limits of discourse_docker's ``templates/web.ratelimited.template.yml``, included by
#: its default ``standalone.yml``: ``limit_req`` zones of 12 r/s (burst 12) and 200 r/m (burst 100),
#: both ``nodelay``, each excess answered 429 (a refused request is not counted). The client's
#: buckets send ``burst`` at once, one fewer than nginx admits. (Its ``limit_conn`` of 20
#: connections per IP bounds the pool instead.)
PROXY_LIMITS: tuple[RateLimit, ...] = (RateLimit(12, 1.0, burst=12), RateLimit(200, 60.0, burst=100))
#: A window of Discourse's, paced: the window holds the count, the bucket spreads it out (a short
#: burst, then one request per ``per / requests`` seconds instead of the whole window at once).
_PACE_BURST = 5

#: Discourse's defaults (site settings ``max_admin_api_reqs_per_minute``, ``max_user_api_reqs_per_minute``,
#: ``max_user_api_reqs_per_day``, ``max_reqs_per_ip_per_10_seconds``, ``max_reqs_per_ip_per_minute``),
#: each minute-scale window paced, with the proxy's limits of a default install.
ADMIN_LIMITS: tuple[RateLimit, ...] = (RateLimit(60, 60.0), RateLimit(60, 60.0, burst=_PACE_BURST), *PROXY_LIMITS)
USER_API_KEY_LIMITS: tuple[RateLimit, ...] = (
    RateLimit(20, 60.0),
    RateLimit(20, 60.0, burst=_PACE_BURST),
    RateLimit(2880, 86400.0),
    *PROXY_LIMITS,
)
ANONYMOUS_LIMITS: tuple[RateLimit, ...] = (
    RateLimit(50, 10.0),
    RateLimit(200, 60.0),
    RateLimit(200, 60.0, burst=_PACE_BURST * 4),
    *PROXY_LIMITS,
)

#: Adaptive pacing: a 429 sets the rate to this share of what was going out; it then grows by
#: ``RAISE`` a second while no 429 comes (20% in about 9 s), never below ``MIN_RATE`` a second.
CUT = 0.8
RAISE = 1.02
MIN_RATE = 0.2


_TINY = 5e-324


class Clock(Protocol):
    """Time source of the limiter and the retry loop (injectable so tests can compress time)."""

    def now(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running event loop."""
        await asyncio.sleep(seconds)


class RateLimitStore(Protocol):
    """Where budgets and pauses live. Implementations must make ``take`` atomic per bucket."""

    async def take(self, bucket: str, limits: Sequence[RateLimit]) -> tuple[float, float]:
        """Take one request from every limit of ``bucket``, or none of them.

        Returns ``(delay, stamp)`` with ``stamp`` non-zero when taken: the request goes out after
        ``delay`` seconds (0, or the time its paced slot is due), and ``stamp`` is the store's time
        for :meth:`settle`. Else ``(seconds to wait, 0)`` and nothing is taken: the rest of a pause
        of the bucket, or the time until a slot of a window frees. With no limits it checks for a
        pause and paces to the bucket's adapted rate.
        """
        ...

    async def settle(self, bucket: str, limits: Sequence[RateLimit], taken_at: float, counted: bool = True) -> None:
        """Move a slot taken at ``taken_at`` to now, when its request has finished.

        The server counts a request when it processes it, which is later than when the client took
        the slot; restamping at completion keeps the client's window behind the server's. With
        ``counted=False`` (the request was refused with a 429, which neither Discourse nor nginx
        counts) the slot is given back instead.
        """
        ...

    async def throttled(self, bucket: str, taken_at: float) -> None:
        """A request taken at ``taken_at`` got a 429 for the whole bucket: lower its rate (see the module)."""
        ...

    async def pause(self, bucket: str, seconds: float) -> None:
        """Hold every request of ``bucket`` for ``seconds`` (a global 429 was seen)."""
        ...

    async def paused_for(self, bucket: str) -> float:
        """Seconds left of a pause of ``bucket`` (0 when not paused)."""
        ...


class MemoryStore:
    """Sliding-window logs and pauses in this process (the default; one per client)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        # Sorted timestamps of the requests inside each window (at most `requests` of them).
        self._logs: dict[tuple[str, RateLimit], list[float]] = {}
        self._in_flight: dict[tuple[str, RateLimit], int] = {}
        # Leaky buckets: the time the next request is due at the bucket's pace (GCRA's TAT).
        self._due: dict[tuple[str, RateLimit], float] = {}
        self._adaptive: dict[str, Adaptive] = {}
        self._paused_until: dict[str, float] = {}

    async def take(self, bucket: str, limits: Sequence[RateLimit]) -> tuple[float, float]:
        """See :meth:`RateLimitStore.take`; atomic because nothing here awaits."""
        return self.take_now(bucket, limits)

    def take_now(self, bucket: str, limits: Sequence[RateLimit]) -> tuple[float, float]:
        """:meth:`take` without a coroutine, for the request path's fast path."""
        now = self._clock.now()
        paused = self._paused_until.get(bucket, 0.0) - now
        if paused > 0:
            return paused, 0.0
        wait = 0.0
        for limit in limits:
            if limit.burst is not None:
                continue
            key = (bucket, limit)
            log = self._logs.setdefault(key, [])
            expired = bisect.bisect_right(log, now - limit.per)
            del log[:expired]
            if len(log) + self._in_flight.get(key, 0) >= limit.requests:
                # A finished slot leaves the window `per` after it finished; one in flight, `per`
                # after it finishes at the soonest. Look again then (RedisStore waits the same).
                # A slot leaving the window just now (to within float rounding) still holds it:
                # never a wait of 0 with the window full.
                wait = max(wait, log[0] + limit.per - now if log else limit.per, 1e-6)
        if wait > 0:
            return wait, 0.0
        # The slot is taken now; it goes out when every bucket's pace allows.
        start = now
        for limit in limits:
            if limit.burst is not None:
                start = max(start, self._due.get((bucket, limit), now) - limit.tolerance)
        adaptive = self._adaptive.get(bucket)
        if adaptive is None:
            adaptive = self._adaptive[bucket] = Adaptive()
        start = max(start, adaptive.due)
        adaptive.sent(start, now)
        for limit in limits:
            key = (bucket, limit)
            if limit.burst is None:
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
            else:
                self._due[key] = max(self._due.get(key, now), start) + limit.interval
        # The stamp is the time the slot is due (a 429 for a slot due before the last cut of the
        # rate was paced at the old rate, and says nothing of the new one). Non-zero says "taken":
        # a clock that starts at 0 (a test's) still gets a non-zero one.
        return start - now, start or _TINY

    async def settle(self, bucket: str, limits: Sequence[RateLimit], taken_at: float, counted: bool = True) -> None:
        """See :meth:`RateLimitStore.settle`."""
        self.settle_now(bucket, limits, counted=counted)

    def settle_now(self, bucket: str, limits: Sequence[RateLimit], *, counted: bool = True) -> None:
        """:meth:`settle` without a coroutine.

        Here a slot is not in the window's log while its request is in flight (it counts apart, and
        cannot expire while the request still waits for a connection); it enters the log, stamped
        now, when the request finishes. A slot given back leaves a leaky bucket one interval earlier.
        """
        now = self._clock.now()
        for limit in limits:
            key = (bucket, limit)
            if limit.burst is not None:
                if not counted and key in self._due:
                    self._due[key] -= limit.interval
                continue
            if self._in_flight.get(key, 0) > 0:
                self._in_flight[key] -= 1
            if counted:
                bisect.insort(self._logs.setdefault(key, []), now)

    async def throttled(self, bucket: str, taken_at: float) -> None:
        """See :meth:`RateLimitStore.throttled`."""
        self.throttled_now(bucket, taken_at)

    def throttled_now(self, bucket: str, taken_at: float) -> None:
        """:meth:`throttled` without a coroutine."""
        adaptive = self._adaptive.get(bucket)
        if adaptive is None:
            adaptive = self._adaptive[bucket] = Adaptive()
        adaptive.cut(self._clock.now(), taken_at)

    def rate(self, bucket: str) -> float | None:
        """The adapted rate of ``bucket`` in requests a second (None before its first 429)."""
        adaptive = self._adaptive.get(bucket)
        return None if adaptive is None else adaptive.current(self._clock.now())

    async def pause(self, bucket: str, seconds: float) -> None:
        """See :meth:`RateLimitStore.pause`."""
        until = self._clock.now() + seconds
        self._paused_until[bucket] = max(until, self._paused_until.get(bucket, 0.0))

    async def paused_for(self, bucket: str) -> float:
        """See :meth:`RateLimitStore.paused_for`."""
        return max(self._paused_until.get(bucket, 0.0) - self._clock.now(), 0.0)


@dataclass
class Adaptive:
    """The adapted rate of one bucket: cut on a 429, raised slowly while none comes."""

    rate: float = math.inf
    changed_at: float = -math.inf  # when the rate was last cut (it grows from then)
    cut_at: float = -math.inf  # the first slot paced at the cut rate: 429s of earlier ones are old news
    due: float = -math.inf  # when the next request may go at the adapted rate
    recent: deque[float] = field(default_factory=deque)  # send times of the last second

    def current(self, now: float) -> float:
        """The rate now: the last cut, raised by ``RAISE`` a second since."""
        if self.rate == math.inf:
            return self.rate
        raised: float = self.rate * RAISE ** max(now - self.changed_at, 0.0)
        return min(raised, 1e6)

    def sent(self, start: float, now: float) -> None:
        """A request was given the slot at ``start``; the next one is due an interval later."""
        recent = self.recent
        recent.append(start)
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        rate = self.current(now)
        if rate < 1e6:
            self.due = max(self.due, start) + 1.0 / rate
        else:
            self.rate = math.inf  # risen out of sight: stop pacing until the next 429

    def cut(self, now: float, taken_at: float) -> None:
        """A 429 for a request due at ``taken_at``: cut the rate, unless it went at the old one."""
        if taken_at < self.cut_at:
            return
        going_out = sum(1 for t in self.recent if now - 1.0 < t <= now)
        self.rate = max(CUT * min(self.current(now), max(going_out, 1)), MIN_RATE)
        self.changed_at = now
        # Whatever was reserved ahead at the old rate keeps its slot; new ones follow at the new one.
        self.due = self.cut_at = max(self.due, now)


def bucket_name(origin: str, scope: str, credential: str | None = None) -> str:
    """A store key for a site and credential scope. Credentials appear only as a short hash."""
    if credential is None:
        return f"{origin}|{scope}"
    digest = hashlib.sha256(credential.encode()).hexdigest()[:16]
    return f"{origin}|{scope}|{digest}"


log = logging.getLogger("discourse_async")

#: ``on_wait(seconds, reason)``: called before each wait for budget or for a pause.
WaitHook = Callable[[float, str], object]
#: What the limiter tells a call's hooks before each wait: ``(seconds, reason, kind)``.
WaitNotice = Callable[[float, str, Literal["budget", "pause"]], None]
#: The first budget wait longer than this in a client's life is logged at WARNING (a budget that
#: holds a bot back for seconds is a setting to look at); later ones at INFO.
WARN_AFTER = 5.0


class PauseTooLong(Exception):
    """Every request of the bucket is paused for longer than the caller will wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused for {seconds:g}s")
        self.seconds = seconds


class Limiter:
    """Waits for budget and honours pauses before each request of one bucket."""

    def __init__(
        self,
        store: RateLimitStore,
        bucket: str,
        limits: Sequence[RateLimit],
        clock: Clock,
        max_concurrency: int | None = None,
    ) -> None:
        self.store = store
        self.bucket = bucket
        self.limits = tuple(limits)
        self.clock = clock
        self.semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.warned = False  # whether a long budget wait was logged at WARNING yet

    async def wait_for_turn(
        self, operation: str = "request", max_pause: float = math.inf, notify: WaitNotice | None = None
    ) -> tuple[float, float]:
        """Return once this request may be sent (pause over, a slot taken in every limit and due).

        Returns the store's stamp of the slot (for :meth:`done` and :meth:`throttled`) and the
        seconds spent waiting out pauses (the 429s' share of the wait, which the caller bounds).
        Raises :class:`PauseTooLong` when the bucket is paused for more than ``max_pause`` seconds.
        Each wait of a second or more logs one line and calls ``notify``: a caller is never held in
        silence. The first budget wait over ``WARN_AFTER`` seconds is a WARNING naming the budget
        and its option.
        """
        # The in-memory store answers without awaiting: skip a coroutine per request.
        memory = self.store if isinstance(self.store, MemoryStore) else None
        paused_for = 0.0
        while True:
            if memory is not None:
                wait, taken_at = memory.take_now(self.bucket, self.limits)
            else:
                wait, taken_at = await self.store.take(self.bucket, self.limits)
            if wait <= 0:
                return taken_at, paused_for
            paused = 0.0 if taken_at else await self.store.paused_for(self.bucket)
            if paused > max_pause:
                raise PauseTooLong(paused)
            kind: Literal["budget", "pause"]
            level = logging.INFO
            if paused > 0:
                kind = "pause"
                reason = "Discourse asked every request of this site and credential to pause (429)"
                paused_for += wait
            else:
                kind = "budget"
                budget = ", ".join(_describe(limit) for limit in self.limits) or "none"
                reason = f"client-side rate limit ({budget}; rate_limits= changes it)"
                if wait > WARN_AFTER and not self.warned:
                    self.warned = True
                    level = logging.WARNING
            if paused > 0 or wait >= 1.0:  # a paced slot a few ms ahead is the normal course
                log.log(level, "%s: waiting %.1fs: %s", operation, wait, reason)
                if notify is not None:
                    notify(wait, reason, kind)
            await self.clock.sleep(wait)
            if taken_at:
                return taken_at, paused_for

    async def done(self, taken_at: float, counted: bool = True) -> None:
        """The request of a slot finished: restamp the slot now, or give it back (``counted=False``)."""
        if self.limits:
            await self.store.settle(self.bucket, self.limits, taken_at, counted)

    async def throttled(self, taken_at: float) -> None:
        """A request taken at ``taken_at`` got a 429 for the whole bucket: lower the bucket's rate."""
        await self.store.throttled(self.bucket, taken_at)

    async def pause(self, seconds: float) -> None:
        """Hold every request of this bucket (all tasks sharing the store) for ``seconds``."""
        await self.store.pause(self.bucket, seconds)


def _describe(limit: RateLimit) -> str:
    if limit.burst is None:
        return f"{limit.requests} per {limit.per:g}s"
    return f"{limit.requests} per {limit.per:g}s paced, burst {limit.burst}"
