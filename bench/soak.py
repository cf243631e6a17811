"""``make soak``: 10,000 requests at 200 in flight against the fake Discourse, 5% of them faulty.

    python bench/soak.py [--requests 10000] [--concurrency 200] [--fault-rate 0.05]
    python bench/soak.py --closing [--requests 10000] [--concurrency 200]

The fake runs on 127.0.0.1 (uvicorn, a real socket) and injects, with the given probability per
request, one of: a 502/503/504 page from a "proxy", a connection dropped before the request is
processed, a connection dropped after it was (the write happened), and 200 ms of latency. The
workload mixes reads (topics, latest, a post) and writes (replies, each carrying a unique token).

Reported: unhandled exceptions (anything that is not one of our typed errors; goal 0), duplicate
writes (a token stored twice; goal 0), typed errors by kind (writes that may have happened are
raised, not retried: that is the point), connections still open to the fake at the end, and peak
memory. Exits 1 if either goal is missed.

``--closing`` runs the same mix against a plain HTTP server on 127.0.0.1 that closes every
connection after a random 1 to 5 answers, without announcing it (no ``Connection: close``): a
client must notice the closed idle connections and send on fresh ones. Goals: 0 failed reads, 0
failed writes, 0 writes stored twice. Exits 1 if any is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from discourse_async import APIConnectionError, APIStatusError, DiscourseError
from discourse_async.testing import FakeDiscourse

FAULTS = (
    {"status": 502},
    {"status": 503},
    {"status": 504},
    {"drop": "before"},
    {"drop": "after"},
    {"delay": 0.2},
)


def open_connections(port: int) -> int:
    """ESTABLISHED TCP connections from this process's side to ``port`` (Linux /proc)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":  # 01: ESTABLISHED
                count += 1
    return count


