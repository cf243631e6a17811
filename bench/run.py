"""``make bench``: discourse-async against its peers, all measured in the same run.

    python bench/run.py [--quick] [--skip-upload]

Contenders, alternated within each round (medians over the rounds, ratios against peers of the
same run, never absolute thresholds). For requests/s each async contender runs in a process of
its own, kept for the whole run and told when to measure, so none runs on a heap another one grew:

* raw aiohttp: the ceiling, what this machine can do;
* raw httpx (default transport): what the generated code does alone;
* discourse-async with each engine (built-in, the default; aiohttp; httpx), typed parsing included;
* pydiscourse, sequential and with a thread pool of 16.

Scenarios: requests/s at concurrency 1, 8, 64, 256 against a loopback server serving a 3.4 KB
/latest.json; fetching 2,000 topics from a server 20 ms away; cold start; typed parsing of a
1,000-post topic; and (unless --skip-upload) a 256 MiB multipart upload to an S3-compatible server.
Writes bench/results.md and bench/results.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from payloads import topic_json  # noqa: E402

CONCURRENCY = (1, 8, 64, 256)
WARMUP = 0.2  # seconds of calls before each throughput measurement that are not counted
OURS = "discourse-async (builtin)"  # the default engine: what `Discourse(url, api_key=...)` runs


# ------------------------------------------------------------------------------------ server


@contextlib.contextmanager
def server(latency_ms: float = 0.0) -> Iterator[str]:
    """The loopback server in its own process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------------ contenders

Call = Callable[[], Awaitable[object]]


