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
* a leaky bucket (nginx's limits) is the time its next request is due, and the rate adapted to
  the site's 429s is a hash: every worker paces to the same schedule, and one worker's 429 slows
  them all;
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
from discourse_async._limits import CUT, MIN_RATE, RAISE, MemoryStore, RateLimit

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

log = logging.getLogger("discourse_async")

# KEYS[1] = pause key, KEYS[2] = the adapted rate (a hash), KEYS[3] = recent send times, KEYS[4..] =
# one key per limit. ARGV[1] = member suffix, ARGV[2] = in-flight lease (us), then triples
# (requests, window in us, burst; -1 for a window). Returns {delay_us, stamp_us}: stamp 0 means
# nothing was taken (wait delay_us and look again); else the request goes out after delay_us,
# and the stamp is the time it is due plus the lease (a throttled request tells its due time).
# A window is a sorted set; a slot in flight is scored in the future (now + lease), so it cannot
# leave the window while its request still waits for a connection; settling scores it at the
# time the request finished. A leaky bucket is the time its next request is due (GCRA's TAT).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then
  return {paused * 1000, 0}
end
local lease = tonumber(ARGV[2])
local wait = 0
for i = 4, #KEYS do
  local j = 3 * i - 9
  local requests, window, burst = tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  if burst < 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    if redis.call('ZCARD', KEYS[i]) >= requests then
      local oldest = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
      -- a finished slot leaves a window after it finished; one in flight, a window after it settles
      local w = math.min(oldest + window - now, window)
      if w > wait then wait = w end
    end
  end
end
if wait > 0 then
  return {wait, 0}
end
local start = now
for i = 4, #KEYS do
  local j = 3 * i - 9
  local requests, window, burst = tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  if burst >= 0 then
    local due = tonumber(redis.call('GET', KEYS[i]) or now)
    start = math.max(start, due - math.max(burst - 1, 0) * window / requests)
  end
end
local adapted = redis.call('HMGET', KEYS[2], 'rate', 'changed_at', 'due')
local rate = nil
if adapted[1] then
  rate = math.min(tonumber(adapted[1]) * RAISE ^ (math.max(now - tonumber(adapted[2]), 0) / 1000000), 1000000)
  start = math.max(start, tonumber(adapted[3]))
end
redis.call('ZADD', KEYS[3], start, now .. ':' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 1000000)
redis.call('PEXPIRE', KEYS[3], 2000)
if rate and rate < 1000000 then
  redis.call('HSET', KEYS[2], 'due', math.max(tonumber(adapted[3]), start) + 1000000 / rate)
end
for i = 4, #KEYS do
  local j = 3 * i - 9
  local requests, window, burst = tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  if burst < 0 then
    redis.call('ZADD', KEYS[i], start + lease, now .. ':' .. ARGV[1])
    redis.call('PEXPIRE', KEYS[i], math.ceil((start - now + lease + window) / 1000) + 1000)
  else
    local interval = window / requests
    local due = math.max(tonumber(redis.call('GET', KEYS[i]) or now), start) + interval
    redis.call('SET', KEYS[i], string.format('%d', due), 'PX', math.ceil((due - now) / 1000) + 1000)
  end
end
return {start - now, start + lease}
""".replace("RAISE", repr(RAISE))

# KEYS = one key per limit; ARGV[1] = the stamp (us) of the slot, ARGV[2] = 1 to restamp it now
# (counted), 0 to give it back (a 429); then one interval (us) per key, -1 for a window.
# The stamp went through a float in Python, so it is matched within 1 us; slots taken that close
# together are in flight alike, and settling either of them is the same.
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stamp = tonumber(ARGV[1])
local counted = ARGV[2] == '1'
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i + 2])
  if interval < 0 then
    local members = redis.call('ZRANGEBYSCORE', KEYS[i], stamp - 1, stamp + 1, 'LIMIT', 0, 1)
    if #members > 0 then
      if counted then
        redis.call('ZADD', KEYS[i], now, members[1])
      else
        redis.call('ZREM', KEYS[i], members[1])
      end
    end
  elseif not counted then
    local due = redis.call('GET', KEYS[i])
    if due then
      redis.call('SET', KEYS[i], string.format('%d', tonumber(due) - interval), 'KEEPTTL')
    end
  end
end
return now
"""

# KEYS[1] = the adapted rate (a hash), KEYS[2] = recent send times; ARGV[1] = when the throttled
# request's slot was due (us). A 429 for a request due before the last cut changes nothing.
_THROTTLE = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local adapted = redis.call('HMGET', KEYS[1], 'rate', 'changed_at', 'due', 'cut_at')
if tonumber(ARGV[1]) < tonumber(adapted[4] or '-1') then
  return 0
end
local going_out = redis.call('ZCOUNT', KEYS[2], now - 1000000, now)
local rate = math.max(going_out, 1)
if adapted[1] then
  local current = tonumber(adapted[1]) * RAISE ^ (math.max(now - tonumber(adapted[2]), 0) / 1000000)
  rate = math.min(rate, current)
end
rate = math.max(CUT * rate, MIN_RATE)
-- slots reserved at the old rate keep theirs; the first at the new rate is the new cut_at
local due = string.format('%d', math.max(tonumber(adapted[3] or '0'), now))
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'changed_at', string.format('%d', now), 'due', due, 'cut_at', due)
redis.call('PEXPIRE', KEYS[1], 3600000)
return 1
""".replace("RAISE", repr(RAISE))
    .replace("CUT", repr(CUT))
    .replace("MIN_RATE", repr(MIN_RATE))
)

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
        self._throttle = self._redis.register_script(_THROTTLE)
        self._member = secrets.token_hex(6)
        self._counter = 0

    def __repr__(self) -> str:
        return f"<RedisStore prefix={self._prefix!r} {'local fallback' if self._down_since else 'redis'}>"

    @property
    def using_fallback(self) -> bool:
        """Whether Redis is unreachable and the in-memory budget is in use."""
        return self._down_since is not None

    def _keys(self, bucket: str, limits: Sequence[RateLimit]) -> list[str]:
        return [
            f"{self._prefix}{bucket}|{lim.requests}/{lim.per:g}" + ("" if lim.burst is None else f"+{lim.burst}")
            for lim in limits
        ]

    def _adaptive_keys(self, bucket: str) -> list[str]:
        return [f"{self._prefix}{bucket}|rate", f"{self._prefix}{bucket}|recent"]

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
            keys = [f"{self._prefix}{bucket}|pause", *self._adaptive_keys(bucket), *self._keys(bucket, limits)]
            args: list[Any] = [f"{self._member}:{self._counter}", self._lease_us]
            for lim in limits:
                args += [lim.requests, int(lim.per * 1_000_000), -1 if lim.burst is None else lim.burst]
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

    async def settle(self, bucket: str, limits: Sequence[RateLimit], taken_at: float, counted: bool = True) -> None:
        """Restamp a finished request's slot at Redis's current time (give it back if not ``counted``)."""
        if not limits:
            return
        if self._down_since is not None:
            await self._fallback.settle(bucket, limits, taken_at, counted)
            return
        args: list[Any] = [round(taken_at * 1_000_000), 1 if counted else 0]
        args += [-1 if lim.burst is None else round(lim.interval * 1_000_000) for lim in limits]
        try:
            await self._settle(keys=self._keys(bucket, limits), args=args)
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            self._failed(exc)

    async def throttled(self, bucket: str, taken_at: float) -> None:
        """Lower the rate every worker sends at to ``bucket`` (see ``RateLimitStore.throttled``)."""
        if self._down_since is not None:
            await self._fallback.throttled(bucket, taken_at)
            return
        try:
            # The stamp is scored a lease ahead while in flight: the slot was due a lease earlier.
            await self._throttle(keys=self._adaptive_keys(bucket), args=[round(taken_at * 1_000_000) - self._lease_us])
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
