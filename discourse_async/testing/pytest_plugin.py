"""pytest fixtures for bots' test suites: ``pytest -p discourse_async.testing.pytest_plugin``.

- ``fake_discourse``: a fresh :class:`~discourse_async.testing.FakeDiscourse` per test.
- ``discourse``: a ready ``Discourse`` client on it, in-process, with the admin key acting as ``system``.

::

    async def test_my_bot(discourse, fake_discourse):
        await discourse.posts.create_post(title="A topic for my bot", raw="Hello bot, please answer.")
        assert len(fake_discourse.store.topics) == 1
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from discourse_async import Discourse
    from discourse_async.testing import FakeDiscourse

F = TypeVar("F", bound=Callable[..., Any])


def _async_fixture(func: F) -> F:
    """pytest-asyncio's fixture decorator (strict mode needs it), or pytest's for other async runners."""
    try:
        import pytest_asyncio
    except ImportError:
        return cast("F", pytest.fixture(func))
    return cast("F", pytest_asyncio.fixture(func))


@pytest.fixture
def fake_discourse() -> FakeDiscourse:
    """A fresh in-memory Discourse."""
    from discourse_async.testing import FakeDiscourse

    return FakeDiscourse()


@_async_fixture
async def discourse(fake_discourse: FakeDiscourse) -> AsyncIterator[Discourse]:
    """A ``Discourse`` client on ``fake_discourse`` (admin key, acting as ``system``), closed after the test."""
    async with fake_discourse.client() as client:
        yield client
