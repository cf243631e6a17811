"""The pytest plugin works in a project that is not this one: a fresh virtualenv gets this checkout
with the ``testing`` extra (and pytest, which a user's project brings), and the README's pytest
snippet passes there as written, with no async runner installed or configured.

Slow (it installs the package and its testing dependencies; pip's cache makes reruns quick) but run
by ``make test`` and so in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_pytest_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    return next(block for block in blocks if "async def test_my_bot(" in block)


@pytest.mark.slow
def test_the_readme_snippet_passes_in_a_fresh_project(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{ROOT}[testing]", "pytest"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    project = tmp_path / "my_bot"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_bot.py").write_text(readme_pytest_snippet())
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "discourse_async.testing.pytest_plugin", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "not natively supported" not in result.stdout + result.stderr
