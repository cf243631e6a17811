"""Give the document's shapes names: shared models in ``components/schemas``, from ``codegen/models.yaml``.

The published document writes every answer inline, so the same post appears under four names and a
basic user under eleven. This step, run by the spec build after the corrections, moves each shape
the table names into ``components/schemas`` (merging near-identical copies into one model with the
union of their fields), points every place it covers at it with ``$ref``, names every operation's
answer, marks the fields Discourse always sends as ``required``, and gives timestamps their format.

Places are written ``operationId:path``: the path walks the operation's 2xx JSON answer (or its
request body, with ``operationId/body:path``) through ``name`` (a property), ``[]`` (the items of
an array) and ``|N`` (option N of an ``anyOf``/``oneOf``); an empty path is the whole answer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codegen.build_spec import HTTP_METHODS, load_yaml
from codegen.schemas import Resolver, all_of, mapping, options, types

MODELS_FILE = Path(__file__).resolve().parent / "models.yaml"


class ModelsTableError(Exception):
    """codegen/models.yaml does not fit the document (a place that is not there, a shape without a name)."""


_TOKEN = re.compile(r"\[\]|\|\d+|[^.\[|]+")


def _operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op
        for item in doc["paths"].values()
        for method in HTTP_METHODS
        if isinstance(op := mapping(item).get(method), dict) and "operationId" in op
    }


def _json_media(container: Any) -> dict[str, Any] | None:
    for media_type, media in mapping(mapping(container).get("content")).items():
        if "json" in media_type and isinstance(media, dict) and "schema" in media:
            return media
    return None


def _success_media(op: dict[str, Any]) -> dict[str, Any] | None:
    for status, response in sorted(mapping(op.get("responses")).items()):
        if str(status).startswith("2"):
            return _json_media(response)
    return None


class _Resolver(Resolver):
    """Finds the schema at a place, following ``$ref`` chains and ``allOf`` parts."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(doc)
        self.ops = _operations(doc)
        components = doc.setdefault("components", {})
        if not isinstance(components.get("schemas"), dict):
            components["schemas"] = {}
        self.schemas: dict[str, Any] = components["schemas"]

    def find(self, place: str) -> tuple[Any, Any]:
        """(container, key) such that ``container[key]`` is the schema at ``place``."""
        op_part, _, path = place.partition(":")
        op_id, _, which = op_part.partition("/")
        op = self.ops.get(op_id)
        if op is None:
            raise ModelsTableError(f"codegen/models.yaml: {place}: no operation {op_id!r}")
        media = _json_media(op.get("requestBody")) if which == "body" else _success_media(op)
        if media is None:
            raise ModelsTableError(f"codegen/models.yaml: {place}: {op_id} has no JSON {'body' if which else 'answer'}")
        container: Any = media
        key: Any = "schema"
        for step in _TOKEN.findall(path):
            schema = self.deref(container[key])
            if step == "[]":
                container, key = mapping(schema), "items"
            elif step.startswith("|"):
                container, key = options(schema), int(step[1:])
            else:
                # The field may be named by the schema itself or by one of its allOf parts.
                owner = next((b for b in self.branches(schema) if step in mapping(b.get("properties"))), {})
                container, key = mapping(owner.get("properties")), step
            try:
                container[key]
            except (KeyError, IndexError, TypeError):
                raise ModelsTableError(f"codegen/models.yaml: {place}: nothing at {step!r}") from None
        return container, key


def _merge(into: dict[str, Any], other: Any) -> None:
    """The union of near-identical shapes: add the fields ``into`` lacks, widen the types of the rest.

    A field that one place documents as an integer and another as integer-or-null is nullable in
    the model: the union accepts what every place accepts.
    """
    props = into.setdefault("properties", {})
    for name, sub in mapping(mapping(other).get("properties")).items():
        props[name] = _widen(props[name], sub) if name in props else copy.deepcopy(sub)


_types = types


def _widen(a: Any, b: Any) -> Any:
    if a == b or not (isinstance(a, dict) and isinstance(b, dict)):
        return a
    a_types, b_types = _types(a), _types(b)
    if a_types and b_types and "object" not in a_types + b_types and "array" not in a_types + b_types:
        kinds = a_types + [t for t in b_types if t not in a_types]
        return {**a, "type": kinds[0] if len(kinds) == 1 else kinds}
    if "null" in b_types and "null" not in a_types:
        if a_types:
            return {**a, "type": [*a_types, "null"]}
        if "$ref" in a:
            return {"anyOf": [a, {"type": "null"}]}
    return a


def _object_only(schema: dict[str, Any]) -> dict[str, Any]:
    model = copy.deepcopy(schema)
    if "null" in _types(model):
        model["type"] = "object"
    model.pop("required", None)
    return model


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _point(container: Any, key: Any, name: str, nullable: bool) -> None:
    container[key] = {"anyOf": [_ref(name), {"type": "null"}]} if nullable else _ref(name)


