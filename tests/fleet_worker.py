"""One bot worker process of the fleet test: its own client, the shared Redis budget.

It reports on the ``out`` queue: ``("ready", name, time)`` once its client is built, ``("started", name,
time)`` when it begins its calls (after ``go`` is set, when given), then ``("result", name, {...})``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from discourse_async import Discourse, DiscourseError, RateLimit
from discourse_async.redis_store import RedisStore


async def _run(cfg: dict[str, Any], out: Any, go: Any) -> dict[str, object]:
    # Generous Redis timeouts: the test machine runs Redis, the fake and three workers on two busy
    # cores, and a worker that gives up on Redis keeps a budget of its own (the test would see that).
    store = RedisStore(cfg["redis_url"], retry_after=0.2, socket_timeout=30.0)
    errors: list[str] = []
    done = 0
    name = cfg["name"]
    async with Discourse(
        cfg["url"],
        api_key=cfg["key"],
        api_username=cfg.get("username", "system"),
        rate_limits=[RateLimit(cfg["budget"], cfg["window"])],
        rate_limit_store=store,
        max_retries=cfg.get("max_retries", 10),
    ) as dc:
        out.put(("ready", name, time.time()))
        if go is not None:
            await asyncio.to_thread(go.wait, 300)
        out.put(("started", name, time.time()))

        async def one(n: int) -> None:
            nonlocal done
            try:
                await dc.topics.get_topic(id="1")
                done += 1
            except DiscourseError as exc:  # kept with the call's number, so a failure says which call
                errors.append(f"{name} call {n}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(one(n) for n in range(cfg["calls"])))
    fell_back = store.using_fallback
    await store.aclose()
    return {"done": done, "errors": errors, "fell_back_at_end": fell_back, "finished": time.time()}


def run(cfg: dict[str, Any], out: Any, go: Any = None) -> None:
    """Entry point of a worker process: its messages and result go to the ``out`` queue."""
    try:
        result = asyncio.run(_run(cfg, out, go))
    except BaseException as exc:  # the test must hear about a worker that died, and why
        result = {"done": 0, "errors": [f"{cfg['name']} died: {type(exc).__name__}: {exc}"], "finished": time.time()}
    out.put(("result", cfg["name"], result))
