"""The raw response of a call, with its typed result parsed on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeAlias, TypeVar

import httpx

from discourse_async._engines import RawResponse
from discourse_async._exceptions import APIResponseValidationError
from discourse_async._http import safe_url
from discourse_async._runtime import ResponseShapeError

T = TypeVar("T")

#: A generated operation's parser: (response, strict) -> typed result.
Parser: TypeAlias = Callable[[httpx.Response, bool], T]

_UNPARSED: Any = object()


class APIResponse(Generic[T]):
    """What ``dc.<tag>.with_raw_response.<operation>(...)`` returns.

    ``status_code``, ``headers``, ``content``, ``text`` and ``json()`` give the response as it came;
    ``parse()`` builds the typed model (once) and raises :class:`APIResponseValidationError`, with
    the raw body kept, when the body does not fit it. ``retries_taken`` counts retried attempts.
    """

    __slots__ = ("_parse", "_parsed", "_strict", "operation", "raw", "retries_taken")

    def __init__(
        self,
        raw: RawResponse,
        parse: Parser[T],
        *,
        operation: str,
        retries_taken: int = 0,
        strict: bool = False,
    ) -> None:
        self.raw = raw
        self.operation = operation
        self.retries_taken = retries_taken
        self._parse = parse
        self._strict = strict
        self._parsed: T = _UNPARSED

    @property
    def http_response(self) -> httpx.Response:
        """The response as an ``httpx.Response`` (built on demand whatever the engine)."""
        return self.raw.to_httpx()

    @property
    def status_code(self) -> int:
        """The HTTP status code."""
        return self.raw.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (case-insensitive)."""
        return self.http_response.headers

    @property
    def content(self) -> bytes:
        """The body as bytes."""
        return self.raw.content

    @property
    def text(self) -> str:
        """The body as text."""
        return self.raw.text

    @property
    def url(self) -> str:
        """The URL that answered (after redirects)."""
        return self.raw.url

    def json(self) -> Any:
        """The body decoded as JSON."""
        return self.raw.json()

    def parse(self) -> T:
        """The typed result of the operation."""
        if self._parsed is _UNPARSED:
            self._parsed = parse_or_raise(self.raw, self._parse, self.operation, self._strict)
        return self._parsed

    def __repr__(self) -> str:
        return f"<APIResponse {self.operation} [{self.status_code}]>"


def parse_or_raise(response: RawResponse | httpx.Response, parse: Parser[T], operation: str, strict: bool = False) -> T:
    """Run a generated parser; turn any failure into one clear error that keeps the body.

    Without ``strict`` the parsers never fail on an answer's shape (only on a body that is not
    JSON); with it, the first value that does not fit the document is reported by its JSON path.
    """
    try:
        # RawResponse has what the generated parsers use (status_code, content, text, json()).
        return parse(response, strict)  # type: ignore[arg-type]
    except Exception as exc:
        http = response.to_httpx() if isinstance(response, RawResponse) else response
        why = str(exc) if isinstance(exc, ResponseShapeError) else f"{type(exc).__name__}: {exc}"
        raise APIResponseValidationError(
            f"the {response.status_code} response to {operation} does not fit its model "
            f"({why}); the raw body is on .body",
            method=http.request.method,
            url=safe_url(http.request.url),
            response=http,
            body=response.content,
        ) from exc
