"""``make bench``: discourse-async against its peers, all measured in the same run.

    python bench/run.py [--quick] [--skip-upload] [--only topics,latency,...] [--[no-]plain-install]

Contenders, alternated within each round (medians over the rounds, ratios against peers of the
same run, never absolute thresholds). For requests/s each async contender runs in a process of
its own, kept for the whole run and told when to measure, so none runs on a heap another one grew:

* raw aiohttp: the ceiling, what this machine can do;
* plain dicts: raw aiohttp plus orjson (the fastest decoder into dicts here; our client decodes
  with it too, but reads answers from 32 KiB up through simdjson), returning the decoded dicts, as
  a client without models would;
* raw httpx (default transport): what the generated code does alone;
* discourse-async with each engine (built-in, the default; aiohttp; httpx), typed parsing included;
* discourse-async (built-in engine) from a fresh virtualenv where ``pip install .`` alone was run
  (the "plain install"; every other contender runs in the development install, ``make install``);
* pydiscourse, sequential and with a thread pool of 16.

Scenarios (names for --only): ``throughput``, requests/s at concurrency 1, 8, 64, 256 against a
loopback server serving a 3.4 KB /latest.json; ``topics``, ours against plain dicts on a 20-post
(35 KB) and a 1,000-post (1.1 MB) topic at 64 in flight and one at a time, every post read;
``tls``, /latest.json over HTTPS (a loopback TLS server, a certificate made for the run) at 1 and
64 in flight for raw aiohttp, plain dicts and ours, and what a new connection's handshake (full or
resumed) costs against a reused connection (bench/tls.py); ``latency``, fetching 2,000 topics
from a server 20 ms away; ``coldstart``; ``parse``, typed parsing of a 1,000-post topic and the
memory of 2,000 kept topics; ``otel``, what OpenTelemetry costs ours on /latest.json at 64 in
flight (API absent, API without an SDK, SDK recording every span); and ``upload`` (unless
--skip-upload), a 256 MiB multipart upload to an S3-compatible server. A full run writes
bench/results.md and bench/results.png; a run with --only prints its report and writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
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
if "--installed" not in sys.argv:  # the plain-install contender runs the package its virtualenv installed
    sys.path.insert(0, str(ROOT))

from payloads import topic_json  # noqa: E402

CONCURRENCY = (1, 8, 64, 256)
WARMUP = 0.2  # seconds of calls before each throughput measurement that are not counted
OURS = "discourse-async (builtin)"  # the default engine: what `Discourse(url, api_key=...)` runs
# The same in a fresh virtualenv where `pip install .` alone was run: what most users have.
PLAIN_INSTALL = "discourse-async (builtin, plain install)"
# The HTTPS scenario: levels, and the contenders it runs (plus the plain install when there is one).
TLS_LEVELS = (1, 64)
TLS_WARMUP = 1.0


# ------------------------------------------------------------------------------------ server


@contextlib.contextmanager
def server(latency_ms: float = 0.0, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """The loopback server in its own process (HTTPS with ``tls``: certificate, key); yields its base URL."""
    command = [sys.executable, str(HERE / "server.py"), "--latency-ms", str(latency_ms)]
    if tls:
        command += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
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


PLAIN = "plain dicts (aiohttp + orjson)" if importlib.util.find_spec("orjson") else "plain dicts (aiohttp + json)"
ASYNC_CONTENDERS = (
    "raw aiohttp",
    PLAIN,
    "raw httpx",
    "discourse-async (builtin)",
    "discourse-async (aiohttp)",
    "discourse-async (httpx)",
)

# The topic scenarios: (title, path, posts read from each answer; 0: parse only).
TOPIC_LEVELS = (64, 1)
TOPIC_SCENARIOS = {
    "topic-20": ("20-post topic", "/t/1000.json", 20),
    "topic-1000": ("1,000-post topic", "/t/big.json", 1000),
    "topic-20-parse": ("20-post topic", "/t/1000.json", 0),
    "topic-1000-parse": ("1,000-post topic", "/t/big.json", 0),
}
# Parse-only figures are measured at 64 in flight only: they show what lazy nesting saves.
PARSE_ONLY_LEVELS = (64,)

# The otel scenario: ours (built-in engine) in three processes that differ only in OpenTelemetry.
OTEL_ABSENT = "discourse-async (builtin, opentelemetry-api absent)"
OTEL_API = "discourse-async (builtin, opentelemetry-api without an SDK)"
OTEL_SDK = "discourse-async (builtin, SDK recording every span)"
OTEL_SDK_METRICS = "discourse-async (builtin, SDK recording every span and the metrics)"
OTEL_CONTENDERS = (OTEL_ABSENT, OTEL_API, OTEL_SDK, OTEL_SDK_METRICS)
OTEL_LEVEL = 64


def otel_setup(name: str) -> None:
    """Make this contender's process what its name says, before the client is imported."""
    if name == OTEL_ABSENT:
        import importlib.abc

        class NoOtel(importlib.abc.MetaPathFinder):
            def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
                if fullname.split(".", maxsplit=1)[0] == "opentelemetry":
                    raise ModuleNotFoundError(fullname)

        sys.meta_path.insert(0, NoOtel())
    elif name == OTEL_API:
        # Imported (as by another library), no provider set: the client checks the providers at each call.
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    elif name in (OTEL_SDK, OTEL_SDK_METRICS):
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

        class Discard(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()  # samples every span by default
        provider.add_span_processor(SimpleSpanProcessor(Discard()))
        trace.set_tracer_provider(provider)
        if name == OTEL_SDK_METRICS:
            metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


@contextlib.asynccontextmanager
async def open_contender(name: str, base: str) -> AsyncIterator[dict[str, Call]]:
    """The client of one contender, opened; yields its call for each scenario it runs.

    Every contender answers ``latest`` (GET /latest.json); ours and plain dicts also answer the
    topic scenarios (GET /t/{id}.json), reading the fields a bot reads from every post: id,
    username, created_at and cooked (ours builds each Post and parses its created_at on that read;
    plain dicts index the same keys of the decoded dicts).
    """
    headers = {"Api-Key": "bench-key", "Api-Username": "system"}
    if name in ("raw aiohttp", PLAIN):
        import aiohttp

        try:
            from orjson import loads
        except ImportError:
            from json import loads  # type: ignore[assignment] # the fallback our client uses too

        async with aiohttp.ClientSession(headers=headers) as session:

            async def raw_aiohttp() -> object:
                async with session.get(base + "/latest.json") as response:
                    return await response.read()

            def plain(path: str, posts: int) -> Call:
                url = base + path

                async def plain_dicts() -> object:
                    async with session.get(url) as response:
                        if response.status >= 400:
                            raise RuntimeError(f"HTTP {response.status}")
                        data = loads(await response.read())
                    if posts:
                        read = [
                            (p["id"], p["username"], p["created_at"], p["cooked"]) for p in data["post_stream"]["posts"]
                        ]
                        assert len(read) == posts
                    return data

                return plain_dicts

            if name == "raw aiohttp":
                yield {"latest": raw_aiohttp}
            else:
                calls = {key: plain(path, posts) for key, (_, path, posts) in TOPIC_SCENARIOS.items()}
                yield {"latest": plain("/latest.json", 0), **calls}
    elif name == "raw httpx":
        import httpx

        async with httpx.AsyncClient(headers=headers) as client:

            async def raw_httpx() -> object:
                return (await client.get(base + "/latest.json")).content

            yield {"latest": raw_httpx}
    else:
        from discourse_async import Discourse

        engine = name.split("(")[1].rstrip(")").split(",")[0]
        # A site that raised its limits: the client-side budget would otherwise (rightly) hold
        # this loop to Discourse's default 60 requests a minute.
        async with Discourse(base, api_key="bench-key", api_username="system", engine=engine, rate_limits=None) as dc:

            def typed(path: str, posts: int) -> Call:
                topic_id = path.removeprefix("/t/").removesuffix(".json")
                get_topic = dc.topics.get_topic

                async def ours() -> object:
                    topic = await get_topic(id=topic_id)
                    if posts:
                        read = [(p.id, p.username, p.created_at, p.cooked) for p in topic.post_stream.posts]
                        assert len(read) == posts
                    return topic

                return ours

            calls = {key: typed(path, posts) for key, (_, path, posts) in TOPIC_SCENARIOS.items()}
            yield {"latest": dc.topics.list_latest_topics, **calls}


def serve_contender(name: str, base: str) -> None:
    """The body of one contender's process: measure on each command line read from stdin.

    Each contender has a process of its own, so no contender runs on a heap another one has
    grown and fragmented, and each imports only its own libraries.
    """

    otel_setup(name)

    async def main() -> None:
        async with open_contender(name, base) as calls:
            for call in calls.values():
                await run_calls(call, 20, 4)  # warm connections, imports and each path
            await run_calls(calls["latest"], 200, 16)
            print("READY", flush=True)
            while line := await asyncio.to_thread(sys.stdin.readline):
                scenario, concurrency, seconds, warmup = line.split()
                rate = await run_for(calls[scenario], float(seconds), int(concurrency), float(warmup))
                print(rate, flush=True)

    asyncio.run(main())


class Contender:
    """A contender's process, driven one measurement at a time.

    ``python`` is the interpreter (the plain install's for that contender), ``env`` its environment
    (``SSL_CERT_FILE`` naming the run's CA over HTTPS).
    """

    def __init__(self, name: str, base: str, python: str | None = None, env: dict[str, str] | None = None) -> None:
        self.name = name
        command = [python or sys.executable, __file__, "--contender", name, "--base", base]
        if python:
            command.append("--installed")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "READY":
            raise RuntimeError(f"{name} did not start")

    def measure(self, scenario: str, concurrency: int, seconds: float, warmup: float = WARMUP) -> float:
        """Requests per second of ``scenario`` at ``concurrency`` over ``seconds`` (see :func:`run_for`)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{scenario} {concurrency} {seconds} {warmup}\n")
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


def start_contenders(
    base: str, names: list[str], plain_python: str | None = None, env: dict[str, str] | None = None
) -> list[Contender]:
    """One process per contender, each warmed up and waiting for its first measurement."""
    contenders: list[Contender] = []
    try:
        for name in names:
            contenders.append(Contender(name, base, plain_python if name == PLAIN_INSTALL else None, env))
    except BaseException:
        for contender in contenders:
            contender.close()
        raise
    return contenders


def throughput(
    contenders: list[Contender], base: str, rounds: int, seconds: float
) -> dict[str, dict[int, list[float]]]:
    """Requests/s of /latest.json per contender and concurrency, one sample per round."""
    samples: dict[str, dict[int, list[float]]] = {}
    for round_no in range(rounds):
        # Alternate the order of contenders and of levels: this machine's speed drifts by tens
        # of percent over seconds, and a fixed order would hand that drift to one contender or
        # one level every round.
        order = contenders if round_no % 2 == 0 else contenders[::-1]
        levels = CONCURRENCY if round_no % 2 == 0 else CONCURRENCY[::-1]
        for concurrency in levels:
            for contender in order:
                rate = contender.measure("latest", concurrency, seconds)
                samples.setdefault(contender.name, {}).setdefault(concurrency, []).append(rate)
    for round_no in range(rounds):
        for threads, label in ((1, "pydiscourse (sequential)"), (16, "pydiscourse (16 threads)")):
            rate = pydiscourse_rate(base, 300, threads)
            for concurrency in CONCURRENCY:
                # pydiscourse has no concurrency of its own: its figure is the same at every level.
                samples.setdefault(label, {}).setdefault(concurrency, []).append(rate)
        del round_no
    return samples


def topic_throughput(
    contenders: list[Contender], rounds: int, seconds: float
) -> dict[str, dict[str, dict[int, list[float]]]]:
    """Requests/s of each topic scenario per contender (ours, plain dicts) and level, one sample per round."""
    plan = [(key, level) for key in TOPIC_SCENARIOS if not key.endswith("-parse") for level in TOPIC_LEVELS]
    plan += [(key, level) for key in TOPIC_SCENARIOS if key.endswith("-parse") for level in PARSE_ONLY_LEVELS]
    samples: dict[str, dict[str, dict[int, list[float]]]] = {}
    for round_no in range(rounds):
        # Alternated as in throughput(): the two contenders measured back to back, in turn first.
        order = contenders if round_no % 2 == 0 else contenders[::-1]
        for scenario, level in plan if round_no % 2 == 0 else plan[::-1]:
            for contender in order:
                rate = contender.measure(scenario, level, seconds)
                samples.setdefault(scenario, {}).setdefault(contender.name, {}).setdefault(level, []).append(rate)
    return samples


def otel_throughput(contenders: list[Contender], rounds: int, seconds: float) -> dict[str, list[float]]:
    """Requests/s of /latest.json at 64 in flight per OpenTelemetry setup, one sample per round (order alternated)."""
    samples: dict[str, list[float]] = {}
    for round_no in range(rounds):
        for contender in contenders if round_no % 2 == 0 else contenders[::-1]:
            samples.setdefault(contender.name, []).append(contender.measure("latest", OTEL_LEVEL, seconds))
    return samples


@contextlib.contextmanager
def plain_install() -> Iterator[str]:
    """A fresh virtualenv where `pip install .` alone was run (what most users have); yields its python."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="discourse-async-plain-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)], check=True, env=env
        )
        yield python


