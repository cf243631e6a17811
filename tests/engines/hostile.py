"""Scripted misbehaving servers on 127.0.0.1, and a runner that sends each one's case through an engine.

A case is a script per connection (what the server reads, sends, and how it ends the connection)
and the calls the client makes. Every script answers byte for byte, so a case means the same to
every engine. The runner records what each call gave: the right data, wrong data taken for
success, one of our typed errors, an error of another type, a hang, or a socket left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from discourse_async import Discourse, DiscourseError

# ---------------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Step:
    """One thing the server does on a connection."""

    kind: str  # read | send | sleep | close | reset | shutwr | hold | noread | drip | creds | flood
    data: bytes = b""
    seconds: float = 0.0
    repeat: int = 0


READ = Step("read")  # read one request (head and body)
CLOSE = Step("close")  # FIN after what was sent
RESET = Step("reset")  # RST: SO_LINGER 0, then close
SHUT_WR = Step("shutwr")  # FIN on the write side only; keep reading
HOLD = Step("hold")  # say nothing; read until the client goes (every script ends so)
NO_READ = Step("noread")  # say nothing and read nothing: the client's writes stall
CREDS = Step("creds")  # answer whether the request carried an Api-Key


def send(data: bytes) -> Step:
    return Step("send", data)


def sleep(seconds: float) -> Step:
    return Step("sleep", seconds=seconds)


def drip(data: bytes, every: float, size: int = 1) -> Step:
    """Send ``data`` ``size`` bytes at a time, ``every`` seconds apart."""
    return Step("drip", data, every, size)


def flood(data: bytes, times: int) -> Step:
    """Send ``data`` ``times`` times, in writes of about 64 KiB, while the client is there."""
    return Step("flood", data, repeat=times)


Script = tuple[Step, ...]

# ---------------------------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class Expect:
    """What a call must give: ``ok`` the value, ``error`` a typed error (of ``cls`` if given), or ``either``."""

    kind: str
    value: Any = None
    cls: str = ""


def ok(value: Any = None) -> Expect:
    return Expect("ok", {"ok": True} if value is None else value)


def ok_none() -> Expect:
    return Expect("ok", None)


def error(cls: str = "") -> Expect:
    return Expect("error", cls=cls)


def either(value: Any = None) -> Expect:
    return Expect("either", {"ok": True} if value is None else value)


CANCELLED = Expect("cancelled")


@dataclass(frozen=True)
class Call:
    """One call of the client: ``request`` (decoded JSON), ``raw`` (status and bytes) or ``typed``."""

    expect: Expect = field(default_factory=ok)
    method: str = "GET"
    path: str = "/"
    kind: str = "request"
    content: bytes | None = None
    # Before the call: wait until every server script waits on the client (or has ended), then this
    # long, so that what the server did last (late bytes, a close, a reset) has reached the client.
    pause: float = 0.0
    cancel_after: float = 0.0


@dataclass(frozen=True)
class Case:
    """A scripted server (one script per connection, the last repeating) and the calls made to it."""

    name: str
    group: str
    what: str
    scripts: tuple[Script, ...]
    calls: tuple[Call, ...] = (Call(),)
    # Only a hang net where a case expects no timeout: the suite runs many cases in one event loop,
    # which on a busy machine can fall seconds behind, and that must not turn into a timeout.
    read_timeout: float = 10.0
    retries: int = 0
    max_posts: int = 0  # when set: the server may see at most this many POSTs (none duplicated)


# ---------------------------------------------------------------------------------------------- server


class Server:
    """Runs a case's scripts; counts connections and requests."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.connections = 0
        self.posts = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.stopping = asyncio.Event()
        self.busy: set[asyncio.Task[None]] = set()  # scripts doing something other than waiting for the client

    async def settled(self) -> None:
        """Return once no script is busy: each waits for the client, or has ended."""
        while self.busy:
            await asyncio.sleep(0.005)

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        self.stopping.set()
        for writer in self.writers:
            writer.transport.abort()
        # Aborted connections end every script (reads fail, writes stop); give them a moment.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.append(writer)
        scripts = self.case.scripts
        script = scripts[min(self.connections, len(scripts) - 1)]
        self.connections += 1
        headers: dict[str, str] = {}
        self.busy.add(task)
        try:
            for step in (*script, HOLD):
                if step.kind in ("hold", "noread"):
                    self.busy.discard(task)
                if step.kind == "read":
                    self.busy.discard(task)
                    got = await _read_request(reader)
                    self.busy.add(task)
                    if got is None:
                        return
                    method, headers = got
                    self.posts += method == "POST"
                elif step.kind == "send":
                    writer.write(step.data.replace(b"{PORT}", str(self.port).encode()))
                    await writer.drain()
                elif step.kind == "creds":
                    body = b'{"leak": %s}' % (b"true" if "api-key" in headers else b"false")
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    await writer.drain()
                elif step.kind == "sleep":
                    await asyncio.sleep(step.seconds)
                    if writer.transport.is_closing():
                        return
                elif step.kind == "drip":
                    for start in range(0, len(step.data), step.repeat):
                        if writer.transport.is_closing():
                            return
                        writer.write(step.data[start : start + step.repeat])
                        await writer.drain()
                        await asyncio.sleep(step.seconds)
                elif step.kind == "flood":
                    per_write = max(1, 65536 // len(step.data))
                    for start in range(0, step.repeat, per_write):
                        if writer.transport.is_closing():
                            return
                        writer.write(step.data * min(per_write, step.repeat - start))
                        await writer.drain()
                elif step.kind == "close":
                    writer.close()
                    return
                elif step.kind == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                elif step.kind == "shutwr":
                    writer.write_eof()
                elif step.kind == "noread":
                    await self.stopping.wait()
                elif step.kind == "hold":
                    while await reader.read(65536):
                        pass
                    writer.close()
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.transport.abort()
        finally:
            self.tasks.discard(task)
            self.busy.discard(task)


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    line, *rest = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return line.split(" ")[0], headers


# ---------------------------------------------------------------------------------------------- runner

#: A case that takes longer than this hangs (every case's own timeouts are far below it).
HANG_AFTER = 60.0
#: The size limit the suite gives the engines that take one, so that bombs stay small for every engine.
SUITE_MAX_RESPONSE = 4 * 1024 * 1024


def client_sockets_to(port: int) -> int:
    """Sockets of this process connected to ``port`` (Linux: /proc), or 0 where that cannot be told."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[2].rpartition(":")[2], 16) == port:
                    inodes.add(fields[9])
    count = 0
    with contextlib.suppress(OSError):
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/self/fd/{fd}")
                count += link.startswith("socket:[") and link[8:-1] in inodes
    return count


async def _call(dc: Discourse, call: Call) -> Any:
    if call.kind == "raw":
        response = await dc.request_raw(call.method, call.path, content=call.content)
        return (response.status_code, response.content)
    if call.kind == "typed":
        topic = await dc.topics.get_topic(id="1")
        return {"id": topic.id, "title": topic.title}
    return await dc.request(call.method, call.path, content=call.content)


async def _outcome(dc: Discourse, call: Call) -> tuple[str, str]:
    """(kind, detail) of one call: ok, wrong, error, untyped or cancelled."""
    try:
        if call.cancel_after:
            task = asyncio.ensure_future(_call(dc, call))
            await asyncio.sleep(call.cancel_after)
            task.cancel()
            try:
                value = await task
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise
                return "cancelled", ""
        else:
            value = await _call(dc, call)
    except DiscourseError as exc:
        return "error", type(exc).__name__
    except Exception as exc:
        return "untyped", type(exc).__name__
    if call.expect.kind in ("ok", "either") and value == call.expect.value:
        return "ok", ""
    return "wrong", ""


@dataclass
class Result:
    """What one engine did with one case."""

    calls: list[tuple[str, str]]
    hang: bool = False
    leaked: int = 0
    duplicated: bool = False

    def acceptable(self, case: Case) -> list[str]:
        """What was wrong with this result (empty: nothing)."""
        problems = []
        if self.hang:
            problems.append("hang")
        if self.leaked:
            problems.append(f"{self.leaked} socket(s) left open")
        if self.duplicated:
            problems.append("a POST reached the server more than allowed")
        for call, (kind, detail) in zip(case.calls, self.calls, strict=False):
            want = call.expect
            if want.kind == "cancelled":
                good = kind == "cancelled"
            elif want.kind == "ok":
                good = kind == "ok"
            elif want.kind == "error":
                good = kind == "error" and (not want.cls or detail == want.cls)
            else:
                good = kind in ("ok", "error")
            if not good:
                problems.append(f"{kind} {detail}".strip() + f" where {want.kind} {want.cls}".rstrip() + " was due")
        return problems

    def cell(self, case: Case) -> str:
        """A short, timing-independent summary for the docs table."""
        if self.hang:
            text = "hang"
        else:
            parts = []
            for call, (kind, detail) in zip(case.calls, self.calls, strict=False):
                if kind == "wrong":
                    parts.append("accepted" if call.expect.kind == "error" else "WRONG DATA")
                elif kind == "untyped":
                    parts.append(f"untyped {detail}")
                elif kind == "error" and call.expect.cls:
                    parts.append(detail)
                else:
                    parts.append(kind)
            text = ", ".join(parts)
        if self.leaked:
            text += ", socket left open"
        if self.duplicated:
            text += ", POST duplicated"
        return text + (" ✗" if self.acceptable(case) else "")


async def run(case: Case, engine: str) -> Result:
    """Run ``case`` against ``engine``: a fresh server and client, closed afterwards."""
    server = Server(case)
    url = await server.start()
    dc = Discourse(
        url,
        api_key="hostile-suite-key",
        api_username="system",
        engine=engine,
        rate_limits=None,
        max_retries=case.retries,
        # A 429 is waited out apart from max_retries: here it is an answer to check, not to wait for.
        max_rate_limit_wait=0 if case.retries == 0 else 300.0,
        timeout=httpx.Timeout(case.read_timeout, connect=2.0),
        max_response_size=SUITE_MAX_RESPONSE,
    )
    result = Result(calls=[])
    try:
        async with asyncio.timeout(HANG_AFTER):
            for call in case.calls:
                if call.pause:
                    await server.settled()
                    await asyncio.sleep(call.pause)
                result.calls.append(await _outcome(dc, call))
    except TimeoutError:
        result.hang = True
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await dc.aclose()
        # Closed sockets leave this process's table within a few loop turns; an open one stays.
        for _ in range(100):
            result.leaked = client_sockets_to(server.port)
            if not result.leaked:
                break
            await asyncio.sleep(0.01)
        await server.stop()
    result.duplicated = bool(case.max_posts) and server.posts > case.max_posts
    return result


ENGINE_NAMES = ("builtin", "httpx", "aiohttp")


async def run_all(
    cases: Sequence[Case], engines: Sequence[str] = ENGINE_NAMES, parallel: int = 24
) -> dict[tuple[str, str], Result]:
    """Every case against every engine, ``parallel`` cases at a time (each on its own server).

    One engine after another: an engine that spends long stretches of CPU on a case (parsing a
    flood in Python, say) then delays only its own cases, so no engine's outcome depends on another's.
    """
    gate = asyncio.Semaphore(parallel)
    results: dict[tuple[str, str], Result] = {}

    async def one(case: Case, engine: str) -> None:
        async with gate:
            results[case.name, engine] = await run(case, engine)

    for engine in engines:
        await asyncio.gather(*(one(case, engine) for case in cases))
    return results


def table(cases: Sequence[Case], results: dict[tuple[str, str], Result], header: Callable[[], str]) -> str:
    """The docs page: a header, then one row per case with each engine's outcome."""
    lines = [header(), "", "| case | what the server does | built-in | httpx | aiohttp |", "|---|---|---|---|---|"]
    group = ""
    for case in cases:
        if case.group != group:
            group = case.group
            lines.append(f"| **{group}** | | | | |")
        cells = [results[case.name, engine].cell(case) for engine in ENGINE_NAMES]
        lines.append(f"| `{case.name}` | {case.what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
