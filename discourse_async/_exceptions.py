"""The exception tree. Every failure of a call is one of these; none carries a credential.

DiscourseError
├── APIError                      (has .request_method / .request_url, credential-free)
│   ├── APIStatusError            any non-2xx answer: .status_code .errors .error_type .extras .response
│   │   ├── BadRequestError               400
│   │   ├── AuthenticationError           401
│   │   ├── PermissionDeniedError         403 (a bad or missing key, or a rule of the site)
│   │   ├── NotFoundError                 404
│   │   ├── ConflictError                 409
│   │   ├── UnprocessableEntityError      422
│   │   ├── RateLimitError                429 (.retry_after)
│   │   └── InternalServerError           >= 500
│   ├── APIConnectionError        the request did not get an answer
│   │   └── APITimeoutError
│   ├── APIResponseValidationError  a 2xx body that does not fit its model (.body kept)
│   └── RedirectError             too many redirects, or a redirect without a usable Location
├── ClientClosedError             a call on a closed client (also a RuntimeError)
└── ConfigurationError            the client was given options that cannot work (also a ValueError)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._runtime import PathParameterError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "DiscourseError",
    "InternalServerError",
    "NotFoundError",
    "PathParameterError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "UnprocessableEntityError",
]


class DiscourseError(Exception):
    """Base class of every exception raised by discourse_async."""


class ClientClosedError(DiscourseError, RuntimeError):
    """A call on a client that was closed (``aclose()`` or the end of ``async with``); nothing was sent."""


class ConfigurationError(DiscourseError, ValueError):
    """Options given to the client that cannot work together (raised before any request)."""


class APIError(DiscourseError):
    """A call failed. ``request_url`` has no query string, so no presigned signature shows."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.message = message
        self.request_method = method
        self.request_url = url


class APIStatusError(APIError):
    """Discourse (or a proxy in front of it) answered with a non-2xx status.

    ``errors``, ``error_type`` and ``extras`` come from Discourse's JSON error body
    (``{"errors": [...], "error_type": "not_found", "extras": {...}}``); they are empty for
    plain-text and HTML error pages, whose text stays available as ``body``.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        response: httpx.Response,
        body: object,
        errors: list[str],
        error_type: str | None,
        extras: dict[str, Any],
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.response = response
        self.status_code = response.status_code
        self.body = body
        self.errors = errors
        self.error_type = error_type
        self.extras = extras


class BadRequestError(APIStatusError):
    """400: the request was malformed (often a missing or invalid parameter)."""


class AuthenticationError(APIStatusError):
    """401: the credentials were not accepted."""


class PermissionDeniedError(APIStatusError):
    """403: a bad key, or a key or user not allowed to do this (``error_type`` ``invalid_access``)."""


class NotFoundError(APIStatusError):
    """404: no such resource, or not visible to this user (``error_type`` ``not_found``)."""


class ConflictError(APIStatusError):
    """409: the resource changed under the request."""


class UnprocessableEntityError(APIStatusError):
    """422: Discourse refused the data (``invalid_parameters``, ``record_invalid``)."""


class RateLimitError(APIStatusError):
    """429: a rate limit was hit. ``retry_after`` is the wait in seconds, when it could be told."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """5xx: Discourse or a proxy in front of it failed."""


class APIConnectionError(APIError):
    """No answer: the connection failed or broke before a response arrived.

    ``request_sent`` is False when the request provably never left (the connection could not be
    made), True when it may have reached Discourse: a write may then have been carried out.
    """

    def __init__(self, message: str, *, method: str, url: str, request_sent: bool = True) -> None:
        super().__init__(message, method=method, url=url)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """No answer within the timeout."""


class APIResponseValidationError(APIError):
    """A successful response whose body does not fit the operation's model.

    ``body`` holds the raw body (bytes) and ``response`` the HTTP response, so nothing is lost.
    """

    def __init__(self, message: str, *, method: str, url: str, response: httpx.Response, body: bytes) -> None:
        super().__init__(message, method=method, url=url)
        self.response = response
        self.status_code = response.status_code
        self.body = body


class RedirectError(APIError):
    """A redirect chain that was too long or had no usable ``Location``."""


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for a status code."""
    if status_code >= 500:
        return InternalServerError
    return STATUS_ERRORS.get(status_code, APIStatusError)
