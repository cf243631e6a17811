"""What every engine shares: the request it is given, the response it gives back, its interface."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Any, Protocol

import httpx

from discourse_async._engines._codec import loads
from discourse_async._http import CREDENTIAL_HEADERS

#: Responses (as received and once decoded) larger than this are refused: a generous bound, far
#: above any Discourse answer, that keeps a decompression bomb or an endless body from taking memory.
DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024


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


def header_bytes(text: str) -> bytes:
    """A received header as bytes again, whatever its engine decoded it with; never raises.

    The built-in engine decodes headers as latin-1, aiohttp as UTF-8 with surrogate escapes; httpx
    encodes str headers as ASCII and would raise on anything else.
    """
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


class RawResponse:
    """A response as received: status, headers, body.

    It looks enough like ``httpx.Response`` for the generated parsers (``status_code``,
    ``headers``, ``content``, ``text``, ``json()``).
    """

    __slots__ = ("_body", "_httpx", "headers", "method", "status_code", "url")

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes | bytearray,
        *,
        method: str,
        url: str,
        httpx_response: httpx.Response | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        # A large body arrives in a bytearray (see the built-in engine): the JSON decoder reads it
        # as it is, and ``content`` makes the bytes copy only if someone asks for the bytes.
        self._body = content
        self.method = method
        self.url = url
        self._httpx = httpx_response

    @property
    def content(self) -> bytes:
        """The body (decoded from any content coding)."""
        body = self._body
        if type(body) is not bytes:
            self._body = body = bytes(body)
        return body

    @property
    def text(self) -> str:
        """The body decoded as text (UTF-8 unless the response names a charset)."""
        return self.to_httpx().text

    def json(self) -> Any:
        """The body decoded as JSON."""
        return loads(self._body)

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
            raw = getattr(self.headers, "raw", None)
            if raw is None:
                items = self.headers.multi_items() if hasattr(self.headers, "multi_items") else self.headers.items()
                raw = [(header_bytes(k), header_bytes(v)) for k, v in items]
            self._httpx = httpx.Response(
                self.status_code,
                # The body is already decoded: a Content-Encoding header would make httpx decode it again.
                # Bytes, not str: httpx encodes str headers as ASCII and a server may send any octet.
                headers=[(k, v) for k, v in raw if k.lower() != b"content-encoding"],
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
