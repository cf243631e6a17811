"""docs/testing.md's tables of the fake are generated from the fake itself and kept current here.

The route table lists every route the fake serves, the operationId of openapi.yaml it answers for (a
dash for routes the document lacks), and what it leaves out, taken from the "Not modelled:" paragraph
of the route's handler. The rule table lists each of Discourse's rules in ``_rules.RULES``, who may,
the site settings it reads, the answer a refused call gets, and the routes whose handlers consult it
(found by reading the handlers and the helpers they call, so it is the code the fake runs). The
settings table lists ``SiteSettings`` with their defaults. To rewrite them after a change:

    DISCOURSE_ASYNC_WRITE_ROUTES=1 .venv/bin/python -m pytest tests/testing/test_fake_route_table.py
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from discourse_async.testing import FakeDiscourse
from discourse_async.testing._context import Ctx, Route
from discourse_async.testing._rules import RULES
from discourse_async.testing._settings import SiteSettings
from tests.samples import operations

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BEGIN = "<!-- route table: generated from the fake by tests/testing/test_fake_route_table.py -->"
END = "<!-- end of the route table -->"
RULES_BEGIN = "<!-- rule table: generated from the fake by tests/testing/test_fake_route_table.py -->"
RULES_END = "<!-- end of the rule table -->"
SETTINGS_BEGIN = "<!-- settings table: generated from the fake by tests/testing/test_fake_route_table.py -->"
SETTINGS_END = "<!-- end of the settings table -->"
METHODS = ("GET", "POST", "PUT", "DELETE")


def not_modelled(route: Route) -> str:
    """The handler's "Not modelled:" paragraph, on one line."""
    _, found, rest = (inspect.getdoc(route.handler) or "").partition("Not modelled:")
    text = " ".join(rest.split("\n\n")[0].split()).replace("``", "`").replace("|", "\\|")
    return text if found else ""


def route_table(fake: FakeDiscourse) -> str:
    documented = {(method, path): op_id for op_id, (method, path, _op) in operations().items()}
    routes = sorted(
        fake._router.routes,
        key=lambda r: (r.handler.__module__, r.template.removesuffix(".json"), METHODS.index(r.method)),
    )
    lines = ["| tag | method | path | operationId | not modelled |", "| --- | --- | --- | --- | --- |"]
    for route in routes:
        op_id = documented.get((route.method, route.template))
        tag = route.handler.__module__.rsplit(".", 1)[-1]
        lines.append(f"| {tag} | {route.method} | `{route.template}` | {op_id or '—'} | {not_modelled(route)} |")
    return "\n".join(lines)


_CALL = re.compile(r"\b(?:(\w+)\.)?(\w+)\(")
_GUARD = re.compile(r"\bguard\(\s*\"([\w.]+)\"")


def _callees(func: Callable[..., Any]) -> list[Callable[..., Any]]:
    """The fake's own functions that ``func`` calls: module functions, ``_module.name(...)`` and Ctx methods."""
    found = []
    scope = getattr(func, "__globals__", {})
    for owner, name in _CALL.findall(inspect.getsource(func)):
        target: Any = None
        if owner in ("ctx", "self"):
            target = getattr(Ctx, name, None)
        elif owner:
            module = scope.get(owner)
            target = getattr(module, name, None) if isinstance(module, types.ModuleType) else None
        else:
            target = scope.get(name)
        if inspect.isfunction(target) and target.__module__.startswith("discourse_async.testing"):
            found.append(target)
    return found


def rules_consulted(func: Callable[..., Any]) -> set[str]:
    """Every rule ``func`` consults, directly or through the fake's functions it calls."""
    seen: set[Callable[..., Any]] = set()
    todo, rules = [func], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        rules |= set(_GUARD.findall(inspect.getsource(current)))
        todo += _callees(current)
    return rules


def _route_label(route: Route, documented: dict[tuple[str, str], str]) -> str:
    return documented.get((route.method, route.template)) or f"`{route.method} {route.template}`"


def rule_table(fake: FakeDiscourse) -> str:
    documented = {(method, path): op_id for op_id, (method, path, _op) in operations().items()}
    routes = sorted(fake._router.routes, key=lambda r: (r.template.removesuffix(".json"), METHODS.index(r.method)))
    consulted = {id(route): rules_consulted(route.handler) for route in routes}
    lines = [
        "| rule | who may | site settings | a refused call gets | where |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in RULES.values():
        body: dict[str, Any] = {"errors": list(rule.errors)} | (
            {"error_type": rule.error_type} if rule.error_type else {}
        )
        where = rule.where or ", ".join(
            dict.fromkeys(_route_label(r, documented) for r in routes if rule.name in consulted[id(r)])
        )
        settings = ", ".join(f"`{name}`" for name in rule.settings)
        refusal = f"{rule.status} `{json.dumps(body, ensure_ascii=False)}`"
        lines.append(f"| `{rule.name}` | {rule.allows} | {settings} | {refusal} | {where} |".replace("  ", " "))
    return "\n".join(lines)


def settings_table() -> str:
    lines = ["| site setting | Discourse's default |", "| --- | --- |"]
    for f in dataclasses.fields(SiteSettings):
        default = json.dumps(f.default) if f.type != "str" else f"`{f.default}`" if f.default else "(empty)"
        lines.append(f"| `{f.name}` | {default} |")
    return "\n".join(lines)


def _between(doc: str, begin: str, end: str) -> str:
    return doc[doc.index(begin) + len(begin) : doc.index(end)]


def test_the_tables_in_the_docs_are_current() -> None:
    fake = FakeDiscourse()
    tables = [
        (BEGIN, END, f"\n{route_table(fake)}\n"),
        (RULES_BEGIN, RULES_END, f"\n{rule_table(fake)}\n"),
        (SETTINGS_BEGIN, SETTINGS_END, f"\n{settings_table()}\n"),
    ]
    doc = DOC.read_text(encoding="utf-8")
    if os.environ.get("DISCOURSE_ASYNC_WRITE_ROUTES"):
        for begin, end, fresh in tables:
            doc = doc[: doc.index(begin) + len(begin)] + fresh + doc[doc.index(end) :]
        DOC.write_text(doc, encoding="utf-8")
    for begin, end, fresh in tables:
        assert _between(doc, begin, end) == fresh, (
            f"docs/testing.md's table after {begin!r} is stale: "
            "DISCOURSE_ASYNC_WRITE_ROUTES=1 pytest tests/testing/test_fake_route_table.py"
        )


def test_every_rule_is_consulted_somewhere() -> None:
    fake = FakeDiscourse()
    used = set().union(*(rules_consulted(r.handler) for r in fake._router.routes))
    app_level = {name for name, rule in RULES.items() if rule.where}
    assert set(RULES) - app_level <= used, f"rules no handler consults: {sorted(set(RULES) - app_level - used)}"
    assert used <= set(RULES), f"handlers consult rules the table lacks: {sorted(used - set(RULES))}"


def test_every_documented_operation_the_fake_serves_is_in_the_table() -> None:
    table = route_table(FakeDiscourse())
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    served = {row[3] for row in rows if row[3] != "—"}
    assert served == set(operations())  # all 93 operations of openapi.yaml
    assert {"`/about.json`", "`/filter.json`", "`/categories/search.json`"} <= {row[2] for row in rows}
