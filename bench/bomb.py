"""A gzip bomb against each engine: 1 GiB of zeros in about 1 MiB of gzip, served from 127.0.0.1.

    python bench/bomb.py [--gib 1] [--engine builtin]

The server runs in this process; the client in a child process of its own, which reports its peak
RSS growth over the call (ru_maxrss after, minus the RSS just before) and how the call ended. The
built-in engine refuses the body past its 64 MiB limit; the goal is a growth under 100 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def bomb(gib: float) -> bytes:
    """``gib`` GiB of zeros, gzipped in pieces (never held uncompressed)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * (1 << 20)
    out = [packer.compress(zeros) for _ in range(int(gib * 1024))]
    out.append(packer.flush())
    return b"".join(out)


def rss_now_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def client(url: str, engine: str) -> dict[str, object]:
    from discourse_async import Discourse, DiscourseError

    async with Discourse(url, engine=engine, rate_limits=None, max_retries=0) as dc:
        await dc.request("GET", "/warm")  # imports and a connection, before the baseline
        before = rss_now_kib()
        try:
            body = await dc.request("GET", "/bomb")
            outcome = f"accepted ({len(body)} characters)"
        except DiscourseError as exc:
            outcome = f"refused: {type(exc).__name__}: {str(exc)[:120]}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"engine": engine, "outcome": outcome, "peak_rss_growth_mib": round((peak - before) / 1024, 1)}


async def serve_and_measure(gib: float, engine: str) -> dict[str, object]:
    payload = bomb(gib)
    bomb_answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
    warm_answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                writer.write(bomb_answer if b" /bomb " in head else warm_answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", url, "--engine", engine, stdout=subprocess.PIPE
    )
    out, _ = await child.communicate()
    server.close()
    result: dict[str, object] = json.loads(out)
    result["compressed_bytes"] = len(payload)
    result["decompressed_gib"] = gib
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--engine", default="builtin")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(client(args.client, args.engine))))
        return
    result = asyncio.run(serve_and_measure(args.gib, args.engine))
    print(json.dumps(result, indent=1))
    growth = result["peak_rss_growth_mib"]
    sys.exit(0 if isinstance(growth, float) and growth < 100 and str(result["outcome"]).startswith("refused") else 1)


if __name__ == "__main__":
    main()
