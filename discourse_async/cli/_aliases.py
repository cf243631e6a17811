"""Old command and option names: hidden, still working, each use saying once on stderr what to type now.

The command line keeps every name it had, as the Python API does. The names come from the table
``make generate`` writes (``discourse_async._generated.aliases``, from ``codegen/names.yaml`` and
``codegen/deprecations.yaml``), so a rename adopted from a new Discourse document keeps its old
command and option working without a change here. Old names are not listed in ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from discourse_async._generated.aliases import COMMANDS, PARAMETERS
from discourse_async._generated.api import METHOD_NAMES

_OPERATION_OF = {method: operation for operation, method in METHOD_NAMES.items()}
_PREFIX = "alias_"  # callback keywords of the hidden options (no command parameter starts so)


def _dashed(name: str) -> str:
    return name.rstrip("_").replace("_", "-")


@dataclass(frozen=True)
class _Renamed:
    """A hidden option standing for a renamed parameter's option."""

    old_flag: str
    new_flag: str
    target: str  # the callback keyword of the option it stands for
    since: str


def command(makers: Mapping[str, Callable[[], click.Command]], name: str) -> click.Command | None:
    """The command ``name`` (dashed) of a namespace whose commands ``makers`` builds, old names included."""
    make = makers.get(name)
    old: tuple[str, str] | None = None
    if make is None:
        entry = COMMANDS.get(name.replace("-", "_"))
        make = makers.get(_dashed(entry[0])) if entry else None
        if entry is None or make is None:
            return None
        old = (_dashed(entry[0]), entry[1])
    built = make()
    options = _old_options(built)
    if old is None and not options:
        return built
    return _with_old_names(built, old, options)


def _old_options(built: click.Command) -> dict[str, _Renamed]:
    """Add the hidden options of ``built``'s renamed parameters, by their callback keywords."""
    operation = _OPERATION_OF.get((built.name or "").replace("-", "_"))
    added: dict[str, _Renamed] = {}
    for old, (new, since) in PARAMETERS.get(operation or "", {}).items():
        # Body fields' keywords carry a prefix; the generator's keywords may end in "_" (filter_).
        target = next(
            (
                p
                for p in built.params
                if isinstance(p, click.Option) and (p.name or "").removeprefix("_b_").rstrip("_") == new.rstrip("_")
            ),
            None,
        )
        flag = f"--{_dashed(old)}"
        if target is None or target.name is None or any(flag in p.opts for p in built.params):
            continue  # a path parameter (an argument: its name is never typed), or the name is in use again
        keyword = f"{_PREFIX}{old}"
        if target.is_flag and target.secondary_opts:
            option = click.Option([f"{flag}/--no-{flag[2:]}", keyword], default=None, hidden=True)
        else:
            option = click.Option(
                [flag, keyword], type=target.type, multiple=target.multiple, is_flag=target.is_flag, hidden=True
            )
        built.params.append(option)
        added[keyword] = _Renamed(flag, target.opts[0], target.name, since)
    return added


def _with_old_names(built: click.Command, old: tuple[str, str] | None, options: dict[str, _Renamed]) -> click.Command:
    callback = built.callback
    if callback is None:
        return built

    def run(**values: Any) -> Any:
        ctx = click.get_current_context()
        namespace = ctx.parent.info_name if ctx.parent else ""
        if old is not None:
            new, since = old
            _say(f"'{namespace} {ctx.info_name}' is deprecated since {since}: use '{namespace} {new}'")
        for keyword, renamed in options.items():
            value = values.pop(keyword, None)
            if value is None or value == ():
                continue
            if values.get(renamed.target) not in (None, ()):
                raise click.UsageError(f"{renamed.old_flag} is the old name of {renamed.new_flag}: give one of them")
            values[renamed.target] = value
            _say(f"{renamed.old_flag} is deprecated since {renamed.since}: use {renamed.new_flag}")
        return callback(**values)

    built.callback = run
    return built


def _say(line: str) -> None:
    click.echo(f"discourse-async: {line}", err=True)
