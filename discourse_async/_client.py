"""The ``Discourse`` client: options, the connection pool, and the generated namespaces."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from http.cookiejar import Cookie, CookieJar
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from discourse_async._engines import (
    DEFAULT_MAX_RESPONSE_SIZE,
    AiohttpEngine,
    Engine,
    HttpxEngine,
    RawResponse,
    choose_engine,
    httpx_is_mocked,
)
from discourse_async._engines.builtin import BuiltinEngine
from discourse_async._exceptions import APIResponseValidationError, ConfigurationError
from discourse_async._generated.api import Namespaces
from discourse_async._http import CREDENTIAL_HEADERS, safe_url
from discourse_async._limits import (
    ADMIN_LIMITS,
    ANONYMOUS_LIMITS,
    USER_API_KEY_LIMITS,
    Clock,
    Limiter,
    MemoryStore,
    RateLimit,
    RateLimitStore,
    SystemClock,
    WaitHook,
    bucket_name,
)
from discourse_async._response import APIResponse, Parser, parse_or_raise
from discourse_async._retries import RetryPolicy
from discourse_async._secrets import Secret
from discourse_async._transport import DEFAULT_MAX_REDIRECTS, BareSender, Credentials, RequestPath, origin_of_url
from discourse_async._version import __version__
from discourse_async.hooks import Hooks, WaitCallback
from discourse_async.hooks import check as check_hooks

if TYPE_CHECKING:
    from typing import Self

    from discourse_async import uploads
    from discourse_async.telemetry import Telemetry

T = TypeVar("T")

#: Connect within 5 s; every other phase (read, write, pool wait) within 30 s.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)

_NOT_GIVEN: Any = object()
#: ``rate_limits`` default: Discourse's default budgets for the credential in use.
AUTO: Any = object()


class _NoCookies(CookieJar):
    """A cookie jar that keeps nothing.

    The API is authenticated by headers, and a shared jar would carry one user's session cookie
    into requests made for another.
    """

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def _credentials(  # noqa: PLR0917 - private helper mirroring the constructor's arguments
    api_key: str | Secret | None,
    api_username: str | None,
    api_user_id: int | str | None,
    api_user_external_id: str | None,
    user_api_key: str | Secret | None,
    user_api_client_id: str | None,
) -> Credentials:
    if api_key is not None and user_api_key is not None:
        raise ConfigurationError("give either api_key (an admin API key) or user_api_key, not both")
    if api_key is not None and user_api_client_id is not None:
        raise ConfigurationError("user_api_client_id goes with a user_api_key, not with an admin api_key")
    if user_api_key is not None and (api_username or api_user_id or api_user_external_id):
        raise ConfigurationError(
            "a user API key acts as the user it was granted by: api_username, api_user_id and "
            "api_user_external_id go with an admin api_key"
        )
    if api_key is not None:
        who = [v for v in (api_username, api_user_id, api_user_external_id) if v is not None]
        if len(who) > 1:
            raise ConfigurationError("give at most one of api_username, api_user_id, api_user_external_id")
        headers: dict[str, str | Secret] = {"Api-Key": api_key}
        kind = "admin API key"
        acting_as = None
        if api_username is not None:
            headers["Api-Username"] = acting_as = api_username
            kind += f" acting as {api_username}"
        elif api_user_id is not None:
            headers["Api-User-Id"] = str(api_user_id)
            kind += f" acting as user id {api_user_id}"
            acting_as = f"id:{api_user_id}"
        elif api_user_external_id is not None:
            headers["Api-User-External-Id"] = api_user_external_id
            kind += " acting as an external id"
            acting_as = f"external:{api_user_external_id}"
        return Credentials(headers, kind, acting_as)
    if user_api_key is not None:
        headers = {"User-Api-Key": user_api_key}
        if user_api_client_id is not None:
            headers["User-Api-Client-Id"] = user_api_client_id
        return Credentials(headers, "user API key")
    if api_username or api_user_id or api_user_external_id:
        raise ConfigurationError("api_username and its alternatives need an api_key")
    if user_api_client_id:
        raise ConfigurationError("user_api_client_id needs a user_api_key")
    return Credentials({}, "anonymous")


def _default_limits(credentials: Credentials) -> Sequence[RateLimit]:
    if credentials.kind.startswith("admin"):
        return ADMIN_LIMITS
    if credentials.kind.startswith("user"):
        return USER_API_KEY_LIMITS
    return ANONYMOUS_LIMITS


def _bucket(origin: tuple[str, str, int], credentials: Credentials) -> str:
    site = "{}://{}:{}".format(*origin)
    if credentials.kind.startswith("admin"):
        # Discourse counts all admin keys of a site in one bucket.
        return bucket_name(site, "admin")
    if credentials.kind.startswith("user"):
        return bucket_name(site, "user", credentials.secret_for_bucket())
    return bucket_name(site, "anonymous")


def _telemetry(option: Telemetry | bool | None) -> Telemetry | None:
    """The client's OpenTelemetry hooks; by default only when opentelemetry-api is installed (nothing imported yet)."""
    from discourse_async.telemetry import AutoTelemetry, Telemetry, otel_installed

    if option is None:
        return AutoTelemetry() if otel_installed() else None
    if option is True:
        return Telemetry()
    if option is False:
        return None
    if not isinstance(option, Telemetry):
        raise TypeError("telemetry= takes True, False or a discourse_async.telemetry.Telemetry(...)")
    return option


