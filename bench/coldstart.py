"""Cold start: ``import discourse_async`` plus a first typed call, against importing the
third-party libraries that call loads, on their own. The difference is our own overhead.

    python bench/coldstart.py [--rounds 21]

The call is ``get_topic`` with the default engine against the loopback server of bench/server.py
(a 20-post topic). Each measurement is a fresh interpreter (bytecode cached, as after ``pip
install``); the two kinds alternate so machine noise hits both alike; medians are printed.

The baseline imports asyncio (the measured script imports it itself) and every third-party module
the call loaded (httpx, attrs, httptools, and whatever they load).
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

# The first typed call: get_topic with the default engine against the loopback server.
OURS = r"""
import time
t0 = time.perf_counter()
import asyncio
import discourse_async

async def main():
    async with discourse_async.Discourse("{url}", api_key="k", api_username="system") as dc:
        topic = await dc.topics.get_topic(id="42")
        assert topic.post_stream.posts[0].post_number == 1

asyncio.run(main())
t1 = time.perf_counter()
import sys, json
print(json.dumps({{"ms": (t1 - t0) * 1000, "modules": sorted(sys.modules)}}))
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
    # cython_runtime is an entry Cython extensions add to sys.modules, not a module to import.
    skip = {"discourse_async", "cython_runtime"}
    return sorted(t for t in tops if t not in stdlib and not t.startswith("_") and t not in skip)


def measure(rounds: int) -> dict[str, float | list[str]]:
    """Median milliseconds of both kinds of start, and which third-party modules were counted."""
    sys.path.insert(0, str(ROOT / "bench"))
    from run import server

    with server() as url:
        ours_code = OURS.format(url=url)
        first = run(ours_code)  # warms the bytecode cache of everything the call imports
        libs = third_party(first["modules"])  # type: ignore[arg-type]
        # asyncio too: the measured script imports it itself, as every program calling us does.
        baseline = BASELINE.format(imports="\n".join(f"import {lib}" for lib in ["asyncio", *libs]))
        run(baseline)
        ours, base = [], []
        for _ in range(rounds):
            ours.append(float(run(ours_code)["ms"]))  # type: ignore[arg-type]
            base.append(float(run(baseline)["ms"]))  # type: ignore[arg-type]
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
