"""One bot worker process of the fleet test: its own client, the shared Redis budget."""

from __future__ import annotations

import asyncio
import time

from discourse_async import Discourse, DiscourseError, RateLimit
from discourse_async.redis_store import RedisStore


async def _run(url: str, key: str, redis_url: str, calls: int, budget: int, window: float) -> dict[str, object]:
    # A generous timeout: the test machine runs Redis, the fake and three workers on two cores.
    store = RedisStore(redis_url, retry_after=0.2, socket_timeout=2.0)
    errors: list[str] = []
    done = 0
    async with Discourse(
        url,
        api_key=key,
        api_username="system",
        rate_limits=[RateLimit(budget, window)],
        rate_limit_store=store,
        max_retries=10,
    ) as dc:

        async def one() -> None:
            nonlocal done
            try:
                await dc.topics.get_topic(id="1")
                done += 1
            except DiscourseError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(one() for _ in range(calls)))
    fell_back = store.using_fallback
    await store.aclose()
    return {"done": done, "errors": errors, "fell_back_at_end": fell_back, "finished": time.time()}


def run(url: str, key: str, redis_url: str, calls: int, budget: int, window: float, out: object) -> None:
    """Entry point of a worker process: results go to the ``out`` queue."""
    out.put(asyncio.run(_run(url, key, redis_url, calls, budget, window)))  # type: ignore[attr-defined]
