"""Test controls of the fake: rate limits in Discourse's three 429 shapes, faults, the request log, the clock."""

from __future__ import annotations

import fnmatch
import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

Shape = Literal["json", "text", "html"]
Scope = Literal["global", "admin", "user_api", "ip", "proxy", "key"]

_DEFAULT_SHAPES: dict[str, Shape] = {
    "global": "json",
    "admin": "json",
    "user_api": "json",
    "key": "json",
    "ip": "text",
    "proxy": "html",
}

#: What nginx in front of a Discourse answers when its own limit trips: HTML, and no Retry-After.
PROXY_429_PAGE = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

_5XX_TITLES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}


def proxy_error_page(status: int) -> str:
    """The HTML page a proxy sends for a 5xx (what clients see when Discourse is down or slow)."""
    title = f"{status} {_5XX_TITLES.get(status, 'Error')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def time_left(seconds: int) -> str:
    """Discourse's RateLimiter wording for a wait."""
    if seconds <= 3:
        return "a few seconds"
    if seconds < 60:
        return f"{seconds} seconds"
    if seconds < 3600:
        minutes = seconds // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours = seconds // 3600
    return "1 hour" if hours == 1 else f"{hours} hours"


@dataclass
class RateLimit:
    """One limit: at most ``limit`` requests per sliding ``window`` seconds in each bucket.

    Buckets follow Discourse: one for all admin keys together, one per user API key, one per client
    IP, one per given key, or one for every request (``global``, and ``proxy`` for a limit in front
    of the site). Refused requests do not use up the budget, as in Discourse's RateLimiter.
    """

    limit: int
    window: float
    scope: Scope
    shape: Shape
    error_code: str | None
    api_key: str | None = None
    refused: int = 0
    _hits: dict[str, deque[float]] = field(default_factory=dict, repr=False)

    def bucket(self, credential: str, key: str | None, ip: str) -> str | None:
        """The bucket a request falls in, or None when this limit does not apply to it."""
        if self.api_key is not None:
            return "key" if key == self.api_key else None
        if self.scope in ("global", "proxy"):
            return "all"
        if self.scope == "ip":
            return ip
        if self.scope == "admin":
            return "admin" if credential == "admin_api_key" else None
        if self.scope == "user_api":
            return key if credential == "user_api_key" else None
        return None

    def wait(self, bucket: str, now: float) -> int | None:
        """Seconds until the bucket has room again, or None if it has room now."""
        hits = self._hits.setdefault(bucket, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            return None
        if not hits:  # a limit of 0: nothing ever gets through
            return max(1, math.ceil(self.window))
        return max(1, math.ceil(self.window - (now - hits[0])))

    def hit(self, bucket: str, now: float) -> None:
        """Count a request that was let through."""
        self._hits.setdefault(bucket, deque()).append(now)


def default_error_code(scope: Scope, window: float) -> str | None:
    """The ``Discourse-Rate-Limit-Error-Code`` Discourse sends for a limit of this kind."""
    if scope in ("admin", "key"):
        return "admin_api_key_rate_limit"
    if scope == "user_api":
        return "user_api_key_limiter_60_secs" if window <= 60 else "user_api_key_limiter_1_day"
    if scope == "ip":
        return "ip_10_secs_limit" if window <= 10 else "ip_60_secs_limit"
    return None


def rate_limited_response(rule: RateLimit, wait: int) -> tuple[str, list[tuple[str, str]], bytes]:
    """(content type, headers, body) of a 429 in the limit's shape."""
    if rule.shape == "html":
        return "text/html", [], PROXY_429_PAGE.encode()
    headers = [("Retry-After", str(wait))]
    if rule.error_code:
        headers.append(("Discourse-Rate-Limit-Error-Code", rule.error_code))
    if rule.shape == "text":
        text = (
            "Slow down, too many requests from this IP address. "
            f"Please retry again in {wait} seconds. Error code: {rule.error_code or 'ip_10_secs_limit'}.\n"
        )
        return "text/plain; charset=utf-8", headers, text.encode()
    # Discourse's message uses a typographic apostrophe; clients matching on text must expect it.
    message = f"You’ve performed this action too many times. Please wait {time_left(wait)} before trying again."  # noqa: RUF001
    body = {
        "errors": [message],
        "error_type": "rate_limit",
        "extras": {"wait_seconds": wait, "time_left": time_left(wait)},
    }
    return "application/json; charset=utf-8", headers, json.dumps(body).encode()


@dataclass
class Fault:
    """A fault for requests whose method and path match (``*`` globs in both).

    Exactly one of: ``delay`` alone (added latency), ``status`` (a proxy's HTML 5xx page), or
    ``drop`` (the connection closes without an answer). ``after=True`` (or ``drop="after"``) lets
    the request be processed first, so a write happens although the client sees a failure. The
    fault fires ``times`` times (forever when None), each time with ``probability``.
    """

    method: str
    path: str
    delay: float = 0.0
    status: int | None = None
    drop: Literal["before", "after"] | None = None
    after: bool = False
    times: int | None = None
    probability: float = 1.0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is one this fault is for (and it has not run out)."""
        if self.times is not None and self.fired >= self.times:
            return False
        return fnmatch.fnmatchcase(method.upper(), self.method.upper()) and fnmatch.fnmatchcase(path, self.path)


@dataclass
class RequestRecord:
    """One request the fake received, and what became of it."""

    method: str
    path: str
    query: str
    at: float
    username: str | None = None
    credential: str = "anonymous"
    status: int = 0
    wrote: bool = False  # whether the state changed: a write happened, whatever the client saw
    processed: bool = False  # whether a handler ran
    rate_limited: bool = False
    fault: str | None = None  # "delay", "status", "drop_before", "drop_after"
    route: str | None = None  # the operation (or route) that served it; None when no route matched


class Controls:
    """The test controls of :class:`FakeDiscourse`: rate limits, faults and the request log."""

    rate_limits: list[RateLimit]
    faults: list[Fault]
    requests: list[RequestRecord]
    webhook_deliveries: list[Any]
    upload_calls: list[tuple[str, dict[str, Any]]]

    def set_rate_limit(
        self,
        limit: int | None = None,
        window: float = 60.0,
        *,
        per_minute: int | None = None,
        scope: Scope = "admin",
        shape: Shape | None = None,
        error_code: str | None = None,
        api_key: str | None = None,
    ) -> RateLimit:
        """Add a rate limit; returns it (its ``refused`` counts the 429s it sent).

        ``scope``: ``admin`` (all admin keys share one bucket, like Discourse's 60/min),
        ``user_api`` (per User API key), ``ip`` (per client address, answered as ``text/plain``),
        ``global`` (every request), ``proxy`` (every request, answered with an HTML page and no
        ``Retry-After``, as nginx does); or ``api_key=`` for one key. ``shape`` (``json``, ``text``,
        ``html``) and ``error_code`` override the scope's defaults. Windows use the fake's clock.
        """
        if per_minute is not None:
            limit, window = per_minute, 60.0
        if limit is None:
            raise ValueError("give limit (with window) or per_minute")
        if limit < 0 or window <= 0:
            raise ValueError("limit must be >= 0 and window > 0")
        if scope not in _DEFAULT_SHAPES:
            raise ValueError(f"unknown scope {scope!r}; use one of {sorted(_DEFAULT_SHAPES)}")
        # Discourse's shape and error code for the scope, unless given
        shape, error_code = shape or _DEFAULT_SHAPES[scope], error_code or default_error_code(scope, window)
        rule = RateLimit(limit, window, "key" if api_key else scope, shape, error_code, api_key)
        self.rate_limits.append(rule)
        return rule

    def use_discourse_rate_limits(self) -> None:
        """Discourse's default limits: admin API 60/min, User API keys 20/min and 2880/day, IP 50/10 s and 200/min."""
        self.set_rate_limit(60, 60, scope="admin")
        self.set_rate_limit(20, 60, scope="user_api")
        self.set_rate_limit(2880, 86400, scope="user_api")
        self.set_rate_limit(50, 10, scope="ip")
        self.set_rate_limit(200, 60, scope="ip")

    def clear_rate_limits(self) -> None:
        """Remove every rate limit."""
        self.rate_limits.clear()

    def add_fault(
        self,
        method: str = "*",
        path: str = "*",
        *,
        delay: float = 0.0,
        status: int | None = None,
        drop: Literal["before", "after"] | None = None,
        after: bool = False,
        times: int | None = None,
        probability: float = 1.0,
    ) -> Fault:
        """Inject a fault into matching requests (``*`` globs); returns it (``fired`` counts uses).

        ``delay`` adds latency; ``status`` (500/502/503/504) answers with a proxy's HTML page;
        ``drop="before"`` closes the connection before the request is processed, ``drop="after"``
        after it was (the write happened, the client sees a broken connection); ``after=True`` does
        the same for ``status``. The first matching fault applies; it stops after ``times`` uses.
        """
        if drop not in (None, "before", "after"):
            raise ValueError("drop must be 'before' or 'after'")
        if status is not None and drop is not None:
            raise ValueError("give status or drop, not both")
        fault = Fault(
            method=method,
            path=path,
            delay=delay,
            status=status,
            drop=drop,
            after=after,
            times=times,
            probability=probability,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def count_requests(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        status: int | None = None,
        wrote: bool | None = None,
    ) -> int:
        """How many logged requests match (``path`` may use ``*`` globs)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or fnmatch.fnmatchcase(r.path, path))
            and (status is None or r.status == status)
            and (wrote is None or r.wrote == wrote)
        )

    def max_requests_in_window(self, window: float, *, processed_only: bool = True) -> int:
        """The most requests (by default: that were not refused) seen in any ``window`` seconds of the clock."""
        times = sorted(r.at for r in self.requests if not processed_only or not r.rate_limited)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def clear_log(self) -> None:
        """Forget logged requests, webhook deliveries and upload calls."""
        self.requests.clear()
        self.webhook_deliveries.clear()
        self.upload_calls.clear()


@dataclass
class ManualClock:
    """A clock that moves only when told: ``FakeDiscourse(clock=clock)``, then ``clock.advance(60)``."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds
