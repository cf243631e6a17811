"""dc.uploads.upload() end to end: the fake Discourse with a real S3-compatible server (moto).

Bytes are compared by the sha256 of the object stored in the bucket. Faults on the way to S3 are
injected by wrapping the bare S3 client's transport (the bucket itself stays real).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from discourse_async.uploads import MiB, UploadError

pytest.importorskip("moto.server")
pytest.importorskip("starlette")

from discourse_async.testing import FakeDiscourse, S3Server

CREDENTIALS = {"api-key", "api-username", "api-user-id", "api-user-external-id", "user-api-key", "user-api-client-id"}
Rule = Callable[[httpx.Request, int], httpx.Response | None]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server
        # Across every test of this module: nothing that reached the bucket carried a credential.
        leaked = [r for r in server.requests if CREDENTIALS & {h.lower() for h in r.headers}]
        assert not leaked, f"{len(leaked)} S3 requests carried a Discourse credential"


@pytest.fixture
def fake(s3_server: S3Server) -> FakeDiscourse:
    return FakeDiscourse(s3=s3_server)


class FaultyNetwork(httpx.AsyncBaseTransport):
    """The real network to S3, except where ``rule`` answers for it (rule gets the request and the
    number of earlier requests for the same part)."""

    def __init__(self, rule: Rule | None = None, delay: float = 0.0) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.rule = rule
        self.delay = delay
        self.attempts: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        part = request.url.params.get("partNumber", "whole")
        seen = self.attempts.get(part, 0)
        self.attempts[part] = seen + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.rule is not None:
            answer = self.rule(request, seen)
            if answer is not None:
                await request.aread()
                return answer
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def s3_client() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []

    def make(rule: Rule | None = None, delay: float = 0.0) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=FaultyNetwork(rule, delay), follow_redirects=False)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


def paths(fake: FakeDiscourse) -> list[str]:
    return [r.path for r in fake.requests]


def data_of(size: int) -> bytes:
    return os.urandom(size)


@pytest.mark.parametrize(
    ("size", "route"),
    [
        (0, "simple"),
        (1, "presigned"),
        (5 * MiB - 1, "presigned"),
        (5 * MiB, "multipart"),
        (5 * MiB + 1, "multipart"),
        (64 * MiB, "multipart"),
    ],
    ids=["0B", "1B", "5MiB-1", "5MiB", "5MiB+1", "64MiB"],
)
async def test_sizes_arrive_byte_identical(
    fake: FakeDiscourse, s3_client: Callable[..., httpx.AsyncClient], tmp_path: Path, size: int, route: str
) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(data_of(size))
    progress: list[tuple[int, int]] = []
    async with fake.client() as dc:
        upload = await dc.uploads.upload(
            path,
            simple_max=0,
            multipart_threshold=5 * MiB,
            part_size=5 * MiB,
            s3_client=s3_client(),
            on_progress=lambda sent, total: progress.append((sent, total)),
        )
    stored = fake.read_upload(upload.id)  # type: ignore[arg-type]
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert upload.short_url and upload.url
    expected_calls = {
        "simple": "/uploads.json",
        "presigned": "/uploads/complete-external-upload.json",
        "multipart": "/uploads/complete-multipart.json",
    }[route]
    assert expected_calls in paths(fake)
    assert progress[-1] == (size, size)


async def test_every_source_kind(fake: FakeDiscourse, s3_client: Callable[..., httpx.AsyncClient]) -> None:
    data = data_of(11 * MiB + 17)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 1_000_003):
            yield data[i : i + 1_000_003]

    import io

    async with fake.client() as dc:
        for source, size in ((data, None), (io.BytesIO(data), None), (chunks(), len(data))):
            upload = await dc.uploads.upload(
                source, filename="f.bin", size=size, route="multipart", part_size=5 * MiB, s3_client=s3_client()
            )
            assert fake.read_upload(upload.id) == data  # type: ignore[arg-type]


async def test_a_part_failing_twice_then_succeeding_completes(
    fake: FakeDiscourse, s3_client: Callable[..., httpx.AsyncClient]
) -> None:
    data = data_of(16 * MiB)

    def slow_down_part_2(request: httpx.Request, seen: int) -> httpx.Response | None:
        if request.url.params.get("partNumber") == "2" and seen < 2:
            return httpx.Response(
                503, content=b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
            )
        return None

    client = s3_client(slow_down_part_2)
    async with fake.client() as dc:
        upload = await dc.uploads.upload(data, filename="f.bin", route="multipart", part_size=5 * MiB, s3_client=client)
    assert fake.read_upload(upload.id) == data  # type: ignore[arg-type]
    assert client._transport.attempts["2"] == 3  # type: ignore[attr-defined]
    assert "/uploads/abort-multipart.json" not in paths(fake)


@pytest.mark.parametrize("failure", ["server error for good", "expired for good", "bad request"])
async def test_a_part_failing_for_good_aborts(
    fake: FakeDiscourse, s3_client: Callable[..., httpx.AsyncClient], failure: str
) -> None:
    def fail_part_3(request: httpx.Request, seen: int) -> httpx.Response | None:
        if request.url.params.get("partNumber") != "3":
            return None
        if failure == "server error for good":
            return httpx.Response(500, content=b"<Error><Code>InternalError</Code></Error>")
        if failure == "expired for good":
            return httpx.Response(
                403, content=b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            )
        return httpx.Response(400, content=b"<Error><Code>InvalidArgument</Code></Error>")

    async with fake.client() as dc:
        with pytest.raises(UploadError) as info:
            await dc.uploads.upload(
                data_of(16 * MiB),
                filename="f.bin",
                route="multipart",
                part_size=5 * MiB,
                s3_client=s3_client(fail_part_3),
            )
    assert info.value.part_number == 3
    assert "part 3" in str(info.value)
    assert "Signature" not in str(info.value)
    assert "/uploads/abort-multipart.json" in paths(fake)
    assert "/uploads/complete-multipart.json" not in paths(fake)
    assert fake.s3 is not None and fake.s3.pending_multipart_uploads() == []


async def test_an_expired_presign_is_renewed(fake: FakeDiscourse, s3_client: Callable[..., httpx.AsyncClient]) -> None:
    """Presigned URLs live about 10 minutes: a part that finds its URL expired gets a fresh one.

    moto does not enforce expiry, so the network answers the first PUT of part 1 the way S3 does
    for an expired URL.
    """
    data = data_of(11 * MiB)

    def expired_once(request: httpx.Request, seen: int) -> httpx.Response | None:
        if request.url.params.get("partNumber") == "1" and seen == 0:
            body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            return httpx.Response(403, content=body)
        return None

    async with fake.client() as dc:
        upload = await dc.uploads.upload(
            data,
            filename="f.bin",
            route="multipart",
            part_size=5 * MiB,
            concurrency=1,
            s3_client=s3_client(expired_once),
        )
    assert fake.read_upload(upload.id) == data  # type: ignore[arg-type]
    assert paths(fake).count("/uploads/batch-presign-multipart-parts.json") == 2, "part 1 was presigned again"
    assert "/uploads/abort-multipart.json" not in paths(fake)


async def test_a_cancelled_upload_is_aborted(fake: FakeDiscourse, s3_client: Callable[..., httpx.AsyncClient]) -> None:
    async with fake.client() as dc:
        task = asyncio.ensure_future(
            dc.uploads.upload(
                data_of(32 * MiB),
                filename="f.bin",
                route="multipart",
                part_size=5 * MiB,
                concurrency=2,
                s3_client=s3_client(delay=0.2),
            )
        )
        while "/uploads/batch-presign-multipart-parts.json" not in paths(fake):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "/uploads/abort-multipart.json" in paths(fake)
    assert "/uploads/complete-multipart.json" not in paths(fake)
    assert fake.s3 is not None and fake.s3.pending_multipart_uploads() == []


async def test_sha1_checksum_is_sent(fake: FakeDiscourse, s3_client: Callable[..., httpx.AsyncClient]) -> None:
    data = data_of(6 * MiB)
    async with fake.client() as dc:
        upload = await dc.uploads.upload(
            data, filename="f.bin", route="multipart", part_size=5 * MiB, s3_client=s3_client()
        )
    assert fake.read_upload(upload.id) == data  # type: ignore[arg-type]
    create = next(r for r in fake.requests if r.path == "/uploads/create-multipart.json")
    assert create.status == 200
