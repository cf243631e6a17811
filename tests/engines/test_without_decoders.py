"""Where orjson and simdjson have no wheel, the client decodes with the standard library, correctly.

They are default dependencies only on the platforms that have wheels for them (pyproject.toml's
environment markers), so the fallback is what a user elsewhere runs. A fresh virtualenv gets this
checkout with the test dependencies, the two decoders are uninstalled, and the tests of decoding,
the built-in engine, models and the request path run there. Slow (pip's cache makes reruns quick),
but run by ``make test`` and so in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Decoding, the lazy-model guarantees (they skip without simdjson, and test the fallback with it
# monkeypatched away), the engine's bodies and framing, models from answers, and the request path.
SUBSET = [
    "tests/engines/test_codec.py",
    "tests/engines/test_builtin_engine.py",
    "tests/models/test_models.py",
    "tests/client/test_request_path.py",
    "tests/client/test_operations.py",
]


@pytest.mark.slow
def test_the_client_without_orjson_and_simdjson(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")

    def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900, check=False
        )

    tools = ["pytest", "pytest-asyncio", "pytest-httpx", "hypothesis", "PyYAML", "jsonschema", "rfc3339-validator"]
    install = run("-m", "pip", "install", "-q", "--disable-pip-version-check", f"{ROOT}[testing,aiohttp]", *tools)
    assert install.returncode == 0, install.stdout + install.stderr
    removed = run("-m", "pip", "uninstall", "-y", "-q", "orjson", "pysimdjson")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    probe = run("-c", "import importlib.util as u; print(u.find_spec('orjson'), u.find_spec('simdjson'))", cwd=tmp_path)
    assert probe.stdout.split() == ["None", "None"], probe.stdout + probe.stderr

    # From tmp_path, with the checkout's tests by path: the package is the one installed in the venv.
    tests = [str(ROOT / path) for path in SUBSET]
    result = run("-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--rootdir", str(ROOT), *tests, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
