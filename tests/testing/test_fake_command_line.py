"""``python -m discourse_async.testing`` (``make fake``): site settings from flags, and one line when it cannot start."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

COMMAND = (sys.executable, "-m", "discourse_async.testing")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The command, for one that exits by itself (a failure)."""
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_taken_port_is_one_line_and_a_non_zero_exit(taken_port: int) -> None:
    done = run("--port", str(taken_port))
    assert done.returncode == 1, done
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"cannot listen on 127.0.0.1:{taken_port}" in lines[0] and "in use" in lines[0], lines


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("no_such_setting=1", "unknown site setting 'no_such_setting'"),
        ("min_post_length=five", "takes an integer"),
        ("allow_uncategorized_topics", "NAME=VALUE"),
    ],
)
def test_a_bad_setting_is_one_line_and_a_non_zero_exit(setting: str, says: str) -> None:
    done = run("--port", "0", "--setting", setting)
    assert done.returncode == 1, done
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr


def test_settings_from_the_command_line_apply() -> None:
    proc = subprocess.Popen(
        [
            *COMMAND,
            "--port",
            "0",
            "--setting",
            "allow_uncategorized_topics=true",
            "--setting",
            "min_first_post_length=5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"at (http://\S+)", proc.stdout.readline())
        key = re.search(r"Admin API key: (\S+)", proc.stdout.readline())
        assert url and key, proc.stderr.read() if proc.stderr else ""
        headers = {"Api-Key": key.group(1), "Api-Username": "system"}
        with httpx.Client(base_url=url.group(1), headers=headers) as client:
            # no category (allowed by the setting) and a five-character body (the other setting)
            answer = client.post("/posts.json", json={"title": "A topic from the command line", "raw": "Short"})
        assert answer.status_code == 200, answer.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