def plain_install_packages(python: str) -> list[str]:
    """The distributions the plain install has (name==version), for the report."""
    out = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.split() if not line.startswith(("pip==", "setuptools=="))]


def tls_scenario(rounds: int, seconds: float, plain_python: str | None) -> dict[str, Any]:
    """/latest.json over HTTPS (a certificate made for the run) at 1 and 64 in flight, and what a connection costs."""
    import tempfile

    from tls import connection_costs, make_certificate

    names = ["raw aiohttp", PLAIN, OURS] + ([PLAIN_INSTALL] if plain_python else [])
    with tempfile.TemporaryDirectory(prefix="discourse-async-tls-") as tmp:
        ca_file, cert_file, key_file = make_certificate(Path(tmp))
        # Every client trusts the run's CA as a user trusts a private one: through SSL_CERT_FILE.
        env = {**os.environ, "SSL_CERT_FILE": str(ca_file)}
        with server(tls=(cert_file, key_file)) as base:
            contenders = start_contenders(base, names, plain_python, env)
            samples: dict[str, dict[int, list[float]]] = {}
            try:
                for round_no in range(rounds):
                    order = contenders if round_no % 2 == 0 else contenders[::-1]
                    for level in TLS_LEVELS if round_no % 2 == 0 else TLS_LEVELS[::-1]:
                        for contender in order:
                            # Longer warm-up: opening a pool of TLS connections is 64 handshakes.
                            rate = contender.measure("latest", level, seconds, TLS_WARMUP)
                            samples.setdefault(contender.name, {}).setdefault(level, []).append(rate)
            finally:
                for contender in contenders:
                    contender.close()
            costs = connection_costs(int(base.rsplit(":", 1)[1]), ca_file, 40 if rounds == 1 else 200)
    rates = {name: medians(by_level) for name, by_level in samples.items()}
    return {"rates": rates, "samples": samples, "costs": costs}


