"""The httpx engine: any ``httpx`` transport (mocks, ``ASGITransport``, proxies) behind our interface.

httpx sends and frames. From a server, the body is read raw, under the same size limit as the
other engines, and its content codings are undone by our decoder (bounded, in steps): a
compression bomb or a coding that was not asked for is refused here as by the built-in engine.
A mock's answer (pytest-httpx, respx, ``httpx.MockTransport``, a transport that returns a
ready-made ``httpx.Response``) is already in memory: httpx reads and decodes it as usual, so the
test that built it can still read it afterwards. A server's head is held to the built-in engine's
limits (header lines, head size) once httpx has it, and refused, with its connection, past them.
"""

from __future__ import annotations

import httpx

from discourse_async._engines._codec import ResponseTooLarge, codings_of, read_body
from discourse_async._engines._types import DEFAULT_MAX_RESPONSE_SIZE, NotSent, RawResponse, Request, header_bytes
from discourse_async._engines.builtin import MAX_HEAD_SIZE, MAX_HEADERS


class HttpxEngine:
    """Sends through an ``httpx.AsyncClient`` (any httpx transport works)."""

    name = "httpx"

    def __init__(
        self, client: httpx.AsyncClient, max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE, *, mocked: bool = False
    ) -> None:
        self.client = client
        self._max_body = max_response_size
        self._mocked = mocked

    async def send(self, request: Request, timeout: httpx.Timeout) -> RawResponse:
        """Send with httpx and read the body."""
        built = self.client.build_request(
            request.method, request.url, headers=request.headers, content=request.content, timeout=timeout
        )
        try:
            response = await self.client.send(built, stream=not self._mocked)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(str(exc)) from exc
        if self._mocked or response.is_stream_consumed:  # a transport that answered from memory
            if len(response.content) > self._max_body:
                raise ResponseTooLarge(f"the response body is larger than {self._max_body} bytes")
            return RawResponse(
                response.status_code,
                response.headers,
                response.content,
                method=request.method,
                url=request.url,
                httpx_response=response,
            )
        refusal = _oversized_head(response)
        if refusal:
            await response.aclose()  # unread, so httpcore closes the connection rather than keep it
            raise httpx.RemoteProtocolError(refusal)
        codings = codings_of([header_bytes(v) for v in response.headers.get_list("content-encoding")])
        try:
            content = await read_body(response.aiter_raw(), codings, self._max_body)
        finally:
            await response.aclose()
        # httpx's own response is not kept: its stream was read raw, and it would decode the body
        # again; RawResponse.to_httpx() builds one from what was decoded here.
        return RawResponse(response.status_code, response.headers, content, method=request.method, url=request.url)

    async def aclose(self) -> None:
        """Close the httpx client."""
        await self.client.aclose()


def _oversized_head(response: httpx.Response) -> str | None:
    """Why a server's head is past the built-in engine's limits, or None.

    h11 bounds only a head still arriving, so one that comes whole in a read can be any size.
    Measured as it came: status line, headers and their line ends (1xx answers are not seen).
    """
    raw = response.headers.raw
    if len(raw) > MAX_HEADERS:
        return f"the response has more than {MAX_HEADERS} header lines"
    reason = response.extensions.get("reason_phrase", b"")
    size = len(b"HTTP/1.1 200 \r\n\r\n") + len(reason) + sum(len(name) + len(value) + 4 for name, value in raw)
    if size > MAX_HEAD_SIZE:
        return f"the response head is larger than {MAX_HEAD_SIZE} bytes"
    return None
