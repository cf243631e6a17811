"""The built-in engine's bounds, measured: a bomb's memory, the event loop during decoding, idle checks."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc

import httpx
import pytest

from discourse_async import APIConnectionError, Discourse
from discourse_async._engines import Request
from discourse_async._engines._codec import ResponseTooLarge, decode_body
from discourse_async._engines.builtin import BuiltinEngine


async def _serve(answer: bytes, *, close: bool = False) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                writer.write(answer)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()  # closed here, not left to the collector (a ResourceWarning in a later test)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_a_gzip_bomb_is_refused_within_bounded_memory() -> None:
    """256 MiB of zeros in 256 KiB of gzip, against the default 64 MiB limit: refused, memory bounded."""
    bomb = gzip.compress(b"\0" * (256 << 20), compresslevel=9, mtime=0)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
    server, url = await _serve(head + bomb)
    tracemalloc.start()
    try:
        async with Discourse(url, engine="builtin", rate_limits=None, max_retries=0) as dc:
            with pytest.raises(APIConnectionError, match="more than 67108864 bytes"):
                await dc.request("GET", "/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        server.close()
    assert peak < 100 << 20, f"peak {peak >> 20} MiB"


async def test_decoding_yields_to_the_event_loop() -> None:
    body = gzip.compress(b"x" * (32 << 20), mtime=0)
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    decoded = await decode_body(body, [b"gzip"], 64 << 20)
    done = True
    await task
    assert len(decoded) == 32 << 20
    # 32 MiB decoded in 256 KiB steps, yielding every 8 steps: the loop ran in between.
    assert ticks - before >= 10


async def test_decoding_limits_and_errors() -> None:
    with pytest.raises(ResponseTooLarge):
        await decode_body(gzip.compress(b"\0" * 2000), [b"gzip"], 1000)
    with pytest.raises(httpx.DecodingError, match="truncated"):
        await decode_body(gzip.compress(b"abc" * 100)[:-10], [b"gzip"], 1000)
    with pytest.raises(httpx.DecodingError, match="not asked for"):
        await decode_body(b"abc", [b"br"], 1000)
    assert await decode_body(b"", [b"gzip", b"br"], 10) == b""
    assert await decode_body(gzip.compress(gzip.compress(b"{}")), [b"gzip", b"gzip"], 100) == b"{}"


async def test_an_idle_connection_closed_by_the_server_is_not_reused_even_before_the_loop_hears_of_it() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    server, url = await _serve(answer, close=True)
    engine = BuiltinEngine()
    try:
        await engine.send(Request("GET", url + "/a", {}), httpx.Timeout(5))
        (conn,) = next(iter(engine._idle.values()))
        # Block the loop (so it cannot read the server's FIN) until the FIN has surely arrived.
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        assert sock is not None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _readable(sock.fileno()):
            time.sleep(0.001)  # noqa: ASYNC251 - the point is to keep the loop from running
        assert not conn.closed  # the loop has not seen the FIN yet...
        assert not conn.reusable()  # ...but the socket says so: the connection is not taken
        await engine.send(Request("POST", url + "/b", {}, b"{}"), httpx.Timeout(5))
    finally:
        await engine.aclose()
        server.close()


def _readable(fd: int) -> bool:
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
