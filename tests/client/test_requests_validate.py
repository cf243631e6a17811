"""Every operation's request, as the client sends it, checked by an independent validator.

openapi-core (not ours) validates the request each of the 93 operations sends (method, path,
path and query parameters, headers, body) against the document Discourse publishes, the pinned
upstream copy found in $DISCOURSE_ASYNC_SPEC_CACHE; the test skips without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from discourse_async import Discourse
from tests.client.test_operations import BY_ROUTE, OPS, build_call

openapi_core = pytest.importorskip("openapi_core")
from openapi_core.contrib.requests import RequestsOpenAPIRequest  # noqa: E402

CACHE = Path(os.environ.get("DISCOURSE_ASYNC_SPEC_CACHE", "/nonexistent"))
PUBLISHED = CACHE / "discourse_api_docs-openapi.json"
BASE = "https://discourse.example.com"

pytestmark = pytest.mark.skipif(not PUBLISHED.exists(), reason="no upstream document in $DISCOURSE_ASYNC_SPEC_CACHE")


def _as_requests(request: httpx.Request) -> Any:
    import requests

    return requests.Request(
        request.method, str(request.url), headers=dict(request.headers), data=request.content or None
    ).prepare()


def _form_loads(value: bytes, **parameters: str) -> dict[str, Any]:
    """multipart/form-data as OpenAPI reads it: each primitive part is the text of its value.

    openapi-core's own reader leaves every part as bytes and then checks them against the schema's
    integer/boolean/string types as they are; this reads the text the way the specification says
    (``42`` an integer, ``true``/``false`` booleans, a file's bytes as a binary string).
    """
    from openapi_core.deserializing.media_types.util import data_form_loads

    def value_of(raw: bytes) -> Any:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return raw.decode("latin-1")  # a binary file (format: binary)
        if text in ("true", "false"):
            return text == "true"
        return int(text) if text.lstrip("-").isdigit() else text

    return {name: value_of(raw) for name, raw in data_form_loads(value, **parameters).items()}


@pytest.fixture(scope="module")
def published() -> Any:
    config = openapi_core.Config(extra_media_type_deserializers={"multipart/form-data": _form_loads})
    return openapi_core.OpenAPI.from_dict(json.loads(PUBLISHED.read_text(encoding="utf-8")), config=config)


@pytest.mark.parametrize("operation_id", sorted(OPS))
async def test_request_is_valid_for_the_published_document(operation_id: str, published: Any) -> None:
    method, path, _op = OPS[operation_id]
    name, tag = BY_ROUTE[(method, path)]
    kwargs, _expected = build_call(operation_id)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    transport = httpx.MockTransport(handler)
    async with Discourse(BASE, api_key="secret", api_username="system", transport=transport) as dc:
        await getattr(getattr(dc, tag), name)(**kwargs)
    (request,) = seen
    published.validate_request(RequestsOpenAPIRequest(_as_requests(request)))


def test_the_validator_refuses_a_wrong_request(published: Any) -> None:
    """The check has teeth: a query parameter of the wrong type and an unknown route are refused."""
    from openapi_core.validation.request.exceptions import RequestValidationError

    wrong = httpx.Request("GET", f"{BASE}/top.json?per_page=many", headers={"Api-Key": "k", "Api-Username": "s"})
    with pytest.raises(RequestValidationError):
        published.validate_request(RequestsOpenAPIRequest(_as_requests(wrong)))
    unknown = httpx.Request("GET", f"{BASE}/no-such-route.json")
    with pytest.raises(Exception, match=r"not found|Path"):
        published.validate_request(RequestsOpenAPIRequest(_as_requests(unknown)))
