"""Every Python block of README.md and docs/*.md runs, against the fake Discourse.

The blocks of one document run in order in one namespace, the way a reader builds on the block
before. A block may use ``dc``, a client on the demo fake (50 seeded topics, as ``make fake``
serves), as the README's fragments do; ``https://forum.example.com`` in a block is the demo fake's
URL, and ``DISCOURSE_API_KEY``, ``DISCOURSE_WEBHOOK_SECRET`` and ``DISCOURSE_CONNECT_SECRET`` are set
for it. A block that defines ``async def test_*(discourse, fake_discourse)`` is run as the pytest
plugin would. A block preceded by ``<!-- not run: why -->`` is skipped, and there are few.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from discourse_async.testing import FakeDiscourse

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SITE = "https://forum.example.com"
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<why>.+?)\s*-->")
MAX_NOT_RUN = 4
#: What some blocks print, to show they ran through (the README's first example replied, its error
#: example met Discourse's minimum post length, sync_sso made a username as Discourse does).
PRINTS = {
    "README.md": ["replied as post 2", "422 record_invalid"],
    "bot-toolkit.md": ["a11"],
    "testing.md": ["serving on http://127.0.0.1:"],
}


@dataclass
class Block:
    document: str
    line: int
    code: str
    not_run: str | None


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, flags=re.DOTALL | re.MULTILINE):
        before = text[: match.start()].rstrip().splitlines()
        marker = NOT_RUN.fullmatch(before[-1].strip()) if before else None
        code = "\n".join(line.removeprefix(match.group(1)) for line in match.group(2).splitlines())
        found.append(
            Block(path.name, text[: match.start()].count("\n") + 2, code, marker.group("why") if marker else None)
        )
    return found


async def run_block(block: Block, namespace: dict[str, Any], url: str) -> None:
    source = block.code.replace(SITE, url)
    code = compile(source, f"{block.document}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    before = set(namespace)
    if "asyncio.run(" in source:
        await asyncio.to_thread(exec, code, namespace)  # a whole program with its own event loop
    elif code.co_flags & inspect.CO_COROUTINE:
        await eval(code, namespace)  # a fragment of async code (top-level await)
    else:
        exec(code, namespace)
    for name in sorted(set(namespace) - before):
        test = namespace[name]
        if name.startswith("test_") and inspect.iscoroutinefunction(test):
            fake = FakeDiscourse()  # a pytest snippet: run it as the plugin's fixtures would
            async with fake.client() as discourse:
                await test(discourse=discourse, fake_discourse=fake)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_python_block_runs(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeDiscourse()
    fake.seed_topics(50)
    fake.discourse_connect_secret = "connect-secret-for-the-docs"
    monkeypatch.setenv("DISCOURSE_API_KEY", fake.admin_api_key)
    monkeypatch.setenv("DISCOURSE_CONNECT_SECRET", fake.discourse_connect_secret)
    monkeypatch.setenv("DISCOURSE_WEBHOOK_SECRET", "webhook-secret-for-the-docs")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4096))  # the file the docs upload

    async def run_all(url: str) -> None:
        async with fake.client() as dc:
            namespace: dict[str, Any] = {"__name__": "docs_snippet", "dc": dc}
            for block in blocks(path):
                if block.not_run is None:
                    await run_block(block, namespace, url)

    with fake.run_in_thread() as url:
        asyncio.run(run_all(url))
    printed = capsys.readouterr().out
    for expected in PRINTS.get(path.name, []):
        assert expected in printed


def test_few_blocks_are_not_run() -> None:
    skipped = [f"{b.document}:{b.line} ({b.not_run})" for path in DOCUMENTS for b in blocks(path) if b.not_run]
    assert len(skipped) <= MAX_NOT_RUN, skipped
    assert sum(1 for path in DOCUMENTS for _ in blocks(path)) >= 20
