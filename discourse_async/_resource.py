"""Base class of the generated namespaces (``dc.topics``, ``dc.posts``, ...): one call, many operations.

Each generated method names its operation, HTTP method, route and result, and hands its arguments
here; this builds the request (path parameters encoded, arguments left out dropped, models and
timestamps turned into JSON) and sends it through the client's one request path.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast

from discourse_async._generated.types import Unset
from discourse_async._runtime import Result, _dump, form_part, path_param

if TYPE_CHECKING:
    from discourse_async._response import APIResponse

T = TypeVar("T")
P = ParamSpec("P")

# Set while a ``with_raw_response`` method runs: the call returns the response, not the model.
_RAW: ContextVar[bool] = ContextVar("discourse_async_raw", default=False)
# Set while the command line shows a request (--dry-run): the call returns the request, unsent.
_DRY_RUN: ContextVar[bool] = ContextVar("discourse_async_dry_run", default=False)


async def request_of(call: Awaitable[Any]) -> dict[str, Any]:
    """The request an operation call would send (method, url, params, json/files, headers), unsent."""
    token = _DRY_RUN.set(True)
    try:
        built: dict[str, Any] = await call
    finally:
        _DRY_RUN.reset(token)
    return built


class _Caller(Protocol):
    async def _call_parsed(self, operation: str, kwargs: dict[str, Any], parse: Result[T]) -> T: ...

    async def _call_operation(self, operation: str, kwargs: dict[str, Any], parse: Result[T]) -> APIResponse[T]: ...


def raw_response(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[APIResponse[T]]]:
    """The same operation, returning the raw response; ``.parse()`` on it gives what ``method`` returns."""

    @functools.wraps(method)
    async def raw(*args: P.args, **kwargs: P.kwargs) -> APIResponse[T]:
        token = _RAW.set(True)
        try:
            return await method(*args, **kwargs)  # type: ignore[return-value] # _call answers raw
        finally:
            _RAW.reset(token)

    return raw


def _query_value(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return value


class Namespace:
    """Holds the client; the generated subclasses add one method per operation."""

    __slots__ = ("__dict__", "_client")

    def __init__(self, client: Any) -> None:
        self._client: _Caller = client

    async def _call(
        self,
        operation: str,
        method: str,
        route: str,
        result: Result[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        accept: str | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> T:
        """Build the request and send it; return the answer as ``result`` parses it.

        Under ``with_raw_response`` the response comes back instead, under ``request_of`` the request
        unsent: their callers give those two their types.
        """
        url = route.format(**{k: path_param(k, v) for k, v in path.items()}) if path else route
        kwargs: dict[str, Any] = {"method": method, "url": url}
        if query or extra_query:
            params = {
                k: _query_value(v) for k, v in (query or {}).items() if v is not None and not isinstance(v, Unset)
            }
            params.update(extra_query or {})
            kwargs["params"] = params
        sent: dict[str, str] = {}
        for name, value in (headers or {}).items():
            if value is not None and not isinstance(value, Unset):
                sent[name] = str(value)
        if accept is not None:
            sent["Accept"] = accept
        sent.update(extra_headers or {})
        if sent:
            kwargs["headers"] = sent
        if json is not None or files is not None:
            # Arguments left out are not sent; an empty body is not sent at all.
            body = {k: v for k, v in (json or files or {}).items() if not isinstance(v, Unset)}
            body.update(extra_body or {})
            if files is not None:
                kwargs["files"] = [(k, form_part(v)) for k, v in body.items() if v is not None]
            elif body:
                kwargs["json"] = {k: _dump(v) for k, v in body.items()}
        if _RAW.get():
            # raw_response() and request_of() give these two paths their types.
            return cast(T, await self._client._call_operation(operation, kwargs, result))
        if _DRY_RUN.get():
            return cast(T, kwargs)
        return await self._client._call_parsed(operation, kwargs, result)