STREAMED = "discourse-async, each topic read as it arrives (256 in flight)"
KEPT = "discourse-async, all topics kept in a list (256 in flight)"
PLAIN_KEPT = "plain dicts, all topics kept in a list (256 in flight)"


async def latency_scenario(rounds: int, topics: int) -> dict[str, float]:
    """Seconds to fetch ``topics`` topics from a server 20 ms away (pydiscourse: extrapolated).

    The main figure reads each topic as it arrives and lets it go, as pydiscourse's loop does; the
    second keeps every parsed topic, which costs CPython's garbage collector more as the heap grows.
    Plain dicts keep theirs too, in this same process: what keeping that much decoded JSON costs
    whatever holds it.
    """
    import aiohttp

    from discourse_async import Discourse
    from discourse_async._engines import loads

    results: dict[str, list[float]] = {}
    with server(latency_ms=20) as base:
        async with (
            Discourse(base, api_key="bench-key", api_username="system", rate_limits=None) as dc,
            aiohttp.ClientSession(headers={"Api-Key": "bench-key", "Api-Username": "system"}) as session,
        ):
            sem = asyncio.Semaphore(256)

            async def fetch(i: int) -> Any:
                async with sem:
                    return await dc.topics.get_topic(id=str(1000 + i))

            async def read(i: int) -> int:
                topic = await fetch(i)
                return len(topic.post_stream.posts)

            async def fetch_plain(i: int) -> Any:
                async with sem, session.get(f"{base}/t/{1000 + i}.json") as response:
                    return loads(await response.read())

            for _ in range(rounds):
                start = time.perf_counter()
                read_posts = await asyncio.gather(*(read(i) for i in range(topics)))
                results.setdefault(STREAMED, []).append(time.perf_counter() - start)
                assert sum(read_posts) == 20 * topics
                start = time.perf_counter()
                kept = await asyncio.gather(*(fetch(i) for i in range(topics)))
                results.setdefault(KEPT, []).append(time.perf_counter() - start)
                del kept
                start = time.perf_counter()
                kept = await asyncio.gather(*(fetch_plain(i) for i in range(topics)))
                results.setdefault(PLAIN_KEPT, []).append(time.perf_counter() - start)
                del kept
                sample = 100
                rate = await asyncio.to_thread(pydiscourse_topic_rate, base, sample)
                results.setdefault("pydiscourse (sequential)", []).append(topics / rate)
    return {name: statistics.median(v) for name, v in results.items()}


