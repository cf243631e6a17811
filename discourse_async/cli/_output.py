"""Printing results (JSON, JSON Lines, tables) and errors with their exit codes."""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

import click

from discourse_async._exceptions import (
    APIConnectionError,
    APIStatusError,
    BadRequestError,
    ConfigurationError,
    UnprocessableEntityError,
)

#: (exit code, meaning), shown by ``--help``.
EXIT_CODES = (
    (0, "success"),
    (1, "any other error"),
    (2, "usage: a missing or invalid option, argument, body or setting"),
    (3, "no answer: the connection failed or timed out"),
    (4, "not found (404)"),
    (5, "not authenticated or not allowed (401, 403)"),
    (6, "Discourse refused the data (400, 422)"),
    (7, "rate limited (429)"),
    (8, "server error (5xx)"),
)

#: Columns a table shows first when the data has them; then other scalar fields, up to MAX_COLUMNS.
PREFERRED = ("id", "username", "name", "title", "slug", "post_number", "posts_count", "created_at")
MAX_COLUMNS = 6


def exit_code(exc: BaseException) -> int:
    """The documented exit code for an error."""
    if isinstance(exc, APIConnectionError):
        return 3
    if isinstance(exc, ConfigurationError):
        return 2
    if isinstance(exc, APIStatusError):
        status = exc.status_code
        if status >= 500:
            return 8
        if isinstance(exc, BadRequestError | UnprocessableEntityError):
            return 6
        return {404: 4, 401: 5, 403: 5, 429: 7}.get(status, 1)
    return 1


def error_lines(exc: BaseException) -> list[str]:
    """What stderr shows for an error: the call and status, then Discourse's own messages."""
    if isinstance(exc, APIStatusError):
        kind = f" {exc.error_type}" if exc.error_type else ""
        head = f"error: {exc.request_method} {exc.request_url} -> {exc.status_code}{kind}"
        messages = exc.errors or [exc.message]
        if getattr(exc, "retry_after", None) is not None:
            messages = [*messages, f"retry after {exc.retry_after:g} s"]  # type: ignore[attr-defined]
        return [head, *(f"  {m}" for m in messages)]
    return [f"error: {exc}"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def plain(value: Any) -> Any:
    """A model as JSON-ready data (its ``to_dict()``, unknown fields included); data as is."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """Compact JSON on one line."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default)


def _tty() -> bool:
    return sys.stdout.isatty()


def _words(key: str) -> set[str]:
    return set(key.split("_"))


def items_of(data: Any, operation: str) -> list[Any] | None:
    """The list a table or JSON Lines shows: the data itself if a list, else its main list of objects.

    The main list is found within two levels (``topic_list.topics``): the one whose name ends in a
    word of the operation's name (``list_latest_topics`` -> ``topics``; ``get_user`` is not a list of
    ``user_badges``); ``list_*`` operations with a single list take it whatever its name
    (``directory_items``). An answer with no main list is an object (see :func:`object_of`).
    """
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return None
    found: list[tuple[str, list[Any]]] = []
    for key, value in data.items():
        inner = value.items() if isinstance(value, dict) else [(key, value)]
        found += [(k, v) for k, v in inner if isinstance(v, list) and all(isinstance(i, dict) for i in v[:1])]
    words = _words(operation)
    for key, value in found:
        if key.split("_")[-1] in words:
            return value
    if operation.startswith("list") and len(found) == 1:
        return found[0][1]
    return None


def object_of(data: dict[str, Any], operation: str) -> dict[str, Any]:
    """The object an answer is about: ``{"user": {...}, "user_badges": [...]}`` of ``get_user`` is its user."""
    inner = [v for k, v in data.items() if isinstance(v, dict) and k in _words(operation)]
    return inner[0] if len(inner) == 1 else data


def flatten(row: Any, prefix: str = "") -> dict[str, Any]:
    """A row's fields by dotted path (``user.username``), nested objects opened."""
    if not isinstance(row, dict):
        return {prefix.rstrip("."): row} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value) if _scalar(value) else dumps(value)


def _default_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The main fields: PREFERRED ones first (also nested: ``user.username``), then other scalars."""
    keys = [k for k in dict.fromkeys(k for r in rows[:50] for k in r) if all(_scalar(r.get(k)) for r in rows[:50])]
    columns: list[str] = []
    for name in PREFERRED:
        match = next((k for k in keys if k == name), None) or next((k for k in keys if k.endswith("." + name)), None)
        if match and match not in columns:
            columns.append(match)
    top = [k for k in keys if k not in columns and "." not in k]
    return columns + top[: max(0, MAX_COLUMNS - len(columns))]


def _table(rows: list[Any], columns: list[str] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    flat = [flatten(r) for r in rows if isinstance(r, dict)]
    if not flat:
        click.echo("(no items)", err=True)
        return
    columns = columns or _default_columns(flat)
    unknown = [c for c in columns if all(c not in r for r in flat)]
    if unknown:  # a typo, or a field this answer does not have: say which fields it has
        known = ", ".join(sorted({k for r in flat[:50] for k in r}))
        click.echo(f"warning: no field {', '.join(unknown)} in the answer; its fields: {known}", err=True)
    table = Table(*columns)
    for row in flat:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    Console(soft_wrap=False).print(table)


def emit(data: Any, fmt: str | None, *, operation: str = "", columns: list[str] | None = None) -> None:
    """Print a result: ``json`` (pretty and colored on a terminal), ``jsonl`` or ``table``."""
    data = plain(data)
    if fmt in ("jsonl", "table"):
        rows = items_of(data, operation)
        if fmt == "jsonl":
            for row in rows if rows is not None else [data]:
                click.echo(dumps(row))
            return
        if rows is None and isinstance(data, dict):
            one = object_of(data, operation)
            if columns:  # one object, chosen columns: a one-row table
                rows = [one]
            else:  # one object: its fields, nested ones by dotted path, one a row
                rows = [{"field": k, "value": v} for k, v in flatten(one).items()]
                columns = ["field", "value"]
        _table(rows or [], columns)
        return
    if _tty():
        from rich.console import Console

        Console().print_json(json.dumps(data, ensure_ascii=False, default=_default))
    else:
        click.echo(dumps(data))


def write_raw(content: bytes, content_type: str) -> None:
    """A body that is not JSON (an iCalendar feed, a backup archive): text as is, bytes to a file or pipe."""
    if content_type.startswith("text/") or "calendar" in content_type:
        click.echo(content.decode("utf-8", "replace"), nl=not content.endswith(b"\n"))
        return
    if _tty():
        raise click.UsageError(f"the answer is binary ({content_type or 'no type'}): redirect it to a file (> out)")
    sys.stdout.buffer.write(content)
    sys.stdout.buffer.flush()
