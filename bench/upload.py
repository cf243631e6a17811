"""Multipart upload throughput and memory: dc.uploads.upload() against raw presigned PUTs.

    python bench/upload.py [--size-mib 256] [--part-mib 8] [--concurrency 4] [--rounds 3]

The fake Discourse and its S3-compatible server (moto) run in another process, so this process
holds only the client: its peak RSS growth is the upload's memory. "raw" PUTs the same parts, read
the same way, at the same concurrency, to presigned URLs obtained beforehand: the floor that our
orchestration (presigning in batches, retries, progress, ETag bookkeeping) is measured against.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

MiB = 1024 * 1024


def rss_mib() -> float:
    """This process's resident set size, from /proc (Linux)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRSS:
    """Samples RSS every 5 ms in a thread while active."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib())
            time.sleep(0.005)

    def __enter__(self) -> PeakRSS:
        self.peak = rss_mib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_fake(*options: str) -> tuple[subprocess.Popen[str], str, str]:
    """The fake Discourse in its own process: (process, URL, admin key)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "discourse_async.testing", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=HERE.parent,
    )
    assert proc.stdout is not None
    url = key = ""
    while not (url and key):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake Discourse did not start (is the testing extra installed?)")
        if match := re.match(r"Fake Discourse at (\S+)", line):
            url = match.group(1)
        if match := re.match(r"Admin API key: (\S+)", line):
            key = match.group(1)
    return proc, url, key


async def ours(url: str, key: str, path: Path, size: int, part: int, concurrency: int) -> tuple[float, float]:
    from discourse_async import Discourse

    async with Discourse(url, api_key=key, api_username="system", rate_limits=None) as dc:
        # Load what the first call loads (the engine, models) before the baseline is taken.
        await dc.uploads.upload(b"warm-up", filename="warm.txt")
        with PeakRSS() as peak:
            base = rss_mib()
            start = time.perf_counter()
            await dc.uploads.upload(path, route="multipart", part_size=part, concurrency=concurrency)
            elapsed = time.perf_counter() - start
    return size / MiB / elapsed, peak.peak - base


async def raw(url: str, key: str, path: Path, size: int, part: int, concurrency: int, sha1: str) -> float:
    """The same parts PUT to presigned URLs (asked for up front), same reads, same concurrency,
    then the same complete call: the least any client must do. It gets the file's SHA-1 for free
    (computed before the clock starts), so the site checks the same checksum for both.
    """
    parts = -(-size // part)
    headers = {"Api-Key": key, "Api-Username": "system"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as site, httpx.AsyncClient() as s3:
        created = (
            await site.post(
                "/uploads/create-multipart.json",
                json={
                    "upload_type": "composer",
                    "file_name": path.name,
                    "file_size": size,
                    "metadata": {"sha1-checksum": sha1},
                },
            )
        ).json()
        urls: dict[str, str] = {}
        for first in range(1, parts + 1, 100):
            numbers = list(range(first, min(first + 100, parts + 1)))
            answer = await site.post(
                "/uploads/batch-presign-multipart-parts.json",
                json={"part_numbers": numbers, "unique_identifier": created["unique_identifier"]},
            )
            urls.update(answer.json()["presigned_urls"])
        fd = os.open(path, os.O_RDONLY)
        queue = list(range(1, parts + 1))
        etags: dict[int, str] = {}

        async def worker() -> None:
            while queue:
                number = queue.pop(0)
                offset = (number - 1) * part
                data = await asyncio.to_thread(os.pread, fd, min(part, size - offset), offset)
                response = await s3.put(urls[str(number)], content=data)
                response.raise_for_status()
                etags[number] = response.headers["etag"]

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        done = await site.post(
            "/uploads/complete-multipart.json",
            json={
                "unique_identifier": created["unique_identifier"],
                "parts": [{"part_number": n, "etag": etags[n]} for n in sorted(etags)],
            },
        )
        done.raise_for_status()
        elapsed = time.perf_counter() - start
        os.close(fd)
    return size / MiB / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    part = args.part_mib * MiB
    proc, url, key = start_fake("--s3")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.bin"
            with path.open("wb") as fh:
                for _ in range(args.size_mib):
                    fh.write(os.urandom(MiB))
            size = args.size_mib * MiB
            digest = hashlib.sha1(usedforsecurity=False)
            with path.open("rb") as fh:
                while chunk := fh.read(4 * MiB):
                    digest.update(chunk)
            ours_rates, raw_rates, peaks = [], [], []
            for round_no in range(args.rounds):
                if round_no % 2:  # alternate who goes first, so a slow moment hits both alike
                    raw_rates.append(asyncio.run(raw(url, key, path, size, part, args.concurrency, digest.hexdigest())))
                rate, peak = asyncio.run(ours(url, key, path, size, part, args.concurrency))
                ours_rates.append(rate)
                peaks.append(peak)
                if not round_no % 2:
                    raw_rates.append(asyncio.run(raw(url, key, path, size, part, args.concurrency, digest.hexdigest())))
    finally:
        proc.kill()
        proc.wait()
    result: dict[str, Any] = {
        "size_mib": args.size_mib,
        "part_mib": args.part_mib,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "ours_mib_s": statistics.median(ours_rates),
        "raw_mib_s": statistics.median(raw_rates),
        "ours_peak_mib": max(peaks),
        "bound_mib": args.part_mib * args.concurrency + 64,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
