"""The engines that put bytes on the wire, behind one small interface.

The built-in engine (``_h1.BuiltinEngine``) is the default: httpx's own connection pool slows down
as concurrency rises (measured in bench/: a few hundred requests/s at 64 calls in flight), and
the bots this client is for run hundreds of calls at once; aiohttp holds up but spends most of
the client's time per request (see ``_h1``). ``HttpxEngine`` is used whenever a ``transport=`` is
given (mocks, ``httpx.ASGITransport``, custom engines), when httpx is being mocked (pytest-httpx),
when proxy variables are set, or on request; it keeps the whole httpx interface.
``AiohttpEngine`` is there on request (``pip install discourse-async[aiohttp]``).

All take a :class:`Request` and give a :class:`RawResponse`; none follows redirects, adds
credentials or retries: that is the request path's job, written once in ``_transport.py``.
"""

from __future__ import annotations

import importlib.util
import json as _json
import os
from collections.abc import AsyncIterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import httpx

from discourse_async._http import CREDENTIAL_HEADERS

if TYPE_CHECKING:
    import aiohttp

try:  # a faster JSON codec when installed (discourse-async[speed]); the standard library otherwise
    import orjson

    def loads(data: bytes | str) -> Any:
        """Decode JSON."""
        return orjson.loads(data)

    def dumps(value: Any) -> bytes:
        """Encode JSON (compact, UTF-8)."""
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - depends on the environment

    def loads(data: bytes | str) -> Any:
        """Decode JSON."""
        return _json.loads(data)

    def dumps(value: Any) -> bytes:
        """Encode JSON (compact, UTF-8)."""
        return _json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class NotSent(Exception):
    """The request provably never left (the connection could not be made)."""


class Request:
    """A request ready for an engine: absolute URL, final headers, body bytes or stream."""

    __slots__ = ("content", "headers", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | AsyncIterable[bytes] | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content


class RawResponse:
    """A response as received: status, headers, body.

    It looks enough like ``httpx.Response`` for the generated parsers (``status_code``,
    ``headers``, ``content``, ``text``, ``json()``).
    """

    __slots__ = ("_httpx", "content", "headers", "method", "status_code", "url")

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        *,
        method: str,
        url: str,
        httpx_response: httpx.Response | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.method = method
        self.url = url
        self._httpx = httpx_response

    @property
    def text(self) -> str:
        """The body decoded as text (UTF-8 unless the response names a charset)."""
        return self.to_httpx().text

    def json(self) -> Any:
        """The body decoded as JSON."""
        return loads(self.content)

    def to_httpx(self) -> httpx.Response:
        """The same response as an ``httpx.Response`` (built once, on demand), never holding a credential."""
        if self._httpx is not None and any(n.lower() in CREDENTIAL_HEADERS for n in self._httpx.request.headers):
            # httpx's response keeps the request it answered: swap in a copy without credentials,
            # so an exception carrying the response (or a tracker recording it) cannot show a key.
            # Done here, on the way out, not for every response.
            sent = self._httpx.request
            self._httpx.request = httpx.Request(
                sent.method,
                sent.url,
                headers=[(k, v) for k, v in sent.headers.multi_items() if k.lower() not in CREDENTIAL_HEADERS],
            )
        if self._httpx is None:
            items = self.headers.multi_items() if hasattr(self.headers, "multi_items") else self.headers.items()
            self._httpx = httpx.Response(
                self.status_code,
                # The body is already decoded: a Content-Encoding header would make httpx decode it again.
                headers=[(k, v) for k, v in items if k.lower() != "content-encoding"],
                content=self.content,
                request=httpx.Request(self.method, self.url),
            )
        return self._httpx


class Engine(Protocol):
    """Sends one request and reads the whole response."""

    name: str

    async def send(self, request: Request, timeout: httpx.Timeout) -> RawResponse:
        """Send ``request``; raise ``httpx`` transport errors (wrapped in NotSent when never sent)."""
        ...

    async def aclose(self) -> None:
        """Close the connection pool."""
        ...


def encode_params(params: Mapping[str, Any] | None) -> str:
    """A query string with httpx's conventions: booleans as true/false, lists repeated, None dropped."""
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is None:
                continue
            pairs.append((key, "true" if item is True else "false" if item is False else str(item)))
    return urlencode(pairs)


class HttpxEngine:
    """Sends through an ``httpx.AsyncClient`` (any httpx transport works)."""

    name = "httpx"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, request: Request, timeout: httpx.Timeout) -> RawResponse:
        """Send with httpx and read the body."""
        built = self.client.build_request(
            request.method, request.url, headers=request.headers, content=request.content, timeout=timeout
        )
        try:
            response = await self.client.send(built)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(str(exc)) from exc
        return RawResponse(
            response.status_code,
            response.headers,
            response.content,
            method=request.method,
            url=request.url,
            httpx_response=response,
        )

    async def aclose(self) -> None:
        """Close the httpx client."""
        await self.client.aclose()


