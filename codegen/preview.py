"""Preview what a new upstream document changes for users of the generated client, before adopting it.

    python -m codegen.preview CANDIDATE [--base BASE]    # file or URL; the base defaults to the pin

Both documents go through the spec build first (our corrections and summaries), so they are compared
as they would be generated. Exit status: 0 no changes; 1 changes that keep callers' code working
(new operations, optional parameters, response fields); 2 changes that break it; 3 a document could
not be read or built.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from openapi_python_client.strings import PythonIdentifier

from codegen.build_spec import (
    HTTP_METHODS,
    ROOT,
    BuildResult,
    OverlayReport,
    SpecError,
    build_from,
    load_yaml,
    pin_label,
    pin_origin,
    read_pin,
    read_source,
)

# The generator's default (config.yaml does not change it): python names that clash with keywords get it.
FIELD_PREFIX = "field_"
BODY = "(body)"
TITLE = "# Discourse API changes"
LABELS = {"parameter": "parameters", "request": "request fields", "response": "response fields"}

Deprecations = dict[str, dict[str, Any]]


def snake(name: str) -> str:
    """The generated python name of an operationId or a parameter (e.g. getGroup -> get_group)."""
    return str(PythonIdentifier(name, prefix=FIELD_PREFIX))


def next_minor_version() -> str:
    """The release a deprecation ships in: the next minor version after discourse_async/_version.py."""
    text = (ROOT / "discourse_async" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r'__version__ = "(\d+)\.(\d+)', text)
    return f"{match[1]}.{int(match[2]) + 1}.0" if match else "next"


# --------------------------------------------------------------------------------------------
# What a document says, flattened for comparison


@dataclass(frozen=True)
class Operation:
    op_id: str
    method: str
    path: str
    op: dict[str, Any]
    params: list[dict[str, Any]]  # the path item's parameters, then the operation's (which win)

    @property
    def route(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def shape(self) -> tuple[str, str]:
        """Method and path with parameter names blanked: `{id}` -> `{name}` is a parameter rename, not a move."""
        return self.method, re.sub(r"\{[^}]*\}", "{}", self.path)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{([^}]*)\}", self.path)


def inline_refs(node: Any, doc: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """``node`` with local ``$ref``s replaced by what they point at (a recursive one stays a ``$ref``)."""
    if isinstance(node, list):
        return [inline_refs(v, doc, stack) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in stack:
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return inline_refs(target, doc, (*stack, ref))
    return {k: inline_refs(v, doc, stack) for k, v in node.items()}


def operations(doc: dict[str, Any]) -> dict[str, Operation]:
    ops: dict[str, Operation] = {}
    # Discourse's document has no $refs today; a later one might, and a change behind one must show.
    for path, item in inline_refs(doc["paths"], doc).items():
        for method in HTTP_METHODS:
            if method in item:
                op = item[method]
                merged = {(p["in"], p["name"]): p for p in [*item.get("parameters", []), *op.get("parameters", [])]}
                ops[op["operationId"]] = Operation(op["operationId"], method, path, op, list(merged.values()))
    return ops


@dataclass(frozen=True)
class Field:
    """One parameter or schema field: its JSON types, enum values (inputs only) and requiredness."""

    types: frozenset[str]
    required: bool
    enum: frozenset[str] = frozenset()

    @property
    def type_text(self) -> str:
        return "|".join(sorted(self.types))


def schema_types(schema: Any) -> frozenset[str]:
    """JSON types a schema allows; ``any`` when it does not say."""
    if not isinstance(schema, dict):
        return frozenset({"any"})
    kinds = schema.get("type")
    types = {kinds} if isinstance(kinds, str) else set(kinds or [])
    if schema.get("nullable"):  # OpenAPI 3.0 spelling
        types.add("null")
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            types |= schema_types(sub)
    if not types and "properties" in schema:
        types.add("object")
    return frozenset(types or {"any"})


def field_of(schema: Any, required: bool) -> Field:
    enum = schema.get("enum") if isinstance(schema, dict) else None
    return Field(schema_types(schema), required, frozenset(str(v) for v in enum or []))


def walk(schema: Any, path: str, required: bool, out: dict[str, Field]) -> None:
    """Flatten a schema into dotted field paths (``topic_list.topics[].posters[].extras``)."""
    if not isinstance(schema, dict):
        return
    out.setdefault(path, field_of(schema, required))
    for branch in [schema, *(schema.get("anyOf") or []), *(schema.get("oneOf") or []), *(schema.get("allOf") or [])]:
        if not isinstance(branch, dict):
            continue
        needed = set(branch.get("required") or [])
        for name, sub in (branch.get("properties") or {}).items():
            walk(sub, f"{path}.{name}" if path != BODY else name, name in needed, out)
        if isinstance(branch.get("items"), dict):
            walk(branch["items"], f"{path}[]" if path != BODY else "[]", True, out)


def body_fields(content: dict[str, Any] | None, json_only: bool) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for media, spec in sorted((content or {}).items()):
        if not json_only or "json" in media:
            walk(spec.get("schema"), BODY, True, out)
    return out


def parameters(op: Operation) -> dict[str, Field]:
    """Parameters by ``in:name`` (path parameters by position, so renames line up)."""
    params: dict[str, Field] = {}
    for p in op.params:
        params[f"{p['in']}:{p['name']}"] = field_of(p.get("schema"), bool(p.get("required")))
    return params


# --------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Change:
    """One difference inside an operation."""

    where: str  # "parameter", "request", "response"
    name: str
    what: str
    breaking: bool

    def __str__(self) -> str:
        mark = "BREAKING " if self.breaking else ""
        return f"{mark}{self.where} `{self.name}`: {self.what}"


@dataclass
class Report:
    """Everything that differs between two built documents, and what it means for callers."""

    base: str
    candidate: str
    added: dict[str, str] = field(default_factory=dict)  # operationId -> route
    removed: dict[str, str] = field(default_factory=dict)  # operationId -> route
    renamed: dict[str, str] = field(default_factory=dict)  # old operationId -> new operationId
    moved: dict[str, tuple[str, str]] = field(default_factory=dict)  # operationId -> (old route, new route)
    notes: dict[str, str] = field(default_factory=dict)  # operationId -> remark on a move or removal
    changes: dict[str, list[Change]] = field(default_factory=dict)  # operationId -> changes inside it
    stale: list[str] = field(default_factory=list)  # corrections of ours that no longer apply
    table: list[str] = field(default_factory=list)  # what the build noticed (codegen/models.yaml, items) anew
    deprecations: Deprecations = field(default_factory=lambda: {"operations": {}, "parameters": {}})

    @property
    def breaking(self) -> bool:
        inner = any(c.breaking for cs in self.changes.values() for c in cs)
        return bool(self.removed or self.renamed or self.moved or inner)

    @property
    def empty(self) -> bool:
        return not (self.added or self.breaking or self.changes or self.stale or self.table)

    @property
    def exit_code(self) -> int:
        return 2 if self.breaking else 0 if self.empty else 1

    def summary_line(self) -> str:
        if self.empty:
            return "no changes"
        counts = [
            f"{len(self.added)} added",
            f"{len(self.removed)} removed",
            f"{len(self.renamed)} renamed",
            f"{len(self.moved)} moved",
            f"{len(self.changes)} changed",
        ]
        verdict = "BREAKING" if self.breaking else "compatible"
        table = f"; {len(self.table)} build notes" if self.table else ""
        return f"operations: {', '.join(counts)}; {len(self.stale)} stale corrections{table}; {verdict}"

    def render(self) -> str:
        """The report as Markdown (readable as plain text in a terminal too)."""
        lines = [f"Compared {self.base} -> {self.candidate}: {self.summary_line()}."]
        if self.empty:
            return lines[0] + "\n"

        def section(title: str, items: list[str]) -> None:
            if items:
                lines.extend(["", f"### {title}", "", *items])

        section("Operations added", [f"- `{op}` ({snake(op)}): {route}" for op, route in self.added.items()])
        section(
            "Operations removed (breaking)",
            [f"- `{op}`: {route}{self._note(op)}" for op, route in self.removed.items()],
        )
        section(
            "Operations renamed (breaking; the old name is kept as a deprecated alias)",
            [f"- `{old}` -> `{new}` ({snake(old)} -> {snake(new)})" for old, new in self.renamed.items()],
        )
        section(
            "Operations moved (breaking)",
            [f"- `{op}`: {a} -> {b}{self._note(op)}" for op, (a, b) in self.moved.items()],
        )
        changed: list[str] = []
        for op, cs in self.changes.items():
            changed.append(f"- `{op}`")
            # Breaking changes first; plain removals and additions folded into one line per kind.
            changed.extend(f"  - {c}" for c in cs if c.breaking and c.what != "removed")
            for what, mark in (("removed", "BREAKING "), ("added", "")):
                for where, label in LABELS.items():
                    names = [f"`{c.name}`" for c in cs if c.where == where and c.what == what]
                    if names:
                        changed.append(f"  - {mark}{label} {what}: {', '.join(names)}")
            changed.extend(f"  - {c}" for c in cs if not c.breaking and c.what != "added")
        section("Operations changed", changed)
        section("Corrections of ours that no longer apply (codegen/corrections.yaml)", self.stale)
        section("What the build noticed (not fatal: fix the table or the corrections)", [f"- {n}" for n in self.table])
        proposal = {k: v for k, v in self.deprecations.items() if v}
        if proposal:
            text = yaml.safe_dump(proposal, sort_keys=True, default_flow_style=False).rstrip()
            lines.extend(["", "### Deprecated aliases (codegen/deprecations.yaml)", "", "```yaml", text, "```"])
        return "\n".join(lines) + "\n"

    def _note(self, op: str) -> str:
        return f" ({self.notes[op]})" if op in self.notes else ""


def type_change(old: Field, new: Field, is_input: bool) -> tuple[str, bool] | None:
    """Describe a change of type/enum, and whether it breaks callers (None: no change).

    Inputs may widen (a caller's value stays valid); responses may narrow (a reader's handling stays valid).
    """
    if old.types == new.types and (not is_input or old.enum == new.enum):
        return None
    parts: list[str] = []
    breaking = False
    if old.types != new.types:
        parts.append(f"type {old.type_text} -> {new.type_text}")
        wider, narrower = (new, old) if is_input else (old, new)
        breaking = "any" not in wider.types and not narrower.types <= wider.types
    if is_input and old.enum != new.enum:
        gone, came = sorted(old.enum - new.enum) if new.enum else [], sorted(new.enum - old.enum) if old.enum else []
        values = [f"+{v}" for v in came] + [f"-{v}" for v in gone]
        parts.append(f"values {' '.join(values)}" if values else "values no longer restricted")
        breaking |= bool(gone)
    return ", ".join(parts), breaking


def compare_fields(where: str, old: dict[str, Field], new: dict[str, Field], is_input: bool) -> list[Change]:
    changes: list[Change] = []
    added = [n for n in new if n not in old]
    removed = [n for n in old if n not in new]

    def top(names: list[str]) -> list[str]:
        # A whole new/removed object is one line, not one per nested field.
        return [n for n in names if not any(n.startswith((a + ".", a + "[")) and n != a for a in names)]

    for name in top(added):
        breaking = is_input and new[name].required
        changes.append(Change(where, name, "added, required" if breaking else "added", breaking))
    changes.extend(Change(where, name, "removed", True) for name in top(removed))
    for name in (n for n in old if n in new):
        a, b = old[name], new[name]
        typed = type_change(a, b, is_input)
        if typed:
            changes.append(Change(where, name, typed[0], typed[1]))
        if is_input and a.required != b.required:
            changes.append(Change(where, name, "now required" if b.required else "now optional", b.required))
    return changes


def compare_operation(old: Operation, new: Operation, report: Report, since: str) -> None:
    changes: list[Change] = []
    old_params, new_params = parameters(old), parameters(new)
    if old.shape == new.shape:
        # Same route, other names for its path parameters: a rename, which old keyword calls would miss.
        for a, b in zip(old.path_params, new.path_params, strict=True):
            if a != b and f"path:{a}" in old_params and f"path:{b}" in new_params:
                changes.append(Change("parameter", a, f"renamed to `{b}`", True))
                old_params[f"path:{b}"] = old_params.pop(f"path:{a}")
                report.deprecations["parameters"].setdefault(snake(new.op_id), {})[snake(a)] = {
                    "new": snake(b),
                    "since": since,
                }
    for c in compare_fields("parameter", old_params, new_params, True):
        changes.append(Change(c.where, c.name.split(":", 1)[1], c.what, c.breaking))
    old_body, new_body = old.op.get("requestBody") or {}, new.op.get("requestBody") or {}
    old_fields, new_fields = body_fields(old_body.get("content"), False), body_fields(new_body.get("content"), False)
    changes += compare_fields("request", old_fields, new_fields, True)
    changes += compare_fields("response", responses(old), responses(new), False)
    if changes:
        report.changes[new.op_id] = changes


def responses(op: Operation) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for status, response in sorted((op.op.get("responses") or {}).items()):
        if str(status).startswith("2"):
            out.update({k: v for k, v in body_fields(response.get("content"), True).items() if k not in out})
    return out


def stale_corrections(base: OverlayReport, candidate: OverlayReport) -> list[str]:
    """Corrections that did something to the base but match or change nothing in the candidate."""
    lines: list[str] = []
    for old, new in zip(base.results, candidate.results, strict=True):
        why = new.description.split(". ")[0].rstrip(".")
        if old.matched and not new.matched:
            lines.append(f"- correction {new.index} matches nothing (target gone): `{new.target}` ({why})")
        elif old.changed and new.matched and not new.changed:
            lines.append(f"- correction {new.index} changes nothing (fixed upstream?): `{new.target}` ({why})")
    return lines


def compare(
    base: BuildResult, candidate: BuildResult, base_label: str, candidate_label: str, since: str | None = None
) -> Report:
    """Compare two built documents (base: what users have; candidate: what they would get)."""
    since = since or next_minor_version()
    report = Report(base_label, candidate_label)
    old_ops, new_ops = operations(base.doc), operations(candidate.doc)
    new_by_shape = {op.shape: op for op in new_ops.values()}
    for op_id, old in old_ops.items():
        new = new_ops.get(op_id)
        if new is None:
            twin = new_by_shape.get(old.shape)
            if twin is not None and twin.op_id not in old_ops:
                report.renamed[op_id] = twin.op_id
                report.deprecations["operations"][snake(op_id)] = {"new": snake(twin.op_id), "since": since}
                compare_operation(old, twin, report, since)
            else:
                report.removed[op_id] = old.route
            continue
        if new.shape != old.shape:
            report.moved[op_id] = (old.route, new.route)
            twin = new_by_shape.get(old.shape)
            if twin is not None:
                report.notes[op_id] = f"the old route is now `{twin.op_id}`, use {snake(twin.op_id)}()"
        compare_operation(old, new, report, since)
    renamed_to = set(report.renamed.values())
    report.added = {op: new.route for op, new in new_ops.items() if op not in old_ops and op not in renamed_to}
    report.stale = stale_corrections(base.report, candidate.report)
    report.table = [note for note in candidate.notes if note not in base.notes]
    return report


# --------------------------------------------------------------------------------------------
# Writing what adoption records


def prepend_changes(report: Report, path: Path, day: dt.date) -> None:
    """Put the report at the top of CHANGES-API.md (newest first), under its title."""
    old = path.read_text(encoding="utf-8") if path.exists() else f"{TITLE}\n"
    head, _, rest = old.partition("\n## ")
    section = f"## {day.isoformat()}: {report.candidate}\n\n{report.render()}"
    text = f"{head.rstrip()}\n\n{section}" + (f"\n## {rest}" if rest else "")
    path.write_text(text, encoding="utf-8")


def load_deprecations(path: Path) -> Deprecations:
    data = (load_yaml(path) if path.exists() else None) or {}
    return {"operations": dict(data.get("operations") or {}), "parameters": dict(data.get("parameters") or {})}


def python_names(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Generated method name -> its parameters' python names (``body`` included when it has one)."""
    names: dict[str, set[str]] = {}
    for op in operations(doc).values():
        params = {snake(p["name"]) for p in op.params}
        names[snake(op.op_id)] = params | ({"body"} if op.op.get("requestBody") else set())
    return names


