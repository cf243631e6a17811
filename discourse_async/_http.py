"""Small HTTP helpers shared by the request path: origins, safe URLs, and error bodies."""

from __future__ import annotations

import json
import math
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from discourse_async._exceptions import APIStatusError, RateLimitError, status_error_class

#: Every header that carries a credential. They are sent only to the base URL's origin.
CREDENTIAL_HEADERS = frozenset(
    {
        "api-key",
        "api-username",
        "api-user-id",
        "api-user-external-id",
        "user-api-key",
        "user-api-client-id",
        "authorization",
        "cookie",
        "proxy-authorization",
    }
)

Origin = tuple[str, str, int]
DEFAULT_PORTS = {"http": 80, "https": 443}


def safe_url(url: httpx.URL | str) -> str:
    """The URL without user info, query or fragment: safe for messages and logs.

    Presigned S3 URLs carry their signature in the query string, and a user may put anything in
    one; neither belongs in an exception message.
    """
    url = httpx.URL(url)
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


# ------------------------------------------------------------------------------ Retry-After


_SECONDS_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:seconds?|secs?\b|s\b)", re.IGNORECASE)
_MAX_WAIT = 24 * 3600.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP-date, RFC 9110 10.2.3).

    Garbage, negative and non-finite values give None (no usable hint); a date in the past gives 0.
    """
    text = (value or "").strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until_http_date(text, time.time() if now is None else now)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, _MAX_WAIT)


def _seconds_until_http_date(text: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less value is not one
        return None
    return max(when.timestamp() - now, 0.0)


def retry_after_of(response: httpx.Response, body: object) -> float | None:
    """The wait a 429 (or 503) asks for, from the header, the JSON body, or a text body."""
    wait = parse_retry_after(response.headers.get("retry-after"))
    if wait is not None:
        return wait
    if isinstance(body, dict):
        extras = body.get("extras")
        if isinstance(extras, dict):
            value = extras.get("wait_seconds")
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return min(float(value), _MAX_WAIT)
    elif isinstance(body, str) and "html" not in response.headers.get("content-type", ""):
        match = _SECONDS_IN_TEXT.search(body)
        if match:
            return min(float(match.group(1)), _MAX_WAIT)
    return None


# ------------------------------------------------------------------------------ error bodies


def decode_error_body(response: httpx.Response) -> object:
    """The body of an error response: parsed JSON when it is JSON, else text."""
    content = response.content
    ctype = response.headers.get("content-type", "")
    if "json" in ctype or content[:1] in (b"{", b"["):
        try:
            return json.loads(content)
        except ValueError:
            pass
    return response.text


def _describe_body(body: object) -> tuple[list[str], str | None, dict[str, Any], str]:
    """(errors, error_type, extras, a short message) from any error body Discourse or a proxy sends."""
    if isinstance(body, dict):
        raw_errors = body.get("errors")
        if isinstance(raw_errors, list):
            errors = [str(e) for e in raw_errors]
        elif isinstance(raw_errors, str):
            errors = [raw_errors]
        elif isinstance(body.get("error"), str):
            errors = [body["error"]]
        elif isinstance(body.get("message"), str):
            errors = [body["message"]]
        else:
            errors = []
        error_type = body.get("error_type")
        extras = body.get("extras")
        return (
            errors,
            error_type if isinstance(error_type, str) else None,
            extras if isinstance(extras, dict) else {},
            "; ".join(errors),
        )
    if isinstance(body, str):
        text = body.strip()
        if text.lower().startswith(("<!doctype", "<html")) or "<body" in text[:2000].lower():
            title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
            summary = f"HTML page: {title.group(1).strip()}" if title else f"HTML page ({len(text)} characters)"
            return [], None, {}, summary[:200]
        return ([text[:500]] if text else []), None, {}, text[:200]
    return [], None, {}, ""


def status_error(response: httpx.Response, *, method: str, url: str) -> APIStatusError:
    """The typed exception for a non-2xx response."""
    body = decode_error_body(response)
    errors, error_type, extras, summary = _describe_body(body)
    status = response.status_code
    reason = response.reason_phrase or ""
    message = f"{status} {reason}".strip() + f" from {method} {url}"
    if error_type:
        message += f" [{error_type}]"
    if summary:
        message += f": {summary}"
    kwargs: dict[str, Any] = dict(
        method=method, url=url, response=response, body=body, errors=errors, error_type=error_type, extras=extras
    )
    cls = status_error_class(status)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after_of(response, body), **kwargs)
    return cls(message, **kwargs)
