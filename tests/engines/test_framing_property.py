"""The built-in engine's framing against h11's, on generated answers cut at random places.

Each example is an HTTP/1.1 answer (Content-Length, chunked, or read until close; bodies up to
300 KiB, so the path that reads a large announced body straight into its own buffer is taken too),
delivered to the connection in pieces of random sizes, the way the event loop hands a buffered
protocol what the socket gave, sometimes with bytes after it. h11, a parser nobody here wrote,
says what the answer is; the engine must agree, and must not keep a connection that received
anything after the answer.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discourse_async._engines.builtin import _Answer, _Connection


class _Transport:
    """Just what a connection calls on its transport here."""

    def __init__(self) -> None:
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True


def _answer(status: int, framing: str, body: bytes, pieces: int, seed: int) -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
    if framing == "length":
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    if framing == "chunked":
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(body)), min(pieces, len(body) - 1))) if len(body) > 1 else []
        chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if b > a]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + framed + b"0\r\n\r\n"
    return f"{head}Connection: close\r\n\r\n".encode() + body


def _h11_says(data: bytes, closes: bool) -> tuple[int, bytes]:
    conn = h11.Connection(our_role=h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/t/1.json", headers=[("Host", "forum.example.com")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    if closes:
        conn.receive_data(b"")
    status, body = 0, b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, body
        else:  # pragma: no cover - the generated answers are complete
            raise AssertionError(f"h11 stopped at {event!r}")


async def _engine_says(data: bytes, steps: list[int], closes: bool) -> tuple[_Answer, bool]:
    conn = _Connection(asyncio.get_running_loop(), ("http", "forum.example.com", 80), 0, max_body=1 << 30)
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    waiter = conn.begin()
    pos, turn = 0, 0
    while pos < len(data) and not transport.aborted:
        buffer = conn.get_buffer(-1)
        size = min(len(buffer), steps[turn % len(steps)], len(data) - pos)
        buffer[:size] = data[pos : pos + size]
        conn.buffer_updated(size)
        pos += size
        turn += 1
    if closes:
        conn.connection_lost(None)
    assert waiter.done(), "no answer after all its bytes"
    return waiter.result(), conn.spoiled or transport.aborted


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from([200, 201, 404, 422, 500]),
    framing=st.sampled_from(["length", "chunked", "close"]),
    size=st.one_of(st.integers(0, 2_000), st.integers(60_000, 300_000)),
    seed=st.integers(0, 2**32),
    pieces=st.integers(1, 40),
    steps=st.lists(st.integers(1, 200_000), min_size=1, max_size=8),
    extra=st.sampled_from([b"", b"\r\n", b"GARBAGE", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"]),
)
def test_engine_frames_answers_as_h11_does(
    status: int, framing: str, size: int, seed: int, pieces: int, steps: list[int], extra: bytes
) -> None:
    body = random.Random(seed).randbytes(size)
    answer = _answer(status, framing, body, pieces, seed)
    closes = framing == "close"
    expected = _h11_says(answer, closes)
    # Bytes after an answer framed by its headers; an answer read until close has nothing after it.
    # A lone empty line may be ignored (RFC 9112, section 2.2) or may drop the connection.
    data = answer + (b"" if closes else extra)
    got, dropped = asyncio.run(_engine_says(data, steps, closes))
    assert (got.status, b"".join(got.body)) == expected
    if extra.strip() and not closes:
        assert dropped, "a connection that received bytes after the answer was kept"
    elif not extra and not closes:
        assert not dropped
        assert got.keep_alive
