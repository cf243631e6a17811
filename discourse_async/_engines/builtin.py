"""The built-in engine: HTTP/1.1 on asyncio's transports, responses parsed by httptools (llhttp).

Why our own: under load the client's time goes to the HTTP library, not to our code. Measured
with callgrind against bench/server.py (instructions per ``dc.topics.list_latest_topics()`` at 64
in flight, typed parsing included): ~630k through aiohttp, ~360k through this engine, of which
~220k are JSON decoding and model building. The work an HTTP/1.1 exchange with a JSON API
needs is small: write one buffer, feed what arrives to a C parser, keep the connection.

What it does: keep-alive pools per origin with a bound on open connections (100) and on those
to one origin (20: the per-IP ``limit_conn`` of the nginx in front of Discourse), TLS with
certificate checks (certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set),
gzip/deflate (stacked codings and multi-member gzip included, decoded in steps under a size
limit), chunked and read-until-close bodies, streamed request bodies with back-pressure, httpx's
four timeouts, and errors mapped onto httpx's exceptions. What it leaves out: proxies (the
automatic engine choice takes httpx when proxy variables are set), HTTP/2, cookies.

What it refuses (a response is success only when complete and correctly framed): a status line
and headers over 64 KiB or 256 lines (h11's size limit; 1xx answers count towards it), a body
over the size limit, a read-until-close body ended by a reset, any byte that arrives after the
answer or on an idle connection (the connection is then dropped), and an idle connection the
server has closed or written to (checked before each reuse, as httpcore does). Since a close can
also happen as a request leaves, writes reuse only connections used within the last second
(``FRESH_FOR_WRITES``), and no request reuses one idle longer than a ``Keep-Alive: timeout=N``
allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import select
import ssl
from collections import deque
from collections.abc import AsyncIterable, Iterator, Mapping

import httptools
import httpx

from discourse_async._engines._codec import codings_of, decode_body
from discourse_async._engines._types import DEFAULT_MAX_RESPONSE_SIZE, NotSent, RawResponse, Request
from discourse_async._http import DEFAULT_PORTS

_Key = tuple[str, str, int]
#: Request bodies up to this size go out with the head in one write; larger ones in pieces.
_ONE_WRITE = 64 * 1024
_PIECE = 256 * 1024
#: Bytes read from the socket at a time, into each connection's own buffer (a large announced
#: body is read into a buffer of its own length instead).
_READ_SIZE = 64 * 1024
#: The status line and headers of one answer (with any 1xx answers before it): h11's size bound,
#: and a count no real server comes near.
MAX_HEAD_SIZE = 64 * 1024
MAX_HEADERS = 256
#: 1xx answers before the final one: real servers send one or two.
MAX_INTERIM = 16
#: A write (any method but GET, HEAD, OPTIONS) reuses a connection only if it was in use this
#: recently, else it goes on a new one. A server closes an idle connection when its own timeout
#: passes (nginx's keepalive_timeout, gunicorn's 2 s, Node's 5 s), and the check before reuse
#: cannot see a close that happens as the request leaves: a read is then sent again, but a write
#: may have reached the server and must not be. No server times out a connection this young.
FRESH_FOR_WRITES = 1.0
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class ResponseHeaders(Mapping[str, str]):
    """Response headers as received; looked up case-insensitively (and only decoded when asked)."""

    __slots__ = ("_map", "raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self._map: dict[str, str] | None = None

    def _lookup(self) -> dict[str, str]:
        if self._map is None:
            # Lists joined once, so that many lines of one name cost linear time.
            grouped: dict[str, list[str]] = {}
            for name, value in self.raw:
                grouped.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
            self._map = {key: values[0] if len(values) == 1 else ", ".join(values) for key, values in grouped.items()}
        return self._map

    def __getitem__(self, name: str) -> str:
        return self._lookup()[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def multi_items(self) -> list[tuple[str, str]]:
        """Every header line, repeated names included, in the order received."""
        return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in self.raw]

    def __repr__(self) -> str:
        return f"ResponseHeaders({self.multi_items()!r})"


class _Answer:
    """A final answer, taken from the parser the moment it is complete (later bytes cannot touch it)."""

    __slots__ = ("body", "codings", "headers", "keep_alive", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: list[bytes | bytearray],
        codings: list[bytes],
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.codings = codings
        self.keep_alive = keep_alive


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing an answer we will not take."""


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection: writes requests, parses responses, reports the end of each.

    The socket is read into buffers we own (asyncio's buffered protocol): heads and small bodies
    into one reusable read buffer, fed to the parser without a copy; the rest of a large body
    whose length is announced straight into a buffer of that length, so a megabyte topic is
    not copied three times (recv, parser, join) on its way to the JSON decoder.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        key: _Key,
        generation: int,
        max_body: int,
        keepalive_expiry: float = math.inf,
    ) -> None:
        self.loop = loop
        self.key = key
        self.generation = generation
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.poller: select.poll | None = None  # readiness of the socket, for the check before reuse
        self.parser = httptools.HttpResponseParser(self)
        self.read_buffer = memoryview(bytearray(_READ_SIZE))
        self.length = -1  # the announced Content-Length of the answer being read
        self.direct: bytearray | None = None  # the large body being read straight from the socket
        self.filled = 0  # bytes of ``direct`` received
        self.closed = False
        self.spoiled = False  # sent something it should not have: never reused
        self.idle_since = 0.0
        self.max_idle = keepalive_expiry  # how long it may stay idle and be reused (Keep-Alive: timeout=N)
        self.last_activity = 0.0
        self.waiter: asyncio.Future[_Answer] | None = None
        self.answered = True  # no exchange in progress: any byte now is unexpected
        # The read timer, kept across the exchanges of a kept-alive connection (see arm_read_timer).
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0
        self.read_timeout: float | None = None
        self.drain: asyncio.Future[None] | None = None
        self.paused = False
        self.head_only = False
        self.head_size = 0  # bytes received while the head was incomplete (a bound before parsing ends)
        self.head_parsed = 0  # bytes of status lines and headers parsed (exact)
        self.interim = 0
        self.refusal = ""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes | bytearray] = []
        self.body_size = 0
        self.encodings: list[bytes] = []
        self.framed = False  # Content-Length or chunked: the body's end is known without EOF
        self.headers_done = False
        self.keep_alive = False

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.poller = select.poll()
            self.poller.register(sock.fileno(), select.POLLIN)

    def get_buffer(self, sizehint: int) -> memoryview:
        direct = self.direct
        if direct is not None:
            # Exactly what is left of the body: a byte of whatever follows cannot land in it.
            return memoryview(direct)[self.filled :]
        return self.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.answered:
            # Nothing was asked: a late part of an earlier answer, or a server out of step with us.
            # Whatever it is, the connection cannot be trusted with the next request.
            self.spoiled = True
            self.abort()
            return
        self.last_activity = self.loop.time()
        if self.direct is not None:
            self.filled += nbytes
            if self.filled == len(self.direct):
                # The parser was left waiting for these bytes: the next answer gets a new one.
                self.parser = httptools.HttpResponseParser(self)
                self.framed = True
                self._finish()
            return
        if not self.headers_done:
            self.head_size += nbytes
        try:
            # The parser copies what it keeps (header values, body pieces): the buffer is free again.
            self.parser.feed_data(self.read_buffer[:nbytes])
        except httptools.HttpParserUpgrade:
            self.fail(httpx.RemoteProtocolError("the server switched protocols (101), which was not asked for"))
        except httptools.HttpParserError as exc:
            self.fail(httpx.RemoteProtocolError(self.refusal or f"invalid HTTP response: {exc}"))
        else:
            if not self.headers_done:
                if self.head_size > MAX_HEAD_SIZE:
                    self.fail(httpx.RemoteProtocolError(f"the response head is larger than {MAX_HEAD_SIZE} bytes"))
            elif not self.answered and self.length - self.body_size > _READ_SIZE:
                self._read_directly()

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.timer is not None:  # nothing left to time, and the timer would keep us alive
            self.timer.cancel()
            self.timer = None
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self.headers_done and not self.framed and not self.head_only and exc is None:
                self._finish()  # a body that ends when the connection does
            elif exc is not None:
                where = "mid-response" if self.headers_done else "before answering"
                waiter.set_exception(httpx.ReadError(f"the connection was reset {where}: {exc}"))
            else:
                where = "mid-response" if self.headers_done else "before answering"
                waiter.set_exception(httpx.RemoteProtocolError(f"the server closed the connection {where}"))
        if self.drain is not None and not self.drain.done():
            self.drain.set_exception(httpx.WriteError("the connection closed while sending the request"))

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    # -- httptools callbacks (after the answer is complete, a further message only spoils the connection)

    def on_message_begin(self) -> None:
        if self.answered:
            self.spoiled = True
            return
        self.headers = []
        self.body = []
        self.body_size = 0
        self.length = -1
        self.encodings = []
        self.framed = False
        self.headers_done = False

    def on_status(self, reason: bytes) -> None:
        if self.answered:
            return
        self._count_head(len(reason) + 15)  # "HTTP/1.1 200 ", the reason, CRLF

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.answered:
            return
        self.headers.append((name, value))
        self._count_head(len(name) + len(value) + 4)  # name, ": ", value, CRLF
        if len(self.headers) > MAX_HEADERS:
            self._refuse(f"the response has more than {MAX_HEADERS} header lines")
        size = len(name)
        if size == 16 and name.lower() == b"content-encoding":
            self.encodings.append(value)
        elif size == 14 and name.lower() == b"content-length":
            self.framed = True
            with contextlib.suppress(ValueError):  # llhttp has checked it is a number
                announced = int(value)
                if announced > self.max_body:
                    self._refuse(f"the response announces {announced} bytes, more than {self.max_body}")
                if self.length != -2:  # a transfer coding, wherever it came, frames the body instead
                    self.length = announced
        elif size == 10 and name.lower() == b"keep-alive":
            self._keep_alive_timeout(value)
        elif size == 17 and name.lower() == b"transfer-encoding":
            # Only a final "chunked" frames the body; any other transfer coding reads until close.
            self.framed = value.rpartition(b",")[2].strip().lower() == b"chunked"
            self.length = -2  # never read directly: the parser frames (or refuses) this body

    def on_headers_complete(self) -> None:
        if self.answered:
            return
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        if self.status >= 200:
            self.headers_done = True
            if self.status in (204, 304):
                self.length = -1  # no body, whatever the headers announce
            if self.head_only:
                # llhttp cannot be told the request was HEAD and would wait for the announced body.
                self.keep_alive = False
                self._finish()

    def on_body(self, body: bytes) -> None:
        if self.answered:
            return
        self.body_size += len(body)
        if self.body_size > self.max_body:
            self._refuse(f"the response body is larger than {self.max_body} bytes")
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.answered:
            return
        if self.status >= 200:  # an interim 1xx answer is followed by the real one
            self.framed = True
            self._finish()
        else:
            self.interim += 1
            if self.interim > MAX_INTERIM:
                self._refuse(f"more than {MAX_INTERIM} interim (1xx) answers")

    # -- helpers

    def _keep_alive_timeout(self, value: bytes) -> None:
        """``Keep-Alive: timeout=N``: the server closes an idle connection after N seconds.

        Reused only well before that (a second early, or half of it when N is short): a request
        sent as the server closes is lost, and a write may not be sent again.
        """
        for part in value.split(b","):
            name, _, number = part.strip().partition(b"=")
            if name.strip().lower() == b"timeout":
                with contextlib.suppress(ValueError):
                    seconds = float(number.strip())
                    if seconds >= 0:
                        self.max_idle = min(self.max_idle, max(seconds - 1.0, seconds / 2))

    def _count_head(self, size: int) -> None:
        self.head_parsed += size
        if self.head_parsed > MAX_HEAD_SIZE:
            self._refuse(f"the response head is larger than {MAX_HEAD_SIZE} bytes")

    def _read_directly(self) -> None:
        """Take the rest of the announced body from the socket into one buffer of its full length."""
        self.direct = direct = bytearray(self.length)
        self.filled = 0
        for piece in self.body:
            direct[self.filled : self.filled + len(piece)] = piece
            self.filled += len(piece)
        self.body = [direct]

    def _refuse(self, reason: str) -> None:
        self.refusal = reason
        raise _Refused(reason)

    def _finish(self) -> None:
        self.answered = True
        self.direct = None
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(
                _Answer(
                    self.status,
                    self.headers,
                    self.body,
                    codings_of(self.encodings) if self.encodings else [],
                    self.keep_alive,
                )
            )

    def begin(self) -> asyncio.Future[_Answer]:
        """Start an exchange: the answer to the request about to be written goes to the returned future."""
        self.waiter = waiter = self.loop.create_future()
        self.answered = False
        self.head_size = self.head_parsed = self.interim = 0
        self.refusal = ""
        self.headers_done = False
        self.last_activity = self.loop.time()
        return waiter

    def fail(self, exc: BaseException) -> None:
        """End the exchange in progress with ``exc``; the connection is dropped."""
        self.answered = True
        self.spoiled = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def close(self) -> None:
        """Close the connection after what is buffered is sent (not reused)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now, buffered data and all (a peer we gave up on may never read it)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def reusable(self) -> bool:
        """Whether an idle connection can carry another request: open, in step, nothing waiting to be read.

        A server that closed the connection (or wrote to it) may not have been heard yet by the
        event loop; the socket itself tells. Checked before reuse, so a request that would have
        met a dead connection goes on another one, never having left.
        """
        if self.closed or self.spoiled or self.transport is None:
            return False
        return self.poller is None or not self.poller.poll(0)

    def arm_read_timer(self, read_timeout: float | None) -> None:
        """Time the exchange just begun: fail it when nothing arrives for ``read_timeout`` seconds.

        The timer outlives the exchange: the next one on this connection keeps it when it is due no
        later than that one's own deadline (it re-arms for the rest when it fires), rather than
        each request making and cancelling one. Cancelled timers wait in the event loop's heap,
        compared in Python, and at thousands of requests a second that was a tenth of the time.
        """
        self.read_timeout = read_timeout
        if read_timeout is None:
            return
        due = self.last_activity + read_timeout
        timer = self.timer
        if timer is None or self.timer_due > due:
            if timer is not None:
                timer.cancel()
            self._time_reads_until(due)

    def _time_reads_until(self, due: float) -> None:
        self.timer = self.loop.call_at(due, self.check_read)
        self.timer_due = due

    def check_read(self) -> None:
        """The read timer fired: fail if nothing arrived for the read timeout, else re-arm."""
        self.timer = None
        waiter, read_timeout = self.waiter, self.read_timeout
        if waiter is None or waiter.done() or read_timeout is None or self.closed:
            return  # no exchange to time: the next one arms a timer again
        now = self.loop.time()
        quiet = now - self.last_activity
        if self.drain is not None:  # still sending the body: the write timeout governs that
            quiet = 0.0
        if quiet >= read_timeout:
            self.fail(httpx.ReadTimeout(f"no data from the server for {read_timeout:g}s"))
        else:
            self._time_reads_until(now + read_timeout - quiet)


def _split(url: str) -> tuple[_Key, str, str]:
    """(scheme, host, port), the Host header and the request target of an absolute URL."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"the built-in engine sends http:// and https:// URLs, not {url[:40]!r}")
    slash = len(rest)
    for mark in "/?#":
        found = rest.find(mark)
        if 0 <= found < slash:
            slash = found
    authority, target = rest[:slash], rest[slash:]
    authority = authority.rpartition("@")[2]  # credentials in URLs are not sent
    target = target.partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    if authority.startswith("["):  # [IPv6]:port
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        raise httpx.UnsupportedProtocol(f"no host in {url[:40]!r}")
    try:
        port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    except ValueError:
        raise httpx.UnsupportedProtocol(f"bad port in {url[:60]!r}") from None
    return (scheme, host.lower(), port), authority, target