def _base_url(base_url: str | httpx.URL) -> httpx.URL:
    url = httpx.URL(str(base_url))
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError("base_url must be an absolute http(s) URL such as https://forum.example.com")
    if url.query or url.fragment:
        raise ConfigurationError("base_url must not have a query string or fragment")
    if url.username or url.password:
        raise ConfigurationError("base_url must not hold credentials; use api_key/api_username")
    return url


class Discourse(Namespaces):
    """An asyncio client for one Discourse site.

    Every operation of the API is a method of a namespace named after its tag::

        async with Discourse("https://forum.example.com", api_key=KEY, api_username="system") as dc:
            topic = await dc.topics.get_topic(id="42")

    Credentials are sent only to ``base_url``'s origin (scheme, host and port): never to another
    host, never after a redirect leaves that origin, never over an https -> http downgrade.

    Args:
        base_url: the site's URL; a subfolder install (``https://example.com/forum``) works.
        api_key: an admin API key, sent as ``Api-Key``.
        api_username: the user an admin key acts as (``Api-Username``); or give ``api_user_id`` or
            ``api_user_external_id`` instead.
        user_api_key: a User API key (``User-Api-Key``), for acting as one user.
        user_api_client_id: the client id the user API key was issued to (``User-Api-Client-Id``).
        timeout: seconds, or an ``httpx.Timeout``; default 5 s to connect and 30 s for the rest.
            ``None`` waits forever.
        headers: extra headers for every request (not credentials: use the arguments above).
        transport: any ``httpx.AsyncBaseTransport`` (a mock, ``httpx.ASGITransport``, another engine);
            requests then go through httpx.
        engine: ``"builtin"`` (the default: HTTP/1.1 on asyncio, fast under concurrency),
            ``"httpx"`` or ``"aiohttp"`` (with the ``aiohttp`` extra). httpx is used automatically
            when ``transport`` is given, httpx is being mocked (pytest-httpx) or proxy variables
            (``HTTPS_PROXY``...) are set.
        max_redirects: how many same-request redirects to follow.
        max_retries: retries after the first attempt (see the README's retry rules).
        max_retry_after: a server-asked wait longer than this raises ``RateLimitError`` at once.
        max_rate_limit_wait: the total seconds one call may spend waiting out 429s (default 300);
            past it the call raises ``RateLimitError`` saying how long it waited. 429s do not
            count against ``max_retries``.
        rate_limits: client-side budgets; default: Discourse's defaults for the credential in use;
            ``None`` turns client-side limiting off.
        rate_limit_store: where budgets live (default: in this client's memory).
        max_concurrency: a bound on requests in flight (default: none beyond the pool of 100).
        on_wait: ``on_wait(seconds, reason)`` is called before each wait for rate-limit budget or
            for a pause Discourse asked for (each wait also logs one line: INFO, and WARNING for
            the first budget wait over 5 s in the client's life).
        hooks: :class:`~discourse_async.hooks.Hooks` told of every call's start, requests,
            responses, waits, retries and outcome (for metrics systems and logging).
        telemetry: OpenTelemetry spans and metrics (:mod:`discourse_async.telemetry`). Default:
            on when ``opentelemetry-api`` is installed, reporting to the global providers once the
            application has imported OpenTelemetry (nothing is imported before); False turns it
            off; a ``Telemetry(...)`` chooses providers or records usernames.
        max_response_size: every engine refuses a response body larger than this, as received or
            once decompressed (default 64 MiB); the refusal is an ``APIConnectionError``.
        clock: time source of limits and retry waits (tests inject a fake one).
        rng: randomness of backoff jitter (tests inject a seeded one).
        strict: raise ``APIResponseValidationError`` (naming the JSON path and the expected type)
            when an answer does not fit the document, instead of keeping what does not fit as
            received; for catching document drift in CI.
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        api_key: str | Secret | None = None,
        api_username: str | None = None,
        api_user_id: int | str | None = None,
        api_user_external_id: str | None = None,
        user_api_key: str | Secret | None = None,
        user_api_client_id: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        engine: str | None = None,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        max_retries: int = 2,
        max_retry_after: float = 60.0,
        max_rate_limit_wait: float = 300.0,
        rate_limits: Sequence[RateLimit] | None = AUTO,
        rate_limit_store: RateLimitStore | None = None,
        max_concurrency: int | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        on_wait: WaitHook | None = None,
        hooks: Sequence[Hooks] = (),
        telemetry: Telemetry | bool | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        strict: bool = False,
    ) -> None:
        url = _base_url(base_url)
        if on_wait is not None and not callable(on_wait):
            raise TypeError("on_wait must be a function taking (seconds, reason)")
        for name in headers or {}:
            if name.lower() in CREDENTIAL_HEADERS:
                raise ConfigurationError(
                    f"{name!r} must not be a default header: default headers go to every URL. "
                    "Pass credentials as api_key/api_username or user_api_key."
                )
        credentials = _credentials(
            api_key, api_username, api_user_id, api_user_external_id, user_api_key, user_api_client_id
        )
        default_headers = {"User-Agent": f"discourse-async/{__version__}", "Accept": "application/json"}
        default_headers.update(headers or {})
        sender: Engine
        chosen = choose_engine(engine, transport)
        if chosen == "httpx":
            sender = HttpxEngine(
                httpx.AsyncClient(
                    transport=transport,
                    limits=DEFAULT_LIMITS,
                    follow_redirects=False,
                    cookies=_NoCookies(),
                    trust_env=transport is None,
                ),
                max_response_size=max_response_size,
                mocked=httpx_is_mocked() or isinstance(transport, httpx.MockTransport),
            )
        elif chosen == "aiohttp":
            sender = AiohttpEngine(
                max_connections=DEFAULT_LIMITS.max_connections or 100, max_response_size=max_response_size
            )
        else:
            sender = BuiltinEngine(
                max_connections=DEFAULT_LIMITS.max_connections or 100, max_response_size=max_response_size
            )
        origin = origin_of_url(str(url))
        clock = clock or SystemClock()
        limiter = Limiter(
            rate_limit_store or MemoryStore(clock),
            _bucket(origin, credentials),
            _default_limits(credentials) if rate_limits is AUTO else (rate_limits or ()),
            clock,
            max_concurrency,
        )
        path = RequestPath(
            engine=sender,
            base=str(url).rstrip("/"),
            origin=origin,
            headers=default_headers,
            credentials=credentials,
            timeout=httpx.Timeout(timeout),
            limiter=limiter,
            clock=clock,
            retry=RetryPolicy(
                max_retries=max_retries, max_retry_after=max_retry_after, max_rate_limit_wait=max_rate_limit_wait
            ),
            max_redirects=max_redirects,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not cryptography
            hooks=(WaitCallback(on_wait), *check_hooks(hooks)) if on_wait is not None else check_hooks(hooks),
            telemetry=_telemetry(telemetry),
        )
        self._init(owns_engine=True, path=path, strict=strict)

    def _init(self, *, owns_engine: bool, path: RequestPath, strict: bool) -> None:
        self._owns_engine = owns_engine
        self._path = path
        self._strict = strict

    # ------------------------------------------------------------------ options and lifetime

    @property
    def base_url(self) -> httpx.URL:
        """The site's base URL (always ending in ``/``)."""
        return httpx.URL(self._path.base + "/")

    @property
    def engine(self) -> str:
        """The engine sending requests: ``"builtin"``, ``"httpx"`` or ``"aiohttp"``."""
        return self._path.engine.name

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeout applied to each request."""
        return self._path.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._path.retry.max_retries

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = _NOT_GIVEN,
        max_retries: int = _NOT_GIVEN,
        max_retry_after: float = _NOT_GIVEN,
        max_rate_limit_wait: float = _NOT_GIVEN,
        max_redirects: int = _NOT_GIVEN,
        strict: bool = _NOT_GIVEN,
        api_username: str | None = None,
        api_user_id: int | str | None = None,
        api_user_external_id: str | None = None,
    ) -> Self:
        """A copy with other options, sharing the connection pool, credentials and rate budget.

        For example ``dc.with_options(max_retries=0, timeout=5)`` for one call. Closing the copy
        does not close the pool; close the original when done.

        With an admin key for all users, ``api_username=`` (or ``api_user_id=`` /
        ``api_user_external_id=``) gives a copy acting as that user: ``dc.with_options(api_username="bob")``.
        It shares the pool and the rate budget (Discourse counts every admin key of a site in
        one budget, whoever it acts as), so a bot acting for many users stays within it.
        """
        retry = self._path.retry
        credentials = self._path.credentials
        if api_username is not None or api_user_id is not None or api_user_external_id is not None:
            api_key = credentials.secret("Api-Key")
            if api_key is None:
                raise ConfigurationError(
                    f"acting as another user needs an admin api_key for all users; this client has a {credentials.kind}"
                )
            credentials = _credentials(api_key, api_username, api_user_id, api_user_external_id, None, None)
        if max_retries is not _NOT_GIVEN:
            retry = replace(retry, max_retries=max_retries)
        if max_retry_after is not _NOT_GIVEN:
            retry = replace(retry, max_retry_after=max_retry_after)
        if max_rate_limit_wait is not _NOT_GIVEN:
            retry = replace(retry, max_rate_limit_wait=max_rate_limit_wait)
        path = replace(
            self._path,
            credentials=credentials,
            retry=retry,
            timeout=self._path.timeout if timeout is _NOT_GIVEN else httpx.Timeout(timeout),
            max_redirects=self._path.max_redirects if max_redirects is _NOT_GIVEN else max_redirects,
        )
        copy = object.__new__(type(self))
        copy._init(owns_engine=False, path=path, strict=self._strict if strict is _NOT_GIVEN else strict)
        return copy

    async def aclose(self, *, drain: float | None = None) -> None:
        """Close the connection pool (a no-op on copies made by ``with_options``).

        Calls made afterwards, on this client or its copies, raise :class:`ClientClosedError`.

        ``drain=seconds`` stops new calls at once and lets the calls in flight finish for up to
        that long; then the ones left are cancelled, and none is retried: each raises
        ``ClientClosedError`` when it had not been sent (Discourse did not carry it out) or
        ``APIConnectionError`` with ``request_sent=True`` when it was out (a write may have been
        done). Without ``drain``, calls in flight fail as the pool closes under them.
        """
        if self._owns_engine:
            lifetime = self._path.lifetime
            lifetime.closed = True
            if drain is not None:
                await lifetime.drain(drain)
            lifetime.ended = True
            await self._path.engine.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<Discourse {self.base_url} ({self._path.credentials.kind})>"

    # ------------------------------------------------------------------ namespaces
    # The generated namespaces (operations and iterators) come from Namespaces; uploads adds the
    # whole upload flow to its operations.

    @cached_property
    def uploads(self) -> uploads.Uploads:
        """Upload operations and ``upload()``, which runs the whole flow (S3 multipart included)."""
        from discourse_async.uploads import Uploads

        return Uploads(self)

    # ------------------------------------------------------------------ the request path

    def _bare_sender(self, timeout: httpx.Timeout) -> BareSender:
        """Presigned URLs' sender: this client's engine and pool, without credentials or default headers."""
        return BareSender(self._path, timeout)

    async def _call_parsed(self, operation: str, kwargs: dict[str, Any], parse: Parser[T]) -> T:
        """Send a generated operation's request and return its typed result (the hot path)."""
        response, _ = await self._path.send(operation=operation, **kwargs)
        return parse_or_raise(response, parse, operation, self._strict)

    async def _call_operation(self, operation: str, kwargs: dict[str, Any], parse: Parser[T]) -> APIResponse[T]:
        """Send a generated operation's request; the typed result is built by ``.parse()``."""
        response, retries = await self._path.send(operation=operation, **kwargs)
        return APIResponse(response, parse, operation=operation, retries_taken=retries, strict=self._strict)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call any endpoint, including ones no document describes (plugins); return decoded JSON.

        ``path`` is relative to ``base_url`` (``"/some/plugin.json"``). The call gets the same
        credentials, redirect rules and typed errors as every generated operation. An empty body
        gives None; a non-JSON body gives its text.
        """
        response = await self._raw_call(method, path, params, json, data, files, content, headers)
        if not response.content:
            return None
        if "json" in response.headers.get("content-type", "") or response.content[:1] in (b"{", b"["):
            try:
                return response.json()
            except ValueError as exc:  # orjson's and json's decode errors are both ValueErrors
                http = response.to_httpx()
                raise APIResponseValidationError(
                    f"the {response.status_code} response to {method.upper()} {path.split('?', 1)[0]} is not valid "
                    f"JSON ({exc}); the raw body is on .body",
                    method=method.upper(),
                    url=safe_url(response.url),
                    response=http,
                    body=response.content,
                ) from exc
        return response.text

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Like :meth:`request`, returning the response as an ``httpx.Response``."""
        response = await self._raw_call(method, path, params, json, data, files, content, headers)
        return response.to_httpx()

    async def _raw_call(  # noqa: PLR0917 - private: request() and request_raw() pass their arguments on
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        files: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> RawResponse:
        response, _ = await self._path.send(
            method.upper(),
            path,
            params=params,
            json=json,
            data=data,
            files=files,
            content=content,
            headers=headers,
            operation=f"{method.upper()} {path.split('?', 1)[0]}",
        )
        return response
