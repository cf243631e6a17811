"""pytest fixtures for bots' test suites: ``pytest -p discourse_async.testing.pytest_plugin``.

- ``fake_discourse``: a fresh :class:`~discourse_async.testing.FakeDiscourse` per test.
- ``discourse``: a ready ``Discourse`` client on it, in-process, with the admin key acting as ``system``.

::

    async def test_my_bot(discourse, fake_discourse):
        await discourse.posts.create_post(title="A topic for my bot", raw="Hello bot, please answer.", category=2)
        assert len(fake_discourse.store.topics) == 1

The plugin needs no async runner: an ``async def`` test that no other plugin runs (pytest-asyncio in
auto mode or with ``@pytest.mark.asyncio``, anyio with its marker) is run here, each in its own event
loop by ``asyncio.run``. The fixtures are plain ones, so they serve whichever runner runs the test.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from discourse_async import Discourse
    from discourse_async.testing import FakeDiscourse


@pytest.fixture
def fake_discourse() -> FakeDiscourse:
    """A fresh in-memory Discourse."""
    from discourse_async.testing import FakeDiscourse

    return FakeDiscourse()


@pytest.fixture
def discourse(fake_discourse: FakeDiscourse) -> Iterator[Discourse]:
    """A ``Discourse`` client on ``fake_discourse`` (admin key, acting as ``system``), closed after the test."""
    client = fake_discourse.client()
    yield client
    # In-process the client holds no sockets, so closing it in a loop of its own is safe whichever
    # loop the test ran in (and teardown runs outside it).
    asyncio.run(client.aclose())


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that no async plugin took (pytest would otherwise skip it)."""
    func = pyfuncitem.obj
    # pytest-asyncio swaps in a synchronous wrapper for the tests it runs, so a coroutine function
    # here is one it left alone; anyio runs the tests that request its backend fixture.
    if not inspect.iscoroutinefunction(func) or "anyio_backend" in pyfuncitem.funcargs:
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(func(**arguments))
    return True
