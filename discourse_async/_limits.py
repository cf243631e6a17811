"""Client-side rate limiting that mirrors Discourse's own limits.

Discourse counts requests in sliding windows (its ``RateLimiter`` keeps the timestamps of the last
``max`` requests and refuses one more inside ``secs``). The client keeps the same kind of log per
bucket, so a bot waits for budget instead of earning 429s. Buckets are keyed by site origin and
credential scope: all admin keys of a site share one bucket (as on the server), each user API key
has its own, anonymous callers share the per-IP one.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "ADMIN_LIMITS",
    "ANONYMOUS_LIMITS",
    "USER_API_KEY_LIMITS",
    "Clock",
    "MemoryStore",
    "RateLimit",
    "RateLimitStore",
    "SystemClock",
]


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` requests in any window of ``per`` seconds."""

    requests: int
    per: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per <= 0:
            raise ValueError("a rate limit needs requests >= 1 and per > 0")


#: Discourse's defaults (site settings ``max_admin_api_reqs_per_minute``, ``max_user_api_reqs_per_minute``,
#: ``max_user_api_reqs_per_day``, ``max_reqs_per_ip_per_10_seconds``, ``max_reqs_per_ip_per_minute``).
ADMIN_LIMITS: tuple[RateLimit, ...] = (RateLimit(60, 60.0),)
USER_API_KEY_LIMITS: tuple[RateLimit, ...] = (RateLimit(20, 60.0), RateLimit(2880, 86400.0))
ANONYMOUS_LIMITS: tuple[RateLimit, ...] = (RateLimit(50, 10.0), RateLimit(200, 60.0))


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

        Returns ``(0, stamp)`` when taken (``stamp`` is the store's time for :meth:`settle`), else
        ``(seconds to wait, 0)`` and nothing is taken: the rest of a pause of the bucket, or the
        time until a slot frees. With no limits it only checks for a pause.
        """
        ...

    async def settle(self, bucket: str, limits: Sequence[RateLimit], taken_at: float) -> None:
        """Move a slot taken at ``taken_at`` to now, when its request has finished.

        The server counts a request when it processes it, which is later than when the client took
        the slot; restamping at completion keeps the client's window behind the server's.
        """
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
            key = (bucket, limit)
            log = self._logs.setdefault(key, [])
            expired = bisect.bisect_right(log, now - limit.per)
            del log[:expired]
            if len(log) + self._in_flight.get(key, 0) >= limit.requests:
                # A finished slot leaves the window `per` after it finished; one in flight, `per`
                # after it finishes at the soonest. Look again then (RedisStore waits the same).
                wait = max(wait, log[0] + limit.per - now if log else limit.per)
        if wait > 0:
            return wait, 0.0
        for limit in limits:
            key = (bucket, limit)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return 0.0, now

    async def settle(self, bucket: str, limits: Sequence[RateLimit], taken_at: float) -> None:
        """See :meth:`RateLimitStore.settle`.

        Here a slot is not in the window's log while its request is in flight (it counts apart, and
        cannot expire while the request still waits for a connection); it enters the log, stamped
        now, when the request finishes.
        """
        now = self._clock.now()
        for limit in limits:
            key = (bucket, limit)
            if self._in_flight.get(key, 0) > 0:
                self._in_flight[key] -= 1
            bisect.insort(self._logs.setdefault(key, []), now)

    async def pause(self, bucket: str, seconds: float) -> None:
        """See :meth:`RateLimitStore.pause`."""
        until = self._clock.now() + seconds
        self._paused_until[bucket] = max(until, self._paused_until.get(bucket, 0.0))

    async def paused_for(self, bucket: str) -> float:
        """See :meth:`RateLimitStore.paused_for`."""
        return max(self._paused_until.get(bucket, 0.0) - self._clock.now(), 0.0)


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
    ) -> float | None:
        """Return once this request may be sent (pause over, a slot taken in every limit).

        Returns the time the slot was taken (for :meth:`done`), or None when nothing is counted.
        Raises :class:`PauseTooLong` when the bucket is paused for more than ``max_pause`` seconds.
        Each wait logs one line and calls ``notify``: a caller is never held in silence. The first
        budget wait over ``WARN_AFTER`` seconds is a WARNING naming the budget and its option.
        """
        # The in-memory store answers without awaiting: skip a coroutine per request.
        memory = self.store if isinstance(self.store, MemoryStore) else None
        while True:
            if memory is not None:
                wait, taken_at = memory.take_now(self.bucket, self.limits)
            else:
                wait, taken_at = await self.store.take(self.bucket, self.limits)
            if wait <= 0:
                return taken_at if self.limits else None
            paused = await self.store.paused_for(self.bucket)
            if paused > max_pause:
                raise PauseTooLong(paused)
            kind: Literal["budget", "pause"]
            level = logging.INFO
            if paused > 0:
                kind = "pause"
                reason = "Discourse asked every request of this site and credential to pause (429)"
            else:
                kind = "budget"
                budget = ", ".join(f"{limit.requests} per {limit.per:g}s" for limit in self.limits)
                reason = f"client-side rate limit ({budget}; rate_limits= changes it)"
                if wait > WARN_AFTER and not self.warned:
                    self.warned = True
                    level = logging.WARNING
            log.log(level, "%s: waiting %.1fs: %s", operation, wait, reason)
            if notify is not None:
                notify(wait, reason, kind)
            await self.clock.sleep(wait)

    async def done(self, taken_at: float | None) -> None:
        """The request of a slot finished: restamp the slot at the current time."""
        if taken_at is not None:
            await self.store.settle(self.bucket, self.limits, taken_at)

    async def pause(self, seconds: float) -> None:
        """Hold every request of this bucket (all tasks sharing the store) for ``seconds``."""
        await self.store.pause(self.bucket, seconds)
