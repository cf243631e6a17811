"""docs/testing.md's table of the fake's routes is generated from the fake itself and kept current here.

The table lists every route the fake serves, the operationId of openapi.yaml it answers for (a dash
for routes the document lacks), and what it leaves out, taken from the "Not modelled:" paragraph of
the route's handler. To rewrite it after changing routes:

    DISCOURSE_ASYNC_WRITE_ROUTES=1 .venv/bin/python -m pytest tests/testing/test_fake_route_table.py
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from discourse_async.testing import FakeDiscourse
from discourse_async.testing._context import Route
from tests.samples import operations

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BEGIN = "<!-- route table: generated from the fake by tests/testing/test_fake_route_table.py -->"
END = "<!-- end of the route table -->"
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


def test_the_route_table_in_the_docs_is_current() -> None:
    fresh = f"\n{route_table(FakeDiscourse())}\n"
    doc = DOC.read_text(encoding="utf-8")
    if os.environ.get("DISCOURSE_ASYNC_WRITE_ROUTES"):
        doc = doc[: doc.index(BEGIN) + len(BEGIN)] + fresh + doc[doc.index(END) :]
        DOC.write_text(doc, encoding="utf-8")
    assert doc[doc.index(BEGIN) + len(BEGIN) : doc.index(END)] == fresh, (
        "docs/testing.md's route table is stale: DISCOURSE_ASYNC_WRITE_ROUTES=1 pytest tests/testing/test_fake_route_table.py"
    )


def test_every_documented_operation_the_fake_serves_is_in_the_table() -> None:
    table = route_table(FakeDiscourse())
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    served = {row[3] for row in rows if row[3] != "—"}
    assert served == set(operations())  # all 93 operations of openapi.yaml
    assert {"`/about.json`", "`/filter.json`", "`/categories/search.json`"} <= {row[2] for row in rows}