def check_deprecations(data: Deprecations, doc: dict[str, Any]) -> list[str]:
    """Entries that cannot be generated against ``doc`` (the alias would clash or point at nothing)."""
    names = python_names(doc)
    problems: list[str] = []
    # The entries are rendered into Python source: only identifiers and version numbers may get there.
    entries = [(f"operations.{old}", old, a) for old, a in data["operations"].items()]
    entries += [(f"parameters.{op}.{old}", old, a) for op, r in data["parameters"].items() for old, a in r.items()]
    for key, old, alias in entries:
        if not (isinstance(alias, dict) and str(old).isidentifier() and str(alias.get("new")).isidentifier()):
            problems.append(f"{key}: needs identifiers and the form {{new: name, since: version}}")
        elif not re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", str(alias.get("since"))):
            problems.append(f"{key}: since must be a version number")
    if problems:
        return problems
    for old, alias in data["operations"].items():
        if old in names:
            problems.append(f"operations.{old}: is an operation again")
        elif alias.get("new") not in names:
            problems.append(f"operations.{old}: {alias.get('new')} is not an operation")
    for op, renames in data["parameters"].items():
        for old, alias in renames.items():
            if op not in names:
                problems.append(f"parameters.{op}: not an operation")
            elif old in names[op]:
                problems.append(f"parameters.{op}.{old}: is a parameter again")
            elif alias.get("new") not in names[op]:
                problems.append(f"parameters.{op}.{old}: {alias.get('new')} is not a parameter")
    return problems


