"""Fixtures shared by the test folders (which mirror the package: client/, engines/, models/, testing/, ...).

A module that needs another shape of fake forum defines its own ``fake``; pytest uses the nearest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from discourse_async.testing import FakeDiscourse, S3Server


@pytest.fixture
def fake() -> FakeDiscourse:
    """A fresh fake Discourse with two users, alice and bob (and its admin key acting as system)."""
    forum = FakeDiscourse()
    forum.create_user("alice")
    forum.create_user("bob")
    return forum


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """An S3-compatible server (moto) on 127.0.0.1 for the module's tests."""
    pytest.importorskip("moto.server")
    with S3Server() as server:
        yield server
