"""The built-in HTTP/1.1 engine against a raw socket server that answers byte for byte.

tests/engines/test_engines.py runs the behaviour every engine shares; these are the HTTP details the
built-in engine does itself: framing (length, chunked, until close, 1xx, HEAD), compression,
keep-alive and stale connections, the pool bound, request bodies, TLS verification.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from discourse_async import APIConnectionError, APITimeoutError, Discourse, NotFoundError
from discourse_async._engines import Request
from discourse_async._engines.builtin import BuiltinEngine, ResponseHeaders, _Connection, _split
from tests.raw_http import read_request_head

Reply = Callable[["Seen"], Awaitable[bytes | None]]


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int


@dataclass
class RawServer:
    reply: Reply
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self.writers.append(writer)
        try:
            while True:
                request = await read_request_head(reader)
                if request is None:
                    return
                method, target, headers = request
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        body += await reader.readexactly(size + 2)
                        body = body[:-2]
                        if size == 0:
                            break
                else:
                    body = b""
                seen = Seen(method, target, headers, body, number)
                self.seen.append(seen)
                answer = await self.reply(seen)
                if answer is None:  # hang up without answering
                    writer.close()
                    return
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    writer.close()
                    return
        finally:
            self.open_now -= 1
            writer.close()  # the client left or the server is done: the socket is closed, not left to the collector


def response(body: bytes = b'{"ok": true}', status: str = "200 OK", headers: str = "") -> bytes:
    extra = headers + ("" if "content-length" in headers.lower() else f"Content-Length: {len(body)}\r\n")
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}\r\n".encode() + body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[tuple[RawServer, str]]]]:
    servers: list[tuple[asyncio.Server, RawServer]] = []

    async def start(reply: Reply, ssl: object = None) -> tuple[RawServer, str]:
        raw = RawServer(reply)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=ssl)  # type: ignore[arg-type,unused-ignore]
        servers.append((server, raw))
        port = server.sockets[0].getsockname()[1]
        return raw, f"{'https' if ssl else 'http'}://127.0.0.1:{port}"

    yield start
    for server, raw in servers:
        server.close()
        for writer in raw.writers:  # connections still open: Server.close() leaves them (before 3.13)
            writer.close()
        await server.wait_closed()


def client(url: str, **kwargs: object) -> Discourse:
    kwargs.setdefault("rate_limits", None)
    return Discourse(url, api_key="k", api_username="system", engine="builtin", **kwargs)  # type: ignore[arg-type]


async def test_framing(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes:
        if seen.target == "/chunked":
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
            )
        if seen.target == "/until-close":
            return b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"b": 2}'
        if seen.target == "/interim":
            return b"HTTP/1.1 100 Continue\r\n\r\n" + response(b'{"c": 3}')
        if seen.target == "/head":
            return response(b"", headers="Content-Length: 1234\r\n")
        return response()

    raw, url = await serve(reply)
    async with client(url) as dc:
        assert await dc.request("GET", "/chunked") == {"a": 1}
        assert await dc.request("GET", "/until-close") == {"b": 2}
        assert await dc.request("GET", "/interim") == {"c": 3}
        head = await dc.request_raw("HEAD", "/head")
        assert head.status_code == 200 and head.content == b""
        assert await dc.request("GET", "/plain") == {"ok": True}
    # until-close and HEAD cost their connections; the others shared one.
    assert [s.connection for s in raw.seen] == [1, 1, 2, 2, 3]


async def test_compressed_bodies_and_errors(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    error = json.dumps({"errors": ["gone"], "error_type": "not_found"}).encode()

    async def reply(seen: Seen) -> bytes:
        assert seen.headers["accept-encoding"] == "gzip, deflate"
        if seen.target == "/gzip":
            return response(gzip.compress(b'{"z": 1}'), headers="Content-Encoding: gzip\r\n")
        if seen.target == "/deflate":
            return response(zlib.compress(b'{"z": 2}'), headers="Content-Encoding: deflate\r\n")
        if seen.target == "/raw-deflate":
            squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body = squeeze.compress(b'{"z": 3}') + squeeze.flush()
            return response(body, headers="Content-Encoding: deflate\r\n")
        return response(gzip.compress(error), "404 Not Found", "Content-Encoding: gzip\r\n")

    _, url = await serve(reply)
    async with client(url) as dc:
        assert await dc.request("GET", "/gzip") == {"z": 1}
        assert await dc.request("GET", "/deflate") == {"z": 2}
        assert await dc.request("GET", "/raw-deflate") == {"z": 3}
        # The error is built from an httpx.Response: the body must not be decoded twice.
        with pytest.raises(NotFoundError) as info:
            await dc.request("GET", "/missing-gzip")
    assert info.value.error_type == "not_found"
    assert info.value.response.json()["errors"] == ["gone"]


async def test_stale_keep_alive_connection_is_skipped_for_a_post(
    serve: Callable[..., Awaitable[tuple[RawServer, str]]],
) -> None:
    async def reply(seen: Seen) -> bytes:
        return response(json.dumps({"id": len(raw.seen), "topic_id": 1}).encode())

    raw, url = await serve(reply)
    async with client(url, max_retries=0) as dc:
        await dc.request("GET", "/latest.json")
        for writer in raw.writers:  # the server drops its idle connections (a keep-alive timeout)
            writer.close()
        await asyncio.sleep(0.05)
        post = await dc.posts.create_post(raw="A reply long enough to post here.", topic_id=1)
    assert post.id == 2
    assert [s.method for s in raw.seen] == ["GET", "POST"], "the POST was sent once, on a new connection"
    assert raw.connections == 2


async def test_hang_up_before_answering(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes | None:
        return None

    raw, url = await serve(reply)
    async with client(url, max_retries=2) as dc:
        with pytest.raises(APIConnectionError, match="closed the connection before answering"):
            await dc.request("GET", "/t/1.json")
        with pytest.raises(APIConnectionError) as info:
            await dc.request("POST", "/posts.json", json={"raw": "x"})
    assert info.value.request_sent is True
    assert [s.method for s in raw.seen] == ["GET", "GET", "GET", "POST"], "reads retried, the write not"


async def test_garbage_from_the_server(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes:
        return b"SMTP ready\r\n\r\n"

    _, url = await serve(reply)
    async with client(url, max_retries=0) as dc:
        with pytest.raises(APIConnectionError, match="invalid HTTP response"):
            await dc.request("GET", "/")


async def test_pool_bound_and_pool_timeout(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes:
        await asyncio.sleep(0.02)
        return response()

    raw, url = await serve(reply)
    async with client(url) as dc:
        dc._path.engine = BuiltinEngine(max_connections=3)
        await asyncio.gather(*(dc.request("GET", f"/t/{i}.json") for i in range(30)))
        assert raw.most_open <= 3
        assert len(raw.seen) == 30
        async with client(url, timeout=httpx.Timeout(5.0, pool=0.01), max_retries=0) as tight:
            tight._path.engine = BuiltinEngine(max_connections=1)
            results = await asyncio.gather(
                tight.request("GET", "/a"), tight.request("GET", "/b"), return_exceptions=True
            )
    timeouts = [r for r in results if isinstance(r, APITimeoutError)]
    assert len(timeouts) == 1 and timeouts[0].request_sent is False


async def test_request_bodies(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes:
        return response(json.dumps({"n": len(seen.body), "te": seen.headers.get("transfer-encoding")}).encode())

    raw, url = await serve(reply)
    big = bytes(range(256)) * 4096  # 1 MiB: written in pieces with back-pressure

    async def pieces() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 100_000
            await asyncio.sleep(0)

    engine = BuiltinEngine()
    timeout = httpx.Timeout(5.0)
    try:
        sent = await engine.send(Request("PUT", f"{url}/big", {}, big), timeout)
        assert sent.json() == {"n": len(big), "te": None}
        assert raw.seen[-1].body == big
        sent = await engine.send(Request("PUT", f"{url}/stream", {}, pieces()), timeout)
        assert sent.json() == {"n": 300_000, "te": "chunked"}
        sized = await engine.send(Request("PUT", f"{url}/sized", {"Content-Length": "300000"}, pieces()), timeout)
        assert sized.json() == {"n": 300_000, "te": None}
        empty = await engine.send(Request("POST", f"{url}/empty", {}), timeout)
        assert empty.json() == {"n": 0, "te": None}
        assert raw.seen[-1].headers["content-length"] == "0"
    finally:
        await engine.aclose()


async def test_header_injection_is_refused(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes:
        return response()

    raw, url = await serve(reply)
    async with client(url) as dc:
        with pytest.raises(ValueError, match="invalid character"):
            await dc.request("GET", "/x", headers={"X-Note": "a\r\nApi-Key: stolen"})
    assert raw.seen == []


def test_a_client_serves_one_loop_after_another(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes:
        return response()

    dc_holder: list[Discourse] = []

    async def once() -> object:
        server = await asyncio.start_server(RawServer(reply).handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        if not dc_holder:
            dc_holder.append(client(f"http://127.0.0.1:{port}"))
        dc = dc_holder[0]
        dc._path.base = f"http://127.0.0.1:{port}"
        dc._path.origin = ("http", "127.0.0.1", port)
        try:
            return await dc.request("GET", "/x")
        finally:
            server.close()

    assert asyncio.run(once()) == {"ok": True}
    assert asyncio.run(once()) == {"ok": True}


def _certificate(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_tls_is_verified(
    serve: Callable[..., Awaitable[tuple[RawServer, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    pytest.importorskip("cryptography")
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    big = json.dumps({"items": ["x" * 100] * 20_000}).encode()  # 2 MiB: read straight into one buffer

    async def reply(seen: Seen) -> bytes:
        return response(big if seen.target == "/big" else b'{"ok": true}')

    raw, url = await serve(reply, ssl=context)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with client(url, max_retries=0) as dc:
        with pytest.raises(APIConnectionError, match=r"could not connect.*CERTIFICATE_VERIFY_FAILED") as info:
            await dc.request("GET", "/x")
    assert info.value.request_sent is False
    assert raw.seen == []
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust this certificate, as httpx would
    direct: list[int] = []
    read_directly = _Connection._read_directly

    def counted(conn: _Connection) -> None:
        direct.append(conn.length)
        read_directly(conn)

    monkeypatch.setattr(_Connection, "_read_directly", counted)
    async with client(url) as dc:
        assert await dc.request("GET", "/x") == {"ok": True}
        assert await dc.request("GET", "/big") == json.loads(big)
        assert await dc.request("GET", "/x") == {"ok": True}  # the same connection, still in step
    assert len({seen.connection for seen in raw.seen[-3:]}) == 1
    assert direct == [len(big)]  # TLS hands the big body to the buffered path too


def test_response_headers_and_urls() -> None:
    headers = ResponseHeaders([(b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"ETag", b'"x"')])
    assert headers.get("etag") == '"x"' and headers["ETAG"] == '"x"'
    assert headers.get("set-cookie") == "a=1, b=2"
    assert headers.multi_items()[1] == ("set-cookie", "b=2")
    assert "Etag" in headers and len(headers) == 2
    assert _split("https://User:pw@Forum.example.com/t/1.json?a=1#top") == (
        ("https", "forum.example.com", 443),
        "Forum.example.com",
        "/t/1.json?a=1",
    )
    assert _split("http://[::1]:8080?x") == (("http", "::1", 8080), "[::1]:8080", "/?x")
    with pytest.raises(httpx.UnsupportedProtocol):
        _split("ftp://example.com/")


async def test_a_slow_upload_is_not_a_read_timeout(serve: Callable[..., Awaitable[tuple[RawServer, str]]]) -> None:
    async def reply(seen: Seen) -> bytes:
        return response(json.dumps({"n": len(seen.body)}).encode())

    _, url = await serve(reply)

    async def slowly() -> AsyncIterator[bytes]:
        for _ in range(8):
            await asyncio.sleep(0.05)  # 0.4 s of sending in all, twice the read timeout
            yield b"y" * 10_000

    engine = BuiltinEngine()
    try:
        sent = await engine.send(Request("PUT", f"{url}/slow", {}, slowly()), httpx.Timeout(5.0, read=0.2))
        assert sent.json() == {"n": 80_000}
    finally:
        await engine.aclose()
