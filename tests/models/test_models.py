"""The models: shared names, one class per shape, absent vs null, timestamps, building and changing them."""

from __future__ import annotations

import collections
import datetime as dt
import inspect
from pathlib import Path

import pytest
import yaml

from discourse_async import Discourse, models
from discourse_async._generated import models as generated
from discourse_async._runtime import ResponseShapeError, check, parse, ref

ROOT = Path(__file__).resolve().parents[2]
TABLE = yaml.safe_load((ROOT / "codegen" / "models.yaml").read_text(encoding="utf-8"))
SHARED = [
    "Post",
    "Topic",
    "TopicListItem",
    "TopicList",
    "User",
    "BasicUser",
    "Category",
    "Group",
    "GroupMember",
    "Badge",
    "Tag",
    "Notification",
    "Upload",
    "SuccessResponse",
]


def _model_classes() -> dict[str, type[models.Model]]:
    found = {}
    for name in generated.__all__:
        value = getattr(generated, name)
        if isinstance(value, type) and issubclass(value, models.Model):
            found[name] = value
    return found


def test_no_two_models_have_the_same_fields() -> None:
    """A shape that repeats is one named model (codegen/models.yaml), unless the table allows it."""
    allowed = {frozenset(group) for group in TABLE.get("allow_duplicates") or []}
    by_fields = collections.defaultdict(list)
    for name, cls in _model_classes().items():
        fields = frozenset((f.key, f.spec.name) for f in cls._fields.values())
        if fields:  # a free-form object is a dict, not a model
            by_fields[fields].append(name)
    duplicates = [sorted(names) for names in by_fields.values() if len(names) > 1 and frozenset(names) not in allowed]
    assert not duplicates


def test_shared_models_are_components_and_public() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    for name in SHARED:
        assert name in spec["components"]["schemas"], name
        assert getattr(models, name).__name__ == name
        assert name in models.__all__
    assert not [name for name in models.__all__ if "Response200" in name]
    assert (ROOT / "discourse_async" / "py.typed").exists()


def _returns(namespace: str, method: str) -> str:
    cls = type(getattr(object.__new__(Discourse), namespace))
    return str(inspect.signature(getattr(cls, method)).return_annotation)


def test_the_same_shape_is_the_same_class() -> None:
    assert _returns("posts", "get_post") == "Post"
    assert _returns("posts", "create_topic_post_pm") == "Post"
    assert _returns("topics", "iter_posts") == "Paginator[Post, Topic | TopicPosts]"
    for namespace, method in [
        ("topics", "list_latest_topics"),
        ("topics", "list_top_topics"),
        ("categories", "list_category_topics"),
        ("tags", "get_tag"),
        ("private_messages", "list_user_private_messages"),
        ("private_messages", "get_user_sent_private_messages"),
    ]:
        assert _returns(namespace, method) == "TopicListResponse", method
    assert models.TopicList.__annotations__["topics"] == "Field[list[TopicListItem]]"
    assert models.PostStream.__annotations__["posts"] == "Field[list[Post]]"


POST = {
    "id": 7,
    "username": "sam",
    "avatar_template": "/a/{size}.png",
    "created_at": "2026-08-20T12:34:56.789Z",
    "cooked": "<p>hi</p>",
    "post_number": 1,
    "topic_id": 3,
    "reply_to_post_number": None,
    "actions_summary": [{"id": 2, "count": 1}, "not an object"],
    "accepted_answer": {"plugin": True},
}


def test_absent_null_and_unknown_fields() -> None:
    post = parse(ref("Post"), POST)
    assert isinstance(post, models.Post)
    assert post.raw is None and "raw" not in post.fields_set  # absent
    assert post.reply_to_post_number is None and "reply_to_post_number" in post.fields_set  # null
    assert post.additional_properties == {"accepted_answer": {"plugin": True}}
    assert post.created_at == dt.datetime(2026, 8, 20, 12, 34, 56, 789000, tzinfo=dt.UTC)
    first, second = post.actions_summary or []
    assert isinstance(first, models.ActionSummary) and first.count == 1
    assert second == "not an object"  # kept as received
    assert post.to_dict() == POST


def test_values_that_do_not_fit_are_kept_and_strict_mode_names_them() -> None:
    odd = {**POST, "created_at": "yesterday", "topic_id": "3", "actions_summary": {"id": 2}}
    post = parse(ref("Post"), odd)
    assert (post.created_at, post.topic_id, post.actions_summary) == ("yesterday", "3", {"id": 2})
    assert post.to_dict() == odd
    with pytest.raises(ResponseShapeError, match=r"\$\.created_at: expected date-time, got 'yesterday'"):
        check(ref("Post"), odd)
    with pytest.raises(ResponseShapeError, match=r"\$\.username: expected string \(required\), got absent"):
        check(ref("Post"), {k: v for k, v in POST.items() if k != "username"})
    check(ref("Post"), {**POST, "actions_summary": [{"id": 2, "count": 1}]})


def test_timestamps_offsets_naive_null_and_odd_values() -> None:
    post = parse(ref("Post"), {**POST, "updated_at": "2026-08-20T14:34:56+02:00", "deleted_at": None})
    assert post.updated_at == dt.datetime(2026, 8, 20, 12, 34, 56, tzinfo=dt.UTC)
    assert post.deleted_at is None  # nullable, null
    # Parsed on each read, and the JSON object keeps the string.
    assert post.created_at == post.created_at and post.__dict__["created_at"] == "2026-08-20T12:34:56.789Z"
    naive = parse(ref("Post"), {**POST, "created_at": "2026-08-20T12:34:56", "updated_at": 1700000000})
    assert naive.created_at == dt.datetime(2026, 8, 20, 12, 34, 56, tzinfo=dt.UTC)  # no offset: UTC
    assert naive.updated_at == 1700000000  # not a string: kept as received
    assert naive.to_dict()["created_at"] == "2026-08-20T12:34:56"


def test_building_and_changing_a_model() -> None:
    post = models.Post(raw="Hello there, a long enough post.", topic_id=3)
    assert post.to_dict() == {"raw": "Hello there, a long enough post.", "topic_id": 3}
    assert post.fields_set == {"raw", "topic_id"}
    post.created_at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert post.to_dict()["created_at"] == "2026-01-02T03:04:05Z"
    assert post.created_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    del post.raw
    assert post.raw is None and "raw" not in post.to_dict()
    with pytest.raises(TypeError, match="unexpected keyword argument 'rwa'"):
        models.Post(rwa="typo")
    with pytest.raises(AttributeError, match="no field 'rwa'"):
        post.rwa = "typo"  # type: ignore[attr-defined]
    copy = models.Post.from_dict(POST)
    copy.username = "other"
    assert POST["username"] == "sam"  # from_dict copies
    assert copy != models.Post.from_dict(POST) and models.Post.from_dict(POST) == models.Post.from_dict(POST)


def test_a_changed_nested_model_shows_in_to_dict() -> None:
    topic = models.Topic.from_dict({"id": 1, "post_stream": {"posts": [POST]}})
    topic.post_stream.posts[0].raw = "edited"
    assert topic.to_dict()["post_stream"]["posts"][0]["raw"] == "edited"
