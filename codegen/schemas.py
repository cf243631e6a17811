"""One reading of the JSON Schemas in Discourse's documents, whatever spelling a version used.

Discourse's published documents have spelt the same thing several ways over the years: an array's
``items`` as one schema or as a list of them (``[]`` for "anything", ``[{...}]`` for "these"),
``type`` as a string, a list or an empty string, OpenAPI 3.0's ``nullable``, ``allOf``/``anyOf``/
``oneOf`` at any level, ``$ref`` chains. The spec build calls :func:`normalize` once, before
anything else reads the document, so our corrections, the models table and the generator see one
spelling; the readers below (``types``, ``properties``, ``items``, ``options``, ``Resolver``)
take any value at all, so no caller assumes that a schema is a mapping.

A leaf module: it imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
#: Keywords whose value maps names to sub-schemas.
MAP_KEYS = ("properties", "patternProperties", "$defs", "definitions")
#: Keywords whose value is a list of sub-schemas.
LIST_KEYS = ("allOf", "anyOf", "oneOf", "prefixItems")
#: Keywords whose value is one sub-schema (``items`` may also be a list in older documents).
ONE_KEYS = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
_JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else an empty one (``true`` as a schema says nothing we use)."""
    return value if isinstance(value, dict) else {}


def children(schema: Any) -> Iterator[Any]:
    """The sub-schemas one level below ``schema``, in a fixed order."""
    schema = mapping(schema)
    for key in MAP_KEYS:
        yield from mapping(schema.get(key)).values()
    for key in LIST_KEYS:
        value = schema.get(key)
        if isinstance(value, list):
            yield from value
    for key in ONE_KEYS:
        value = schema.get(key)
        if isinstance(value, list):  # items: [...] before normalize()
            yield from value
        elif value is not None:
            yield value


def walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in ``schema`` and below it, each once (a document may share one object)."""
    seen: set[int] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed(list(children(node))))


def types(schema: Any) -> list[str]:
    """The JSON types a schema names itself, in its order (``[]``: it does not say)."""
    kind = mapping(schema).get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return [k for k in kinds if isinstance(k, str) and k]


def items(schema: Any) -> Any:
    """An array schema's item schema (None: anything)."""
    value = mapping(schema).get("items")
    if isinstance(value, list):
        return _items_of_list(value)
    return value


def options(schema: Any) -> list[Any]:
    """The alternatives of an ``anyOf`` or ``oneOf`` (empty when there are none)."""
    schema = mapping(schema)
    value = schema.get("anyOf") or schema.get("oneOf")
    return value if isinstance(value, list) else []


def all_of(schema: Any) -> list[Any]:
    value = mapping(schema).get("allOf")
    return value if isinstance(value, list) else []


def _items_of_list(value: list[Any]) -> Any:
    # JSON Schema drafts before 2020-12 read a list as a tuple; Discourse's documents write one
    # element to mean "every item is this", and an empty list to mean "any items".
    distinct: list[Any] = []
    for item in value:
        if item not in distinct:
            distinct.append(item)
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else {"anyOf": distinct}


def normalize_schema(schema: dict[str, Any]) -> None:
    """Rewrite one schema object (not its children) to the spelling the rest of the build reads."""
    if isinstance(schema.get("items"), list):
        value = _items_of_list(schema["items"])
        if value is None:
            del schema["items"]  # complete_arrays() gives it the empty schema after our corrections
        else:
            schema["items"] = value
    _normalize_type(schema)
    _normalize_subschemas(schema)
    if "enum" in schema and not isinstance(schema["enum"], list):
        del schema["enum"]  # not a list of values: it restricts nothing we could name
    required = schema.get("required")
    if required is not None and not isinstance(required, list):
        del schema["required"]  # `required: true` on a property: OpenAPI says it on the object
    elif required and not all(isinstance(name, str) for name in required):
        schema["required"] = [name for name in required if isinstance(name, str)]


def _normalize_subschemas(schema: dict[str, Any]) -> None:
    """Every place that holds a schema holds a mapping (``true``, or ``[]`` as some documents write, is any value)."""
    for key in MAP_KEYS:
        if key in schema and not isinstance(schema[key], dict):
            del schema[key]  # a list or a string here describes nothing a validator could use
        for name, sub in schema.get(key, {}).items():
            if not isinstance(sub, dict):
                schema[key][name] = {}  # `"field": []` (seen in 2025 documents) or `true`: any value
    for key in LIST_KEYS:
        if isinstance(schema.get(key), list):
            schema[key] = [sub if isinstance(sub, dict) else {} for sub in schema[key]]
        else:
            schema.pop(key, None)
    for key in ONE_KEYS:
        # additionalProperties may be a boolean; nothing else here may be anything but a schema.
        value = schema.get(key, {})
        if not isinstance(value, dict) and not (key == "additionalProperties" and isinstance(value, bool)):
            schema[key] = {}


