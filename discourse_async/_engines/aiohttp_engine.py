"""The aiohttp engine (``pip install discourse-async[aiohttp]``), its errors mapped onto httpx's."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

import httpx

from discourse_async._engines._codec import codings_of, read_body
from discourse_async._engines._types import DEFAULT_MAX_RESPONSE_SIZE, NotSent, RawResponse, Request, header_bytes

if TYPE_CHECKING:
    import aiohttp


class AiohttpEngine:
    """Sends through an ``aiohttp.ClientSession`` created on first use (it belongs to a loop)."""

    name = "aiohttp"

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_connections_per_host: int = 20,
        trust_env: bool | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._max_body = max_response_size
        self._max_connections = max_connections
        self._max_per_host = max_connections_per_host  # nginx's limit_conn in front of Discourse: 20
        # aiohttp's trust_env also reads ~/.netrc in a thread on every request; turn it on only
        # when proxy variables are set, which is what it is needed for.
        self._trust_env = proxy_configured() if trust_env is None else trust_env
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_per_host)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # header auth only; a shared jar would mix sessions
            trust_env=self._trust_env,
            # Bodies are decoded here, as the built-in engine decodes them: every coding (stacked
            # ones too), in steps, under the size limit.
            auto_decompress=False,
            headers={"Accept-Encoding": "gzip, deflate"},  # the codings decode_body undoes
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
        session = self._session or self._open()
        try:
            async with asyncio.timeout(None) as window:
                phase = _Phase(window)
                return await self._exchange(session, request, timeout, phase)
        except TimeoutError as exc:
            if not window.expired():
                raise
            if phase.head:
                raise httpx.ReadTimeout(f"no complete response head within {phase.head:g}s of the request") from exc
            raise httpx.WriteTimeout(f"the server took no more of the body for {timeout.write:g}s") from exc

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        request: Request,
        timeout: httpx.Timeout,
        phase: _Phase,
    ) -> RawResponse:
        import aiohttp

        headers, data = request.headers, request.content
        # aiohttp stops its read timeout on each 1xx answer and starts it again only when more
        # bytes come, so a server that goes quiet after one would hold the call forever. The head
        # gets a deadline of its own, from the end of the request: the read timeout, plus the
        # pool and connect timeouts when the request has no body (its end is then its start).
        if data is None:
            waits = (timeout.pool, timeout.connect, timeout.read)
            if None not in waits:
                phase.wait_for_head(sum(waits))  # type: ignore[arg-type]
        elif timeout.write is not None:
            # aiohttp puts no timeout on writing a body: a server that stops reading would hold
            # the call forever. The body goes in pieces, and each piece taken moves the window on.
            if isinstance(data, bytes) and not any(k.lower() == "content-length" for k in headers):
                headers = {**headers, "Content-Length": str(len(data))}
            data = _paced(data, phase, timeout.write, timeout.read)
        try:
            async with session.request(
                request.method,
                request.url,
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=self._timeout(timeout),
            ) as response:
                phase.answered()
                codings = codings_of([header_bytes(v) for v in response.headers.getall("Content-Encoding", ())])
                content = await read_body(response.content.iter_any(), codings, self._max_body)
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


#: The pieces a body is handed to aiohttp in, when its writing is timed.
_PIECE = 256 * 1024


class _Phase:
    """Which deadline the window of one exchange holds: writing the body, or awaiting the head."""

    __slots__ = ("head", "window")

    def __init__(self, window: asyncio.Timeout) -> None:
        self.window: asyncio.Timeout | None = window  # None once the head has come
        self.head: float | None = None  # seconds allowed for the head, once it is awaited

    def writing(self, seconds: float | None) -> None:
        """Give the next piece of the body ``seconds`` to be written (None: no deadline)."""
        if self.window is not None:
            self.window.reschedule(None if seconds is None else asyncio.get_running_loop().time() + seconds)

    def wait_for_head(self, seconds: float | None) -> None:
        """Start the head's deadline (none when ``seconds`` is None)."""
        if self.window is not None:
            self.head = seconds
            self.writing(seconds)

    def answered(self) -> None:
        """The head has come: no more deadlines here (aiohttp's read timeout times the body).

        A body still being written after an early answer is then aiohttp's to finish or drop.
        """
        if self.window is not None:
            self.window.reschedule(None)
        self.window = None
        self.head = None


async def _paced(
    body: bytes | AsyncIterable[bytes], phase: _Phase, write_timeout: float, read_timeout: float | None
) -> AsyncIterator[bytes]:
    """``body`` in pieces; the write timeout runs while aiohttp writes one, not while it is produced.

    aiohttp asks for the next piece once it has written the last one (its writer waits for the
    socket to drain in between), so asking is the sign of progress.
    """
    if isinstance(body, bytes):
        for start in range(0, len(body), _PIECE):
            phase.writing(write_timeout)
            yield body[start : start + _PIECE]
    else:
        async for piece in body:
            phase.writing(write_timeout)
            yield piece
            phase.writing(None)  # producing the next piece (reading a file, say) is not writing
    phase.wait_for_head(read_timeout)


def proxy_configured() -> bool:
    """Whether proxy variables are set in the environment."""
    return any(
        os.environ.get(name)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    )
