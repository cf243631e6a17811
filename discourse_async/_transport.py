"""The one request path.

Every request the client makes (generated operations, raw calls, pagination, uploads' Discourse
calls) goes through :meth:`RequestPath.send`, so credentials, rate limits, retries, redirects and
errors are handled once::

    wait for the rate limit (and any global pause)
      -> send, following same-origin redirects, credentials for the base origin only
      -> 2xx: done | error: retry if safe (never a write that may have been processed) | raise

Each step is told to the client's hooks (``discourse_async.hooks``), OpenTelemetry among them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from discourse_async._engines import Engine, NotSent, RawResponse, Request, dumps, encode_params
from discourse_async._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
)
from discourse_async._http import CREDENTIAL_HEADERS, DEFAULT_PORTS, Origin, retry_after_of, safe_url, status_error
from discourse_async._limits import Clock, Limiter, PauseTooLong
from discourse_async._retries import GLOBAL_LIMIT_CODES, RetryPolicy, retryable_failure, retryable_status
from discourse_async._secrets import Secret
from discourse_async.hooks import Call, Hooks, WaitKind, emit

if TYPE_CHECKING:
    from discourse_async.telemetry import Telemetry

log = logging.getLogger("discourse_async")

DEFAULT_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def origin_of_url(url: str) -> Origin:
    """(scheme, host, port) of an absolute URL, default ports filled in (RFC 6454)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


class Credentials:
    """The credential headers of a client, sent only to its own origin."""

    __slots__ = ("_headers", "acting_as", "kind", "scope")

    def __init__(self, headers: Mapping[str, str | Secret], kind: str, acting_as: str | None = None) -> None:
        self._headers = {name: value if isinstance(value, Secret) else Secret(value) for name, value in headers.items()}
        self.kind = kind
        #: the kind of rate-limit bucket: "admin", "user" or "anonymous"
        self.scope = kind.split(" ", 1)[0] if kind.startswith(("admin", "user")) else "anonymous"
        #: who an admin key acts as, for hooks: a username, "id:<n>" or "external:<id>"
        self.acting_as = acting_as

    def apply(self, headers: dict[str, str]) -> None:
        """Set the credential headers on a request."""
        for name, value in self._headers.items():
            headers[name] = value.reveal()

    def secret(self, name: str) -> Secret | None:
        """The credential sent in header ``name`` (for building another credential from it)."""
        return self._headers.get(name)

    def secret_for_bucket(self) -> str | None:
        """The value that identifies this credential's rate-limit bucket (hashed by the limiter)."""
        for name in ("User-Api-Key", "Api-Key"):
            if name in self._headers:
                return self._headers[name].reveal()
        return None

    def describe(self) -> str:
        """What a 403 ``invalid_access`` should say about the credentials sent (header names, never values)."""
        names = list(self._headers)
        if not names:
            return "no credentials were sent (anonymous client)"
        text = f"credentials sent: {', '.join(names)}"
        if names == ["Api-Key"]:
            text += (
                "; a key bound to one user needs nothing more, but a key for all users needs api_username "
                "(or api_user_id / api_user_external_id)"
            )
        return text + "; check the key and the user it acts as"

    def __repr__(self) -> str:
        return f"<Credentials {self.kind}>"


#: What Discourse says for a refused key or username (``invalid_api_credentials``), and its plain
#: ``invalid_access`` text, which is also all it says for a bad User API key. Any other message is a
#: rule of the site (``You can't act on your own post``): the credentials are not the problem there.
_CREDENTIAL_MESSAGES = ("the api username or key is invalid", "you are not permitted to view the requested resource")


def about_credentials(error: PermissionDeniedError) -> bool:
    """Whether a 403 may be about the credentials sent, rather than a permission rule with its own message."""
    if error.error_type != "invalid_access":
        return False
    messages = [m.strip().lower().rstrip(".") for m in error.errors] or [""]
    return all(m == "" or any(m.startswith(c) for c in _CREDENTIAL_MESSAGES) for m in messages)


