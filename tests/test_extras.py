"""Every optional extra, used without being installed, says which extra to install.

Each case runs in a fresh interpreter with the extra's modules made unimportable, and does what a
user would: import the module the extra serves, or call what needs it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: extra -> (the modules it installs, what a user writes that needs them)
CASES = {
    "testing": (
        ["starlette", "uvicorn", "multipart", "python_multipart", "moto", "boto3"],
        "from discourse_async.testing import FakeDiscourse",
    ),
    "cli": (["click", "rich"], "from discourse_async.cli import cli"),
    "redis": (["redis"], "from discourse_async.redis_store import RedisStore; RedisStore()"),
    "progress": (["tqdm"], "from discourse_async.uploads import progress_bar; progress_bar()"),
    "user-api-keys": (
        ["cryptography"],
        "from discourse_async.user_api_keys import generate_key_pair; generate_key_pair()",
    ),
    "otel": (
        ["opentelemetry"],
        "from discourse_async import Discourse; Discourse('https://forum.example.com', telemetry=True)",
    ),
    "aiohttp": (
        ["aiohttp"],
        "from discourse_async import Discourse; Discourse('https://forum.example.com', engine='aiohttp')",
    ),
}
#: Extras that are not a feature a user imports: decoding falls back to the standard library, and
#: the rest are for working on the project.
NOT_IMPORTED = {"speed", "codegen", "dev", "docs", "browser"}

PROGRAM = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # an import of it fails as if it were not installed
try:
    exec({code!r})
except ImportError as exc:
    print(type(exc).__name__, "|", exc)
else:
    print("no error")
"""


def test_every_extra_has_a_case() -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert extras - NOT_IMPORTED == set(CASES)


@pytest.mark.parametrize("extra", sorted(CASES))
def test_a_missing_extra_is_named(extra: str) -> None:
    blocked, code = CASES[extra]
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(blocked=blocked, code=code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    kind, _, message = done.stdout.strip().partition(" | ")
    assert kind == "MissingExtraError", done.stdout + done.stderr
    assert f"pip install 'discourse-async[{extra}]'" in message
    assert f"the '{extra}' extra" in message


def test_the_command_line_says_it_in_one_line() -> None:
    program = "import sys; sys.modules['click'] = None; from discourse_async.cli import main; main(['--help'])"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "discourse-async: the command line needs the 'cli' extra (click is not installed): "
        "pip install 'discourse-async[cli]'"
    ]
