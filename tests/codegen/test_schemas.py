"""Every shape a Discourse document has given its schemas is read (codegen/schemas.py), and none ends in a traceback.

Offline: the documents here are small ones written for the test, plus hypothesis's arbitrary schema trees.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen import build_spec, check, preview, schemas
from codegen.build_spec import SpecError, build_from
from codegen.models import name_shapes


def document(answer: Any, *, body: Any = None, params: Any = None) -> dict[str, Any]:
    """A one-operation document whose 200 answer is ``answer``."""
    op: dict[str, Any] = {
        "operationId": "getThing",
        "tags": ["things"],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": answer}}}},
    }
    if body is not None:
        op["requestBody"] = {"content": {"application/json": {"schema": body}}}
    if params is not None:
        op["parameters"] = params
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/things/{id}.json": {"get": op}}}


def answer_of(doc: dict[str, Any]) -> Any:
    return doc["paths"]["/things/{id}.json"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_items_as_a_list_mean_each_item() -> None:
    doc = document({"type": "object", "properties": {"a": {"type": "array", "items": [{"type": "integer"}]}}})
    schemas.normalize(doc)
    assert answer_of(doc)["properties"]["a"]["items"] == {"type": "integer"}


def test_empty_items_and_missing_items_become_any_item() -> None:
    doc = document(
        {"type": "object", "properties": {"a": {"type": "array", "items": []}, "b": {"type": ["array", "null"]}}}
    )
    schemas.normalize(doc)
    assert "items" not in answer_of(doc)["properties"]["a"]
    assert schemas.complete_arrays(doc) == 2
    assert answer_of(doc)["properties"]["a"]["items"] == answer_of(doc)["properties"]["b"]["items"] == {}


def test_several_items_are_any_of_them() -> None:
    doc = document({"type": "array", "items": [{"type": "integer"}, {"type": "string"}, {"type": "integer"}]})
    schemas.normalize(doc)
    assert answer_of(doc)["items"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}


@pytest.mark.parametrize(
    ("given_type", "expected"),
    [("", None), (["", "string"], ["string"]), ("string", "string"), (["integer", "null"], ["integer", "null"])],
)
def test_blank_and_unknown_type_names_are_dropped(given_type: Any, expected: Any) -> None:
    doc = document({"type": "object", "properties": {"score": {"type": given_type}}})
    schemas.normalize(doc)
    assert answer_of(doc)["properties"]["score"].get("type") == expected


def test_openapi_3_0_nullable_is_a_null_type() -> None:
    doc = document({"type": "object", "nullable": True, "properties": {"a": {"type": "string", "nullable": True}}})
    schemas.normalize(doc)
    assert answer_of(doc)["type"] == ["object", "null"]
    assert answer_of(doc)["properties"]["a"] == {"type": ["string", "null"]}


def test_a_list_or_a_boolean_where_a_schema_belongs_is_any_value() -> None:
    doc = document(
        {"type": "object", "properties": {"a": [], "b": True}, "anyOf": [False], "additionalProperties": False},
        params=[{"name": "id", "in": "path", "required": True, "schema": []}],
    )
    schemas.normalize(doc)
    assert answer_of(doc)["properties"] == {"a": {}, "b": {}}
    assert answer_of(doc)["anyOf"] == [{}]
    assert answer_of(doc)["additionalProperties"] is False
    assert doc["paths"]["/things/{id}.json"]["get"]["parameters"][0]["schema"] == {}


def test_required_names_only_names() -> None:
    doc = document({"type": "object"}, body={"properties": {"a": {}}, "required": ["a", {}, ["b"]]})
    result = build_from(json.dumps(doc).encode(), {"sha256": "0"})
    assert preview.body_fields(result.doc["paths"]["/things/{id}.json"]["get"]["requestBody"]["content"], True) == {
        preview.BODY: preview.Field(frozenset({"object"}), True),
        "a": preview.Field(frozenset({"any"}), True),
    }


def test_refs_chains_cycles_and_all_of() -> None:
    doc = document({"$ref": "#/components/schemas/A"})
    doc["components"] = {
        "schemas": {
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"allOf": [{"$ref": "#/components/schemas/C"}, {"properties": {"b": {"type": "string"}}}]},
            "C": {"properties": {"c": {"type": "integer"}}},
            "Loop": {"$ref": "#/components/schemas/Loop"},
        }
    }
    resolver = schemas.Resolver(doc)
    assert resolver.deref(answer_of(doc)) is doc["components"]["schemas"]["B"]
    assert set(resolver.properties(answer_of(doc))) == {"b", "c"}
    assert resolver.deref({"$ref": "#/components/schemas/Loop"}) == {"$ref": "#/components/schemas/Loop"}
    assert resolver.deref({"$ref": "#/nowhere"}) == {"$ref": "#/nowhere"}


def test_the_models_table_reads_through_all_of_and_list_items() -> None:
    doc = document(
        {
            "allOf": [{"type": "object", "properties": {"post": {"type": "object", "properties": {"id": {}}}}}],
            "properties": {"posts": {"type": "array", "items": [{"type": "object", "properties": {"id": {}}}]}},
        }
    )
    schemas.normalize(doc)
    table = {"models": {"Post": {"at": ["getThing:post", "getThing:posts[]", "getThing:gone"]}}}
    notes = name_shapes(doc, table)
    assert "Post" in doc["components"]["schemas"]
    assert any("getThing:gone" in note for note in notes)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda d: d["paths"]["/things/{id}.json"]["get"].update(parameters={"id": 1}), "parameters must be a list"),
        (
            lambda d: d["paths"].update({"/other": {"get": copy.deepcopy(d["paths"]["/things/{id}.json"]["get"])}}),
            "names two",
        ),
        (lambda d: d["paths"]["/things/{id}.json"]["get"].update(operationId=7), "no operationId"),
        (lambda d: d["paths"]["/things/{id}.json"]["get"].update(responses=[]), "responses is not an object"),
        (lambda d: d["paths"].update({"/x": []}), "is not an object"),
    ],
)
def test_a_document_the_build_cannot_read_is_refused_in_one_line(
    edit: Any, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = document({"type": "object"})
    edit(doc)
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecError, match=says):
        build_spec.parse_document(path.read_bytes())
    assert preview.main([str(path), "--base", str(path)]) == build_spec.UNREADABLE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err


def test_placeholders_in_the_committed_tree_are_found(tmp_path: Path) -> None:
    clean, marked = tmp_path / "a.py", tmp_path / "b.py"
    clean.write_text('"""Our words."""\n')
    marked.write_text(f'"""{build_spec.parameter_placeholder("flag")}"""\n')
    assert check.placeholders([clean, marked]) == [f"{marked}: 1"]
    assert build_spec.PLACEHOLDER in build_spec.operation_id_words("getThing")


# ---------------------------------------------------------------------------- any tree at all

_KEYWORDS = ["type", "items", "properties", "allOf", "anyOf", "oneOf", "required", "nullable", "$ref", "enum"]
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(["", "string", "array", "object", "null", "integer", "#/components/schemas/X", "#/x/y"]),
)
_tree = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*_KEYWORDS, "a", "b_at"]), inner, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=_tree, body=_tree, components=st.dictionaries(st.sampled_from(["X", "Y"]), _tree, max_size=2))
def test_any_schema_tree_builds_or_is_refused_never_a_traceback(answer: Any, body: Any, components: Any) -> None:
    """Whatever sits where a schema belongs, the build reads it (or refuses the document in a SpecError)."""
    doc = document(answer, body=body)
    doc["components"] = {"schemas": components}
    raw = json.dumps(doc).encode()
    try:
        result = build_from(raw, {"sha256": "0"})
    except SpecError:
        return
    preview.compare(result, result, "a", "b").render()
    build_spec.dump_yaml(result.doc)


def test_a_model_named_like_a_new_namespace_is_renamed_not_fatal() -> None:
    doc = document({"type": "object", "properties": {"thing": {"type": "object", "properties": {"id": {}}}}})
    table = {"models": {"Things": {"at": ["getThing:thing"]}}}  # the tag "things" is the namespace Things
    notes = name_shapes(doc, table)
    assert "ThingsModel" in doc["components"]["schemas"] and "Things" not in doc["components"]["schemas"]
    answer = doc["components"]["schemas"]["GetThingResult"]  # the answer, named after its operation
    assert answer["properties"]["thing"] == {"$ref": "#/components/schemas/ThingsModel"}
    assert any("called ThingsModel" in note for note in notes)