def parse_cost(repeat: int) -> dict[str, float]:
    """Milliseconds to parse a 1,000-post topic: decoding alone, as plain dicts, and into the typed model.

    "Every post read" reads the fields the topic scenarios read (id, username, created_at, cooked).
    """
    import httpx

    from discourse_async._engines import RawResponse, _codec, loads
    from discourse_async._generated.api.topics import _GET_TOPIC as parse_topic

    body = json.dumps(topic_json(1000)).encode()
    raw = RawResponse(200, httpx.Headers({"content-type": "application/json"}), body, method="GET", url="http://x/")
    decoder = "orjson.loads" if importlib.util.find_spec("orjson") else "json.loads"

    def every_post(topic: Any) -> object:
        return [(p.id, p.username, p.created_at, p.cooked) for p in topic.post_stream.posts]

    def decoded_every_post() -> object:
        # The typed model over the decoded answer: what it costs without simdjson.
        saved, _codec.LAZY_FROM = _codec.LAZY_FROM, sys.maxsize
        try:
            return every_post(parse_topic(raw))  # type: ignore[arg-type]
        finally:
            _codec.LAZY_FROM = saved

    steps: dict[str, Callable[[], object]] = {
        "json.loads": lambda: json.loads(body),
        decoder: lambda: loads(body),
        f"plain dicts ({decoder}), every post read": lambda: [
            (p["id"], p["username"], p["created_at"], p["cooked"]) for p in loads(body)["post_stream"]["posts"]
        ],
        "typed (default)": lambda: parse_topic(raw),  # type: ignore[arg-type]
        # Nested models are built on first read: reading every post's fields is the full cost.
        "typed, every post read": lambda: every_post(parse_topic(raw)),  # type: ignore[arg-type]
        "typed over the decoded answer (no simdjson), every post read": decoded_every_post,
    }
    if importlib.util.find_spec("simdjson"):
        import simdjson

        # simdjson's own decode into dicts, for comparison with orjson's.
        steps["simdjson.loads (into dicts)"] = lambda: simdjson.loads(body)
    timings: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) * 1000 for name, v in timings.items()}


#: The ways of keeping parsed topics whose memory is measured (see kept_memory).
KEEP_WAYS = ("typed (default)", "typed over the decoded answer (no simdjson)", "plain dicts (orjson.loads)")


