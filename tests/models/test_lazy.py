"""Models over lazy documents (large answers, read through simdjson) behave as models over decoded JSON.

An answer to a model from ``LAZY_FROM`` bytes up is parsed by simdjson and its fields are made into
Python values when read. Everything a user can observe must be what the decoded answer gives: the
value of every field of every nested model, ``to_dict()``, ``fields_set``, ``additional_properties``,
a change made through a nested model, copies and pickles. The same mutated real-shaped answers as
the property test, and the shared reference fixtures, are read both ways and compared.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import pickle
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from discourse_async import _runtime
from discourse_async._engines import _codec
from discourse_async._response import parse_or_raise
from discourse_async._runtime import Model, ResponseShapeError, Result, ref
from discourse_async.testing import FakeDiscourse
from tests.models.test_models_property import CASES, _plain, _touch, mutated

simdjson = pytest.importorskip("simdjson")
LAZY_TYPES = (simdjson.Object, simdjson.Array)
FIXTURES = Path(os.environ.get("DISCOURSE_ASYNC_FIXTURES") or Path(__file__).parent / "no-fixtures")


def _response(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, request=httpx.Request("GET", "https://forum.example.com/x.json"))


def _read(parse: Any, body: bytes, *, lazy: bool) -> Any:
    saved = _codec.LAZY_FROM
    _codec.LAZY_FROM = 0 if lazy else 1 << 62
    try:
        return parse_or_raise(_response(body), parse, "op")
    finally:
        _codec.LAZY_FROM = saved


def _is_lazy(model: Model) -> bool:
    return type(model.__dict__).__name__ == "_Lazy"


def _values(value: Any, depth: int = 0) -> Any:
    """Every field of every model reachable from ``value``, read as a user reads them."""
    assert not isinstance(value, LAZY_TYPES), "a lazy document reached the user"
    if depth > 30:
        return "..."
    if isinstance(value, Model):
        return {name: _values(getattr(value, name), depth + 1) for name in type(value)._fields}
    if isinstance(value, list):
        return [_values(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _values(item, depth + 1) for key, item in value.items()}
    return value


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_lazy_model_reads_as_the_decoded_one(case: tuple[str, Any, tuple[Any, ...], str]) -> None:
    op_id, data, _where, _kind = case
    parse = CASES[op_id][0]
    body = json.dumps(data).encode()
    lazy, decoded = _read(parse, body, lazy=True), _read(parse, body, lazy=False)
    if isinstance(data, dict):
        assert _is_lazy(lazy)
    # Read first, field by field, while the document is still lazy; then as a whole.
    assert _values(lazy) == _values(decoded)
    _touch(lazy)
    assert _plain(lazy) == data
    assert _values(lazy) == _values(decoded)


def _let_go() -> None:
    """Parse another large answer: with KEEP_LAZY_BYTES at 0, every older answer's document goes."""
    assert _runtime.KEEP_LAZY_BYTES == 0
    TOPIC(_response(json.dumps(_topic(400)).encode()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_lazy_model_whose_document_was_let_go_reads_the_same(case: tuple[str, Any, tuple[Any, ...], str]) -> None:
    op_id, data, _where, _kind = case
    parse = CASES[op_id][0]
    body = json.dumps(data).encode()
    saved = _runtime.KEEP_LAZY_BYTES
    _runtime.KEEP_LAZY_BYTES = 0
    try:
        lazy, decoded = _read(parse, body, lazy=True), _read(parse, body, lazy=False)
        first = _values(lazy)  # nested models built while the document is there
        _let_go()
        assert _values(lazy) == first == _values(decoded)  # read again from the body
        _let_go()
        _touch(lazy)
        assert _plain(lazy) == data
    finally:
        _runtime.KEEP_LAZY_BYTES = saved


@pytest.mark.skipif(
    not (FIXTURES / "operations.json").exists(), reason="no reference fixtures (set DISCOURSE_ASYNC_FIXTURES)"
)
def test_real_answers_read_the_same_lazily() -> None:
    from tests.models.test_conformance import _parser

    compared = 0
    for filename, operation_id in sorted(json.loads((FIXTURES / "operations.json").read_text()).items()):
        body = (FIXTURES / filename).read_bytes()
        _name, parse = _parser(operation_id)
        lazy, decoded = _read(parse, body, lazy=True), _read(parse, body, lazy=False)
        compared += isinstance(lazy, Model) and _is_lazy(lazy)
        assert _values(lazy) == _values(decoded), filename
        plain = [item.to_dict() for item in lazy] if isinstance(lazy, list) else lazy.to_dict()
        assert plain == json.loads(body), filename
    assert compared >= 30  # the rest are lists, which are decoded


def _topic(posts: int) -> dict[str, Any]:
    return {
        "id": 7,
        "title": "A long topic",
        "created_at": "2026-08-20T12:34:56.789Z",
        "post_stream": {
            "posts": [
                {
                    "id": n,
                    "username": "sam",
                    "created_at": "2026-08-20T12:34:56.789Z",
                    "cooked": "<p>" + "x" * 100 + "</p>",
                    "post_number": n,
                    "topic_id": 7,
                    "avatar_template": "/a/{size}.png",
                    "actions_summary": [{"id": 2, "count": 1}],
                    "plugin_field": {"heart": n},
                }
                for n in range(1, posts + 1)
            ],
            "stream": list(range(1, posts + 1)),
        },
    }


TOPIC = Result(ref("Topic"))


def test_a_large_answer_is_read_lazily_and_a_small_one_is_decoded() -> None:
    big = json.dumps(_topic(400)).encode()
    small = json.dumps(_topic(2)).encode()
    assert len(big) >= _codec.LAZY_FROM > len(small)
    assert _is_lazy(TOPIC(_response(big)))
    assert not _is_lazy(TOPIC(_response(small)))
    # Strict mode checks every value of the decoded answer (this one lacks fields Topic requires).
    with pytest.raises(ResponseShapeError, match=r"\$\.fancy_title: expected string \(required\)"):
        TOPIC(_response(big), strict=True)


def test_fields_of_a_lazy_model() -> None:
    topic = TOPIC(_response(json.dumps(_topic(400)).encode()))
    post = topic.post_stream.posts[9]
    assert (post.id, post.username, post.post_number) == (10, "sam", 10)
    assert post.created_at == dt.datetime(2026, 8, 20, 12, 34, 56, 789000, tzinfo=dt.UTC)
    assert post.actions_summary[0].count == 1
    assert post.raw is None and "raw" not in post.fields_set
    assert post.additional_properties == {"plugin_field": {"heart": 10}}
    assert topic.post_stream.posts[9] is post  # built once, kept
    assert topic.post_stream.stream == list(range(1, 401))


def test_a_list_field_is_decoded_alone_and_kept() -> None:
    topic = TOPIC(_response(json.dumps(_topic(400)).encode()))
    stream = topic.post_stream.stream
    assert stream == list(range(1, 401))
    assert _is_lazy(topic.post_stream)  # reading one list decoded nothing else
    assert topic.post_stream.stream is stream
    stream.append(401)  # the model's own data, as with a decoded answer
    assert topic.to_dict()["post_stream"]["stream"][-1] == 401
    assert list(topic.to_dict()["post_stream"]) == ["posts", "stream"]  # keys stay in their order


def test_a_change_through_a_nested_lazy_model_shows_in_the_whole() -> None:
    topic = TOPIC(_response(json.dumps(_topic(400)).encode()))
    post = topic.post_stream.posts[0]
    post.raw = "edited"
    del post.cooked
    topic.title = "Renamed"
    whole = topic.to_dict()
    assert whole["title"] == "Renamed"
    assert whole["post_stream"]["posts"][0]["raw"] == "edited"
    assert "cooked" not in whole["post_stream"]["posts"][0]
    # ...and a change made after the whole was decoded, too.
    topic.post_stream.posts[1].raw = "later"
    assert topic.to_dict()["post_stream"]["posts"][1]["raw"] == "later"
    assert topic.post_stream.posts[0] is post


def test_a_value_of_another_type_is_plain_data_and_stays_the_models() -> None:
    data = _topic(400)
    data["title"] = {"unexpected": [1, 2]}  # documented as a string
    data["created_at"] = ["not", "a", "time"]
    topic = TOPIC(_response(json.dumps(data).encode()))
    title = topic.title
    assert title == {"unexpected": [1, 2]} and type(title) is dict
    assert topic.created_at == ["not", "a", "time"]
    title["unexpected"].append(3)  # the model's own data, as with a decoded answer
    assert topic.to_dict()["title"] == {"unexpected": [1, 2, 3]}


def test_copies_and_pickles_carry_the_json() -> None:
    topic = TOPIC(_response(json.dumps(_topic(400)).encode()))
    assert topic.post_stream.posts[3].username == "sam"
    for other in (copy.copy(topic), copy.deepcopy(topic), pickle.loads(pickle.dumps(topic))):
        assert other == topic and other is not topic
        assert other.post_stream.posts[3].username == "sam"
    # A model built from an answer that was not an object gives back that answer, copied too.
    odd = TOPIC(_response(b"[1, 2]"))
    assert pickle.loads(pickle.dumps(odd)).to_dict() == [1, 2] == copy.deepcopy(odd).to_dict()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"id": 18446744073709551616, "pad": "' + b"x" * 40000 + b'"}', "a number past 64 bits"),
        (b' {"id": 1, "pad": "' + b"x" * 40000 + b'"}', "text before the object"),
    ],
)
def test_what_simdjson_reads_otherwise_is_decoded(body: bytes, why: str) -> None:
    topic = TOPIC(_response(body))
    assert topic.to_dict() == json.loads(body), why
    assert topic.id == json.loads(body)["id"], why


