"""A nested body object typed as its model or its TypedDict is still a JSON option on the command line."""

from __future__ import annotations

import pytest

from discourse_async.cli import _app, _spec


@pytest.mark.parametrize(("operation", "key"), [("update_post", "post"), ("create_group", "group")])
def test_nested_objects_are_json_options(operation: str, key: str) -> None:
    field = next(p for p in _spec.operation(operation).body_fields if p.key == key)
    click_type, repeatable = _app._click_type(field.type)
    assert isinstance(click_type, _app._JSON)
    assert not repeatable


def test_an_open_choice_is_text() -> None:
    """upload_type takes the known upload types or any other string."""
    field = next(p for p in _spec.operation("create_upload").body_fields if p.key == "upload_type")
    assert _app._click_type(field.type)[0] is _app.click.STRING
