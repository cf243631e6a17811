"""Realistic sample data built from openapi.yaml's schemas, the way a current Discourse fills them.

Values follow Discourse's conventions by field name (usernames, avatar templates, ISO timestamps,
slugs...). Nullable fields are null, as real sites send for most users and topics; per-viewer and
admin-only fields are left out, as an anonymous or non-admin caller sees; and every object gains a
field a plugin would add, which the models must keep.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_FIELD = "discourse_reactions_plugin_field"
PLUGIN_VALUE = {"enabled": True, "counts": [1, 2]}


@functools.cache
def spec() -> dict[str, Any]:
    with (ROOT / "openapi.yaml").open(encoding="utf-8") as fh:
        doc: dict[str, Any] = yaml.safe_load(fh)
    return doc


def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path, operation object)."""
    ops: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                ops[op["operationId"]] = (method.upper(), path, op)
    return ops


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, list):
        return [x for x in t if x != "null"] or ["null"]
    if t is None:
        if "properties" in schema:
            return ["object"]
        if "anyOf" in schema or "oneOf" in schema:
            return ["union"]
        return ["any"]
    return [t]


def _nullable(schema: dict[str, Any]) -> bool:
    t = schema.get("type")
    return isinstance(t, list) and "null" in t


_STRINGS = {
    "username": "sam",
    "name": "Sam Saffron",
    "avatar_template": "/user_avatar/forum.example.com/sam/{size}/1_2.png",
    "email": "sam@example.com",
    "slug": "welcome-to-our-forum",
    "title": "Welcome to our forum",
    "fancy_title": "Welcome to our forum",
    "raw": "Hello **world**, this is a post.",
    "cooked": "<p>Hello <strong>world</strong>, this is a post.</p>",
    "color": "0088CC",
    "text_color": "FFFFFF",
    "url": "https://forum.example.com/t/welcome-to-our-forum/42",
    "short_url": "upload://a1b2c3.png",
    "locale": "en",
    "archetype": "regular",
    "excerpt": "Hello world, this is a post.",
    "etag": '"0c376dcfcc2606f4335bbc732de93344"',
    "key": "temp/uploads/default/8f3c/file.png",
    "unique_identifier": "66e86218-80d9-4bda-b4d5-2b6def968705",
    "external_upload_identifier": "66e86218-80d9-4bda-b4d5-2b6def968705",
}


def _string(name: str, schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("format") == "date-time" or name.endswith(("_at", "_date", "_until", "_till")):
        return "2026-08-20T12:34:56.789Z"
    if name in _STRINGS:
        return _STRINGS[name]
    if name.endswith("_url") or name.endswith("_path"):
        return f"/{name.replace('_', '-')}/1"
    return f"{name or 'value'} text"


def result_of(operation: str) -> Any:
    """The generated parser of an operation's answer (snake_case operationId): ``(response, strict) -> result``."""
    import importlib

    from discourse_async._generated.api import OPERATIONS

    tag = OPERATIONS[operation][0]
    return getattr(importlib.import_module(f"discourse_async._generated.api.{tag}"), "_" + operation.upper())


def deref(schema: Any) -> Any:
    """The schema a ``$ref`` points at (shared models live in components/schemas)."""
    while isinstance(schema, dict) and "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def sample(schema: dict[str, Any] | None, name: str = "", *, depth: int = 0, response: bool = True) -> Any:
    """A value for ``schema``. In responses: nulls where nullable, plugin fields on objects."""
    schema = deref(schema)
    if not schema:
        return "plugin value"
    if response and _nullable(schema) and depth > 0:
        return None
    kind = _types(schema)[0]
    if kind == "union":
        return sample((schema.get("anyOf") or schema.get("oneOf"))[0], name, depth=depth, response=response)
    if kind == "object" or (kind == "any" and "properties" in schema):
        out: dict[str, Any] = {}
        for prop, sub in (schema.get("properties") or {}).items():
            # An anonymous or non-admin viewer does not get per-viewer flags or admin fields.
            if response and depth > 0 and prop.startswith(("can_", "admin_", "staff_")):
                continue
            out[prop] = sample(sub, prop, depth=depth + 1, response=response)
        # A plugin adds fields to objects with named fields, not to maps whose values share one type.
        if response and not isinstance(schema.get("additionalProperties"), dict):
            out[PLUGIN_FIELD] = PLUGIN_VALUE
        return out
    if kind == "array":
        items = schema.get("items") or {}
        return [sample(items, name, depth=depth + 1, response=response)] if depth < 8 else []
    if kind == "integer":
        return 42 if "id" in name or name.endswith("_number") else 3
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "string":
        return _string(name, schema)
    if kind == "null":
        return None
    return "plugin value"


def response_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    for status, response in op.get("responses", {}).items():
        if str(status).startswith("2"):
            for media, content in (response.get("content") or {}).items():
                if "json" in media:
                    return dict(deref(content.get("schema")) or {})
    return None


@functools.cache
def _registry() -> Any:
    """openapi.yaml as one JSON Schema resource, so ``$ref``s anywhere in it resolve against the whole document."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012))


SPEC_URI = "urn:discourse-async:openapi"


def response_validator(operation_id: str, status: int = 200) -> Any:
    """A Draft 2020-12 validator for an operation's JSON answer with ``status`` (None when it has none).

    The schema is referenced by its JSON pointer into the whole document, not copied out of it, so
    ``$ref``s to shared models (``#/components/schemas/...``) resolve as they do in the document.
    """
    import jsonschema

    method, path, op = operations()[operation_id]
    response = op.get("responses", {}).get(str(status))
    media = next((m for m in (response or {}).get("content") or {} if "json" in m), None)
    if media is None:
        return None

    def escape(part: str) -> str:
        return quote(part.replace("~", "~0").replace("/", "~1"), safe="~")

    pointer = "/".join(["", "paths", escape(path), method.lower(), "responses", str(status), "content", escape(media)])
    return jsonschema.Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}/schema"}, registry=_registry())


def request_schema(op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    body = op.get("requestBody")
    if not body:
        return None
    media, content = next(iter(body["content"].items()))
    return media, deref(content["schema"])
