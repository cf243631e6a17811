"""Cold start: ``import discourse_async`` plus a first typed call, against importing the
third-party libraries that call loads, on their own. The difference is our own overhead.

    python bench/coldstart.py [--rounds 21]

Each measurement is a fresh interpreter (bytecode cached, as after ``pip install``); the two kinds
alternate so machine noise hits both alike; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The first typed call: get_topic against an in-process transport returning a realistic topic
# (20 posts), so no network time is counted.
OURS = r"""
import time
t0 = time.perf_counter()
import asyncio
import discourse_async
import httpx

posts = [{"id": i, "post_number": i, "username": "sam", "name": None, "cooked": "<p>Hello</p>",
          "created_at": "2026-08-20T12:00:00.000Z", "reply_to_post_number": None, "actions_summary": [],
          "avatar_template": "/user_avatar/x/sam/{size}/1_2.png", "yours": False} for i in range(1, 21)]
body = {"id": 42, "title": "Welcome to the forum", "posts_count": 20, "post_stream": {"posts": posts,
        "stream": list(range(1, 21))}, "details": {"created_by": {"id": 1, "username": "sam"},
        "participants": []}, "tags": ["howto"], "suggested_topics": []}

def handler(request):
    return httpx.Response(200, json=body)

async def main():
    async with discourse_async.Discourse("https://forum.example.com", api_key="k", api_username="system",
                                         transport=httpx.MockTransport(handler)) as dc:
        topic = await dc.topics.get_topic(id="42")
        assert topic.post_stream.posts[0].username == "sam"

asyncio.run(main())
t1 = time.perf_counter()
import sys, json
print(json.dumps({"ms": (t1 - t0) * 1000, "modules": sorted(sys.modules)}))
"""

BASELINE = r"""
import time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
import json
print(json.dumps({{"ms": (t1 - t0) * 1000}}))
"""


def run(code: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def third_party(modules: list[str]) -> list[str]:
    """Top-level modules loaded by our call that are neither the standard library nor ours."""
    stdlib = set(sys.stdlib_module_names)
    tops = {m.split(".")[0] for m in modules}
    return sorted(t for t in tops if t not in stdlib and not t.startswith("_") and t != "discourse_async")


def measure(rounds: int) -> dict[str, float | list[str]]:
    """Median milliseconds of both kinds of start, and which third-party modules were counted."""
    first = run(OURS)  # warms the bytecode cache of everything the call imports
    libs = third_party(first["modules"])  # type: ignore[arg-type]
    baseline_code = BASELINE.format(imports="\n".join(f"import {lib}" for lib in libs))
    run(baseline_code)
    ours, base = [], []
    for _ in range(rounds):
        ours.append(float(run(OURS)["ms"]))  # type: ignore[arg-type]
        base.append(float(run(baseline_code)["ms"]))  # type: ignore[arg-type]
    return {
        "ours_ms": statistics.median(ours),
        "third_party_ms": statistics.median(base),
        "overhead_ms": statistics.median(o - b for o, b in zip(ours, base, strict=True)),
        "third_party": libs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    result = measure(args.rounds)
    print(f"third-party libraries the call loads: {', '.join(result['third_party'])}")  # type: ignore[arg-type]
    print(f"import discourse_async + first typed call: {result['ours_ms']:.1f} ms (median of {args.rounds})")
    print(f"importing those libraries alone:           {result['third_party_ms']:.1f} ms")
    print(f"our own overhead:                          {result['overhead_ms']:.1f} ms (budget 75 ms)")


if __name__ == "__main__":
    main()