class Lifetime:
    """Whether the client (and the copies sharing its pool) has been closed, and its calls in flight.

    ``aclose(drain=...)`` waits for ``calls`` to finish, then cancels the ones left (``cut``); a
    task cancelled while its request was inside the engine is in ``sending`` (it may have
    reached Discourse).
    """

    __slots__ = ("calls", "closed", "cut", "ended", "sending", "waiter")

    def __init__(self) -> None:
        self.closed = False  # no new calls
        self.ended = False  # the engine is closed: no new attempts either
        self.calls: set[asyncio.Task[Any]] = set()
        self.cut: set[asyncio.Task[Any]] = set()
        self.sending: set[asyncio.Task[Any]] = set()
        self.waiter: asyncio.Future[None] | None = None  # set while aclose() waits for calls to end

    async def drain(self, deadline: float) -> None:
        """Wait up to ``deadline`` seconds for the calls in flight, then cancel the rest and wait for them."""
        me = asyncio.current_task()
        if not await self._wait_idle(deadline):
            for task in list(self.calls):
                if task is not me and not task.done():
                    self.cut.add(task)
                    task.cancel()
            # A cut call ends at its next step; the bound only guards against a task that ignores it.
            await self._wait_idle(5.0)

    async def _wait_idle(self, seconds: float) -> bool:
        me = asyncio.current_task()
        if not self.calls - {me}:
            return True
        if self.waiter is None or self.waiter.done():  # two aclose() at once share one waiter
            self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self.waiter), max(seconds, 0.0))
        except TimeoutError:
            return False
        return True

    def leave(self, task: asyncio.Task[Any] | None) -> None:
        """A call of ``task`` ended."""
        self.calls.discard(task)
        self.sending.discard(task)
        waiter = self.waiter
        if waiter is not None and not waiter.done() and not self.calls - {asyncio.current_task()}:
            waiter.set_result(None)


_NAMES: dict[str, tuple[str, str]] = {}


def _name_and_route(operation: str) -> tuple[str, str | None]:
    """``("topics.get_topic", "/t/{id}.json")`` for a generated operation; the operation itself for raw calls."""
    if not _NAMES:
        from discourse_async._generated.api import OPERATIONS

        _NAMES.update({op: (f"{tag}.{op}", route) for op, (tag, _, route) in OPERATIONS.items()})
    # Raw calls ("GET /u/alice.json") are not kept: their paths are many, and may name users.
    return _NAMES.get(operation) or (operation, None)


def strip_credentials(headers: dict[str, str]) -> None:
    """Remove every credential header (ours and any the caller added)."""
    for name in [n for n in headers if n.lower() in CREDENTIAL_HEADERS]:
        del headers[name]


