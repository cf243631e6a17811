"""The ``discourse-async`` command line: every operation, iterator and upload from a shell.

Needs the ``cli`` extra (``pip install 'discourse-async[cli]'``: Click and Rich). Run
``discourse-async --help``, or ``python -m discourse_async.cli --help``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``discourse-async`` console script)."""
    from discourse_async._extras import MissingExtraError

    try:
        cli = _cli()
    except MissingExtraError as exc:  # one clear line, not a traceback
        sys.stderr.write(f"discourse-async: {exc}\n")
        raise SystemExit(1) from None

    cli.main(args=list(argv) if argv is not None else None, prog_name="discourse-async")


def __getattr__(name: str) -> Any:
    # ``from discourse_async.cli import cli``: the click group, built on first use.
    if name == "cli":
        return _cli()
    raise AttributeError(name)


def _cli() -> Any:
    from discourse_async._extras import requires_extra

    with requires_extra("cli", "the command line"):
        import rich  # noqa: F401 - needed by the output, imported late there

        from discourse_async.cli._app import cli
    return cli
