"""The import block of each generated module, computed from the names the module's code uses.

Our templates write no imports of their own: they leave ``MARKER`` where the imports go, and this
fills it in after rendering. The rendered module is parsed (``ast``); every name it reads and does
not bind itself is looked up in one table (the runtime, the standard library, the generated models
and request-body params); a name read only inside annotations is imported under ``TYPE_CHECKING``
(annotations are not evaluated: every template starts with ``from __future__ import annotations``),
any other at the top. A name found nowhere is an error, so a template can neither leave a class
unimported (mypy would read it as ``Any``) nor import one it does not use.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from pathlib import Path

#: The line our templates leave where the computed imports go.
MARKER = "# (imports computed by codegen/imports.py)"

#: Where the names the templates write come from, other than the generated models and params.
#: A module given as "..x" is relative to the generated package (the dots are added per file).
FIXED: dict[str, str] = {
    **dict.fromkeys(["TYPE_CHECKING", "Any", "Literal", "NotRequired", "Required", "TypedDict"], "typing"),
    **dict.fromkeys(["Mapping", "Sequence"], "collections.abc"),
    "cached_property": "functools",
    "PostActionType": "discourse_async._enums",
    **dict.fromkeys(["Namespace", "raw_response"], "discourse_async._resource"),
    "Paginator": "discourse_async.pagination",
    **dict.fromkeys(
        [
            "ANY",
            "BOOL",
            "DATE",
            "DATETIME",
            "FILE",
            "FLOAT",
            "INT",
            "NULL",
            "STR",
            "Field",
            "Model",
            "Result",
            "deprecated_alias",
            "enum",
            "field",
            "lst",
            "mapping",
            "nullable",
            "one_of",
            "ref",
            "renamed_parameters",
            "with_body_dict",
        ],
        "discourse_async._runtime",
    ),
    **dict.fromkeys(["UNSET", "Unset", "File"], "..types"),
}
#: Modules whose names are imported at run time even when only annotations use them.
CHEAP_MODULES = frozenset({"typing", "collections.abc", "..types", "..params"})
#: Names imported as modules (``datetime.datetime`` in an annotation).
MODULES = frozenset({"datetime"})


class UnknownNameError(Exception):
    """A generated module uses a name that nothing defines."""


def defined_names(path: Path) -> list[str]:
    """The names a generated module defines at its top level (classes, functions, type aliases)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return names


def package_table(package: Path) -> dict[str, str]:
    """name -> module ("..models.post") for every model and params name of the generated package."""
    table: dict[str, str] = {}
    sources = [*sorted((package / "models").glob("*.py")), package / "params.py"]
    for path in sources:
        if path.name == "__init__.py" or not path.exists():
            continue
        rel = path.relative_to(package).with_suffix("")
        for name in defined_names(path):
            if not name.startswith("_") and name not in FIXED:
                table.setdefault(name, ".." + ".".join(rel.parts))
    return table


def _annotations(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign):
            yield node.annotation
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.returns is not None:
                yield node.returns
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]:
                if arg.annotation is not None:
                    yield arg.annotation


def used_names(source: str) -> tuple[set[str], set[str]]:
    """(names read at run time, names read only in annotations), leaving out what the module binds."""
    tree = ast.parse(source)
    in_annotations: set[int] = {id(n) for a in _annotations(tree) for n in ast.walk(a)}
    bound = set(dir(builtins))
    runtime: set[str] = set()
    typing_only: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                (typing_only if id(node) in in_annotations else runtime).add(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            bound.add(node.name)
    runtime -= bound
    return runtime, typing_only - bound - runtime


def _line(module: str, names: list[str], depth: int) -> str:
    if module.startswith(".."):
        module = "." * depth + module[2:]
    return f"from {module} import {', '.join(sorted(names))}"


def import_block(source: str, table: dict[str, str], depth: int, where: str) -> str:
    """The imports ``source`` needs; ``depth`` is how many dots reach the generated package."""
    runtime, typing_only = used_names(source)
    unknown = sorted(n for n in runtime | typing_only if n not in table and n not in FIXED and n not in MODULES)
    if unknown:
        raise UnknownNameError(f"{where} uses names nothing defines: {', '.join(unknown)}")
    # Names from modules that cost nothing more to import (already loaded with the package, or
    # loaded only for this) are imported for real even where only annotations read them: readers
    # of annotations at run time (get_type_hints, the command line's options, a TypedDict's
    # required keys) find them. Models stay under TYPE_CHECKING: they load lazily, one by one.
    cheap = {n for n in typing_only if (FIXED.get(n) or table.get(n)) in CHEAP_MODULES}
    runtime |= cheap
    typing_only -= cheap
    if typing_only:
        runtime.add("TYPE_CHECKING")

    def lines(names: set[str]) -> list[str]:
        by_module: dict[str, list[str]] = {}
        plain = sorted(n for n in names if n in MODULES)
        for name in names - MODULES:
            by_module.setdefault(FIXED.get(name) or table[name], []).append(name)
        return [f"import {m}" for m in plain] + [_line(m, ns, depth) for m, ns in sorted(by_module.items())]

    block = lines(runtime)
    if typing_only:
        block += ["", "if TYPE_CHECKING:", *("    " + line for line in lines(typing_only))]
    return "\n".join(block)


def fill(package: Path) -> None:
    """Replace ``MARKER`` in every module of the generated package with the imports it needs."""
    table = package_table(package)
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if MARKER not in source:
            continue
        rel = path.relative_to(package)
        # api/posts/__init__.py reaches the package root with "...", models/post.py with "..".
        block = import_block(source.replace(MARKER, ""), table, len(rel.parts), str(rel))
        path.write_text(source.replace(MARKER, block), encoding="utf-8")
