"""Property-based: no answer's shape makes a parse fail, nothing is lost, strict mode agrees with jsonschema.

Real-shaped answers of every operation with a JSON answer (built from openapi.yaml the way current
Discourse fills them: nulls, plugin fields, viewer-dependent fields left out) are mutated at random:
a value nulled, removed, given another JSON type, a list put where an object was, an unknown field
added. For each mutated answer:

- the default parse never raises, reading every field of every nested model never raises, and
  ``to_dict()`` gives back exactly the mutated answer;
- strict mode raises ``APIResponseValidationError`` exactly when an independent validator
  (jsonschema, Draft 2020-12, against openapi.yaml) finds the answer does not fit, and the JSON
  path it names is where the mutation was made (or inside or above it).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discourse_async import APIResponseValidationError
from discourse_async._generated.api import OPERATIONS
from discourse_async._response import parse_or_raise
from discourse_async._runtime import Model
from tests import samples

BY_ROUTE = {(method, path): (name, tag) for name, (tag, method, path) in OPERATIONS.items()}


def _cases() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """operationId -> (parser, sample answer, schema of the answer)."""
    cases = {}
    for op_id, (method, path, op) in sorted(samples.operations().items()):
        schema = samples.response_schema(op)
        if schema is None:
            continue
        name, _tag = BY_ROUTE[(method, path)]
        parse = samples.result_of(name)
        if parse.spec is None:
            continue
        raw = next(
            c["schema"]
            for s, r in op["responses"].items()
            if str(s).startswith("2")
            for m, c in (r.get("content") or {}).items()
            if "json" in m
        )
        cases[op_id] = (parse, samples.sample(schema), raw)
    return cases


#: Value constraints, not types: strict mode checks that each value has its documented type and
#: shape (what a model can be built from, a timestamp that parses), not that a string matches a
#: pattern or a list is long enough.
VALUE_KEYWORDS = frozenset(
    [
        "pattern",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    ]
)


def _types_only(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _types_only(v) for k, v in schema.items() if k not in VALUE_KEYWORDS or k == "properties"}
    if isinstance(schema, list):
        return [_types_only(v) for v in schema]
    return schema


CASES = {op_id: (parse, data, _types_only(schema)) for op_id, (parse, data, schema) in _cases().items()}
VALIDATOR_ROOT = {"components": _types_only(samples.spec()["components"])}


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # date-time checked as RFC 3339 (rfc3339-validator), as strict mode checks a timestamp parses.
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return jsonschema.Draft202012Validator({**schema, **VALIDATOR_ROOT}, format_checker=checker)


def test_enough_operations() -> None:
    assert len(CASES) >= 20


def _response(data: Any) -> httpx.Response:
    return httpx.Response(200, json=data, request=httpx.Request("GET", "https://forum.example.com/x.json"))


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (the root excluded), as key/index tuples."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*here, key))
            found += _paths(item, (*here, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.append((*here, i))
            found += _paths(item, (*here, i))
    return found


def _other_type(value: Any, pick: int) -> Any:
    """A value of another JSON type than ``value``."""
    options: list[Any] = ["a string", 7, 2.5, True, [1, "x"], {"unexpected": 1}]
    same = {dict: dict, list: list, str: str, bool: bool, int: int, float: float}.get(type(value))
    options = [o for o in options if type(o) is not same]
    return options[pick % len(options)]


MUTATIONS = ("null", "remove", "retype", "list_for_object", "add_field")


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any, tuple[Any, ...], str]:
    op_id = draw(st.sampled_from(sorted(CASES)))
    data = copy.deepcopy(CASES[op_id][1])
    places = _paths(data)
    kind = draw(st.sampled_from(MUTATIONS))
    if not places:
        return op_id, data, (), "none"
    where = draw(st.sampled_from(places))
    parent = data
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    if kind == "null":
        parent[last] = None
    elif kind == "remove":
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    elif kind == "retype":
        parent[last] = _other_type(parent[last], draw(st.integers(0, 5)))
    elif kind == "list_for_object":
        parent[last] = [parent[last]] if isinstance(parent[last], dict) else [{"id": 1}]
    else:
        target = parent[last] if isinstance(parent[last], dict) else parent
        if isinstance(target, dict):
            target[draw(st.sampled_from(["plugin_field", "zz_new", "accepted_answer"]))] = {"any": [1, None]}
    return op_id, data, where, kind


def _touch(value: Any, depth: int = 0) -> None:
    """Read every field of every model reachable from ``value`` (what a user's code may do)."""
    if depth > 30:
        return
    if isinstance(value, Model):
        for name in type(value)._fields:
            _touch(getattr(value, name), depth + 1)
        value.additional_properties  # noqa: B018 - reading it is the point
        value.fields_set  # noqa: B018
        repr(value)
    elif isinstance(value, list):
        for item in value:
            _touch(item, depth + 1)


def _plain(result: Any) -> Any:
    if isinstance(result, list):
        return [_plain(item) for item in result]
    return result.to_dict() if isinstance(result, Model) else result


def _json_path(where: tuple[Any, ...]) -> str:
    out = "$"
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if step.isidentifier() else f"[{step!r}]")
    return out


def _related(reported: str, mutated_at: str) -> bool:
    return reported.startswith(mutated_at) or mutated_at.startswith(reported)


@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_any_mutation_parses_losslessly_and_strict_mode_agrees_with_jsonschema(
    case: tuple[str, Any, tuple[Any, ...], str],
) -> None:
    op_id, data, where, _kind = case
    parse, _sample, schema = CASES[op_id]
    response = _response(data)

    result = parse_or_raise(response, parse, op_id)
    _touch(result)
    assert _plain(result) == data
    assert json.loads(response.content) == data  # reading fields changed nothing in the answer

    errors = list(_validator(schema).iter_errors(data))
    if not errors:
        parse_or_raise(response, parse, op_id, strict=True)
        return
    with pytest.raises(APIResponseValidationError) as info:
        parse_or_raise(response, parse, op_id, strict=True)
    reported = re.search(r"\((\$\S*?): expected", str(info.value))
    assert reported, str(info.value)
    assert _related(reported.group(1), _json_path(where)), (str(info.value), _json_path(where))


@pytest.mark.parametrize("op_id", sorted(CASES))
def test_unmutated_answers_are_strictly_valid(op_id: str) -> None:
    parse, data, schema = CASES[op_id]
    assert not list(_validator(schema).iter_errors(data))
    result = parse_or_raise(_response(data), parse, op_id, strict=True)
    assert _plain(result) == data