KEPT_PLAIN_INSTALL = "typed (plain install)"


def kept_memory(topics: int, plain_python: str | None = None) -> dict[str, float]:
    """MiB of resident memory that keeping ``topics`` parsed 20-post topics costs, each way.

    Each way runs in a fresh interpreter (see keep), so none measures a heap another one grew.
    """
    found = {}
    ways = [(way, [sys.executable, __file__, "--keep", way]) for way in KEEP_WAYS]
    if plain_python:
        ways.append((KEPT_PLAIN_INSTALL, [plain_python, __file__, "--installed", "--keep", KEEP_WAYS[0]]))
    for way, command in ways:
        command += ["--topics", str(topics)]
        found[way] = float(subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()[-1])
    return found


def keep(way: str, topics: int) -> None:
    """The body of kept_memory's process: parse and keep ``topics`` topics one way, print the MiB it took."""
    import httpx
    from upload import rss_mib

    from discourse_async._engines import RawResponse, _codec, loads
    from discourse_async._generated.api.topics import _GET_TOPIC as parse_topic

    body = json.dumps(topic_json(20)).encode()
    headers = httpx.Headers({"content-type": "application/json"})
    if way == KEEP_WAYS[1]:
        _codec.LAZY_FROM = sys.maxsize
    kept: list[Any] = []
    before = rss_mib()
    for _ in range(topics):
        if way == KEEP_WAYS[2]:
            kept.append(loads(body))
        else:
            topic = parse_topic(RawResponse(200, headers, body, method="GET", url="http://x/"), False)  # type: ignore[arg-type]
            assert len(topic.post_stream.posts) == 20  # the posts' models are built, as a bot reading them would
            kept.append(topic)
    print(f"{rss_mib() - before:.1f}")


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


# What the issues ask of a typed client against its peers (ratios, same run): the 20-post topic and
# /latest.json by issue 26 (a plain install included), the 1,000-post topic as before.
TARGETS = {
    ("topic-20", 64): 1.8,
    ("topic-20", 1): 1.4,
    ("topic-1000", 64): 1.1,
    ("topic-1000", 1): 1.0,
    "latest at 64 in flight": 1.7,
    "latest at 64 in flight, raw aiohttp": 1.8,
    "tls latest at 64 in flight, raw aiohttp": 1.5,
    "kept": 90.0,
}
COLDSTART_BUDGET_MS = 75.0


def _size(path: str) -> str:
    body = len(json.dumps(topic_json(1000 if "big" in path else 20)))
    return f"{body / 1e6:.1f} MB" if body > 1e6 else f"{body / 1e3:.0f} KB"


def _met(value: float, target: float) -> str:
    return "met" if value >= target else "**missed**"