class BuiltinEngine:
    """Sends requests over pooled HTTP/1.1 connections (see the module docstring)."""

    name = "builtin"

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_connections_per_host: int = 20,
        keepalive_expiry: float = 15.0,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._max = max_connections
        # nginx's limit_conn in front of Discourse (discourse_docker's template) allows 20 per IP;
        # a 21st connection would be answered 429.
        self._max_per_host = max_connections_per_host
        self._per_key: dict[_Key, int] = {}  # connections open or being opened, per origin
        self._max_body = max_response_size
        self._expiry = keepalive_expiry
        self._idle: dict[_Key, list[_Connection]] = {}
        self._open = 0  # connections open or being opened, idle ones included
        self._waiters: deque[tuple[_Key, asyncio.Future[_Connection | None], float]] = deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_at = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl: ssl.SSLContext | None = None
        self._generation = 0  # bumped by aclose(): connections of an earlier one are not kept

    # -- the pool

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections belong to the loop that opened them: a client reused under a new loop
            # (one loop per test, say) starts with an empty pool.
            for conns in self._idle.values():
                for conn in conns:
                    if self._loop is not None and not self._loop.is_closed():
                        conn.close()
            self._idle.clear()
            self._open = 0
            self._per_key.clear()
            self._waiters.clear()
            self._sweeper, self._sweep_at = None, math.inf
            self._loop = loop
        return loop

    async def _acquire(self, key: _Key, timeout: httpx.Timeout, write: bool = False) -> _Connection:
        loop = self._bind()
        while True:
            idle = self._idle.get(key)
            now = loop.time()
            while idle:
                conn = idle[-1]
                quiet = now - conn.idle_since
                if quiet > conn.max_idle or not conn.reusable():
                    idle.pop()
                    self._discard(conn)
                    continue
                if write and quiet > FRESH_FOR_WRITES:
                    # The newest idle one is not fresh enough for a write (the older ones even less):
                    # a new connection, in the place of the oldest idle one if the pool is full.
                    if self._open >= self._max or self._per_key.get(key, 0) >= self._max_per_host:
                        self._discard(idle.pop(0))
                    break
                return idle.pop()
            room_for_origin = self._per_key.get(key, 0) < self._max_per_host
            if self._open < self._max and room_for_origin:
                break
            if room_for_origin and self._close_one_idle():  # the pool is full of other origins' idle ones
                continue
            handed = await self._wait_for_room(loop, key, timeout.pool)
            if handed is not None:
                if handed.reusable():
                    return handed
                self._discard(handed)
        self._open += 1
        self._per_key[key] = self._per_key.get(key, 0) + 1
        try:
            return await self._connect(loop, key, timeout.connect)
        except BaseException:
            self._open -= 1
            self._per_key[key] -= 1
            self._wake()
            raise

    async def _wait_for_room(
        self, loop: asyncio.AbstractEventLoop, key: _Key, pool_timeout: float | None
    ) -> _Connection | None:
        """Wait for a connection of ``key`` handed over by a finished exchange, or for room to open one."""
        waiter: asyncio.Future[_Connection | None] = loop.create_future()
        deadline = math.inf if pool_timeout is None else loop.time() + pool_timeout
        self._waiters.append((key, waiter, deadline))
        if deadline < self._sweep_at:
            self._arm_sweeper(loop, deadline)
        try:
            return await waiter
        except TimeoutError:
            raise NotSent("no connection free") from httpx.PoolTimeout(
                f"no connection free in the pool within {pool_timeout:g}s"
            )
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                handed = waiter.result()
                if handed is not None:
                    self._release(handed, reusable=True)  # pass the connection on
                else:
                    self._wake()  # pass on the room
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove((key, waiter, deadline))

    def _arm_sweeper(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        # One timer for every waiter's pool timeout, not one each: at hundreds of calls in flight
        # most calls wait here, and a timer per wait is a good share of a request's cost.
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._sweep_at = when
        self._sweeper = loop.call_at(when, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fail the waiters whose pool timeout has passed; re-arm for the next deadline."""
        self._sweeper, self._sweep_at = None, math.inf
        now = loop.time()
        waiting: deque[tuple[_Key, asyncio.Future[_Connection | None], float]] = deque()
        for entry in self._waiters:
            waiter, deadline = entry[1], entry[2]
            if waiter.done():
                continue
            if deadline <= now:
                waiter.set_exception(TimeoutError())
            else:
                waiting.append(entry)
        self._waiters = waiting
        if waiting:
            next_at = min(entry[2] for entry in waiting)
            if next_at < math.inf:
                self._arm_sweeper(loop, next_at)

    def _wake(self) -> None:
        """Tell the first waiter whose origin may open another connection that there is room."""
        for entry in self._waiters:
            key, waiter, _ = entry
            if not waiter.done() and self._per_key.get(key, 0) < self._max_per_host:
                self._waiters.remove(entry)
                waiter.set_result(None)
                return

    def _hand_over(self, conn: _Connection) -> bool:
        """Give a free connection straight to a call waiting for its origin."""
        for entry in self._waiters:
            key, waiter, _ = entry
            if key == conn.key and not waiter.done():
                self._waiters.remove(entry)
                waiter.set_result(conn)
                return True
        return False

    def _close_one_idle(self) -> bool:
        """Make room for another origin by closing the longest-idle connection of any origin."""
        oldest: _Connection | None = None
        for conns in self._idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest = conns[0]
        if oldest is None:
            return False
        self._idle[oldest.key].remove(oldest)
        self._discard(oldest)
        return True

    def _discard(self, conn: _Connection) -> None:
        conn.abort()
        self._open -= 1
        self._per_key[conn.key] -= 1
        self._wake()

    def _release(self, conn: _Connection, reusable: bool) -> None:
        conn.waiter = None
        conn.answered = True  # from now on, any byte from the server spoils the connection
        reusable = reusable and not conn.closed and not conn.spoiled
        if reusable and conn.generation == self._generation and conn.loop is self._loop:
            if self._waiters and self._hand_over(conn):
                return
            conn.idle_since = conn.loop.time()
            self._idle.setdefault(conn.key, []).append(conn)
            self._wake()  # a waiter for another origin may close it to open its own
        elif conn.loop is self._loop:
            self._discard(conn)
        else:
            conn.abort()

    async def _connect(self, loop: asyncio.AbstractEventLoop, key: _Key, connect_timeout: float | None) -> _Connection:
        scheme, host, port = key
        context = None
        if scheme == "https":
            if self._ssl is None:
                # Verified as httpx verifies: SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi.
                self._ssl = httpx.create_ssl_context()
            context = self._ssl
        try:
            async with asyncio.timeout(connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, key, self._generation, self._max_body, self._expiry),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
        except TimeoutError:
            message = f"could not connect to {host}:{port} within {connect_timeout:g}s"
            raise NotSent(message) from httpx.ConnectTimeout(message)
        except OSError as exc:  # refused, unreachable, DNS, TLS certificate (ssl.SSLError is an OSError)
            message = f"could not connect to {host}:{port}: {exc}"
            raise NotSent(message) from httpx.ConnectError(message)
        return conn

    async def aclose(self) -> None:
        """Close every idle connection; those in use close when their exchange ends.

        Like the other engines, a later request opens new connections.
        """
        self._generation += 1
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
                self._open -= 1
                self._per_key[conn.key] -= 1
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing

    # -- one exchange

    async def send(self, request: Request, timeout: httpx.Timeout) -> RawResponse:
        """Send ``request`` on a pooled connection and read the whole response."""
        key, authority, target = _split(request.url)
        head, body, chunked = _head(request, authority, target)
        conn = await self._acquire(key, timeout, request.method not in _IDEMPOTENT)
        reusable = False
        try:
            answer = await self._exchange(conn, request, head=head, body=body, chunked=chunked, timeout=timeout)
            reusable = answer.keep_alive
        finally:
            # On any failure, cancellation included, the connection's state is unknown: drop it.
            self._release(conn, reusable)
        content: bytes | bytearray = answer.body[0] if len(answer.body) == 1 else b"".join(answer.body)
        if answer.codings and content:  # HEAD, 204, 304 and empty bodies name a coding they do not use
            content = await decode_body(content, answer.codings, self._max_body)
        return RawResponse(
            answer.status, ResponseHeaders(answer.headers), content, method=request.method, url=request.url
        )

    async def _exchange(
        self,
        conn: _Connection,
        request: Request,
        *,
        head: bytes,
        body: bytes | AsyncIterable[bytes] | None,
        chunked: bool,
        timeout: httpx.Timeout,
    ) -> _Answer:
        if conn.closed or conn.spoiled or conn.transport is None:
            # A fresh connection the server closed (or wrote to) before we said anything.
            message = "the server closed the connection before the request was sent"
            raise NotSent(message) from httpx.ConnectError(message)
        waiter = conn.begin()
        conn.head_only = request.method == "HEAD"
        conn.arm_read_timer(timeout.read)
        try:
            if body is None:
                conn.transport.write(head)
            elif isinstance(body, bytes) and len(body) <= _ONE_WRITE:
                conn.transport.write(head + body)
            else:
                conn.transport.write(head)
                await self._write_body(conn, body, chunked, timeout.write)
            return await waiter
        finally:
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # a failure seen first by the body's writer: mark this one as seen

    @staticmethod
    async def _write_body(
        conn: _Connection, body: bytes | AsyncIterable[bytes], chunked: bool, write_timeout: float | None
    ) -> None:
        if isinstance(body, bytes):
            # Pieces, not one write: asyncio copies what the socket does not take at once.
            view = memoryview(body)
            for start in range(0, len(view), _PIECE):
                await _write(conn, view[start : start + _PIECE], write_timeout)
            return
        async for piece in body:
            if chunked:
                if piece:
                    await _write(conn, b"%x\r\n%b\r\n" % (len(piece), piece), write_timeout)
            else:
                await _write(conn, piece, write_timeout)
        if chunked:
            await _write(conn, b"0\r\n\r\n", write_timeout)


async def _write(conn: _Connection, data: bytes | memoryview, write_timeout: float | None) -> None:
    """Write, then wait while the transport's buffer is over its high-water mark."""
    if conn.closed or conn.transport is None:
        raise httpx.WriteError("the connection closed while sending the request")
    conn.transport.write(data)
    conn.last_activity = conn.loop.time()  # a long upload is not a silent server
    if conn.paused:
        conn.drain = conn.loop.create_future()
        try:
            async with asyncio.timeout(write_timeout):
                await conn.drain
        except TimeoutError:
            raise httpx.WriteTimeout(f"could not send the request body within {write_timeout:g}s") from None
        finally:
            conn.drain = None


def _head(request: Request, authority: str, target: str) -> tuple[bytes, bytes | AsyncIterable[bytes] | None, bool]:
    """The request line and headers as bytes, the body to send after them, and whether it is chunked."""
    lines = [f"{request.method} {target} HTTP/1.1\r\nHost: {authority}\r\n"]
    names = set()
    for name, value in request.headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            # A programming error, not a network one: no retry, and never a second header smuggled in.
            raise ValueError(f"invalid character in the {name!r} header")
        lower = name.lower()
        if lower == "host":
            continue
        names.add(lower)
        lines.append(f"{name}: {value}\r\n")
    if " " in target or "\r" in target or "\n" in target:
        raise ValueError("invalid character in the request target")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    body = request.content
    chunked = False
    if isinstance(body, bytes | bytearray | memoryview):
        body = body if isinstance(body, bytes) else bytes(body)
        if "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}\r\n")
    elif body is None:
        if request.method in ("POST", "PUT", "PATCH") and "content-length" not in names:
            lines.append("Content-Length: 0\r\n")
    elif "content-length" not in names:
        chunked = True
        lines.append("Transfer-Encoding: chunked\r\n")
    lines.append("\r\n")
    return "".join(lines).encode(), body, chunked