async def run_calls(call: Call, total: int, concurrency: int) -> float:
    """Requests per second for ``total`` calls with ``concurrency`` in flight."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start)


ASYNC_CONTENDERS = (
    "raw aiohttp",
    "raw httpx",
    "discourse-async (builtin)",
    "discourse-async (aiohttp)",
    "discourse-async (httpx)",
)


@contextlib.asynccontextmanager
async def open_contender(name: str, base: str) -> AsyncIterator[Call]:
    """The client of one contender, opened; yields its call (GET /latest.json)."""
    url = base + "/latest.json"
    if name == "raw aiohttp":
        import aiohttp

        async with aiohttp.ClientSession() as session:

            async def raw_aiohttp() -> object:
                async with session.get(url) as response:
                    return await response.read()

            yield raw_aiohttp
    elif name == "raw httpx":
        import httpx

        async with httpx.AsyncClient() as client:

            async def raw_httpx() -> object:
                return (await client.get(url)).content

            yield raw_httpx
    else:
        from discourse_async import Discourse

        engine = name.split("(")[1].rstrip(")")
        # A site that raised its limits: the client-side budget would otherwise (rightly) hold
        # this loop to Discourse's default 60 requests a minute.
        async with Discourse(base, api_key="bench-key", api_username="system", engine=engine, rate_limits=None) as dc:
            yield dc.topics.list_latest_topics


def serve_contender(name: str, base: str) -> None:
    """The body of one contender's process: measure on each command line read from stdin.

    Each contender has a process of its own, so no contender runs on a heap another one has
    grown and fragmented, and each imports only its own libraries.
    """

    async def main() -> None:
        async with open_contender(name, base) as call:
            await run_calls(call, 200, 16)  # warm connections and imports
            print("READY", flush=True)
            while line := await asyncio.to_thread(sys.stdin.readline):
                concurrency, seconds = line.split()
                print(await run_for(call, float(seconds), int(concurrency)), flush=True)

    asyncio.run(main())


class Contender:
    """A contender's process, driven one measurement at a time."""

    def __init__(self, name: str, base: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--contender", name, "--base", base],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "READY":
            raise RuntimeError(f"{name} did not start")

    def measure(self, concurrency: int, seconds: float) -> float:
        """Requests per second at ``concurrency`` over ``seconds`` (see :func:`run_for`)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{concurrency} {seconds}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def pydiscourse_rate(base: str, total: int, threads: int) -> float:
    """pydiscourse (requests, a new connection per call) sequentially or from a thread pool."""
    from pydiscourse import DiscourseClient

    client = DiscourseClient(base, api_username="system", api_key="bench-key")
    start = time.perf_counter()
    if threads <= 1:
        for _ in range(total):
            client.latest_topics()
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: client.latest_topics(), range(total)))
    return total / (time.perf_counter() - start)


def pydiscourse_topic_rate(base: str, total: int) -> float:
    from pydiscourse import DiscourseClient

    client = DiscourseClient(base, api_username="system", api_key="bench-key")
    start = time.perf_counter()
    for i in range(total):
        assert len(client.topic("slug", 1000 + i)["post_stream"]["posts"]) == 20
    return total / (time.perf_counter() - start)


# ------------------------------------------------------------------------------------ scenarios


async def run_for(call: Call, seconds: float, concurrency: int, warmup: float = WARMUP) -> float:
    """Requests per second over ``seconds`` of calls with ``concurrency`` in flight.

    The same time for every contender, not the same count: a fast one is measured over many
    requests (less noise), a slow one does not take minutes. The first ``warmup`` seconds are not
    counted: pools grow to this level there (connections idle since the last measurement at it
    have expired), so the figure is the steady rate, not the cost of opening connections.
    """
    done = 0
    start = time.perf_counter() + warmup
    deadline = start + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            if time.perf_counter() >= start:
                done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


def throughput(base: str, rounds: int, seconds: float) -> dict[str, dict[int, list[float]]]:
    """Requests/s per contender and concurrency, one sample per round."""
    samples: dict[str, dict[int, list[float]]] = {}
    contenders = [Contender(name, base) for name in ASYNC_CONTENDERS]
    try:
        for round_no in range(rounds):
            # Alternate the order of contenders and of levels: this machine's speed drifts by tens
            # of percent over seconds, and a fixed order would hand that drift to one contender or
            # one level every round.
            order = contenders if round_no % 2 == 0 else contenders[::-1]
            levels = CONCURRENCY if round_no % 2 == 0 else CONCURRENCY[::-1]
            for concurrency in levels:
                for contender in order:
                    rate = contender.measure(concurrency, seconds)
                    samples.setdefault(contender.name, {}).setdefault(concurrency, []).append(rate)
    finally:
        for contender in contenders:
            contender.close()
    for round_no in range(rounds):
        for threads, label in ((1, "pydiscourse (sequential)"), (16, "pydiscourse (16 threads)")):
            rate = pydiscourse_rate(base, 300, threads)
            for concurrency in CONCURRENCY:
                # pydiscourse has no concurrency of its own: its figure is the same at every level.
                samples.setdefault(label, {}).setdefault(concurrency, []).append(rate)
        del round_no
    return samples


STREAMED = "discourse-async, each topic read as it arrives (256 in flight)"
KEPT = "discourse-async, all topics kept in a list (256 in flight)"


async def latency_scenario(rounds: int, topics: int) -> dict[str, float]:
    """Seconds to fetch ``topics`` topics from a server 20 ms away (pydiscourse: extrapolated).

    The main figure reads each topic as it arrives and lets it go, as pydiscourse's loop does; the
    second keeps every parsed topic, which costs CPython's garbage collector more as the heap grows.
    """
    from discourse_async import Discourse

    results: dict[str, list[float]] = {}
    with server(latency_ms=20) as base:
        async with Discourse(base, api_key="bench-key", api_username="system", rate_limits=None) as dc:
            sem = asyncio.Semaphore(256)

            async def fetch(i: int) -> Any:
                async with sem:
                    return await dc.topics.get_topic(id=str(1000 + i))

            async def read(i: int) -> int:
                topic = await fetch(i)
                return len(topic.post_stream.posts)

            for _ in range(rounds):
                start = time.perf_counter()
                read_posts = await asyncio.gather(*(read(i) for i in range(topics)))
                results.setdefault(STREAMED, []).append(time.perf_counter() - start)
                assert sum(read_posts) == 20 * topics
                start = time.perf_counter()
                kept = await asyncio.gather(*(fetch(i) for i in range(topics)))
                results.setdefault(KEPT, []).append(time.perf_counter() - start)
                del kept
                sample = 100
                rate = await asyncio.to_thread(pydiscourse_topic_rate, base, sample)
                results.setdefault("pydiscourse (sequential)", []).append(topics / rate)
    return {name: statistics.median(v) for name, v in results.items()}


def parse_cost(repeat: int) -> dict[str, float]:
    """Milliseconds to parse a 1,000-post topic: json.loads alone, and into the typed model."""
    import httpx

    from discourse_async._engines import RawResponse
    from discourse_async._generated.api.topics import get_topic

    body = json.dumps(topic_json(1000)).encode()
    raw = RawResponse(200, httpx.Headers({"content-type": "application/json"}), body, method="GET", url="http://x/")
    timings: dict[str, list[float]] = {
        "json.loads": [],
        "orjson.loads": [],
        "typed (default)": [],
        "typed, every post read": [],
    }
    try:
        import orjson
    except ImportError:
        orjson = None  # type: ignore[assignment]
        del timings["orjson.loads"]
    for _ in range(repeat):
        start = time.perf_counter()
        json.loads(body)
        timings["json.loads"].append(time.perf_counter() - start)
        if orjson is not None:
            start = time.perf_counter()
            orjson.loads(body)
            timings["orjson.loads"].append(time.perf_counter() - start)
        start = time.perf_counter()
        get_topic._parse_response(raw)  # type: ignore[arg-type]
        timings["typed (default)"].append(time.perf_counter() - start)
        # Nested models are built on first read: reading every post's fields is the full cost.
        start = time.perf_counter()
        topic = get_topic._parse_response(raw)  # type: ignore[arg-type]
        for post in topic.post_stream.posts:
            _ = (post.id, post.username, post.created_at, post.cooked, post.post_number, post.reply_count)
        timings["typed, every post read"].append(time.perf_counter() - start)
    return {name: statistics.median(v) * 1000 for name, v in timings.items()}


def coldstart(rounds: int) -> dict[str, Any]:
    """Our cold-start overhead (bench/coldstart.py)."""
    from coldstart import measure

    return measure(rounds)


def upload_scenario(size_mib: int, rounds: int) -> dict[str, Any] | None:
    """Multipart upload through the fake Discourse to a moto S3 server (bench/upload.py)."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "upload.py"), "--size-mib", str(size_mib), "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"upload scenario skipped: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------------ report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import aiohttp
    import httpx

    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}, "
        f"aiohttp {aiohttp.__version__}, httpx {httpx.__version__}; client and server on the same machine"
    )


def write_report(results: dict[str, Any], out: Path) -> str:
    rates: dict[str, dict[int, float]] = results["throughput"]
    ceiling = rates["raw aiohttp"]
    httpx_rates = rates["raw httpx"]
    ours = rates[OURS]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {results['machine']}.",
        f"Run: `make bench` on {results['date']}, {results['rounds']} rounds, medians; "
        f"{results['seconds']:g} s of calls per measurement after {WARMUP:g} s of warm-up at its level.",
        "",
        "## Requests per second (loopback server, 3.4 KB /latest.json, typed parsing included)",
        "",
        "| contender | " + " | ".join(f"c={c}" for c in CONCURRENCY) + " |",
        "|---|" + "---|" * len(CONCURRENCY),
    ]
    for name, by_c in rates.items():
        lines.append(f"| {name} | " + " | ".join(f"{by_c[c]:,.0f}" for c in CONCURRENCY) + " |")
    lines += [
        "",
        "| ratio | " + " | ".join(f"c={c}" for c in CONCURRENCY) + " |",
        "|---|" + "---|" * len(CONCURRENCY),
        "| ours / raw aiohttp | " + " | ".join(f"{ours[c] / ceiling[c]:.2f}x" for c in CONCURRENCY) + " |",
        "| ours / raw httpx | " + " | ".join(f"{ours[c] / httpx_rates[c]:.1f}x" for c in CONCURRENCY) + " |",
        "| ours / pydiscourse (sequential) | "
        + " | ".join(f"{ours[c] / rates['pydiscourse (sequential)'][c]:.1f}x" for c in CONCURRENCY)
        + " |",
        "",
        f"Ours at 256 against ours at 8: {ours[256] / ours[8]:.2f}x.",
        "",
        "The client runs with `rate_limits=None` here (a site that raised its limits); with Discourse's",
        "default budget it would, by design, hold this loop to 60 requests a minute.",
        "",
    ]
    latency = results.get("latency")
    if latency:
        streamed, kept = latency[STREAMED], latency[KEPT]
        theirs = latency["pydiscourse (sequential)"]
        lines += [
            f"## Fetching {results['latency_topics']:,} topics from a server 20 ms away",
            "",
            "Each topic (20 posts, 22 KB) is parsed into its model; pydiscourse returns plain dicts and",
            "reads them one after another.",
            "",
            "| contender | seconds | pydiscourse / this |",
            "|---|---|---|",
            f"| {STREAMED} | {streamed:.2f} | {theirs / streamed:.0f}x |",
            f"| {KEPT} | {kept:.2f} | {theirs / kept:.0f}x |",
            f"| pydiscourse (sequential, from its rate on 100 topics) | {theirs:.1f} | 1x |",
            "",
        ]
    cold = results.get("coldstart")
    if cold:
        lines += [
            "## Cold start",
            "",
            f"`import discourse_async` + first typed call: {cold['ours_ms']:.1f} ms; importing the third-party",
            f"libraries that call loads ({', '.join(cold['third_party'])}) alone: "
            f"{cold['third_party_ms']:.1f} ms; our own overhead: **{cold['overhead_ms']:.1f} ms** "
            "(medians of fresh interpreters; the default engine against a loopback server).",
            "",
        ]
    parse = results.get("parse")
    if parse:
        lines += ["## Parsing a 1,000-post topic (1.1 MB)", "", "| step | ms |", "|---|---|"]
        lines += [f"| {name} | {ms:.1f} |" for name, ms in parse.items()]
        lines += [""]
    upload = results.get("upload")
    if upload:
        lines += [
            f"## Multipart upload of {upload['size_mib']} MiB to an S3-compatible server (moto)",
            "",
            "| what | MiB/s | peak RSS growth (MiB) |",
            "|---|---|---|",
            f"| raw presigned PUTs of the same parts, same concurrency | {upload['raw_mib_s']:.1f} | - |",
            f"| dc.uploads.upload() | {upload['ours_mib_s']:.1f} | {upload['ours_peak_mib']:.0f} |",
            "",
            f"Ratio: {upload['ours_mib_s'] / upload['raw_mib_s']:.2f}x (medians of {upload['rounds']} rounds); "
            f"memory bound part size x concurrency + 64 MiB = {upload['bound_mib']:.0f} MiB. "
            "Ours includes hashing the file for its SHA-1 checksum, which raw is handed.",
            "",
        ]
    lines += ["![throughput vs concurrency](results.png)", ""]
    text = "\n".join(lines)
    out.write_text(text, encoding="utf-8")
    return text


