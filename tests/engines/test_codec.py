"""The JSON decoder's pause of the garbage collector, and bodies handed over as bytearrays."""

from __future__ import annotations

import gc
import json

import httpx
import pytest

from discourse_async._engines import RawResponse
from discourse_async._engines._codec import PAUSE_GC_FROM, loads
from discourse_async._runtime import _PAUSE_GC_ITEMS, lst, parse, ref
from discourse_async.models import Post

LARGE = json.dumps({"posts": [{"id": i, "cooked": "<p>" + "x" * 40 + "</p>"} for i in range(1000)]}).encode()


def test_large_document_is_large() -> None:
    assert len(LARGE) > PAUSE_GC_FROM


@pytest.mark.parametrize("body", [LARGE, bytearray(LARGE), LARGE.decode()])
def test_loads_leaves_the_collector_on(body: bytes | bytearray | str) -> None:
    assert gc.isenabled()
    assert loads(body) == json.loads(LARGE)
    assert gc.isenabled()


def test_loads_leaves_the_collector_on_after_bad_json() -> None:
    with pytest.raises(ValueError, match="line 1 column"):
        loads(LARGE[:-1])
    assert gc.isenabled()


def test_loads_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        assert loads(LARGE)["posts"][999]["id"] == 999
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_long_model_lists_leave_the_collector_on() -> None:
    items = [{"id": i} for i in range(_PAUSE_GC_ITEMS + 1)] + ["not a post"]
    built = parse(lst(ref("Post")), items)
    assert gc.isenabled()
    assert isinstance(built[0], Post) and built[0].id == 0
    assert built[-1] == "not a post"  # as received: it does not fit


def test_content_is_bytes_when_the_engine_hands_a_bytearray() -> None:
    raw = RawResponse(
        200, httpx.Headers({"content-type": "application/json"}), bytearray(b'{"a": 1}'), method="GET", url="http://x/"
    )
    assert raw.json() == {"a": 1}
    content = raw.content
    assert type(content) is bytes and content == b'{"a": 1}'
    assert raw.content is content  # converted once
    assert raw.to_httpx().json() == {"a": 1}