async def run_all(one: Callable[[int], Awaitable[None]], total: int, concurrency: int) -> float:
    """Call ``one(i)`` for every i below ``total``, ``concurrency`` at a time; the seconds it took."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one(remaining)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def soak(total: int, concurrency: int, fault_rate: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    fake = FakeDiscourse()
    topics = fake.seed_topics(20)
    (long_topic,) = fake.seed_topics(1)
    fake.seed_posts(long_topic.id, 30)
    share = fault_rate / len(FAULTS)
    for fault in FAULTS:
        fake.add_fault("*", "*", probability=share, **fault)  # type: ignore[arg-type]

    outcomes: collections.Counter[str] = collections.Counter()
    unhandled: list[str] = []
    tokens_sent: list[str] = []
    async with fake.serve() as url:
        port = int(url.rsplit(":", 1)[1])
        async with fake.client(base_url=url, max_retries=2) as dc:

            async def one(i: int) -> None:
                kind = rng.random()
                try:
                    if kind < 0.2:
                        token = f"soak-token-{i:06d}"
                        tokens_sent.append(token)
                        topic = rng.choice(topics)
                        await dc.posts.create_post(topic_id=topic.id, raw=f"A soak reply long enough to keep. {token}")
                    elif kind < 0.5:
                        await dc.topics.get_topic(id=str(rng.choice(topics).id))
                    elif kind < 0.8:
                        await dc.topics.list_latest_topics()
                    else:
                        await dc.topics.get_topic_posts(id=str(long_topic.id), post_ids=[1, 2, 3])
                    outcomes["ok"] += 1
                except APIStatusError as exc:
                    outcomes[f"typed {type(exc).__name__} {exc.status_code}"] += 1
                except APIConnectionError as exc:
                    sent = "maybe processed" if exc.request_sent else "never sent"
                    outcomes[f"typed {type(exc).__name__} ({sent})"] += 1
                except DiscourseError as exc:
                    outcomes[f"typed {type(exc).__name__}"] += 1
                except Exception as exc:  # what the soak is looking for
                    unhandled.append(f"{type(exc).__name__}: {exc}")

            elapsed = await run_all(one, total, concurrency)
            connections_open_before_close = open_connections(port)
        connections_after_close = open_connections(port)

    stored = collections.Counter()
    for post in fake.store.posts.values():
        raw = getattr(post, "raw", "")
        if "soak-token-" in raw:
            stored[raw.rsplit(" ", 1)[1]] += 1
    duplicates = sum(1 for n in stored.values() if n > 1)
    writes_with_error = len(tokens_sent) - sum(stored.values())
    faults_fired = sum(f.fired for f in fake.faults)
    return {
        "requests": total,
        "concurrency": concurrency,
        "fault_rate": fault_rate,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(total / elapsed, 1),
        "faults_fired": faults_fired,
        "outcomes": dict(sorted(outcomes.items())),
        "unhandled_exceptions": len(unhandled),
        "unhandled_examples": unhandled[:5],
        "writes_sent": len(tokens_sent),
        "writes_stored": sum(stored.values()),
        "writes_not_stored": writes_with_error,
        "duplicate_writes": duplicates,
        "connections_open_before_close": connections_open_before_close,
        "connections_open_after_close": connections_after_close,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def soak_closing(total: int, concurrency: int, seed: int) -> dict[str, Any]:
    """The mixed workload against a server closing each connection after 1 to 5 answers."""
    rng = random.Random(seed)
    stored: collections.Counter[str] = collections.Counter()
    connections = 0

    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        answers = rng.randint(1, 5)
        try:
            for _ in range(answers):
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"POST"):
                    stored[json.loads(body)["token"]] += 1
                answer = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(answer), answer)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()  # right behind the last answer, unannounced

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    failed: collections.Counter[str] = collections.Counter()
    done: collections.Counter[str] = collections.Counter()
    examples: list[str] = []
    posted: list[str] = []
    from discourse_async import Discourse

    async with Discourse(f"http://127.0.0.1:{port}", api_key="soak", api_username="system", rate_limits=None) as dc:

        async def one(i: int) -> None:
            write = rng.random() < 0.3
            kind = "POST" if write else "GET"
            try:
                if write:
                    token = f"soak-{i:06d}"
                    posted.append(token)
                    await dc.request("POST", "/posts.json", json={"token": token, "raw": "A soak reply."})
                else:
                    await dc.request("GET", f"/t/{i % 50}.json")
                done[kind] += 1
            except Exception as exc:
                failed[kind] += 1
                if len(examples) < 5:
                    examples.append(f"{kind} {type(exc).__name__}: {exc}")

        elapsed = await run_all(one, total, concurrency)
        engine = dc.engine
    server.close()
    # The closed client's connections end every handler (they read EOF); wait for them.
    await asyncio.wait_for(asyncio.gather(*handlers), 10)
    return {
        "mode": "closing: each connection closed after 1-5 answers",
        "engine": engine,
        "requests": total,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "connections_opened": connections,
        "gets_ok": done["GET"],
        "gets_failed": failed["GET"],
        "posts_ok": done["POST"],
        "posts_failed": failed["POST"],
        "posts_stored_twice": sum(1 for n in stored.values() if n > 1),
        "posts_acknowledged_but_not_stored": done["POST"] - len(set(posted) & set(stored)),
        "failure_examples": examples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--closing", action="store_true", help="against a server closing connections after 1-5 answers")
    args = parser.parse_args()
    if args.closing:
        closing = asyncio.run(soak_closing(args.requests, args.concurrency, args.seed))
        print(json.dumps(closing, indent=1))
        bad = closing["gets_failed"] or closing["posts_failed"] or closing["posts_stored_twice"]
        sys.exit(1 if bad or closing["posts_acknowledged_but_not_stored"] else 0)
    result = asyncio.run(soak(args.requests, args.concurrency, args.fault_rate, args.seed))
    print(json.dumps(result, indent=1))
    sys.exit(1 if result["unhandled_exceptions"] or result["duplicate_writes"] else 0)


if __name__ == "__main__":
    main()
