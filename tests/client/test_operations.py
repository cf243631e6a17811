"""Every operation of openapi.yaml, called through the client against pytest-httpx.

For each of the 93 operations: the method, the path (with its parameters encoded), the query
string, the body encoding (JSON or multipart), the credential headers, and that a realistic
response parses into the operation's model with unknown (plugin) fields kept.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pytest_httpx import HTTPXMock

from discourse_async import Discourse, File
from discourse_async._generated.api import INPUTS, METHOD_NAMES, OPERATIONS
from tests import samples

BASE = "https://forum.example.com/community"
OPS = samples.operations()
BY_ROUTE = {(method, path): (METHOD_NAMES[name], tag) for name, (tag, method, path) in OPERATIONS.items()}
OP_OF = {(method, path): name for name, (_tag, method, path) in OPERATIONS.items()}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _param_value(param: dict[str, Any]) -> Any:
    schema = param.get("schema") or {}
    kind = samples._types(schema)[0]
    name = param["name"]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "integer":
        return 42
    if kind == "boolean":
        return True
    if kind == "array":
        return [11, 12]
    if schema.get("format") == "date-time":
        return dt.datetime(2026, 8, 20, 12, 0, tzinfo=dt.UTC)
    return {"username": "sam", "name": "staff", "filename": "backup-2026.tar.gz", "flag": "active"}.get(
        name, f"{name}-1"
    )


def _query_text(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dt.datetime):
        return [value.isoformat()]
    return [str(value)]


def _normalise_json(value: Any) -> Any:
    """Compare bodies without caring how a timestamp was spelled."""
    if isinstance(value, dict):
        return {k: _normalise_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_json(v) for v in value]
    if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def build_call(operation_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keyword arguments for the facade method, what the request must contain)."""
    method, path, op = OPS[operation_id]
    name, tag = BY_ROUTE[(method, path)]
    signature = inspect.signature(getattr(getattr(Discourse, tag).func(None), name))  # type: ignore[attr-defined]
    py_names = {_norm(p): p for p in signature.parameters if p != "self"}
    kwargs: dict[str, Any] = {}
    url_path = path
    query: dict[str, list[str]] = {}
    for param in op.get("parameters", []):
        value = _param_value(param)
        kwargs[py_names[_norm(param["name"])]] = value
        if param["in"] == "path":
            url_path = url_path.replace("{" + param["name"] + "}", quote(str(value), safe=""))
        elif param["in"] == "query":
            query[param["name"]] = _query_text(value)
    expected: dict[str, Any] = {"method": method, "path": url_path, "query": query, "body": None}
    request = samples.request_schema(op)
    if request is not None:
        media, schema = request
        body = samples.sample(schema, response=False)
        if media == "multipart/form-data":
            body["file"] = File(payload=io.BytesIO(b"\x89PNG fake image"), file_name="logo.png", mime_type="image/png")
            body["synchronous"] = False
            expected["multipart"] = body
        else:
            expected["body"] = body
        # Each body field is a keyword argument of its own; keys the document lacks go in extra_body.
        keyword = {key: kw for kw, key, where in INPUTS[OP_OF[(method, path)]] if where in ("json", "form")}
        extra = {k: v for k, v in body.items() if k not in keyword}
        kwargs.update({keyword[k]: v for k, v in body.items() if k in keyword})
        if extra:
            kwargs["extra_body"] = extra
    return kwargs, expected


def _response_for(op: dict[str, Any]) -> tuple[httpx.Response, Any]:
    schema = samples.response_schema(op)
    if schema is None:
        for response in op["responses"].values():
            if "text/calendar" in (response.get("content") or {}):
                ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
                return httpx.Response(200, content=ics, headers={"content-type": "text/calendar"}), ics
        return httpx.Response(200, json={"success": "OK"}), None
    data = samples.sample(schema)
    return httpx.Response(200, json=data), data


@pytest.mark.parametrize("operation_id", sorted(OPS))
async def test_operation(operation_id: str, httpx_mock: HTTPXMock) -> None:
    method, path, op = OPS[operation_id]
    name, tag = BY_ROUTE[(method, path)]
    kwargs, expected = build_call(operation_id)
    response, data = _response_for(op)
    httpx_mock.add_callback(lambda request: response)

    async with Discourse(BASE, api_key="secret-admin-key", api_username="system") as dc:
        result = await getattr(getattr(dc, tag), name)(**kwargs)

    request = httpx_mock.get_request()
    assert request is not None
    assert request.method == expected["method"]
    assert request.url.raw_path.decode().split("?")[0] == "/community" + expected["path"]
    got_query: dict[str, list[str]] = {}
    for key, value in request.url.params.multi_items():
        got_query.setdefault(key, []).append(value)
    assert got_query == expected["query"]
    assert request.headers["Api-Key"] == "secret-admin-key"
    assert request.headers["Api-Username"] == "system"
    # Accept names the media type the document gives the answer (text/calendar for the .ics export).
    documented = [m for c, r in op["responses"].items() if str(c).startswith("2") for m in (r.get("content") or {})]
    assert request.headers["Accept"] == (documented[0] if documented else "application/json")

    if expected["body"] is not None:
        assert request.headers["content-type"] == "application/json"
        assert _normalise_json(json.loads(request.content)) == _normalise_json(expected["body"])
    elif "multipart" in expected:
        assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
        content = request.content
        # lowercase, as Discourse reads any non-empty value as true
        assert re.search(rb'name="synchronous"\r\n(Content-Type: text/plain\r\n)?\r\nfalse\r\n', content)
        assert b"\x89PNG fake image" in content
        assert b'filename="logo.png"' in content
    else:
        assert request.content == b""

    # The typed result: a model (or list of models) holding what was sent, plugin fields included.
    if isinstance(data, dict):
        assert result.to_dict()[samples.PLUGIN_FIELD] == samples.PLUGIN_VALUE
        assert result.additional_properties[samples.PLUGIN_FIELD] == samples.PLUGIN_VALUE
        for key, value in data.items():
            if not isinstance(value, dict | list) and value is not None:
                assert _normalise_json(result.to_dict()[key]) == _normalise_json(value), key
    elif isinstance(data, list):
        assert result[0].additional_properties[samples.PLUGIN_FIELD] == samples.PLUGIN_VALUE
    elif isinstance(data, bytes):
        assert result.payload.read() == data
    else:
        # No schema documented: the decoded body, not None.
        assert result == response.json()


def test_every_operation_is_tested_and_reachable() -> None:
    assert len(OPS) == 93
    assert len(OPERATIONS) == 93
    for method, path, _ in OPS.values():
        name, tag = BY_ROUTE[(method, path)]
        assert inspect.iscoroutinefunction(getattr(getattr(Discourse, tag).func(None), name))  # type: ignore[attr-defined]
