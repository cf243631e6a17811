"""The command-line reference of docs/cli.md, written from the command tree itself.

    python -m discourse_async.cli._reference            # rewrite the reference part of docs/cli.md
    python -m discourse_async.cli._reference --check    # exit 1 when it is not what the tree gives

Every line comes from the Click commands the program runs (their usage, help and options as
``--help`` shows them), so the reference cannot disagree with the command line. Hidden commands and
options (deprecated aliases, the global options repeated on each command) are left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from discourse_async.cli._app import cli

START = "<!-- reference: written by `python -m discourse_async.cli._reference` (make docs); do not edit below -->"
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


#: Options every command has, listed once at the top rather than under each command.
COMMON = ("_dry_run", "_format", "_columns")


def _context(command: click.Command, parent: click.Context | None, name: str) -> click.Context:
    return click.Context(command, info_name=name, parent=parent, **command.context_settings)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe in a choice list ([json|jsonl|table]) would end the cell


def _options(command: click.Command, ctx: click.Context, leave_out: tuple[str, ...] = COMMON) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden or param.name in leave_out or "--help" in param.opts:
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            rows.append(f"| `{_cell(record[0])}` | {_cell(' '.join(record[1].split()))} |")
    return ["| option | |", "|---|---|", *rows] if rows else []


def _command(command: click.Command, ctx: click.Context) -> list[str]:
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    help_text = click.unstyle(command.help or "").replace("\b\n", "")
    lines = [f"### `{ctx.command_path.removeprefix('discourse-async ')}`", "", "```", usage, "```", ""]
    paragraphs = [p.strip() for p in help_text.split("\n\n") if p.strip()]
    for paragraph in paragraphs:
        if paragraph.startswith("Arguments:"):
            lines += ["Arguments:", ""]
            for entry in paragraph.splitlines()[1:]:
                name, _, text = entry.strip().partition("  ")
                lines.append(f"- `{name}`: {text.strip()}")
            lines.append("")
        elif paragraph.startswith(("GET ", "POST ", "PUT ", "DELETE ", "PATCH ")):
            lines += [f"`{paragraph}`", ""]
        else:
            lines += [" ".join(paragraph.split()), ""]
    options = _options(command, ctx)
    return lines + ([*options, ""] if options else [])


def reference() -> str:
    """The reference part of docs/cli.md: the root's options, then every namespace and command."""
    root = _context(cli, None, "discourse-async")
    lines = [
        START,
        "",
        "## Reference",
        "",
        "Every command, as its `--help` shows it. The global options below are also taken after the",
        "command; every operation also takes `--dry-run`, and every command `--format`, `--columns` and",
        "`-h`/`--help`.",
        "",
        "```",
        " ".join(["discourse-async", *cli.collect_usage_pieces(root)]),
        "```",
        "",
        *_options(cli, root, ()),
        "",
    ]
    assert isinstance(cli, click.Group)
    for ns_name in cli.list_commands(root):
        group = cli.get_command(root, ns_name)
        if not isinstance(group, click.Group) or group.hidden:
            continue
        ns_ctx = _context(group, root, ns_name)
        lines += [f"## `{ns_name}`", "", " ".join((group.help or "").split()), ""]
        for name in group.list_commands(ns_ctx):
            command = group.get_command(ns_ctx, name)
            if command is None or command.hidden:
                continue
            lines += _command(command, _context(command, ns_ctx, name))
    return "\n".join(lines).rstrip() + "\n"


def written(text: str) -> str:
    """docs/cli.md's text with its reference part replaced by the command tree's."""
    guide = text.split(START, 1)[0].rstrip()
    return f"{guide}\n\n{reference()}"


def main(argv: list[str]) -> int:
    """Rewrite docs/cli.md's reference (or, with --check, say whether it is current)."""
    current = DOCUMENT.read_text(encoding="utf-8")
    fresh = written(current)
    if "--check" in argv:
        if fresh != current:
            print("docs/cli.md's reference differs from the command tree: run `make docs`")
            return 1
        return 0
    DOCUMENT.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
