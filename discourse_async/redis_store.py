"""A rate-limit store shared by every process and machine that uses one Redis.

    from discourse_async import Discourse
    from discourse_async.redis_store import RedisStore

    store = RedisStore("redis://redis.internal:6379/0")
    dc = Discourse(url, api_key=KEY, api_username="system", rate_limit_store=store)

Discourse counts requests per site and credential (all admin keys of a site share one bucket), so
workers that each keep their own budget overrun it together. With this store they share one:

* each budget is a sliding-window log in a Redis sorted set, checked and taken in one Lua script
  (one round trip, atomic), with time from Redis (``TIME``) so skewed machines agree;
* as with the in-memory store, a request's slot counts while it is in flight (however long it
  waits for a connection) and for a window after it finished, as the server counts it;
* a global pause (a 429 for the whole site) is a key with an expiry that every worker checks in
  the same round trip;
* if Redis cannot be reached, the store falls back to an in-memory budget with a logged warning
  (the bot never blocks forever and never drops requests), and goes back to Redis when it returns.

Needs ``pip install discourse-async[redis]`` (redis-py's asyncio client).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from discourse_async._extras import requires_extra
from discourse_async._limits import MemoryStore, RateLimit

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

log = logging.getLogger("discourse_async")

# KEYS[1] = pause key, KEYS[2..] = one sorted set per limit.
# ARGV[1] = member suffix, ARGV[2] = in-flight lease (us), then pairs (requests, window in us).
# Returns {wait_us, stamp_us}: wait 0 means taken, the slot scored stamp_us until it is settled.
# A slot in flight is scored in the future (now + lease), so it cannot leave the window while its
# request still waits for a connection; settling scores it at the time the request finished.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then
  return {paused * 1000, 0}
end
local lease = tonumber(ARGV[2])
local wait = 0
for i = 2, #KEYS do
  local requests = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= requests then
    local oldest = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
    -- a finished slot leaves a window after it finished; one in flight, a window after it settles
    local w = math.min(oldest + window - now, window)
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return {wait, 0}
end
for i = 2, #KEYS do
  local window = tonumber(ARGV[2 * i])
  redis.call('ZADD', KEYS[i], now + lease, now .. ':' .. ARGV[1])
  redis.call('PEXPIRE', KEYS[i], math.ceil((lease + window) / 1000) + 1000)
end
return {0, now + lease}
"""

# KEYS = one sorted set per limit; ARGV[1] = the stamp (us) of the slot to move to now.
# The stamp went through a float in Python, so it is matched within 1 us; slots taken that close
# together are in flight alike, and settling either of them is the same.
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stamp = tonumber(ARGV[1])
for i = 1, #KEYS do
  local members = redis.call('ZRANGEBYSCORE', KEYS[i], stamp - 1, stamp + 1, 'LIMIT', 0, 1)
  if #members > 0 then
    redis.call('ZADD', KEYS[i], now, members[1])
  end
