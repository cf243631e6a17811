"""Real responses captured from Discourse sites parse with the generated models.

Reads the folder $DISCOURSE_ASYNC_FIXTURES names when it is set (reference responses, never copied
into the project); skips cleanly without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from discourse_async import APIResponseValidationError
from discourse_async._generated.api import OPERATIONS
from discourse_async._response import parse_or_raise
from tests import samples

FIXTURES = Path(os.environ.get("DISCOURSE_ASYNC_FIXTURES") or Path(__file__).parent / "no-fixtures")
#: Pre-2016 shapes with a list at the root, which current Discourse no longer sends.
OLD_LIST_SHAPES = {"search.json", "notifications.json", "groups.json"}

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "operations.json").exists(), reason="no reference fixtures (set DISCOURSE_ASYNC_FIXTURES)"
)


def _parser(operation_id: str):  # type: ignore[no-untyped-def]
    method, path, _ = samples.operations()[operation_id]
    name, (_tag, _m, _p) = next((n, v) for n, v in OPERATIONS.items() if v[1:] == (method, path))
    return name, samples.result_of(name)


def _mapping() -> dict[str, str]:
    return json.loads((FIXTURES / "operations.json").read_text()) if (FIXTURES / "operations.json").exists() else {}


@pytest.mark.parametrize(("filename", "operation_id"), sorted(_mapping().items()))
def test_real_response_parses(filename: str, operation_id: str) -> None:
    name, parse = _parser(operation_id)
    body = (FIXTURES / filename).read_bytes()
    response = httpx.Response(
        200,
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
        request=httpx.Request("GET", "https://forum.example.com/x.json"),
    )
    # Whatever the shape, nothing is lost: the model gives back exactly what came.
    result = parse_or_raise(response, parse, name)
    plain = [item.to_dict() for item in result] if isinstance(result, list) else result.to_dict()
    assert plain == json.loads(body)
    if filename in OLD_LIST_SHAPES:
        # A list where the document says object: strict mode names the place and the type.
        with pytest.raises(APIResponseValidationError) as info:
            parse_or_raise(response, parse, name, strict=True)
        assert info.value.body == body
        assert name in str(info.value) and "$: expected" in str(info.value)


def test_counts() -> None:
    mapping = _mapping()
    assert len(mapping) == 38
    assert len([f for f in mapping if f not in OLD_LIST_SHAPES]) == 35
