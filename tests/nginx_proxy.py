"""A real nginx in front of a server on 127.0.0.1, set up as discourse_docker sets it up, started and stopped by the tests.

The per-IP limits are those of discourse_docker's ``templates/web.ratelimited.template.yml``
(``limit_req`` zones of 12 r/s burst 12 and 200 r/m burst 100, both ``nodelay``; ``limit_conn`` of
20; every refusal a 429), with TLS on a certificate made for the run, gzip, and a short
``keepalive_timeout``. The configuration and every file nginx writes live in a temporary directory.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()), None
)
OPENSSL = shutil.which("openssl")
SKIP_REASON = "nginx (and openssl) are not installed (Debian: apt-get install nginx openssl); .ci/run installs them"

#: (rate, burst) of each limit_req zone: discourse_docker's defaults.
DISCOURSE_ZONES: tuple[tuple[str, int], ...] = (("12r/s", 12), ("200r/m", 100))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Nginx:
    """A running nginx: its https URL, the certificate to trust, and its access log."""

    url: str
    cert_file: str
    directory: Path

    def statuses(self, at_least: int = 0) -> list[int]:
        """The status of every request nginx answered so far, from its access log.

        nginx writes a request's line after it has sent the answer, so a client can hold every answer
        before the log has every line: ``at_least`` waits (up to 30 s) for that many lines.
        """
        log = self.directory / "access.log"
        deadline = time.monotonic() + 30.0
        while True:
            text = log.read_text() if log.exists() else ""
            found = [int(line.split('"')[2].split()[0]) for line in text.splitlines() if line.count('"') >= 2]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def _config(
    directory: Path, port: int, upstream: int, zones: Sequence[tuple[str, int]], conn_per_ip: int, keepalive: str
) -> str:
    zone_lines = "\n".join(
        f"  limit_req_zone $binary_remote_addr zone=z{i}:1m rate={rate};" for i, (rate, _) in enumerate(zones)
    )
    limit_lines = "\n".join(f"      limit_req zone=z{i} burst={burst} nodelay;" for i, (_, burst) in enumerate(zones))
    temp = " ".join(
        f"{name}_temp_path {directory / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log {directory / "access.log"};
  {temp}
{zone_lines}
  limit_req_status 429;
  limit_conn_zone $binary_remote_addr zone=connperip:1m;
  limit_conn_status 429;
  keepalive_timeout {keepalive};
  gzip on;
  gzip_types application/json;
  upstream app {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {directory / "cert.pem"};
    ssl_certificate_key {directory / "key.pem"};
    location / {{
      limit_conn connperip {conn_per_ip};
{limit_lines}
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }}
  }}
}}
"""


@contextmanager
def nginx_proxy(
    upstream_port: int,
    *,
    zones: Sequence[tuple[str, int]] = DISCOURSE_ZONES,
    conn_per_ip: int = 20,
    keepalive: str = "2s",
) -> Iterator[Nginx]:
    """nginx on a free 127.0.0.1 port, proxying to ``upstream_port``, for the ``with`` block."""
    assert NGINX is not None and OPENSSL is not None, SKIP_REASON
    directory = Path(tempfile.mkdtemp(prefix="nginx-test-"))
    proc = None
    try:
        subprocess.run(
            [
                OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"), "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        port = free_port()
        conf = directory / "nginx.conf"
        conf.write_text(_config(directory, port, upstream_port, zones, conn_per_ip, keepalive))
        proc = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.02)
        yield Nginx(f"https://127.0.0.1:{port}", str(directory / "cert.pem"), directory)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(directory, ignore_errors=True)
