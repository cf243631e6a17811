"""Write ``discourse_async/_generated/aliases.py``: every old name of a method or parameter, for the command line.

The Python API keeps old names as deprecated aliases rendered into the namespace classes. The command
line needs the same facts as data (its commands are built at run time, and the installed package has
no codegen/), so ``make generate`` writes them as a table beside the operation table:

- ``COMMANDS``: old method name -> (method name, since): the operationId-derived names that
  ``codegen/names.yaml`` replaced, and the renames of ``codegen/deprecations.yaml``;
- ``PARAMETERS``: operation -> {old parameter -> (parameter, since)} from ``codegen/deprecations.yaml``.

A module of its own rather than more of a template's output, so the table is one small import for
``discourse_async/cli/_aliases.py`` and a rename never touches the namespace templates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openapi_python_client.strings import snake_case

from codegen.build_spec import HTTP_METHODS, load_yaml

NAMES_FILE = Path(__file__).resolve().parent / "names.yaml"
#: The release our own method names (codegen/names.yaml) replaced the operationIds' in; the
#: namespace template gives the Python aliases the same version.
NAMES_SINCE = "0.2.0"
FILE_NAME = "aliases.py"


def tables(deprecations: dict[str, Any], spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(COMMANDS, PARAMETERS) for the operations of ``spec`` (deprecations already checked against it)."""
    operations = {
        snake_case(op["operationId"])
        for item in spec["paths"].values()
        for method in HTTP_METHODS
        if isinstance(op := item.get(method), dict)
    }
    names = (load_yaml(NAMES_FILE) or {}).get("names") or {}
    commands: dict[str, tuple[str, str]] = {}
    for op_id, name in sorted(names.items()):
        old = snake_case(op_id)
        if old in operations and old != name:
            commands[old] = (name, NAMES_SINCE)
    for old, alias in sorted(deprecations["operations"].items()):
        commands[old] = (alias["new"], str(alias["since"]))
    parameters = {
        op: {old: (alias["new"], str(alias["since"])) for old, alias in sorted(renames.items())}
        for op, renames in sorted(deprecations["parameters"].items())
        if renames
    }
    return commands, parameters


def write(out: Path, deprecations: dict[str, Any], spec: dict[str, Any]) -> None:
    """Write the table into the generated package ``out`` (formatted and stamped with the rest)."""
    commands, parameters = tables(deprecations, spec)
    # repr() of identifiers and version numbers (check_deprecations allows nothing else) is Python source.
    text = (
        '"""Every old name of a method or parameter (codegen/names.yaml and deprecations.yaml), for the CLI."""\n\n'
        "#: old method name -> (its method's name now, deprecated since).\n"
        f"COMMANDS: dict[str, tuple[str, str]] = {commands!r}\n\n"
        "#: operation -> {old parameter name -> (its name now, deprecated since)}.\n"
        f"PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {parameters!r}\n"
    )
    (out / FILE_NAME).write_text(text, encoding="utf-8")