class AiohttpEngine:
    """Sends through an ``aiohttp.ClientSession`` created on first use (it belongs to a loop)."""

    name = "aiohttp"

    def __init__(self, *, max_connections: int = 100, trust_env: bool | None = None) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._max_connections = max_connections
        # aiohttp's trust_env also reads ~/.netrc in a thread on every request; turn it on only
        # when proxy variables are set, which is what it is needed for.
        self._trust_env = _proxy_configured() if trust_env is None else trust_env
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # header auth only; a shared jar would mix sessions
            trust_env=self._trust_env,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )
        return self._session

    def _timeout(self, timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
        key = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        cached = self._timeouts.get(key)
        if cached is None:
            import aiohttp

            # httpx's phases map onto aiohttp's: pool wait + connect, then each socket read.
            pool = timeout.pool
            connect = timeout.connect
            cached = aiohttp.ClientTimeout(
                total=None,
                connect=None if pool is None or connect is None else pool + connect,
                sock_connect=connect,
                sock_read=timeout.read,
            )
            self._timeouts[key] = cached
        return cached

    async def send(self, request: Request, timeout: httpx.Timeout) -> RawResponse:
        """Send with aiohttp and read the body, mapping its errors onto httpx's."""
        import aiohttp

        session = self._session or self._open()
        try:
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.content,
                allow_redirects=False,
                timeout=self._timeout(timeout),
            ) as response:
                content = await response.read()
                return RawResponse(response.status, response.headers, content, method=request.method, url=request.url)
        except aiohttp.ConnectionTimeoutError as exc:
            raise NotSent(str(exc)) from httpx.ConnectTimeout(str(exc))
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(str(exc)) from httpx.ConnectError(str(exc))
        except (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "server disconnected") from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        """Close the aiohttp session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _proxy_configured() -> bool:
    return any(
        os.environ.get(name)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    )


def httpx_is_mocked() -> bool:
    """Whether a test tool (pytest-httpx, respx) has replaced httpx's transport: then httpx must send."""
    method = httpx.AsyncHTTPTransport.handle_async_request
    return getattr(method, "__module__", "").split(".")[0] != "httpx"


ENGINES = ("builtin", "aiohttp", "httpx")


def choose_engine(engine: str | None, transport: httpx.AsyncBaseTransport | None) -> str:
    """The engine to use.

    The one asked for; else httpx when a transport is given or httpx is mocked (a test's mock must
    see the requests); else ``DISCOURSE_ASYNC_ENGINE`` when set; else httpx when proxy variables
    are set (the built-in engine does not use proxies); else the built-in engine.
    """
    for choice in (engine, os.environ.get("DISCOURSE_ASYNC_ENGINE")):
        if choice and choice not in ENGINES:
            raise ValueError(f"unknown engine {choice!r}: use one of {', '.join(ENGINES)}")
    if transport is not None:
        if engine not in (None, "httpx"):
            raise ValueError("transport= is an httpx transport: it needs engine='httpx'")
        return "httpx"
    choice = engine or ("httpx" if httpx_is_mocked() else os.environ.get("DISCOURSE_ASYNC_ENGINE"))
    if not choice:
        return "httpx" if _proxy_configured() else "builtin"
    if choice == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        raise ImportError('engine="aiohttp" needs aiohttp: pip install "discourse-async[aiohttp]"')
    return choice
