"""Both engines over a real socket (an aiohttp.web server on 127.0.0.1): the same behaviour.

Credentials by origin across real hosts and ports, redirects, errors, faults before and after a
request was processed, timeouts, and cancellation releasing connections.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from discourse_async import (
    APIConnectionError,
    APITimeoutError,
    Discourse,
    InternalServerError,
    NotFoundError,
)
from discourse_async._engines import choose_engine

KEY = "engine-test-admin-key"
ENGINES = ["builtin", "aiohttp", "httpx"]
CREDENTIALS = {"api-key", "api-username", "user-api-key", "user-api-client-id"}


@dataclass
class Recorder:
    requests: list[web.Request] = field(default_factory=list)
    writes: int = 0
    drop_after_processing: int = 0
    slow: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(app: web.Application, host: str = "127.0.0.1") -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, host, port).start()
    return runner, f"http://{host}:{port}"


def make_app(rec: Recorder, other: str = "") -> web.Application:
    async def topic(request: web.Request) -> web.Response:
        rec.requests.append(request)
        if rec.slow:
            await asyncio.sleep(rec.slow)
        return web.json_response({"id": int(request.match_info["id"]), "title": "A title long enough"})

    async def create_post(request: web.Request) -> web.StreamResponse:
        rec.requests.append(request)
        await request.read()
        rec.writes += 1
        if rec.drop_after_processing:
            rec.drop_after_processing -= 1
            # The post was created; the client sees the connection die before any answer.
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        return web.json_response({"id": rec.writes, "topic_id": 1})

    async def redirect(request: web.Request) -> web.Response:
        rec.requests.append(request)
        target = request.query["to"]
        raise web.HTTPFound(target)

    async def missing(request: web.Request) -> web.Response:
        rec.requests.append(request)
        return web.json_response({"errors": ["not here"], "error_type": "not_found"}, status=404)

    async def broken(request: web.Request) -> web.Response:
        rec.requests.append(request)
        return web.Response(status=502, text="<html><title>502 Bad Gateway</title></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/t/{id}.json", topic)
    app.router.add_post("/posts.json", create_post)
    app.router.add_get("/t/external_id/{ext}.json", redirect)
    app.router.add_get("/missing.json", missing)
    app.router.add_get("/broken.json", broken)
    return app


@pytest.fixture
async def site() -> AsyncIterator[tuple[Recorder, str]]:
    rec = Recorder()
    runner, url = await start(make_app(rec))
    yield rec, url
    await runner.cleanup()


def client(url: str, engine: str, **kwargs: object) -> Discourse:
    kwargs.setdefault("rate_limits", None)
    return Discourse(url, api_key=KEY, api_username="system", engine=engine, **kwargs)  # type: ignore[arg-type]


def test_engine_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISCOURSE_ASYNC_ENGINE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    assert choose_engine(None, None) == "builtin"
    assert choose_engine(None, httpx.MockTransport(lambda r: httpx.Response(200))) == "httpx"
    assert choose_engine("httpx", None) == "httpx"
    with pytest.raises(ValueError, match="unknown engine"):
        choose_engine("curl", None)
    with pytest.raises(ValueError, match="needs engine='httpx'"):
        choose_engine("aiohttp", httpx.MockTransport(lambda r: httpx.Response(200)))


def test_proxy_variables_choose_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCOURSE_ASYNC_ENGINE", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert choose_engine(None, None) == "httpx"  # the built-in engine does not use proxies
    assert choose_engine("builtin", None) == "builtin"


def test_aiohttp_engine_without_aiohttp_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "aiohttp" else real(name, *a))
    with pytest.raises(ImportError, match=r"discourse-async\[aiohttp\]"):
        choose_engine("aiohttp", None)


def test_pytest_httpx_switches_to_httpx(httpx_mock: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_engine(None, None) == "httpx"
    # A mock must see the requests, whatever engine the environment asks for.
    monkeypatch.setenv("DISCOURSE_ASYNC_ENGINE", "builtin")
    assert choose_engine(None, None) == "httpx"


def test_environment_sets_the_default_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCOURSE_ASYNC_ENGINE", "aiohttp")
    assert choose_engine(None, None) == "aiohttp"
    assert choose_engine("builtin", None) == "builtin"
    monkeypatch.setenv("DISCOURSE_ASYNC_ENGINE", "curl")
    with pytest.raises(ValueError, match="unknown engine 'curl'"):
        choose_engine(None, None)


@pytest.mark.parametrize("engine", ENGINES)
async def test_typed_call_with_credentials(site: tuple[Recorder, str], engine: str) -> None:
    rec, url = site
    async with client(url, engine) as dc:
        assert dc.engine == engine
        topic = await dc.topics.get_topic(id="7")
    assert topic.id == 7
    assert rec.requests[0].headers["Api-Key"] == KEY
    assert rec.requests[0].headers["Api-Username"] == "system"
    assert "discourse-async" in rec.requests[0].headers["User-Agent"]


@pytest.mark.parametrize("engine", ENGINES)
async def test_redirect_to_another_host_and_port_strips_credentials(site: tuple[Recorder, str], engine: str) -> None:
    rec, url = site
    # "localhost" on another port: a different origin on this very machine, recording into `rec` too.
    other_runner, other_url = await start(make_app(rec), host="localhost")
    try:
        for target, credentials_expected in (
            ("/t/5.json", True),
            (f"{url}/t/5.json", True),
            (f"{other_url}/t/6.json", False),
            (f"{url.replace('127.0.0.1', 'localhost')}/t/8.json", False),
        ):
            before = len(rec.requests)
            async with client(url, engine) as dc:
                await dc.request("GET", f"/t/external_id/x.json?to={target}")
            landed = rec.requests[before:]
            assert landed[0].path == "/t/external_id/x.json"
            assert len(landed) == 2
            sent = {k.lower() for k in landed[1].headers} & CREDENTIALS
            assert bool(sent) == credentials_expected, (target, sent)
    finally:
        await other_runner.cleanup()


@pytest.mark.parametrize("engine", ENGINES)
async def test_errors_over_the_wire(site: tuple[Recorder, str], engine: str) -> None:
    rec, url = site
    async with client(url, engine, max_retries=1) as dc:
        with pytest.raises(NotFoundError) as nf:
            await dc.request("GET", "/missing.json")
        assert nf.value.error_type == "not_found"
        with pytest.raises(InternalServerError) as ise:
            await dc.request("GET", "/broken.json")
        assert "502 Bad Gateway" in str(ise.value)
    assert sum(1 for r in rec.requests if r.path == "/broken.json") == 2  # one retry for a read


@pytest.mark.parametrize("engine", ENGINES)
async def test_connection_dropped_after_a_post_was_processed_is_not_retried(
    site: tuple[Recorder, str], engine: str
) -> None:
    rec, url = site
    rec.drop_after_processing = 1
    async with client(url, engine, max_retries=3) as dc:
        with pytest.raises(APIConnectionError) as info:
            await dc.posts.create_post(raw="A reply long enough to post here.", topic_id=1)
        assert info.value.request_sent is True
        post = await dc.posts.create_post(raw="A reply long enough to post here.", topic_id=1)
    assert rec.writes == 2, "exactly one write per call: the failed call was not repeated"
    assert post.id == 2


@pytest.mark.parametrize("engine", ENGINES)
async def test_connection_refused_is_retried_for_a_post(engine: str) -> None:
    port = free_port()  # nothing listens here yet
    rec = Recorder()
    slept: list[float] = []

    class StartServerWhileWaiting:
        def now(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            slept.append(seconds)
            if len(slept) == 1:
                runner = web.AppRunner(make_app(rec))
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", port).start()
                runners.append(runner)

    runners: list[web.AppRunner] = []
    try:
        async with client(f"http://127.0.0.1:{port}", engine, clock=StartServerWhileWaiting()) as dc:
            response = await dc.posts.with_raw_response.create_post(raw="A reply long enough to post here.", topic_id=1)
        assert response.retries_taken == 1
        assert rec.writes == 1
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.mark.parametrize("engine", ENGINES)
async def test_read_timeout(site: tuple[Recorder, str], engine: str) -> None:
    rec, url = site
    rec.slow = 2.0
    async with client(url, engine, timeout=httpx.Timeout(5.0, read=0.2), max_retries=0) as dc:
        with pytest.raises(APITimeoutError) as info:
            await dc.topics.get_topic(id="1")
    assert info.value.request_sent is True


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_shorter_read_timeout_after_a_longer_one_on_the_same_connection(
    site: tuple[Recorder, str], engine: str
) -> None:
    # The built-in engine keeps a connection's read timer from one exchange to the next: one due
    # later than the new exchange's deadline must not be kept.
    rec, url = site
    async with client(url, engine, timeout=httpx.Timeout(30.0), max_retries=0) as dc:
        await dc.topics.get_topic(id="1")  # the connection's first exchange, timed for 30 s
        rec.slow = 5.0
        hurried = dc.with_options(timeout=httpx.Timeout(30.0, read=0.2))
        with pytest.raises(APITimeoutError):
            await asyncio.wait_for(hurried.topics.get_topic(id="1"), 4.0)  # a hang guard, not a figure


@pytest.mark.parametrize("engine", ENGINES)
async def test_each_exchange_is_timed_from_its_own_start(site: tuple[Recorder, str], engine: str) -> None:
    # Six answers of 0.3 s each on one connection: 1.8 s of exchanges under a 1 s read timeout,
    # each well inside it. A timer carried over from an earlier exchange re-arms, never fires early.
    rec, url = site
    rec.slow = 0.3
    async with client(url, engine, timeout=httpx.Timeout(5.0, read=1.0), max_retries=0) as dc:
        for _ in range(6):
            await dc.topics.get_topic(id="1")


@pytest.mark.parametrize("engine", ENGINES)
async def test_cancellations_release_their_connections(site: tuple[Recorder, str], engine: str) -> None:
    rec, url = site
    rec.slow = 0.05
    async with client(url, engine) as dc:
        for _ in range(10):
            tasks = [asyncio.ensure_future(dc.topics.get_topic(id=str(i))) for i in range(100)]
            await asyncio.sleep(0.01)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # 1,000 cancelled calls later, the pool (100 connections) still serves.
        rec.slow = 0.0
        topics = await asyncio.gather(*(dc.topics.get_topic(id=str(i)) for i in range(150)))
    assert len(topics) == 150


async def test_aiohttp_engine_times_a_body_after_an_early_answer_by_its_reads_alone() -> None:
    # The head's deadline (aiohttp_engine._Phase) ends with the head: a server that answers before
    # it has read the upload, then sends its body slowly (each piece within the read timeout, all
    # of it well past it), is read to the end.
    pytest.importorskip("aiohttp")
    from tests.raw_http import read_request_head

    upload = b"u" * (16 * 1024 * 1024)  # more than the socket buffers hold
    pieces = [b'{"n": 1, "pad": "', b"x" * 10, b"y" * 10, b'"}']

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request_head(reader)
        assert request is not None
        length = sum(len(p) for p in pieces)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % length)
        writer.write(pieces[0])
        await writer.drain()
        await asyncio.sleep(0.2)  # the client has the head while the upload is still being written
        await reader.readexactly(int(request[2]["content-length"]))
        for piece in pieces[1:]:
            await asyncio.sleep(0.3)
            writer.write(piece)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(f"http://127.0.0.1:{port}", "aiohttp", timeout=httpx.Timeout(0.5, connect=2.0)) as dc:
            answer = await dc.request("POST", "/uploads.json", content=upload)
    finally:
        server.close()
        await server.wait_closed()
    assert answer == {"n": 1, "pad": "x" * 10 + "y" * 10}
