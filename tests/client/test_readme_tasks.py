"""The README's common-tasks table: every row's call runs against the fake, as written.

Each row names its inputs (``topic_id``, ``post_id``, ``category_id``, ``username``); the test gives
them values the fake has (a post by ``sam``, which the admin client ``dc`` can like, flag and edit),
runs the call, and checks what it returned.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from discourse_async import PostActionType, models
from discourse_async.testing import FakeDiscourse

ROOT = Path(__file__).resolve().parents[2]
TASKS = ["create a topic", "reply", "like", "flag", "edit", "private message", "read a user", "search", "upload"]


def rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("### Common tasks", 1)[1].split("\n\n", 2)[1]
    found = {}
    for line in table.splitlines()[2:]:
        task, call = (cell.strip() for cell in line.strip("|").split("|"))
        found[task] = re.fullmatch(r"`(.*)`", call).group(1)  # type: ignore[union-attr]
    return found


def test_the_table_covers_the_common_tasks() -> None:
    tasks = " ".join(rows())
    for task in TASKS:
        assert task in tasks, task


@pytest.mark.parametrize("task", sorted(rows()))
async def test_row_runs_against_the_fake(task: str) -> None:
    fake = FakeDiscourse()
    topic = fake.seed_topics(2)[0]
    fake.create_user("sam")
    async with fake.client("sam") as sam:
        first = await sam.posts.create_post(
            title="A topic to work with", raw="The first post of the topic.", category=2
        )
    names: dict[str, Any] = {
        "topic_id": topic.id,
        "post_id": first.id,
        "username": "sam",
        "PostActionType": PostActionType,
    }
    async with fake.client() as dc:
        category = await dc.categories.create_category(name="Questions", color="0088CC", text_color="FFFFFF")
        names["category_id"] = category.category.id
        names["dc"] = dc
        code = compile(rows()[task], task, "eval", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = await eval(code, names)
    if isinstance(result, list):
        assert result and all(isinstance(post, models.Post) for post in result)
    elif "bookmark" in task:
        assert result is None  # Discourse answers an empty body
    else:
        assert isinstance(result, models.Model), result
