"""Where route handlers register: by operation name (paths come from openapi.yaml) or by path."""

from __future__ import annotations

from collections.abc import Callable

from discourse_async.testing._context import Handler

#: operation name (as in discourse_async._generated.api.OPERATIONS) -> handler
OPERATION_HANDLERS: dict[str, Handler] = {}
#: routes Discourse has that our document does not describe: (method, path template, name, handler)
EXTRA_ROUTES: list[tuple[str, str, str, Handler]] = []


def op(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of a documented operation."""

    def register(handler: Handler) -> Handler:
        OPERATION_HANDLERS[name] = handler
        return handler

    return register


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register the handler of an undocumented route."""

    def register(handler: Handler) -> Handler:
        EXTRA_ROUTES.append((method, path, handler.__name__, handler))
        return handler

    return register