end
return now
"""

# KEYS[1] = pause key; ARGV[1] = milliseconds. Only ever lengthens a pause.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


class RedisStore:
    """A :class:`~discourse_async.RateLimitStore` in Redis, shared by every worker using it.

    Args:
        url: a redis:// URL (ignored when ``client`` is given).
        client: an existing ``redis.asyncio.Redis``.
        prefix: prefix of every key this store writes.
        retry_after: seconds between attempts to reach Redis again after it failed.
        socket_timeout: how long one Redis call may take before the local budget is used.
        in_flight_lease: how long a request's slot may stay in flight; after that it counts as if
            the request had finished then, and leaves the window one window later. It bounds
            what a worker that dies mid-request holds back: its slots, for the lease plus a window.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Redis | None = None,
        prefix: str = "discourse-async:",
        retry_after: float = 2.0,
        socket_timeout: float = 0.5,
        in_flight_lease: float = 120.0,
    ) -> None:
        if in_flight_lease < 0:
            raise ValueError("in_flight_lease must be >= 0")
        with requires_extra("redis", "RedisStore"):
            from redis.asyncio import Redis
        self._redis: Any = client or Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._prefix = prefix
        self._retry_after = retry_after
        self._lease_us = round(in_flight_lease * 1_000_000)
        self._fallback = MemoryStore()
        self._down_since: float | None = None
        self._next_try = 0.0
        self._take = self._redis.register_script(_TAKE)
        self._settle = self._redis.register_script(_SETTLE)
        self._pause = self._redis.register_script(_PAUSE)
        self._member = secrets.token_hex(6)
        self._counter = 0

    def __repr__(self) -> str:
        return f"<RedisStore prefix={self._prefix!r} {'local fallback' if self._down_since else 'redis'}>"

    @property
    def using_fallback(self) -> bool:
        """Whether Redis is unreachable and the in-memory budget is in use."""
        return self._down_since is not None

    def _keys(self, bucket: str, limits: Sequence[RateLimit]) -> list[str]:
        return [f"{self._prefix}{bucket}|{lim.requests}/{lim.per:g}" for lim in limits]

    def _redis_allowed(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._next_try

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "rate-limit store: Redis unreachable (%s); using a local budget until it returns",
                type(exc).__name__,
            )
        self._next_try = now + self._retry_after

    def _recovered(self) -> None:
        if self._down_since is not None:
            log.warning(
                "rate-limit store: Redis is back after %.1fs; budgets are shared again",
                time.monotonic() - self._down_since,
            )
            self._down_since = None

    async def take(self, bucket: str, limits: Sequence[RateLimit]) -> tuple[float, float]:
        """Take one request from every limit of ``bucket`` (see ``RateLimitStore.take``)."""
        if self._redis_allowed():
            self._counter += 1
            keys = [f"{self._prefix}{bucket}|pause", *self._keys(bucket, limits)]
            args: list[Any] = [f"{self._member}:{self._counter}", self._lease_us]
            for lim in limits:
                args += [lim.requests, int(lim.per * 1_000_000)]
            try:
                wait_us, stamp_us = await self._take(keys=keys, args=args)
            except Exception as exc:  # redis.ConnectionError, TimeoutError, OSError...
                if not _is_connection_error(exc):
                    raise
                self._failed(exc)
            else:
                self._recovered()
                return int(wait_us) / 1_000_000, int(stamp_us) / 1_000_000
        return await self._fallback.take(bucket, limits)

    async def settle(self, bucket: str, limits: Sequence[RateLimit], taken_at: float) -> None:
        """Restamp a finished request's slot at Redis's current time."""
        if not limits:
            return
        if self._down_since is not None:
            await self._fallback.settle(bucket, limits, taken_at)
            return
        try:
            await self._settle(keys=self._keys(bucket, limits), args=[round(taken_at * 1_000_000)])
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            self._failed(exc)

    async def pause(self, bucket: str, seconds: float) -> None:
        """Hold every worker's requests for ``bucket`` for ``seconds``."""
        await self._fallback.pause(bucket, seconds)  # this worker honours it even if Redis is down
        if not self._redis_allowed():
            return
        try:
            await self._pause(keys=[f"{self._prefix}{bucket}|pause"], args=[max(1, int(seconds * 1000))])
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            self._failed(exc)

    async def paused_for(self, bucket: str) -> float:
        """Seconds left of a pause of ``bucket`` (as every worker sees it)."""
        local = await self._fallback.paused_for(bucket)
        if not self._redis_allowed():
            return local
        try:
            left = int(await self._redis.pttl(f"{self._prefix}{bucket}|pause"))
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            self._failed(exc)
            return local
        return max(local, left / 1000 if left > 0 else 0.0)

    async def aclose(self) -> None:
        """Close the connection pool to Redis."""
        await self._redis.aclose()


def _is_connection_error(exc: Exception) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)