def report(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {results['machine']}.",
        f"Run: `make bench` on {results['date']}, {results['rounds']} rounds, medians; "
        f"{results['seconds']:g} s of calls per measurement after {WARMUP:g} s of warm-up at its level.",
        "",
    ]
    rates: dict[str, dict[int, float]] | None = results.get("throughput")
    topics: dict[str, dict[str, dict[int, float]]] | None = results.get("topics")
    latency: dict[str, float] | None = results.get("latency")
    cold = results.get("coldstart")
    tls: dict[str, Any] | None = results.get("tls")
    summary: list[tuple[str, ...]] = []
    # Each target for each of our installs measured: the development one and the plain one.
    installs = [(OURS, "dev")] + ([(PLAIN_INSTALL, "plain")] if results.get("plain_install") else [])

    def ratio_rows(label: str, by_name: dict[str, Any], level: int | None, peer: str, target: float) -> None:
        for name, install in installs:
            if name in by_name and peer in by_name:
                ours_rate = by_name[name] if level is None else by_name[name][level]
                theirs = by_name[peer] if level is None else by_name[peer][level]
                ratio = ours_rate / theirs
                peer_label = "plain dicts" if peer == PLAIN else peer
                row = (label, install, peer_label, f"≥ {target:g}x", f"{ratio:.2f}x", _met(ratio, target))
                summary.append(row)

    if topics:
        for key in ("topic-20", "topic-1000"):
            label = TOPIC_SCENARIOS[key][0]
            for level in TOPIC_LEVELS:
                where = f"{level} in flight" if level > 1 else "one at a time"
                ratio_rows(f"{label}, every post read, {where}", topics[key], level, PLAIN, TARGETS[(key, level)])
    if rates and PLAIN in rates:
        ratio_rows("/latest.json (3.4 KB), 64 in flight", rates, 64, PLAIN, TARGETS["latest at 64 in flight"])
        target = TARGETS["latest at 64 in flight, raw aiohttp"]
        ratio_rows("/latest.json (3.4 KB), 64 in flight", rates, 64, "raw aiohttp", target)
    if tls:
        target = TARGETS["tls latest at 64 in flight, raw aiohttp"]
        ratio_rows("/latest.json over TLS, 64 in flight", tls["rates"], 64, "raw aiohttp", target)
    memory = results.get("kept_memory")
    if memory:
        plain_mib = memory[KEEP_WAYS[2]]
        for way, install in ((KEEP_WAYS[0], "dev"), (KEPT_PLAIN_INSTALL, "plain")):
            if way in memory:
                mib = memory[way]
                verdict = "met" if mib <= plain_mib else "**missed**"
                row = (f"{results['latency_topics']:,} kept 20-post topics, memory", install, "plain dicts")
                summary.append((*row, f"≤ {plain_mib:.0f} MiB", f"{mib:.0f} MiB", verdict))
    if latency:
        ratio = latency["pydiscourse (sequential)"] / latency[KEPT]
        target = TARGETS["kept"]
        row = (
            f"{results['latency_topics']:,} topics 20 ms away, all kept",
            "pydiscourse",
            f"≥ {target:g}x",
            f"{ratio:.1f}x",
        )
        summary.append((row[0], "dev", *row[1:], _met(ratio, target)))
    if cold:
        ms = cold["overhead_ms"]
        verdict = "met" if ms <= COLDSTART_BUDGET_MS else "**missed**"
        row = ("cold start, our own overhead", "dev", "-", f"≤ {COLDSTART_BUDGET_MS:g} ms", f"{ms:.1f} ms", verdict)
        summary.append(row)
    if summary:
        lines += ["## Targets", ""]
        if results.get("plain_install"):
            lines += [
                "Install: dev is `make install` (every extra); plain is a fresh virtualenv where `pip install .`",
                f"alone was run ({', '.join(results['plain_install'])}).",
                "",
            ]
        lines += ["| scenario | install | ours against | target | this run | |", "|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in summary] + [""]
    if rates:
        ceiling = rates["raw aiohttp"]
        httpx_rates = rates["raw httpx"]
        ours = rates[OURS]
        lines += [
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
            "| ours / plain dicts | " + " | ".join(f"{ours[c] / rates[PLAIN][c]:.2f}x" for c in CONCURRENCY) + " |",
            "| ours / raw httpx | " + " | ".join(f"{ours[c] / httpx_rates[c]:.1f}x" for c in CONCURRENCY) + " |",
            "| ours / pydiscourse (sequential) | "
            + " | ".join(f"{ours[c] / rates['pydiscourse (sequential)'][c]:.1f}x" for c in CONCURRENCY)
            + " |",
            "",
            f"Ours at 256 against ours at 8: {ours[256] / ours[8]:.2f}x. Raw aiohttp reads the body and does not",
            "decode it; plain dicts decode it into dicts, as a client without models would.",
            "",
            "The client runs with `rate_limits=None` here (a site that raised its limits); with Discourse's",
            "default budget it would, by design, hold this loop to 60 requests a minute.",
            "",
        ]
    if topics:
        lines += [
            "## Topics: typed answers against plain dicts (loopback server, GET /t/{id}.json)",
            "",
            f"Ours (`dc.topics.get_topic`, the default engine) against {PLAIN}: raw aiohttp plus",
            "orjson, the fastest decoder into dicts here, returning the decoded dicts. Both send the same",
            "auth headers and read the fields a bot reads from every post (id, username, created_at,",
            "cooked): ours builds each `Post` and parses its `created_at` into a datetime on that read,",
            "plain dicts index the same keys and leave `created_at` a string. Both topics are over 32 KiB,",
            "so ours reads them through simdjson: each field becomes a Python value when it is read, and",
            'nothing else is decoded. "Parse only" reads nothing (ours builds no nested model then). The',
            "two are measured back to back in each round, in turn first.",
            "",
            "The ratio is of the two medians (as in the targets above); beside it, the ratios within each",
            "round (the pair measured back to back): their median, and their range, which shows how far",
            "this machine's noise moves a single measurement.",
            "",
            f"| scenario | in flight | {PLAIN} | ours | ours / plain dicts | per round: median (range) "
            "| plain install | plain install / plain dicts |",
            "|---|---|---|---|---|---|---|---|",
        ]
        paired: dict[str, dict[str, dict[int, list[float]]]] = results.get("topics_samples", {})
        for key, (title, path, posts) in TOPIC_SCENARIOS.items():
            if key not in topics:
                continue
            label = f"{title} ({_size(path)}), " + ("every post read" if posts else "parse only")
            for level, theirs in topics[key][PLAIN].items():
                ours_rate = topics[key][OURS][level]
                pairs = zip(paired[key][OURS][level], paired[key][PLAIN][level], strict=True)
                ratios = sorted(o / p for o, p in pairs)
                spread = f"{statistics.median(ratios):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}x)"
                plain_rate = topics[key].get(PLAIN_INSTALL, {}).get(level)
                plain_cells = f"{plain_rate:,.0f} | {plain_rate / theirs:.2f}x" if plain_rate else "- | -"
                lines.append(
                    f"| {label} | {level} | {theirs:,.0f} | {ours_rate:,.0f} | {ours_rate / theirs:.2f}x | {spread} "
                    f"| {plain_cells} |"
                )
        lines += [""]
    if tls:
        tls_rates: dict[str, dict[int, float]] = tls["rates"]
        costs: dict[str, dict[str, float]] = tls["costs"]
        ceiling = tls_rates["raw aiohttp"]
        lines += [
            "## HTTPS (loopback TLS server, a certificate made for the run, /latest.json)",
            "",
            "Each client trusts the run's CA through `SSL_CERT_FILE`; each contender in a process of its",
            f"own, measured in turn as above, after {TLS_WARMUP:g} s of warm-up at each level (where the pool",
            "opens its TLS connections). The server ran on "
            + ("uvloop" if importlib.util.find_spec("uvloop") else "**asyncio**, uvloop missing")
            + " (`make bench` installs uvloop: on asyncio's own TLS the server is the bottleneck and",
            "every ratio shrinks towards 1). Requests/s:",
            "",
            "| contender | "
            + " | ".join(f"c={c}" for c in TLS_LEVELS)
            + " | / raw aiohttp at "
            + " | at ".join(str(c) for c in TLS_LEVELS)
            + " |",
            "|---|" + "---|" * (2 * len(TLS_LEVELS)),
        ]
        for name, by_c in tls_rates.items():
            cells = " | ".join(f"{by_c[c]:,.0f}" for c in TLS_LEVELS)
            ratios = " | ".join(f"{by_c[c] / ceiling[c]:.2f}x" for c in TLS_LEVELS)
            lines.append(f"| {name} | {cells} | {ratios} |")
        resumed = costs["new connection, TLS session resumed"].get("resumed") == 1.0
        lines += [
            "",
            "What one GET /latest.json costs the client by how it gets its connection (blocking sockets,",
            "`bench/tls.py`: the only way Python's `ssl` lets a client offer a saved session; asyncio's",
            "transports take none, so an asyncio client makes a full handshake for each new connection",
            "and a pool that keeps its connections open is what saves it). Client CPU from",
            "`time.process_time`, which the machine's other load does not move:",
            "",
            "| connection | wall ms | client CPU ms |",
            "|---|---|---|",
        ]
        lines += [f"| {way} | {c['wall_ms']:.2f} | {c['cpu_ms']:.2f} |" for way, c in costs.items()]
        lines += ["", f"Session resumed on every resuming connection: {'yes' if resumed else '**no**'}.", ""]
    if latency:
        streamed, kept = latency[STREAMED], latency[KEPT]
        theirs = latency["pydiscourse (sequential)"]
        lines += [
            f"## Fetching {results['latency_topics']:,} topics from a server 20 ms away",
            "",
            f"Each topic (20 posts, {_size('/t/1.json')}) is parsed into its model; read as it arrives, its",
            "posts are counted. pydiscourse returns plain dicts and reads them one after another. Keeping",
            "every topic makes CPython's garbage collector walk the growing heap of decoded JSON: the",
            "plain-dicts row (raw aiohttp + orjson, in the same process) shows that cost. Ours reads each",
            "topic (over 32 KiB) through simdjson, whose documents the collector does not walk.",
            "",
            "| contender | seconds | pydiscourse / this |",
            "|---|---|---|",
            f"| {STREAMED} | {streamed:.2f} | {theirs / streamed:.0f}x |",
            f"| {KEPT} | {kept:.2f} | {theirs / kept:.0f}x |",
            f"| {PLAIN_KEPT} | {latency[PLAIN_KEPT]:.2f} | {theirs / latency[PLAIN_KEPT]:.0f}x |",
            f"| pydiscourse (sequential, from its rate on 100 topics) | {theirs:.1f} | 1x |",
            "",
        ]
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
        lines += [
            f"## Parsing a 1,000-post topic ({_size('/t/big.json')}), in process",
            "",
            "| step | ms |",
            "|---|---|",
        ]
        lines += [f"| {name} | {ms:.1f} |" for name, ms in parse.items()]
        lines += [""]
    memory = results.get("kept_memory")
    if memory:
        lines += [
            f"## Keeping {results['latency_topics']:,} parsed 20-post topics ({_size('/t/1.json')} each), in process",
            "",
            "Resident memory the kept topics take (each way in a fresh interpreter), every post's model",
            "built. Ours keeps the simdjson documents of the answers parsed last (16 MiB of them); the",
            "models of older answers keep their body alone (and parse it again if read again).",
            "",
            "| kept as | MiB |",
            "|---|---|",
        ]
        lines += [f"| {way} | {mib:.0f} |" for way, mib in memory.items()]
        lines += [""]
    otel = results.get("otel")
    if otel:
        base_rate = otel[OTEL_ABSENT]
        lines += [
            f"## OpenTelemetry's cost (/latest.json, {OTEL_LEVEL} in flight, built-in engine)",
            "",
            "Each setup in a process of its own, measured in turn within each round. The SDK ones set the",
            "global SDK tracer provider (every span sampled and handed to a batch processor, whose exporter",
            "drops them) and, in the last row, the SDK meter provider too (measurements aggregated in memory).",
            "Targets: the API without an SDK within 3% of the API absent; the SDK recording spans within 25%.",
            "",
            "| setup | requests/s | cost against the API absent | target | |",
            "|---|---|---|---|---|",
        ]
        for name, target in ((OTEL_ABSENT, None), (OTEL_API, 3.0), (OTEL_SDK, 25.0), (OTEL_SDK_METRICS, None)):
            cost = (1 - otel[name] / base_rate) * 100
            if name == OTEL_ABSENT:
                lines.append(f"| {name} | {otel[name]:,.0f} | - | - | |")
            elif target is None:
                lines.append(f"| {name} | {otel[name]:,.0f} | {cost:+.1f}% | - | |")
            else:
                verdict = "met" if cost <= target else "**missed**"
                lines.append(f"| {name} | {otel[name]:,.0f} | {cost:+.1f}% | ≤ {target:g}% | {verdict} |")
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
    if rates:
        lines += ["![throughput vs concurrency](results.png)", ""]
    return "\n".join(lines)


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


SECTIONS = ("throughput", "topics", "tls", "otel", "latency", "parse", "coldstart", "upload")


def medians(samples: dict[int, list[float]]) -> dict[int, float]:
    return {c: statistics.median(v) for c, v in samples.items()}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "rounds": args.rounds,
        "seconds": args.seconds,
        "latency_topics": args.topics,
    }
    only = args.only
    plain_python: str | None = args.plain_python
    if plain_python:
        results["plain_install"] = plain_install_packages(plain_python)
    names = list(ASYNC_CONTENDERS) if "throughput" in only else [PLAIN, OURS] if "topics" in only else []
    if names and plain_python:
        names.append(PLAIN_INSTALL)
    if names:
        with server() as base:
            contenders = start_contenders(base, names, plain_python)
            try:
                if "throughput" in only:
                    print("throughput ...", flush=True)
                    samples = throughput(contenders, base, args.rounds, args.seconds)
                    results["throughput"] = {name: medians(by_c) for name, by_c in samples.items()}
                    results["throughput_samples"] = samples
                if "topics" in only:
                    print("topics ...", flush=True)
                    pair = [c for c in contenders if c.name in (PLAIN, OURS, PLAIN_INSTALL)]
                    topic_samples = topic_throughput(pair, args.rounds, args.seconds)
                    results["topics"] = {
                        key: {name: medians(by_c) for name, by_c in by_name.items()}
                        for key, by_name in topic_samples.items()
                    }
                    results["topics_samples"] = topic_samples
            finally:
                for contender in contenders:
                    contender.close()
    if "otel" in only:
        print("otel ...", flush=True)
        with server() as base:
            contenders = start_contenders(base, list(OTEL_CONTENDERS))
            try:
                otel_samples = otel_throughput(contenders, args.rounds, args.seconds)
            finally:
                for contender in contenders:
                    contender.close()
        results["otel"] = {name: statistics.median(rates) for name, rates in otel_samples.items()}
        results["otel_samples"] = otel_samples
    if "tls" in only:
        print("tls ...", flush=True)
        results["tls"] = tls_scenario(args.rounds, args.seconds, plain_python)
    if "latency" in only:
        print("20 ms latency ...", flush=True)
        results["latency"] = await latency_scenario(1 if args.quick else 5, args.topics)
    if "parse" in only:
        print("parse ...", flush=True)
        results["parse"] = parse_cost(11)
        results["kept_memory"] = kept_memory(args.topics, plain_python)
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
    parser.add_argument(
        "--plain-install",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add a contender from a fresh virtualenv with `pip install .` alone (default: on, off with --quick)",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated scenarios to run ({', '.join(SECTIONS)}); prints the report, writes no file",
    )
    # Internal: run one contender's process (see serve_contender), or one way of keeping topics.
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--keep", help=argparse.SUPPRESS)
    parser.add_argument("--installed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        serve_contender(args.contender, args.base)
        return
    if args.keep:
        keep(args.keep, args.topics)
        return
    full = not args.only
    args.only = set(SECTIONS) if full else set(args.only.split(","))
    if unknown := args.only - set(SECTIONS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.skip_upload:
        args.only.discard("upload")
    if args.quick:
        args.rounds, args.seconds, args.topics, args.upload_mib = 1, 0.5, 300, 32
    with contextlib.ExitStack() as stack:
        wanted = not args.quick if args.plain_install is None else args.plain_install
        if wanted and args.only & {"throughput", "topics", "tls", "parse"}:
            print("plain install ...", flush=True)
            args.plain_python = stack.enter_context(plain_install())
        else:
            args.plain_python = None
        results = asyncio.run(main_async(args))
    if "coldstart" in args.only:
        print("cold start ...", flush=True)
        results["coldstart"] = coldstart(5 if args.quick else 25)
    if "upload" in args.only:
        print("upload ...", flush=True)
        results["upload"] = upload_scenario(args.upload_mib, 1 if args.quick else 5)
    if not full:
        print(report(results))
        return
    (HERE / "results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    chart(results["throughput"], HERE / "results.png")
    text = report(results)
    (HERE / "results.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