def chart(rates: dict[str, dict[int, float]], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart")
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, by_c in rates.items():
        ax.plot(CONCURRENCY, [by_c[c] for c in CONCURRENCY], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(CONCURRENCY, [str(c) for c in CONCURRENCY])
    ax.set_xlabel("requests in flight")
    ax.set_ylabel("requests per second")
    ax.set_title("Throughput vs concurrency (loopback, typed parsing included)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "rounds": args.rounds,
        "seconds": args.seconds,
        "latency_topics": args.topics,
    }
    with server() as base:
        print("throughput ...", flush=True)
        samples = throughput(base, args.rounds, args.seconds)
    results["throughput"] = {name: {c: statistics.median(v) for c, v in by_c.items()} for name, by_c in samples.items()}
    results["throughput_samples"] = samples
    print("20 ms latency ...", flush=True)
    results["latency"] = await latency_scenario(1 if args.quick else 5, args.topics)
    print("parse ...", flush=True)
    results["parse"] = parse_cost(5)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Many short measurements rather than a few long ones: the median of 10 one-second samples
    # shrugs off the machine's slow swings better than the median of 5 two-second ones.
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each throughput measurement")
    parser.add_argument("--topics", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests (a smoke run)")
    parser.add_argument("--skip-upload", action="store_true")
    parser.add_argument("--upload-mib", type=int, default=256)
    # Internal: run one contender's process (see serve_contender).
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        serve_contender(args.contender, args.base)
        return
    if args.quick:
        args.rounds, args.seconds, args.topics, args.upload_mib = 1, 0.5, 300, 32
    results = asyncio.run(main_async(args))
    print("cold start ...", flush=True)
    results["coldstart"] = coldstart(5 if args.quick else 25)
    if not args.skip_upload:
        print("upload ...", flush=True)
        results["upload"] = upload_scenario(args.upload_mib, 1 if args.quick else 5)
    (HERE / "results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    chart(results["throughput"], HERE / "results.png")
    print(write_report(results, HERE / "results.md"))


if __name__ == "__main__":
    main()
