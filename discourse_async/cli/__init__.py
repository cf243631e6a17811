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
    try:
        import click  # noqa: F401 - checked here so a missing extra gives one clear line
        import rich  # noqa: F401
    except ImportError as exc:
        sys.stderr.write(
            f"discourse-async: the command line needs the 'cli' extra ({exc.name} is missing): "
            "pip install 'discourse-async[cli]'\n"
        )
        raise SystemExit(1) from None
    from discourse_async.cli._app import cli

    cli.main(args=list(argv) if argv is not None else None, prog_name="discourse-async")


def __getattr__(name: str) -> Any:
    # ``from discourse_async.cli import cli``: the click group, built on first use.
    if name == "cli":
        from discourse_async.cli._app import cli

        return cli
    raise AttributeError(name)