def _normalize_type(schema: dict[str, Any]) -> None:
    kind = schema.get("type")
    if kind is not None:
        # "" (as some documents have), or a list holding one: keep the names JSON Schema knows.
        kinds = kind if isinstance(kind, list) else [kind]
        known = [k for k in kinds if isinstance(k, str) and k in _JSON_TYPES]
        if not known:
            del schema["type"]
        elif known != kinds:
            schema["type"] = known if isinstance(kind, list) else known[0]
    if "nullable" in schema:  # OpenAPI 3.0; 3.1 writes null as a type
        nullable = schema.pop("nullable")
        kinds = types(schema)
        if nullable is True and kinds and "null" not in kinds:
            schema["type"] = [*kinds, "null"]


def _media(container: Any) -> Iterator[dict[str, Any]]:
    for media in mapping(mapping(container).get("content")).values():
        if isinstance(media, dict):
            yield media


def _holders(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The objects of an OpenAPI document that hold a ``schema``: parameters, media types, headers."""
    components = mapping(doc.get("components"))
    yield from (p for p in mapping(components.get("parameters")).values() if isinstance(p, dict))
    for body in mapping(components.get("requestBodies")).values():
        yield from _media(body)
    for response in mapping(components.get("responses")).values():
        yield from _media(response)
    for path_item in mapping(doc.get("paths")).values():
        item = mapping(path_item)
        params = list(item.get("parameters") or [])
        for method in HTTP_METHODS:
            op = mapping(item.get(method))
            params += op.get("parameters") or []
            yield from _media(op.get("requestBody"))
            for response in mapping(op.get("responses")).values():
                yield from _media(response)
                yield from (h for h in mapping(mapping(response).get("headers")).values() if isinstance(h, dict))
        yield from (p for p in params if isinstance(p, dict))


def document_schemas(doc: dict[str, Any]) -> Iterator[Any]:
    """The top-level schemas of an OpenAPI document: parameters, bodies, answers, headers, components."""
    yield from mapping(mapping(doc.get("components")).get("schemas")).values()
    for holder in _holders(doc):
        if "schema" in holder:
            yield holder["schema"]


def normalize(doc: dict[str, Any]) -> None:
    """Rewrite every schema of ``doc`` in place to one spelling (see the module docstring)."""
    named = mapping(mapping(doc.get("components")).get("schemas"))
    for name, schema in named.items():
        if not isinstance(schema, dict):
            named[name] = {}
    for holder in _holders(doc):
        if "schema" in holder and not isinstance(holder["schema"], dict):
            holder["schema"] = {}
    for top in document_schemas(doc):
        for schema in walk(top):
            normalize_schema(schema)


def complete_arrays(doc: dict[str, Any]) -> int:
    """Give every array schema without ``items`` an empty one (any item); return how many there were.

    Run after our corrections, which say what the items of the arrays we know are: the generator
    refuses an array that does not say, and one new such array must not stop a build.
    """
    count = 0
    for top in document_schemas(doc):
        for schema in walk(top):
            if "array" in types(schema) and "items" not in schema and "prefixItems" not in schema:
                schema["items"] = {}
                count += 1
    return count


class Resolver:
    """Follows local ``$ref`` chains (``#/components/schemas/A`` -> ``B`` -> ...) through any JSON pointer."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def pointer(self, ref: str) -> Any:
        """What a local ``$ref`` points at; KeyError when it points nowhere."""
        if not ref.startswith("#"):
            raise KeyError(f"{ref}: only references inside the document are followed")
        node: Any = self.doc
        for escaped in ref[1:].split("/")[1:]:
            part = escaped.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise KeyError(f"{ref}: nothing at {part!r}")
        return node

    def deref(self, schema: Any) -> Any:
        """``schema`` with its ``$ref`` chain followed to the end (a cycle or dead end stops at the last object)."""
        seen: set[str] = set()
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            try:
                schema = self.pointer(schema["$ref"])
            except KeyError:
                break
        return schema

    def properties(self, schema: Any) -> dict[str, Any]:
        """The named fields of an object schema, its ``allOf`` branches' included (the first naming wins)."""
        found: dict[str, Any] = {}
        for branch in self.branches(schema):
            for name, sub in mapping(branch.get("properties")).items():
                found.setdefault(name, sub)
        return found

    def branches(self, schema: Any) -> list[dict[str, Any]]:
        """``schema`` (dereferenced) and the ``allOf`` parts it is made of, at any depth."""
        out: list[dict[str, Any]] = []
        stack = [schema]
        while stack:
            node = self.deref(stack.pop())
            if isinstance(node, dict) and all(node is not seen for seen in out):
                out.append(node)
                stack.extend(reversed(all_of(node)))
        return out
