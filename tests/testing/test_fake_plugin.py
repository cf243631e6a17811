"""The pytest plugin: ``discourse`` and ``fake_discourse`` fixtures, as a bot's test suite uses them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from discourse_async.testing.pytest_plugin import discourse, fake_discourse  # noqa: F401 - fixtures used below

ROOT = Path(__file__).resolve().parents[2]


async def test_fixtures_give_a_client_on_a_fresh_fake(discourse, fake_discourse) -> None:  # noqa: F811
    await discourse.posts.create_post(title="Hello from the fixture", raw="A first post from a test.", category=2)
    latest = await discourse.topics.list_latest_topics()
    assert [t.title for t in latest.topic_list.topics] == ["Hello from the fixture"]
    assert len(fake_discourse.store.topics) == 1


async def test_each_test_gets_a_fresh_fake(fake_discourse) -> None:  # noqa: F811
    assert fake_discourse.store.topics == {}


@pytest.mark.parametrize(
    "runner",
    [
        ("-o", "asyncio_mode=auto"),  # pytest-asyncio runs the test
        ("-o", "asyncio_mode=strict"),  # pytest-asyncio leaves unmarked tests alone: the plugin runs it
        ("-p", "no:asyncio"),  # no async runner at all
    ],
)
def test_the_documented_command_line(tmp_path: Path, runner: tuple[str, str]) -> None:
    (tmp_path / "test_bot.py").write_text(
        textwrap.dedent("""
        async def test_my_bot(discourse, fake_discourse):
            fake_discourse.create_user("alice")
            await discourse.posts.create_post(
                title="A question for the bot", raw="Hello @alice, can you help?", category=2
            )
            assert [n.notification_type for n in fake_discourse.user("alice").notifications] == [1]
    """)
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "discourse_async.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            *runner,
            str(tmp_path / "test_bot.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