def name_shapes(doc: dict[str, Any], table: dict[str, Any] | None = None) -> list[str]:
    """Apply the models table to ``doc`` in place (see the module docstring).

    Returns what did not fit: places the document does not have (an operation gone upstream, a
    field renamed) and answers the table does not name, which get a name made from the operation.
    The build reports these, as it reports stale corrections, so a new document still builds.
    """
    table = load_yaml(MODELS_FILE) if table is None else table
    resolver = _Resolver(doc)
    notes: list[str] = []
    named: set[int] = set()
    _shared_models(resolver, table.get("models") or {}, notes, named)
    _results(resolver, dict(table.get("results") or {}), notes, named)
    seen_schemas: set[int] = set()
    for schema in _answer_schemas(resolver):
        _answer_facts(schema, resolver, seen_schemas, named)
    # A namespace class (``Site`` for the tag "site") and a model of the same name would shadow
    # each other in the generated namespace module that uses both.
    tags = {t for op in resolver.ops.values() if isinstance(op.get("tags"), list) for t in op["tags"][:1]}
    namespaces = {"".join(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", t)) for t in tags}
    for name in sorted(namespaces & set(resolver.schemas)):
        new = next(
            f"{name}Model{n or ''}"
            for n in range(len(resolver.schemas) + 1)
            if f"{name}Model{n or ''}" not in resolver.schemas
        )
        _rename_model(doc, name, new)
        notes.append(
            f"codegen/models.yaml: the model {name} has the name of a namespace; called {new} until you rename it"
        )
    return notes


def _rename_model(doc: dict[str, Any], old: str, new: str) -> None:
    """Move ``components/schemas/old`` to ``new`` and point every ``$ref`` at it there."""
    found = doc["components"]["schemas"]
    found[new] = found.pop(old)
    refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}"}
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("$ref") in refs:
                node["$ref"] = refs[node["$ref"]]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _shared_models(resolver: _Resolver, models: dict[str, Any], notes: list[str], named: set[int]) -> None:
    schemas = resolver.schemas
    for name, entry in models.items():
        found: list[tuple[Any, Any, dict[str, Any]]] = []
        seen: set[int] = set()
        for place in entry["at"]:
            try:
                container, key = resolver.find(place)
            except ModelsTableError as exc:
                notes.append(str(exc))
                continue
            schema = mapping(container[key])
            if "$ref" in schema and resolver.deref(schema) is schemas.get(name):
                continue  # reached through a place already pointed at this model
            if id(schema) not in seen:
                seen.add(id(schema))
                found.append((container, key, schema))
        if not found:
            notes.append(f"codegen/models.yaml: {name} covers no place in this document")
            continue
        model = schemas.get(name) or _object_only(mapping(resolver.deref(found[0][2])))
        for _, _, schema in found:
            _merge(model, resolver.deref(schema))
        notes += _describe(model, name, entry)
        if all("/body" in place.partition(":")[0] for place in entry["at"]):
            # A request body shared by several operations: what every one of them requires stays required.
            lists = [set(mapping(resolver.deref(schema)).get("required") or ()) for _, _, schema in found]
            required = [f for f in model.get("properties", {}) if all(f in each for each in lists)]
            if required:
                model["required"] = required
        schemas[name] = model
        named.add(id(model))
        for container, key, schema in found:
            _point(container, key, name, "null" in _types(resolver.deref(schema)))


def _results(resolver: _Resolver, results: dict[str, Any], notes: list[str], named: set[int]) -> None:
    """Move each operation's answer (or, for a list, its items) into components under our name."""
    schemas = resolver.schemas
    for op_id, op in resolver.ops.items():
        media = _success_media(op)
        schema = media["schema"] if media is not None else None
        if not isinstance(schema, dict) or "$ref" in schema:
            continue
        target = schema.get("items") if schema.get("type") == "array" else schema
        if not (isinstance(target, dict) and _is_object(target)):
            continue
        if op_id not in results:
            results[op_id] = op_id[:1].upper() + op_id[1:] + "Result"
            notes.append(f"codegen/models.yaml: the answer of {op_id} has no name; called {results[op_id]}")
        entry = results[op_id] if isinstance(results[op_id], dict) else {"name": results[op_id]}
        container, key = (schema, "items") if target is not schema else (media, "schema")
        existing = schemas.get(entry["name"])
        if existing is not None:
            _merge(existing, target)
        else:
            schemas[entry["name"]] = _object_only(target)
        notes += _describe(schemas[entry["name"]], entry["name"], entry)
        named.add(id(schemas[entry["name"]]))
        _point(container, key, entry["name"], False)


def _is_object(schema: dict[str, Any]) -> bool:
    return "properties" in schema or schema.get("type") == "object"


def _describe(model: dict[str, Any], name: str, entry: dict[str, Any]) -> list[str]:
    if entry.get("description"):
        model["description"] = entry["description"]
    props = model.get("properties", {})
    always = [f for f in entry.get("always") or [] if f in props]
    missing = [f for f in entry.get("always") or [] if f not in props]
    if always:
        model["required"] = always
    return [f"codegen/models.yaml: {name} has no field {f!r} (listed as always sent)" for f in missing]


def _answer_schemas(resolver: _Resolver) -> Iterator[dict[str, Any]]:
    for op in resolver.ops.values():
        for response in mapping(op.get("responses")).values():
            media = _json_media(response)
            if media is not None:
                yield media["schema"]


def _answer_facts(schema: Any, resolver: _Resolver, seen: set[int], named: set[int]) -> None:
    """What holds for every answer shape.

    - String fields named ``*_at`` are ISO 8601 timestamps: marked ``date-time``.
    - A schema with properties is an object (the published document often leaves ``type`` out).
    - The published ``required`` lists say what the document's authors saw, not what every site
      sends (plugins, versions and the viewer change it): only our table's ``always`` lists stay.
    """
    schema = resolver.deref(schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return
    seen.add(id(schema))
    if id(schema) not in named:
        schema.pop("required", None)
    if "properties" in schema and "type" not in schema:
        schema["type"] = "object"  # properties alone would let any value through a validator
    for name, sub in mapping(schema.get("properties")).items():
        target = resolver.deref(sub)
        if isinstance(target, dict) and name.endswith("_at") and _is_string(target) and "format" not in target:
            target["format"] = "date-time"
        _answer_facts(sub, resolver, seen, named)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _answer_facts(schema[key], resolver, seen, named)
    for sub in [*options(schema), *all_of(schema)]:
        _answer_facts(sub, resolver, seen, named)


def _is_string(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind and "object" not in kind)
