"""The examples run as a new user would run them, offline, and exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", ["tour.py", "webhook_bot.py"])
def test_example_runs(script: str) -> None:
    env_free_of_real_forum = {k: v for k, v in __import__("os").environ.items() if not k.startswith("DISCOURSE_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_free_of_real_forum,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Tour complete." in done.stdout or "the bot replied 2 times" in done.stdout