@dataclass
class RequestPath:
    """Sends one logical request: limits, auth for the base origin only, redirects, retries, errors."""

    engine: Engine
    base: str  # the base URL without a trailing slash
    origin: Origin
    headers: dict[str, str]  # default headers of every request (never credentials)
    credentials: Credentials
    timeout: httpx.Timeout
    limiter: Limiter
    clock: Clock
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    rng: random.Random = field(default_factory=random.Random)
    lifetime: Lifetime = field(default_factory=Lifetime)
    hooks: tuple[Hooks, ...] = ()
    telemetry: Telemetry | None = None

    def __post_init__(self) -> None:
        self._observed = self.hooks if self.telemetry is None else (self.telemetry, *self.hooks)

    def _call_for(self, operation: str, method: str) -> tuple[Call | None, tuple[Hooks, ...]]:
        """A :class:`Call` and the hooks that observe it, or (None, ()) when nothing does."""
        telemetry = self.telemetry
        hooks = self._observed if telemetry is not None and telemetry.active() else self.hooks
        if not hooks:
            return None, hooks
        name, route = _name_and_route(operation)
        limiter = self.limiter
        call = Call(
            operation,
            name,
            method,
            route,
            self.origin[1],
            self.origin[2],
            self.credentials.acting_as,
            self.credentials.scope if limiter.limits else None,
            type(limiter.store).__name__,
            self.clock.now(),
        )
        emit(hooks, "on_start", call)
        return call, hooks

    def prepare(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        """Build the request: absolute URL with its query, merged headers, encoded body."""
        if not url.startswith(("http://", "https://")):
            url = self.base + url if url.startswith("/") else f"{self.base}/{url}"
        query = encode_params(params)
        if query:
            url += ("&" if "?" in url else "?") + query
        merged = dict(self.headers)
        if headers:
            merged.update(headers)
        if files is not None or data is not None:
            # Form and multipart bodies are rare (uploads): let httpx encode them.
            built = httpx.Request(method, url, files=files, data=data, json=json, content=content)
            body: bytes | AsyncIterable[bytes] | None = built.read()
            for name in ("Content-Type", "Content-Length"):
                merged.pop(name, None)
                merged.pop(name.lower(), None)
                if name.lower() in built.headers:
                    merged[name] = built.headers[name.lower()]
        elif json is not None:
            body = dumps(json)
            if not any(k.lower() == "content-type" for k in merged):
                merged["Content-Type"] = "application/json"
        else:
            body = content
        return Request(method.upper(), url, merged, body)

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        cookies: Any = None,
        operation: str = "request",
    ) -> tuple[RawResponse, int]:
        """Send a request; return its final 2xx response and how many retries it took.

        Raises a typed error for anything else, after the retries the policy allows.
        """
        if cookies:
            raise TypeError("cookies are not sent by discourse_async; authenticate with API keys")
        if self.lifetime.closed:
            raise ClientClosedError(
                f"{operation}: this Discourse client is closed (aclose() or the end of its `async with`); "
                "create a new client"
            )
        request = self.prepare(
            method, url, params=params, json=json, content=content, data=data, files=files, headers=headers
        )
        call, hooks = self._call_for(operation, request.method)
        lifetime = self.lifetime
        task = asyncio.current_task()
        lifetime.calls.add(task)  # type: ignore[arg-type]
        try:
            result = await self._send_retrying(request, operation, call, hooks)
        except asyncio.CancelledError:
            if task is None or task not in lifetime.cut:
                raise
            lifetime.cut.discard(task)
            if task.uncancel() > 0:  # cancelled by someone else too: theirs wins
                raise
            error = self._cut_error(request, operation, sent=task in lifetime.sending)
            if call is not None:
                self._finish(call, hooks, error)
            raise error from None
        except BaseException as exc:
            if call is not None:
                self._finish(call, hooks, exc)
            raise
        finally:
            lifetime.leave(task)
        if call is not None:
            self._finish(call, hooks, None)
        return result

    def _finish(self, call: Call, hooks: tuple[Hooks, ...], error: BaseException | None) -> None:
        call.ended = self.clock.now()
        emit(hooks, "on_finish", call, error)

    async def _send_retrying(
        self, request: Request, operation: str, call: Call | None, hooks: tuple[Hooks, ...]
    ) -> tuple[RawResponse, int]:
        method = request.method
        retries = 0  # retries after errors, bounded by max_retries
        throttles = 0  # 429s waited out: a schedule, bounded by max_rate_limit_wait instead
        attempt = _Attempt()
        while True:
            try:
                response = await self._attempt(request, operation, call, hooks, attempt)
            except APIConnectionError as exc:
                if (
                    retries >= self.retry.max_retries
                    or self.lifetime.ended
                    or not retryable_failure(method, request_sent=exc.request_sent)
                ):
                    raise
                wait = self.retry.backoff(retries, self.rng)
                reason = exc.message
                retries += 1
            else:
                if 200 <= response.status_code < 300:
                    return response, retries + throttles
                error = status_error(response.to_httpx(), method=method, url=safe_url(request.url))
                if isinstance(error, PermissionDeniedError) and about_credentials(error):
                    # Discourse answers a bad key, a missing username and a wrong one alike: say what went.
                    error.message += f" ({self.credentials.describe()})"
                    error.args = (error.message,)
                if isinstance(error, RateLimitError):
                    # Waiting out a 429 is the server's schedule, not a failure: it does not count
                    # against max_retries, only against the ceiling on a call's total wait.
                    wait = await self._wait_after(error, throttles, attempt)
                    self._check_rate_limit_wait(error, attempt, wait)
                    if self.lifetime.ended:
                        raise error
                    attempt.throttled += wait
                    throttles += 1
                else:
                    wait = await self._wait_after(error, retries, attempt)
                    if (
                        retries >= self.retry.max_retries
                        or self.lifetime.ended
                        or not retryable_status(method, response.status_code)
                    ):
                        raise error
                    retries += 1
                reason = f"{response.status_code} {error.error_type or ''}".strip()
            log.info(
                "%s: retry %d (%d of %d after errors) in %.2fs after %s",
                operation,
                retries + throttles,
                retries,
                self.retry.max_retries,
                wait,
                reason,
            )
            if call is not None:
                call.retries = retries + throttles
                emit(hooks, "on_retry", call, wait, reason)
            await self.clock.sleep(wait)

    def _check_rate_limit_wait(self, error: RateLimitError, attempt: _Attempt, wait: float) -> None:
        """Raise ``error`` when waiting ``wait`` more would take the call past ``max_rate_limit_wait``."""
        ceiling = self.retry.max_rate_limit_wait
        if attempt.throttled + wait <= ceiling:
            return
        error.message += (
            f" (after waiting {attempt.throttled:.1f}s in total for this call's rate limits; another "
            f"{wait:.1f}s would pass max_rate_limit_wait={ceiling:g}s)"
        )
        error.args = (error.message,)
        raise error

    def _cut_error(self, request: Request, operation: str, *, sent: bool) -> APIConnectionError | ClientClosedError:
        """The error of a call that ``aclose(drain=...)`` cancelled at its deadline."""
        if sent:
            return APIConnectionError(
                f"{operation}: the client was closed while this request was in flight (aclose's drain deadline "
                "passed); it may have reached Discourse, so check before repeating a write",
                method=request.method,
                url=safe_url(request.url),
                request_sent=True,
            )
        return ClientClosedError(
            f"{operation}: the client was closed before this call could be sent (aclose's drain deadline passed); "
            "Discourse did not carry it out"
        )

    async def _wait_after(self, error: APIStatusError, retries: int, attempt: _Attempt) -> float:
        """How long to wait before retrying ``error``; for site-wide 429s, slows and pauses the bucket.

        A 429 asking for a longer wait than ``max_retry_after`` raises at once, so a bot is never
        blocked for minutes inside one call.
        """
        asked = error.retry_after if isinstance(error, RateLimitError) else None
        if asked is None and error.status_code == 503:
            asked = retry_after_of(error.response, error.body)
        wait = asked if asked is not None else self.retry.backoff(retries, self.rng)
        if isinstance(error, RateLimitError):
            code = error.response.headers.get("discourse-rate-limit-error-code")
            # A limit on the whole site/credential (or a proxy's page, which has no code) holds every
            # task: the bucket's rate is lowered, so waiting calls go on paced, not all at once. A wait
            # the server asked for holds them all too; a proxy asks none (nginx's limit_req refuses
            # only the excess), so there the rate alone does it. A per-action limit (e.g. creating
            # topics too fast) holds only this call.
            if code in GLOBAL_LIMIT_CODES or not isinstance(error.body, dict):
                await self.limiter.throttled(attempt.taken_at)
                if asked is not None:
                    await self.limiter.pause(wait)
            if asked is not None and asked > self.retry.max_retry_after:
                limit = self.retry.max_retry_after
                error.message += f" (asked to wait {asked:g}s, more than max_retry_after={limit:g}s)"
                error.args = (error.message,)
                raise error
        return wait

    async def _attempt(
        self, request: Request, operation: str, call: Call | None, hooks: tuple[Hooks, ...], attempt: _Attempt
    ) -> RawResponse:
        notify = None
        if call is not None:

            def notify(seconds: float, reason: str, kind: WaitKind) -> None:
                emit(hooks, "on_wait", call, seconds, reason, kind)

        limiter = self.limiter
        max_pause = min(self.retry.max_retry_after, self.retry.max_rate_limit_wait - attempt.throttled)
        try:
            taken_at, paused = await limiter.wait_for_turn(operation, max_pause, notify)
        except PauseTooLong as exc:
            raise self._paused_error(request, operation, exc.seconds) from None
        attempt.throttled += paused
        attempt.taken_at = taken_at
        if call is not None:
            call.attempts += 1
        counted = True
        try:
            if limiter.semaphore is None:
                response = await self._send_following_redirects(request, operation, call, hooks)
            else:
                async with limiter.semaphore:
                    response = await self._send_following_redirects(request, operation, call, hooks)
            # A request refused with a 429 was counted by neither Discourse nor its proxy: its slot
            # goes back, so the retry does not spend the budget twice.
            counted = response.status_code != 429
            return response
        finally:
            await limiter.done(taken_at, counted)

    async def _send_following_redirects(
        self, request: Request, operation: str, call: Call | None = None, hooks: tuple[Hooks, ...] = ()
    ) -> RawResponse:
        # Credentials go to the base origin only. Once a redirect chain leaves that origin, nothing
        # later in the chain gets them back: a third party must not be able to steer an
        # authenticated request to an endpoint of its choosing.
        trusted = True
        for _ in range(self.max_redirects + 1):
            trusted = trusted and self._same_origin(request.url)
            headers = request.headers
            strip_credentials(headers)
            if trusted:
                self.credentials.apply(headers)
            if call is None:
                response = await self._send_once(request, operation)
            else:
                response = await self._observed_send(request, operation, call, hooks)
            location = response.headers.get("location") if response.status_code in _REDIRECTS else None
            if not location:
                return response
            try:
                request = self._redirected(request, response.status_code, location)
            except (httpx.InvalidURL, UnicodeError) as exc:
                raise RedirectError(
                    f"{operation}: the {response.status_code} redirect has an unusable Location ({exc})",
                    method=request.method,
                    url=safe_url(request.url),
                ) from exc
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s: %s redirected to %s", operation, response.status_code, safe_url(request.url))
        raise RedirectError(
            f"more than {self.max_redirects} redirects for {operation}",
            method=request.method,
            url=safe_url(request.url),
        )

    async def _observed_send(
        self, request: Request, operation: str, call: Call, hooks: tuple[Hooks, ...]
    ) -> RawResponse:
        # resend counts every earlier request of the call: its attempts and their redirects
        emit(hooks, "on_request", call, request.method, _without_query(request.url), call.requests)
        call.requests += 1
        started = self.clock.now()
        try:
            response = await self._send_once(request, operation)
        except Exception as exc:
            call.error = exc
            raise
        call.status_code = response.status_code
        # The body as received (a bytearray for large ones): .content would copy it to bytes.
        size = len(response._body)
        emit(hooks, "on_response", call, response.status_code, self.clock.now() - started, size)
        return response

    def _paused_error(self, request: Request, operation: str, seconds: float) -> RateLimitError:
        """The error of a call made while a pause longer than ``max_retry_after`` holds (nothing sent)."""
        retry = self.retry
        url = safe_url(request.url)
        message = (
            f"{operation}: requests to this site are paused for another {seconds:.0f}s after a 429, more than "
            f"max_retry_after={retry.max_retry_after:g}s or what is left of max_rate_limit_wait="
            f"{retry.max_rate_limit_wait:g}s; nothing was sent"
        )
        response = httpx.Response(
            429, headers={"Retry-After": str(math.ceil(seconds))}, request=httpx.Request(request.method, url)
        )
        return RateLimitError(
            message,
            retry_after=seconds,
            method=request.method,
            url=url,
            response=response,
            body=None,
            errors=[message],
            error_type="rate_limit",
            extras={"wait_seconds": seconds},
        )

    def _same_origin(self, url: str) -> bool:
        # Requests built from relative paths start with the base URL: skip parsing them.
        if url.startswith(self.base) and url[len(self.base) : len(self.base) + 1] in ("/", "?", ""):
            return True
        return origin_of_url(url) == self.origin

    @staticmethod
    def _redirected(request: Request, status: int, location: str) -> Request:
        """The request a redirect asks for (RFC 9110 15.4): 303, and 301/302 after a POST, become GET."""
        url = str(httpx.URL(request.url).join(location))
        method = request.method
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method = "GET"
        headers = dict(request.headers)
        content = request.content
        if method != request.method:
            content = None
            for name in [n for n in headers if n.lower() in ("content-type", "content-length", "transfer-encoding")]:
                del headers[name]
        return Request(method, url, headers, content)

    async def _send_once(self, request: Request, operation: str) -> RawResponse:
        try:
            response = await self.engine.send(request, self.timeout)
        except asyncio.CancelledError:
            # aclose(drain=...) cut this call while its request was out: it may have reached the server.
            task = asyncio.current_task()
            if task is not None:
                self.lifetime.sending.add(task)
            raise
        except NotSent as exc:
            cause = exc.__cause__
            cls = APITimeoutError if isinstance(cause, httpx.TimeoutException) else APIConnectionError
            raise cls(
                f"{operation}: could not connect to {safe_url(request.url)} ({_why(cause or exc, request.url)})",
                method=request.method,
                url=safe_url(request.url),
                request_sent=False,
            ) from exc
        except httpx.TimeoutException as exc:
            raise APITimeoutError(
                f"{operation}: no answer from {safe_url(request.url)} in time ({_why(exc, request.url)})",
                method=request.method,
                url=safe_url(request.url),
            ) from exc
        except httpx.RequestError as exc:  # transport errors, and bodies that do not decode or are too large
            raise APIConnectionError(
                f"{operation}: {_why(exc, request.url)} talking to {safe_url(request.url)}",
                method=request.method,
                url=safe_url(request.url),
            ) from exc
        if log.isEnabledFor(logging.DEBUG):  # safe_url parses the URL: only when someone listens
            log.debug("%s %s %s -> %s", operation, request.method, safe_url(request.url), response.status_code)
        return response