def test_a_key_given_twice_reads_as_its_first_value_throughout() -> None:
    # RFC 8259 leaves a repeated key to the reader; a lazy model must at least agree with itself.
    body = b'{"id": 1, "title": "a", "id": 2, "details": {"can_edit": true, "can_edit": false}, "pad": "'
    topic = TOPIC(_response(body + b"x" * 40000 + b'"}'))
    assert _is_lazy(topic)
    assert topic.id == 1
    assert topic.details.can_edit is True
    assert topic.to_dict()["id"] == 1 and list(topic.to_dict()).count("id") == 1
    assert topic.to_dict()["details"] == {"can_edit": True}
    assert topic.id == 1 and topic.details.can_edit is True


def test_without_simdjson_answers_are_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_codec, "_Parser", None)
    topic = TOPIC(_response(json.dumps(_topic(400)).encode()))
    assert not _is_lazy(topic)
    assert topic.post_stream.posts[0].id == 1


async def test_a_long_topic_through_the_client_is_read_lazily(fake: FakeDiscourse) -> None:
    async with fake.client() as dc:
        first = await dc.posts.create_post(title="A topic that grows long", raw="The first post of it.", category=2)
        for n in range(25):
            await dc.posts.create_post(topic_id=first.topic_id, raw=f"Reply number {n}: " + "words " * 400)
        raw = await dc.topics.with_raw_response.get_topic(id=first.topic_id)
    assert len(raw.content) >= _codec.LAZY_FROM
    topic = raw.parse()
    assert _is_lazy(topic)
    posts = topic.post_stream.posts
    assert "The first post of it." in posts[0].cooked
    assert [p.post_number for p in posts] == list(range(1, len(posts) + 1))
    assert topic.to_dict() == raw.json()


