"""Writes never go out on a connection that may be closing; Keep-Alive: timeout=N bounds reuse; 20 per host.

The server here closes a connection when it has been idle a known time (as nginx's
keepalive_timeout, gunicorn's or Node's do, without saying so in the answer). A request that
arrives as it closes is lost; a read is then sent again, but a write may not be. POST waves are
sent after idle gaps swept across that time: each POST after a gap must go on a new connection,
and none may fail or be stored twice. The gaps are lower bounds (a loaded machine only makes them
longer), so what is asserted does not depend on timing.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from discourse_async import Discourse
from discourse_async._engines.builtin import FRESH_FOR_WRITES

IDLE_CLOSE = 1.5  # the server closes a connection idle this long


@dataclass
class Server:
    """Counts connections, and for each request whether it came on a connection used before."""

    port: int = 0
    connections: int = 0
    open_now: int = 0
    peak_open: int = 0
    stored: collections.Counter[str] = field(default_factory=collections.Counter)
    reused: list[tuple[str, bool]] = field(default_factory=list)  # (method, on a connection used before)


@asynccontextmanager
async def closing_server(keep_alive_header: bytes = b"", hold: float = 0.0) -> AsyncIterator[Server]:
    state = Server()
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        state.connections += 1
        state.open_now += 1
        state.peak_open = max(state.peak_open, state.open_now)
        served = 0
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_CLOSE)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    break  # idle too long (or the client went): close, unannounced
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                method = head.split(b" ", 1)[0].decode()
                state.reused.append((method, served > 0))
                served += 1
                if method == "POST":
                    state.stored[json.loads(body)["token"]] += 1
                if hold:
                    await asyncio.sleep(hold)
                answer = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%bContent-Length: %d\r\n\r\n%b"
                    % (keep_alive_header, len(answer), answer)
                )
        finally:
            state.open_now -= 1
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


def client(port: int) -> Discourse:
    return Discourse(f"http://127.0.0.1:{port}", api_key="k", api_username="system", rate_limits=None, engine="builtin")


async def test_post_waves_across_the_servers_idle_timeout_never_fail_or_repeat() -> None:
    gaps = [1.2, 1.3, 1.4, 1.45, 1.5, 1.55, 1.6, 1.7]  # swept across the server's 1.5 s
    assert min(gaps) > FRESH_FOR_WRITES
    failures: list[str] = []
    sent = 0
    async with closing_server() as server:
        async with client(server.port) as dc:
            await dc.request("GET", "/t/1.json")  # a connection to start with
            for wave, gap in enumerate(gaps):
                await asyncio.sleep(gap)

                async def post(i: int, wave: int = wave) -> None:
                    try:
                        await dc.request("POST", "/posts.json", json={"token": f"{wave}-{i}", "raw": "x"})
                    except Exception as exc:
                        failures.append(f"wave {wave} post {i}: {type(exc).__name__}: {exc}")

                await asyncio.gather(*(post(i) for i in range(4)))
                sent += 4
    assert failures == []
    assert len(server.stored) == sent and max(server.stored.values()) == 1  # each stored once
    # After each gap every POST went on a connection of its own, never on one that may be closing.
    assert [reused for method, reused in server.reused if method == "POST"] == [False] * sent


async def test_keep_alive_timeout_bounds_reuse_for_reads_too() -> None:
    # Keep-Alive: timeout=2: an idle connection is reused for at most a second.
    async with closing_server(b"Keep-Alive: timeout=2\r\n") as server:
        async with client(server.port) as dc:
            await dc.request("GET", "/t/1.json")
            await asyncio.sleep(1.2)
            await dc.request("GET", "/t/1.json")
    assert server.reused == [("GET", False), ("GET", False)]
    assert server.connections == 2


@pytest.mark.parametrize("engine", ["builtin", "aiohttp"])
async def test_at_most_20_connections_to_one_host(engine: str) -> None:
    async with closing_server(hold=0.05) as server:
        async with Discourse(
            f"http://127.0.0.1:{server.port}", api_key="k", api_username="system", rate_limits=None, engine=engine
        ) as dc:
            await asyncio.gather(*(dc.request("GET", f"/t/{i}.json") for i in range(100)))
    assert server.peak_open <= 20
    assert len(server.reused) == 100