class BareSender:
    """Sends requests to URLs that are not the site's (presigned S3 URLs) through the client's engine.

    Bare: no credentials, no default headers, no redirects, no retries (the caller decides); it shares
    the client's connection pool, and with ``transport=`` given, that transport sees these requests too.
    """

    def __init__(self, path: RequestPath, timeout: httpx.Timeout) -> None:
        self._path = path
        self._timeout = timeout

    async def put(self, url: str, *, content: bytes | AsyncIterable[bytes], headers: Mapping[str, str]) -> RawResponse:
        """PUT ``content`` to ``url`` with exactly ``headers``; raise ``httpx`` transport errors."""
        if self._path.lifetime.closed:
            raise ClientClosedError("this Discourse client is closed; create a new client")
        try:
            return await self._path.engine.send(Request("PUT", url, dict(headers), content), self._timeout)
        except NotSent as exc:
            cause = exc.__cause__
            raise cause if isinstance(cause, httpx.TransportError) else httpx.ConnectError(str(exc)) from exc


class _Attempt:
    """What one call's attempts carry over: the slot of the last one, and the time spent on 429s."""

    __slots__ = ("taken_at", "throttled")

    def __init__(self) -> None:
        self.taken_at = 0.0
        self.throttled = 0.0  # seconds waited out for 429s (asked waits and pauses)


def _without_query(url: str) -> str:
    """``safe_url`` for the hooks' hot path: a plain split unless the URL may hold user info."""
    bare = url.partition("?")[0].partition("#")[0]
    return safe_url(url) if "@" in bare else bare


def _why(exc: BaseException, url: str) -> str:
    """An engine error's type and message for our error text, the URL in it made safe to show."""
    detail = str(exc).replace(url, safe_url(url))[:300]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
