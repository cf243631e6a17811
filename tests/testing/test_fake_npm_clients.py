"""Clients nobody here wrote, from npm, drive the fake as a server: discourse2 and Discourse's MCP server.

``discourse2`` is a typed client generated from Discourse's published document (it checks every
request it sends against that document; its driver checks that each answer has the top-level keys the
document requires). ``@discourse/mcp`` is Discourse's own MCP server, driven through the MCP SDK's
client the way an AI agent uses it. Both are installed with npm, at pinned versions, into pytest's
cache directory (once; later runs reuse them), and their drivers live in ``tests/testing/npm/``.
Every call must succeed, and the fake must log no route it lacks. Skipped when node or npm is absent,
or when npm cannot install the packages (no network on a first run).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NODE, NPM = shutil.which("node"), shutil.which("npm")
pytestmark = pytest.mark.skipif(NODE is None or NPM is None, reason="node and npm are needed to run the npm clients")

PACKAGES = {"discourse2": "1.2.0", "@discourse/mcp": "0.3.1"}
DRIVERS = Path(__file__).parent / "npm"
FAKE_COMMAND = (sys.executable, "-m", "discourse_async.testing")


@pytest.fixture(scope="module")
def npm_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the pinned packages installed and the drivers beside them."""
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    where = cache.mkdir("npm-clients") if cache is not None else tmp_path_factory.mktemp("npm-clients")
    manifest = {"name": "discourse-async-npm-clients", "private": True, "type": "module", "dependencies": PACKAGES}
    wanted = json.dumps(manifest, indent=2)
    installed = where / "node_modules" / ".installed"
    if not installed.exists() or installed.read_text() != wanted:
        (where / "package.json").write_text(wanted)
        done = subprocess.run(
            [str(NPM), "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"npm could not install {', '.join(PACKAGES)}: {done.stderr.strip()[-300:]}")
        installed.write_text(wanted)
    for driver in DRIVERS.glob("*.mjs"):  # ES modules resolve packages from their own directory
        shutil.copy(driver, where / driver.name)
    return where


@contextlib.contextmanager
def fake_server(tmp_path: Path, *args: str) -> Iterator[tuple[str, str, Path]]:
    """The fake as a subprocess: (base URL, admin API key, its stderr log)."""
    log = tmp_path / "fake-stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen([*FAKE_COMMAND, "--port", "0", *args], stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            assert proc.stdout is not None
            url = re.search(r"at (http://\S+)", proc.stdout.readline())
            key = re.search(r"Admin API key: (\S+)", proc.stdout.readline())
            assert url and key, log.read_text()
            yield url.group(1), key.group(1), log
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()


def drive(npm_dir: Path, driver: str, *args: str) -> list[dict[str, Any]]:
    """Run a driver; its calls, one dict each ({"call", "ok", "detail"})."""
    done = subprocess.run(
        [str(NODE), driver, *args], cwd=npm_dir, capture_output=True, text=True, timeout=600, check=False
    )
    calls = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, f"{driver} exited {done.returncode}: {done.stderr[-2000:]}"
    return calls


def failures(calls: list[dict[str, Any]]) -> str:
    return "\n".join(f"{c['call']}: {c['detail']}" for c in calls if not c["ok"])


def no_missing_routes(log: Path) -> None:
    missing = [line for line in log.read_text().splitlines() if "has no route" in line]
    assert not missing, "\n".join(missing)


def test_discourse2_is_served(npm_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("moto.server")  # its direct-to-S3 uploads need the fake's S3 server
    with fake_server(tmp_path, "--s3", "--setting", "enable_github_logins=true") as (url, key, log):
        calls = drive(npm_dir, "discourse2_driver.mjs", url, key)
        no_missing_routes(log)
    with fake_server(tmp_path, "--discourse-connect-secret", "a-connect-secret") as (url, key, log):
        calls += drive(npm_dir, "discourse2_driver.mjs", url, key, "connect")
        no_missing_routes(log)
    methods = {c["call"] for c in calls if not c["call"].startswith("PUT ")}
    print(f"\ndiscourse2: {len(calls)} calls across {len(methods)} of its methods")
    assert not failures(calls), failures(calls)
    assert len(methods) >= 85 and len(calls) >= 95, sorted(methods)


def test_discourse_mcp_server_is_served(npm_dir: Path, tmp_path: Path) -> None:
    with fake_server(tmp_path) as (url, key, log):
        calls = drive(npm_dir, "mcp_driver.mjs", url, key)
        no_missing_routes(log)
    tools = {c["call"] for c in calls}
    print(f"\n@discourse/mcp: {len(calls)} tool calls across {len(tools)} tools")
    assert not failures(calls), failures(calls)
    assert len(tools) >= 38, sorted(tools)
