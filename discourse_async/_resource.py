"""Base class of the generated namespaces (``dc.topics``, ``dc.posts``, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from discourse_async._generated.types import Unset

if TYPE_CHECKING:
    from discourse_async._response import APIResponse, Parser

T = TypeVar("T")


class _Caller(Protocol):
    async def _call_parsed(self, operation: str, kwargs: dict[str, Any], parse: Parser[T]) -> T: ...

    async def _call_operation(self, operation: str, kwargs: dict[str, Any], parse: Parser[T]) -> APIResponse[T]: ...


class Namespace:
    """Holds the client; the generated subclasses add one method per operation."""

    __slots__ = ("_client",)

    def __init__(self, client: Any) -> None:
        self._client: _Caller = client

    async def _request(self, operation: str, kwargs: dict[str, Any], parse: Parser[T]) -> APIResponse[T]:
        return await self._client._call_operation(operation, kwargs, parse)

    async def _call(self, operation: str, kwargs: dict[str, Any], parse: Parser[T]) -> T:
        return await self._client._call_parsed(operation, kwargs, parse)

    @staticmethod
    def _body(model: Any, body: Any) -> Any:
        """Accept a request body as the generated model or as a plain mapping with the same keys."""
        if isinstance(body, Unset) or not isinstance(body, Mapping):
            return body
        # A required field left out is a mistake the caller can fix before anything is sent.
        missing = [f.key for f in model._fields.values() if f.required and f.key not in body]
        if missing:
            raise TypeError(f"{model.__name__}: the body is missing the required field {missing[0]!r}")
        return model.from_dict(body)
