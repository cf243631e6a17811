"""Event hooks: what every call did, for metrics systems, tracing and a bot's own logging.

Give the client objects with these methods (subclass :class:`Hooks` and override the ones you
need; the others do nothing)::

    class CountRetries(Hooks):
        def on_retry(self, call: Call, wait: float, reason: str) -> None:
            retries[call.name] += 1

    dc = Discourse(url, api_key=KEY, api_username="system", hooks=[CountRetries()])

Each method gets the :class:`Call` it belongs to. Hooks run inline on the request path, so keep
them quick; one that raises is logged and the call goes on. Hooks never see a credential or a
body: URLs are given without their query string.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["Call", "Hooks", "WaitKind"]

log = logging.getLogger("discourse_async")

#: ``"budget"``: the client-side rate limit; ``"pause"``: every request of the site and
#: credential is held after a site-wide 429.
WaitKind = Literal["budget", "pause"]


class Call:
    """One call of an operation (or of ``request()``), from its start to its outcome.

    Attributes:
        operation: the operation (``"get_topic"``), or ``"GET /path"`` for ``request()``.
        name: ``"topics.get_topic"``: namespace and method (the operation for raw calls).
        method: the HTTP method of the first request.
        route: the route template (``"/t/{id}.json"``), None for raw calls.
        server_address: the site's host.
        server_port: the site's port.
        username: who an admin key acts as (``api_username``, or ``"id:<n>"`` /
            ``"external:<id>"``); None for user API keys and anonymous clients.
        budget: the client-side rate-limit bucket the call draws on (``"admin"``, ``"user"``,
            ``"anonymous"``), None when client-side limiting is off.
        store: the type of the rate-limit store (``"MemoryStore"``, ``"RedisStore"``...).
        started: the client clock's time when the call started.
        ended: the client clock's time when it ended (set before ``on_finish``).
        attempts: attempts so far (an attempt and the redirects it follows count once).
        requests: HTTP requests sent so far, redirects included.
        retries: retries so far.
        status_code: the status of the last response received (None before the first).
        error: what the last request that got no answer raised (None if none).
        state: a place for hooks to keep their own per-call values (key it by your hook).
    """

    __slots__ = (
        "attempts",
        "budget",
        "ended",
        "error",
        "method",
        "name",
        "operation",
        "requests",
        "retries",
        "route",
        "server_address",
        "server_port",
        "started",
        "state",
        "status_code",
        "store",
        "username",
    )

    def __init__(  # noqa: PLR0917 - built by the request path only
        self,
        operation: str,
        name: str,
        method: str,
        route: str | None,
        server_address: str,
        server_port: int,
        username: str | None,
        budget: str | None,
        store: str,
        started: float,
    ) -> None:
        self.operation = operation
        self.name = name
        self.method = method
        self.route = route
        self.server_address = server_address
        self.server_port = server_port
        self.username = username
        self.budget = budget
        self.store = store
        self.started = started
        self.ended: float | None = None
        self.error: BaseException | None = None
        self.attempts = 0
        self.requests = 0
        self.retries = 0
        self.status_code: int | None = None
        self.state: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"<Call {self.name} attempts={self.attempts} retries={self.retries} status={self.status_code}>"


class Hooks:
    """The event hooks of a call; every method does nothing until overridden.

    In order: ``on_start``; then for each HTTP request (each attempt, and each redirect it
    follows) ``on_request`` and, when an answer came, ``on_response``; ``on_wait`` before each
    wait for rate-limit budget or for a site-wide pause; ``on_retry`` when another attempt is
    scheduled; ``on_finish`` once, with the error the call raises or None.
    """

    def on_start(self, call: Call) -> None:
        """The call starts (before it waits for any budget)."""

    def on_request(self, call: Call, method: str, url: str, resend: int) -> None:
        """A request is about to be sent; ``url`` has no query string; ``resend`` counts earlier ones."""

    def on_response(self, call: Call, status_code: int, elapsed: float, size: int) -> None:
        """A response arrived after ``elapsed`` seconds, with a body of ``size`` bytes."""

    def on_retry(self, call: Call, wait: float, reason: str) -> None:
        """Another attempt will be made after ``wait`` seconds, for ``reason``."""

    def on_wait(self, call: Call, seconds: float, reason: str, kind: WaitKind) -> None:
        """The call waits ``seconds`` for rate-limit budget (``"budget"``) or a site-wide pause (``"pause"``)."""

    def on_finish(self, call: Call, error: BaseException | None) -> None:
        """The call ends: ``error`` is what it raises, None when it succeeded."""


class WaitCallback(Hooks):
    """The client's ``on_wait(seconds, reason)`` option, as a hook."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def on_wait(self, call: Call, seconds: float, reason: str, kind: WaitKind) -> None:
        """Call ``on_wait(seconds, reason)``."""
        self.callback(seconds, reason)


#: The methods every hook has (a :class:`Hooks` subclass has them all).
EVENTS = ("on_start", "on_request", "on_response", "on_retry", "on_wait", "on_finish")


def check(hooks: Sequence[Any]) -> tuple[Hooks, ...]:
    """The hooks a client was given, each checked to have every method (else a TypeError naming what lacks)."""
    if isinstance(hooks, Hooks) or not isinstance(hooks, Sequence | set | frozenset):
        raise TypeError("hooks= takes a list of Hooks objects, e.g. hooks=[MyHooks()]")
    for hook in hooks:
        missing = [name for name in EVENTS if not callable(getattr(hook, name, None))]
        if missing:
            raise TypeError(
                f"{hook!r} is not a hook: it lacks {', '.join(missing)} (subclass discourse_async.hooks.Hooks)"
            )
    return tuple(hooks)


def emit(hooks: Sequence[Hooks], event: str, *args: Any) -> None:
    """Call ``event`` on every hook; a hook that raises is logged, and the call goes on."""
    for hook in hooks:
        try:
            getattr(hook, event)(*args)
        except Exception:
            log.exception("discourse_async: the %s hook of %r failed", event, hook)
