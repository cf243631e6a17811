"""Memory while iterating 100,000 topics with ``dc.topics.iter_latest()``.

    python bench/iterate.py [--topics 100000]

The fake Discourse (seeded with the topics) runs in another process; this process only iterates,
and samples its resident memory every 10,000 items. Flat memory means the iterator keeps a page at
a time (and a bounded de-duplication window), never the whole list. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from upload import rss_mib, start_fake  # noqa: E402


async def iterate(url: str, key: str, expected: int) -> dict[str, object]:
    from discourse_async import Discourse

    samples: dict[int, float] = {}
    count = 0
    start = time.perf_counter()
    async with Discourse(url, api_key=key, api_username="system", rate_limits=None) as dc:
        async for _topic in dc.topics.iter_latest(prefetch=1):
            count += 1
            if count % 10_000 == 0 or count == 1:
                samples[count] = round(rss_mib(), 1)
    elapsed = time.perf_counter() - start
    values = list(samples.values())
    return {
        "items": count,
        "expected": expected,
        "seconds": round(elapsed, 1),
        "rss_mib_by_items": samples,
        "rss_growth_after_first_10k_mib": round(max(values[1:]) - values[1], 1) if len(values) > 2 else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=100_000)
    args = parser.parse_args()
    proc, url, key = start_fake("--seed-topics", str(args.topics))
    try:
        print(json.dumps(asyncio.run(iterate(url, key, args.topics))))
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
