"""When to retry, and how long to wait.

Discourse has no idempotency keys, so a write is retried only when it provably did not reach the
server: a retried POST must never create a second post.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Methods that may be repeated without changing anything on the server (RFC 9110 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Statuses worth repeating a read for: timeouts, limits, and transient server or proxy failures.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: 429 error codes of Discourse's limits that hold every request of the site and credential, so
#: every task sharing the client pauses, not only the one that got the answer.
GLOBAL_LIMIT_CODES = frozenset(
    {
        "admin_api_key_rate_limit",
        "user_api_key_limiter_60_secs",
        "user_api_key_limiter_1_day",
        "ip_10_secs_limit",
        "ip_60_secs_limit",
        "ip_assets_10_secs_limit",
        "ip_assets_60_secs_limit",
        "id_10_secs_limit",
        "id_60_secs_limit",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait.

    Attributes:
        max_retries: retries after errors (2 means at most 3 attempts when each fails). A 429 is
            not an error here: waiting it out is the server's schedule, bounded by
            ``max_rate_limit_wait`` instead.
        max_retry_after: a server-asked wait longer than this raises ``RateLimitError`` at once
            (with ``retry_after`` set) instead of blocking the caller.
        max_rate_limit_wait: the total time one call may spend waiting out 429s (the waits they
            ask for, or the backoff when they ask none, and site-wide pauses); past it the call
            raises ``RateLimitError`` saying how long it waited. The client's own budget waits
            do not count: they are the pace, not a refusal.
        backoff_initial: the first backoff, doubled per retry, when the server gives no wait.
        backoff_max: the cap of the doubled backoff.
    """

    max_retries: int = 2
    max_retry_after: float = 60.0
    max_rate_limit_wait: float = 300.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.max_retry_after < 0 or self.max_rate_limit_wait < 0:
            raise ValueError("max_retries, max_retry_after and max_rate_limit_wait must not be negative")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Exponential backoff with jitter: half fixed, half random, so bots do not retry in step."""
        delay = min(self.backoff_initial * 2.0**retry, self.backoff_max)
        jitter: float = rng.random()
        return delay / 2 + jitter * delay / 2


def retryable_status(method: str, status: int) -> bool:
    """Whether a status is worth another attempt.

    Reads retry every status in RETRY_STATUSES; writes only 429, which Discourse answers before
    running the action.
    """
    if status == 429:
        return True
    return method in IDEMPOTENT_METHODS and status in RETRY_STATUSES


def retryable_failure(method: str, *, request_sent: bool) -> bool:
    """A request with no answer: reads always retry; writes only if the request never left."""
    return method in IDEMPOTENT_METHODS or not request_sent
