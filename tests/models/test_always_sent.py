""" "Always sent" is a claim about real sites: held here to the real captures.

A field is typed ``T`` (not ``T | None``) only where codegen/models.yaml lists it under ``always``;
strict mode refuses an answer that lacks one. Every genuine capture in $DISCOURSE_ASYNC_FIXTURES
must pass strict mode, so a claim no real site keeps fails here. The captures that are not genuine
answers of the operation they are filed under (made or edited by hand, or a shape Discourse stopped
sending years ago) are listed with the reason and the places where they differ, so the list cannot
outlive its reason either. Skips cleanly without the fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from discourse_async._generated import models
from discourse_async._response import parse_or_raise
from tests.models.audit import Audit
from tests.models.test_conformance import FIXTURES, _mapping, _parser

ROOT = Path(__file__).resolve().parents[2]

#: capture -> (why it is not held to strict mode, the JSON paths where strict mode finds it differs).
NOT_GENUINE: dict[str, tuple[str, set[str]]] = {
    "search.json": ("pre-2016 shape: a list at the root", {"$"}),
    "notifications.json": ("pre-2016 shape: a list at the root", {"$"}),
    "groups.json": ("pre-2016 shape: a list at the root", {"$"}),
    "group.json": ("pre-2016 shape: `basic_group` where sites now send `group`", {"$.group"}),
    "user_list.json": (
        "pre-2018 shape: ages and time read as words ('4mon', '< 1m'), which sites now send as seconds",
        {"$[].last_seen_age", "$[].last_emailed_age", "$[].created_at_age", "$[].time_read"},
    ),
    "admin_user.json": (
        "pre-2018 shape: ages and time read as words ('17m', '< 1m'), which sites now send as seconds",
        {"$.created_at_age", "$.time_read"},
    ),
    "members_0.json": (
        "made by hand for paging tests: members 'Test_0'..'Test_99' without avatars, no owners, no meta",
        {"$.members[].avatar_template", "$.owners", "$.meta"},
    ),
    "members_2.json": (
        "made by hand for paging tests: members 'Test_0'..'Test_99' and owners without avatars",
        {"$.members[].avatar_template", "$.owners[].avatar_template"},
    ),
    "topic_posts.json": (
        "edited by hand: `raw` is a rich-text tree; Discourse sends a post's raw as its markdown text",
        {"$.post_stream.posts[].raw"},
    ),
    "user_update_user.json": (
        "made by hand: byte for byte topic_invite_user.json ({'success': true}); PUT /u/{username} answers 'OK'",
        {"$.success"},
    ),
}

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "operations.json").exists(), reason="no reference fixtures (set DISCOURSE_ASYNC_FIXTURES)"
)


def _response(body: bytes) -> httpx.Response:
    return httpx.Response(
        200,
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
        request=httpx.Request("GET", "https://forum.example.com/x.json"),
    )


def _audit(filename: str, operation_id: str) -> Audit:
    _name, parse = _parser(operation_id)
    audit = Audit()
    audit.walk(parse.spec, json.loads((FIXTURES / filename).read_bytes()))
    return audit


def _genuine() -> list[tuple[str, str]]:
    return sorted((f, op) for f, op in _mapping().items() if f not in NOT_GENUINE)


def _shape(path: str) -> str:
    """``$.members[12].x`` -> ``$.members[].x``: where in the shape, not which item."""
    import re

    return re.sub(r"\[\d+\]", "[]", path)


@pytest.mark.parametrize(("filename", "operation_id"), _genuine())
def test_strict_mode_passes_on_genuine_captures(filename: str, operation_id: str) -> None:
    audit = _audit(filename, operation_id)
    assert not audit.misfits, "\n".join(f"{p}: expected {e}, got {v!r:.60}" for p, e, v in audit.misfits)
    name, parse = _parser(operation_id)
    parse_or_raise(_response((FIXTURES / filename).read_bytes()), parse, name, strict=True)


@pytest.mark.parametrize("filename", sorted(NOT_GENUINE))
def test_the_captures_left_out_differ_where_their_reason_says(filename: str) -> None:
    _reason, places = NOT_GENUINE[filename]
    audit = _audit(filename, _mapping()[filename])
    assert {_shape(path) for path, _expected, _value in audit.misfits} == places


def test_every_capture_is_judged() -> None:
    assert set(NOT_GENUINE) <= set(_mapping())
    assert len(_genuine()) >= 28


def _always_table() -> dict[str, list[str]]:
    table = yaml.safe_load((ROOT / "codegen" / "models.yaml").read_text(encoding="utf-8"))
    # Request bodies (places "op/body...") require what the document requires: no claim about sites.
    found = {
        name: entry.get("always") or []
        for name, entry in table["models"].items()
        if not all("/body" in place.split(":")[0] for place in entry["at"])
    }
    for result in table["results"].values():
        if isinstance(result, dict):
            found[result["name"]] = result.get("always") or []
    return found


def test_the_table_is_what_the_models_require() -> None:
    for name, always in _always_table().items():
        cls: Any = getattr(models, name)
        required = sorted(f.key for f in cls._fields.values() if f.required)
        assert required == sorted(always), name


def test_every_claim_a_capture_can_test_holds() -> None:
    """Across the genuine captures: each always-sent field of a model seen there was in every object."""
    audit = Audit()
    for filename, operation_id in _genuine():
        one = _audit(filename, operation_id)
        audit.present.update(one.present)
        audit.absent.update(one.absent)
    tested = 0
    for name, always in _always_table().items():
        for key in always:
            assert audit.absent[(name, key)] == 0, f"{name}.{key} is missing from a real answer"
            tested += audit.present[(name, key)] > 0
    # Post, TopicListItem, TopicPoster, ReplyToUser, User, ... are all seen in real answers.
    assert tested >= 40


def test_the_shapes_of_real_topics() -> None:
    """Posters of suggested topics carry the user; reply_to_user carries no id (topic.json, 2013 and on)."""
    topic = json.loads((FIXTURES / "topic.json").read_bytes())
    replies = [p["reply_to_user"] for p in topic["post_stream"]["posts"] if p.get("reply_to_user")]
    assert replies and all("id" not in r for r in replies)
    assert "id" not in _always_table()["ReplyToUser"]
    poster = models.TopicPoster.from_dict({"extras": None, "description": "Original Poster", "user": {"id": 1}})
    assert poster.user is not None and poster.user.id == 1
    assert "user_id" not in _always_table()["TopicPoster"]
