"""Through a real nginx set up as discourse_docker sets it up, in front of the fake (part of ``make soak``).

    python bench/nginx.py [--scenario defaults|limits-off|keepalive|all] [--seconds 180] [--concurrency 200]

nginx (Debian's package) runs on 127.0.0.1 with TLS on a certificate made for the run, gzip,
``keepalive_timeout 2s`` and the per-IP limits of discourse_docker's web.ratelimited template
(tests/nginx_proxy.py writes its configuration to a temporary directory). The client uses its
default settings except credentials and trust (``SSL_CERT_FILE``).

Throughput counts the calls that ended within ``--seconds``; the calls still in flight then
are waited for (a budget wait can take minutes at 200 in flight) and counted for failures.

* ``defaults``: ``--concurrency`` calls in flight for ``--seconds`` (20% replies, each with a
  unique token) against the template's limits and the fake enforcing Discourse's admin API limit
  (60 a minute). Goals: 0 failed calls, 0 lost or duplicated writes, throughput at least 90% of
  the tighter sustained limit (60 a minute, the API's; the proxy's is 200).
* ``limits-off``: the client's budgets off (``rate_limits=None``) against an nginx admitting 100
  requests a second (burst 12), the same load. Goals: >= 85 requests a second, 0 failed calls.
* ``keepalive``: POST waves after idle gaps swept from 1.90 s to 2.05 s across nginx's 2 s
  keep-alive timeout (no limits). Goals: 0 failed, 0 duplicated.

Exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from discourse_async import Discourse
from discourse_async.testing import FakeDiscourse
from tests.nginx_proxy import NGINX, OPENSSL, SKIP_REASON, nginx_proxy


def stored(fake: FakeDiscourse) -> collections.Counter[str]:
    return collections.Counter(
        post.raw.rsplit(" ", 1)[1] for post in fake.store.posts.values() if "token-" in getattr(post, "raw", "")
    )


async def load(
    zones: tuple[tuple[str, int], ...], seconds: float, concurrency: int, *, limits_off: bool, api_limit: bool
) -> dict[str, Any]:
    """``concurrency`` workers calling back to back for ``seconds`` through nginx."""
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    if api_limit:
        fake.set_rate_limit(60, 60, scope="admin")  # Discourse's max_admin_api_reqs_per_minute
    failed: collections.Counter[str] = collections.Counter()
    ok = 0
    in_time = 0  # calls that ended within the measured time (the rest drain after it)
    tokens: list[str] = []
    async with fake.serve() as upstream:
        with nginx_proxy(int(upstream.rsplit(":", 1)[1]), zones=zones) as proxy:
            os.environ["SSL_CERT_FILE"] = proxy.cert_file
            options: dict[str, Any] = {"rate_limits": None} if limits_off else {}
            async with Discourse(proxy.url, api_key=fake.admin_api_key, api_username="system", **options) as dc:
                start = time.monotonic()
                stop = start + seconds
                counter = 0

                async def worker() -> None:
                    nonlocal ok, in_time, counter
                    while time.monotonic() < stop:
                        counter += 1
                        i = counter
                        try:
                            if i % 5 == 0:
                                token = f"token-{i}"
                                tokens.append(token)
                                await dc.posts.create_post(
                                    topic_id=topic.id, raw=f"A reply long enough to keep. {token}"
                                )
                            else:
                                await dc.topics.get_topic(id=str(topic.id))
                            ok += 1
                            if time.monotonic() <= stop:
                                in_time += 1
                        except Exception as exc:
                            failed[type(exc).__name__] += 1

                await asyncio.gather(*(worker() for _ in range(concurrency)))
                elapsed = time.monotonic() - start
            statuses = collections.Counter(proxy.statuses())
    counts = stored(fake)
    return {
        "seconds": seconds,
        "seconds_with_drain": round(elapsed, 1),
        "concurrency": concurrency,
        "calls_ok": ok,
        "calls_ok_within_seconds": in_time,
        "calls_failed": dict(failed),
        "per_minute": round(in_time / seconds * 60, 1),
        "per_second": round(in_time / seconds, 1),
        "nginx_statuses": dict(statuses),
        "api_429s": sum(1 for r in fake.requests if r.rate_limited),
        "writes_acknowledged_not_stored": sum(1 for t in tokens if t not in counts) - sum(failed.values()),
        "writes_stored_twice": sum(1 for n in counts.values() if n > 1),
    }


async def keepalive(waves: int, per_wave: int) -> dict[str, Any]:
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    failures: list[str] = []
    sent = 0
    gaps = [1.90 + 0.15 * i / max(waves - 1, 1) for i in range(waves)]
    async with fake.serve() as upstream:
        with nginx_proxy(int(upstream.rsplit(":", 1)[1]), zones=()) as proxy:
            os.environ["SSL_CERT_FILE"] = proxy.cert_file
            async with Discourse(proxy.url, api_key=fake.admin_api_key, api_username="system", rate_limits=None) as dc:
                await dc.topics.get_topic(id=str(topic.id))
                for wave, gap in enumerate(gaps):
                    await asyncio.sleep(gap)

                    async def post(i: int, wave: int = wave) -> None:
                        try:
                            await dc.posts.create_post(topic_id=topic.id, raw=f"A reply long enough. token-{wave}-{i}")
                        except Exception as exc:
                            failures.append(f"{type(exc).__name__}: {exc}")

                    await asyncio.gather(*(post(i) for i in range(per_wave)))
                    sent += per_wave
            statuses = collections.Counter(proxy.statuses())
    counts = stored(fake)
    return {
        "waves": waves,
        "gaps": f"{gaps[0]:.2f}-{gaps[-1]:.2f} s",
        "posts_sent": sent,
        "posts_failed": len(failures),
        "posts_stored": sum(counts.values()),
        "posts_stored_twice": sum(1 for n in counts.values() if n > 1),
        "nginx_statuses": dict(statuses),
        "failure_examples": failures[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["defaults", "limits-off", "keepalive", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--waves", type=int, default=16)
    parser.add_argument("--per-wave", type=int, default=20)
    parser.add_argument("--rate", default="100r/s", help="limits-off: the rate nginx admits (a control: 10000r/s)")
    args = parser.parse_args()
    if NGINX is None or OPENSSL is None:
        print(SKIP_REASON)
        sys.exit(1)
    bad = False
    if args.scenario in ("defaults", "all"):
        result = asyncio.run(
            load((("12r/s", 12), ("200r/m", 100)), args.seconds, args.concurrency, limits_off=False, api_limit=True)
        )
        result["goal_per_minute"] = 0.9 * 60
        print("defaults:", json.dumps(result, indent=1))
        bad |= bool(result["calls_failed"]) or result["per_minute"] < 0.9 * 60 or result["writes_stored_twice"] > 0
    if args.scenario in ("limits-off", "all"):
        result = asyncio.run(
            load(((args.rate, 12),), min(args.seconds, 60), args.concurrency, limits_off=True, api_limit=False)
        )
        print("limits-off:", json.dumps(result, indent=1))
        bad |= bool(result["calls_failed"]) or result["per_second"] < 85 or result["writes_stored_twice"] > 0
    if args.scenario in ("keepalive", "all"):
        result = asyncio.run(keepalive(args.waves, args.per_wave))
        print("keepalive:", json.dumps(result, indent=1))
        bad |= result["posts_failed"] > 0 or result["posts_stored_twice"] > 0
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