def update_deprecations(report: Report, doc: dict[str, Any], path: Path) -> list[str]:
    """Add the report's proposed aliases to deprecations.yaml; drop entries the new document invalidates."""
    data = load_deprecations(path)
    messages: list[str] = []
    for old, alias in report.deprecations["operations"].items():
        data["operations"][old] = alias
        messages.append(f"added operations.{old} -> {alias['new']}")
    for op, renames in report.deprecations["parameters"].items():
        for old, alias in renames.items():
            data["parameters"].setdefault(op, {})[old] = alias
            messages.append(f"added parameters.{op}.{old} -> {alias['new']}")
    # An alias whose old name is real again, or whose target is gone, would clash or forward to nothing.
    for problem in check_deprecations(data, doc):
        key = problem.split(":")[0].split(".")
        section = data[key[0]]
        if len(key) == 2:
            section.pop(key[1], None)
        else:
            section[key[1]].pop(key[2], None)
            if not section[key[1]]:
                section.pop(key[1])
        messages.append(f"dropped {problem.split(':')[0]} ({problem.split(': ', 1)[1]})")
    write_deprecations(data, path)
    return messages


def write_deprecations(data: Deprecations, path: Path) -> None:
    header = (
        "# Old names that keep working for one release after Discourse renamed them: the generated namespaces\n"
        "# expose each as a thin alias that raises a DeprecationWarning and forwards to the new name.\n"
        "# `make spec SPEC=...` adds entries; delete an entry one release after its `since`.\n"
        "#   operations: {old_method: {new: new_method, since: version}}\n"
        "#   parameters: {method: {old_param: {new: new_param, since: version}}}\n"
    )
    body = yaml.safe_dump(
        {"operations": data["operations"] or {}, "parameters": data["parameters"] or {}},
        sort_keys=True,
        default_flow_style=False,
    )
    path.write_text(header + body, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Command line


def preview(candidate: str, base: str | None = None) -> Report:
    """Build both documents and compare them (``base`` defaults to the pin)."""
    base_raw, base_pin = read_source(base)
    cand_raw, cand_pin = read_source(candidate)
    # The candidate first: a document that cannot be used is refused before the base is built.
    cand_build = build_from(cand_raw, pin_origin(cand_pin))
    # The same bytes build to the same document: skip the second (slow) build.
    same = cand_pin["sha256"] == base_pin["sha256"]
    base_build = cand_build if same else build_from(base_raw, pin_origin(base_pin))
    base_label = pin_label(read_pin()) if base is None else base
    return compare(base_build, cand_build, base_label, candidate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate", help="the new upstream document (path or URL)")
    parser.add_argument("--base", help="the document to compare with (path or URL); default: the pin")
    args = parser.parse_args(argv)
    try:
        report = preview(args.candidate, args.base)
    except (SpecError, OSError, ValueError) as exc:
        print(f"preview failed: {exc}", file=sys.stderr)
        return 3
    print(report.render(), end="")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
