"""The raw response of a call, with its typed result parsed on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx

from discourse_async._exceptions import APIResponseValidationError
from discourse_async._http import safe_url

T = TypeVar("T")

_UNPARSED: Any = object()


class APIResponse(Generic[T]):
    """What ``dc.<tag>.with_raw_response.<operation>(...)`` returns.

    ``status_code``, ``headers``, ``content``, ``text`` and ``json()`` give the response as it came;
    ``parse()`` builds the typed model (once) and raises :class:`APIResponseValidationError`, with
    the raw body kept, when the body does not fit it. ``retries_taken`` counts retried attempts.
    """

    __slots__ = ("_parse", "_parsed", "http_response", "operation", "retries_taken")

    def __init__(
        self,
        http_response: httpx.Response,
        parse: Callable[[httpx.Response], T],
        *,
        operation: str,
        retries_taken: int = 0,
    ) -> None:
        self.http_response = http_response
        self.operation = operation
        self.retries_taken = retries_taken
        self._parse = parse
        self._parsed: T = _UNPARSED

    @property
    def status_code(self) -> int:
        """The HTTP status code."""
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""
        return self.http_response.headers

    @property
    def content(self) -> bytes:
        """The body as bytes."""
        return self.http_response.content

    @property
    def text(self) -> str:
        """The body as text."""
        return self.http_response.text

    @property
    def url(self) -> httpx.URL:
        """The URL that answered (after redirects)."""
        return self.http_response.url

    def json(self) -> Any:
        """The body decoded as JSON."""
        return self.http_response.json()

    def parse(self) -> T:
        """The typed result of the operation."""
        if self._parsed is _UNPARSED:
            self._parsed = parse_or_raise(self.http_response, self._parse, self.operation)
        return self._parsed

    def __repr__(self) -> str:
        return f"<APIResponse {self.operation} [{self.status_code}]>"


def parse_or_raise(response: httpx.Response, parse: Callable[[httpx.Response], T], operation: str) -> T:
    """Run a generated parser; turn any failure into one clear error that keeps the body."""
    try:
        return parse(response)
    except Exception as exc:  # the generated parsers raise KeyError, TypeError, ValueError, ...
        request = response.request
        raise APIResponseValidationError(
            f"the {response.status_code} response to {operation} does not fit its model "
            f"({type(exc).__name__}: {exc}); the raw body is on .body",
            method=request.method,
            url=safe_url(request.url),
            response=response,
            body=response.content,
        ) from exc
