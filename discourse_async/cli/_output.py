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


def items_of(data: Any, operation: str) -> list[Any] | None:
    """The list a table or JSON Lines shows: the data itself if a list, else its main list of objects.

    The main list is found within two levels (``topic_list.topics``), preferring a key that is a
    word of the operation's name (``list_latest_topics`` -> ``topics``); ``list_*`` operations
    with a single list take it whatever its name (``directory_items``).
    """
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return None
    found: list[tuple[str, list[Any]]] = []
    for key, value in data.items():
        inner = value.items() if isinstance(value, dict) else [(key, value)]
        found += [(k, v) for k, v in inner if isinstance(v, list) and all(isinstance(i, dict) for i in v[:1])]
    words = set(operation.split("_"))
    for key, value in found:
        if words & set(key.split("_")):
            return value
    if operation.startswith("list") and len(found) == 1:
        return found[0][1]
    return None


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _table(rows: list[Any], columns: list[str] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    dicts = [r for r in rows if isinstance(r, dict)]
    if not dicts:
        click.echo("(no items)", err=True)
        return
    if not columns:
        keys = [
            k for k in dict.fromkeys(k for r in dicts[:50] for k in r) if all(_scalar(r.get(k)) for r in dicts[:50])
        ]
        columns = [k for k in PREFERRED if k in keys]
        columns += [k for k in keys if k not in columns][: max(0, MAX_COLUMNS - len(columns))]
    table = Table(*columns)
    for row in dicts:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
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
        if rows is None and columns:  # one object, chosen columns: a one-row table
            rows = [data]
        elif rows is None:  # one object: its scalar fields, one a row
            rows = [{"field": k, "value": v} for k, v in data.items() if _scalar(v)] if isinstance(data, dict) else []
            columns = ["field", "value"]
        _table(rows, columns)
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