def test_an_older_answer_lets_its_document_go_and_reads_its_body_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runtime, "KEEP_LAZY_BYTES", 0)
    topic = TOPIC(_response(json.dumps(_topic(400)).encode()))
    posts = topic.post_stream.posts
    post = posts[9]
    assert post.username == "sam"
    answer = topic.__dict__.answer
    assert answer is not None and answer.document is not None
    _let_go()
    # Nothing holds the old document (and so its parser): each lazy object stands for its place.
    assert answer.document is None
    assert all(type(p.__dict__.document) is _runtime._Reparse for p in posts)
    del topic, posts  # a post kept alone reads as before
    assert (post.id, post.post_number, post.username) == (10, 10, "sam")
    assert answer.document is not None  # the body parsed again, once, for every model over it
    assert post.created_at == dt.datetime(2026, 8, 20, 12, 34, 56, 789000, tzinfo=dt.UTC)
    assert post.actions_summary[0].count == 1
    assert post.additional_properties == {"plugin_field": {"heart": 10}}
    assert post.to_dict() == _topic(400)["post_stream"]["posts"][9]


def test_a_change_before_the_document_went_stays_in_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runtime, "KEEP_LAZY_BYTES", 0)
    topic = TOPIC(_response(json.dumps(_topic(400)).encode()))
    stream = topic.post_stream.stream
    topic.post_stream.posts[0].raw = "edited"
    _let_go()
    stream.append(401)  # a list read before stays the model's own
    assert topic.post_stream.stream is stream
    assert topic.post_stream.posts[1].username == "sam"
    whole = topic.to_dict()
    assert whole["post_stream"]["posts"][0]["raw"] == "edited"
    assert whole["post_stream"]["stream"][-1] == 401
    expected = _topic(400)
    expected["post_stream"]["posts"][0]["raw"] = "edited"
    expected["post_stream"]["stream"].append(401)
    assert whole == expected


def test_the_answers_kept_are_counted_until_their_models_go() -> None:
    before = (_runtime._kept.size, len(_runtime._kept.answers))
    body = json.dumps(_topic(400)).encode()
    topic = TOPIC(_response(body))
    assert topic.post_stream.posts[0].id == 1
    assert (_runtime._kept.size, len(_runtime._kept.answers)) == (before[0] + len(body), before[1] + 1)
    del topic
    assert (_runtime._kept.size, len(_runtime._kept.answers)) == before
