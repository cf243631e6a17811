"""The one request path.

Every request the client makes (generated operations, raw calls, pagination, uploads' Discourse
calls) goes through :meth:`RequestPath.send`, so credentials, redirects and errors are handled once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from discourse_async._exceptions import APIConnectionError, APITimeoutError, RedirectError
from discourse_async._http import CREDENTIAL_HEADERS, Origin, origin_of, safe_url, status_error
from discourse_async._secrets import Secret

log = logging.getLogger("discourse_async")

DEFAULT_MAX_REDIRECTS = 5


class Credentials:
    """The credential headers of a client, sent only to its own origin."""

    __slots__ = ("_headers", "kind")

    def __init__(self, headers: Mapping[str, str | Secret], kind: str) -> None:
        self._headers = {name: value if isinstance(value, Secret) else Secret(value) for name, value in headers.items()}
        self.kind = kind

    def apply(self, headers: httpx.Headers) -> None:
        for name, value in self._headers.items():
            headers[name] = value.reveal()

    def __bool__(self) -> bool:
        return bool(self._headers)

    def __repr__(self) -> str:
        return f"<Credentials {self.kind}>"


def strip_credentials(headers: httpx.Headers) -> None:
    """Remove every credential header (ours and any the caller added)."""
    for name in [n for n in headers if n.lower() in CREDENTIAL_HEADERS]:
        del headers[name]


class RequestPath:
    """Sends one logical request: auth for the base origin only, safe redirects, typed errors."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        origin: Origin,
        credentials: Credentials,
        timeout: httpx.Timeout,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
    ) -> None:
        self.http = http
        self.timeout = timeout
        self.origin = origin
        self.credentials = credentials
        self.max_redirects = max_redirects

    async def send(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        params: Any = None,
        json: Any = None,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        cookies: Any = None,
        operation: str = "request",
    ) -> httpx.Response:
        """Send a request and return its final 2xx response; raise a typed error otherwise."""
        if cookies:
            raise TypeError("cookies are not sent by discourse_async; authenticate with API keys")
        request = self.http.build_request(
            method,
            url,
            params=params,
            json=json,
            content=content,
            data=data,
            files=files,
            headers=headers,
            timeout=self.timeout,
        )
        response = await self._send_following_redirects(request, operation)
        if not 200 <= response.status_code < 300:
            raise status_error(response, method=request.method, url=safe_url(request.url))
        return response

    async def _send_following_redirects(self, request: httpx.Request, operation: str) -> httpx.Response:
        # Credentials go to the base origin only. Once a redirect chain leaves that origin, nothing
        # later in the chain gets them back: a third party must not be able to steer an
        # authenticated request to an endpoint of its choosing.
        trusted = True
        for _ in range(self.max_redirects + 1):
            trusted = trusted and origin_of(request.url) == self.origin
            strip_credentials(request.headers)
            if trusted:
                self.credentials.apply(request.headers)
            response = await self._send_once(request, operation)
            if not response.has_redirect_location:
                return response
            next_request = response.next_request
            await response.aclose()
            if next_request is None:  # pragma: no cover - httpx sets it whenever there is a Location
                break
            log.debug("%s: %s redirected to %s", operation, response.status_code, safe_url(next_request.url))
            request = next_request
        raise RedirectError(
            f"more than {self.max_redirects} redirects for {operation}",
            method=request.method,
            url=safe_url(request.url),
        )

    async def _send_once(self, request: httpx.Request, operation: str) -> httpx.Response:
        try:
            response = await self.http.send(request)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(
                f"{operation}: no answer from {safe_url(request.url)} in time ({type(exc).__name__})",
                method=request.method,
                url=safe_url(request.url),
            ) from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(
                f"{operation}: {type(exc).__name__} talking to {safe_url(request.url)}",
                method=request.method,
                url=safe_url(request.url),
            ) from exc
        log.debug("%s %s %s -> %s", operation, request.method, safe_url(request.url), response.status_code)
        return response
