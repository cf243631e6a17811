"""Upload routing and the multipart bookkeeping, against an in-memory site and bucket.

The end-to-end tests against a real S3-compatible server are in tests/uploads/test_uploads_s3.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from discourse_async import Discourse
from discourse_async.uploads import MiB, UploadError, _part_size
from tests.raw_http import read_request_head

KEY = "admin-key-never-to-s3"


class Site:
    """Just enough Discourse + S3 to run every route, recording what each side received."""

    def __init__(self, *, direct_s3: bool = True, fail_part: dict[int, int] | None = None) -> None:
        self.direct_s3 = direct_s3
        self.fail_part = dict(fail_part or {})
        self.calls: list[str] = []
        self.s3_requests: list[httpx.Request] = []
        self.parts: dict[int, bytes] = {}
        self.objects: dict[str, bytes] = {}
        self.completed_parts: list[dict[str, object]] = []

    def upload_json(self, name: str, size: int) -> dict[str, object]:
        return {
            "id": 1,
            "url": f"/uploads/default/original/1X/{name}",
            "short_url": "upload://abc.bin",
            "original_filename": name,
            "filesize": size,
            "extension": "bin",
        }

    def discourse(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(path)
        body = json.loads(request.content) if request.headers.get("content-type") == "application/json" else {}
        if path == "/uploads.json":
            content = request.read()
            return httpx.Response(200, json=self.upload_json("f.bin", len(content)))
        if not self.direct_s3:
            return httpx.Response(404, json={"errors": ["not found"], "error_type": "not_found"})
        if path == "/uploads/generate-presigned-put.json":
            return httpx.Response(
                200,
                json={
                    "key": "k",
                    "url": "https://bucket.s3.example/k?X-Amz-Signature=sig",
                    "signed_headers": {"x-amz-acl": "private"},
                    "unique_identifier": "u1",
                },
            )
        if path == "/uploads/complete-external-upload.json":
            return httpx.Response(200, json=self.upload_json("f.bin", len(self.objects["k"])))
        if path == "/uploads/create-multipart.json":
            self.size = body["file_size"]
            return httpx.Response(
                200, json={"external_upload_identifier": "ext1", "key": "k", "unique_identifier": "u1"}
            )
        if path == "/uploads/batch-presign-multipart-parts.json":
            urls = {
                str(n): f"https://bucket.s3.example/k?partNumber={n}&X-Amz-Signature=sig" for n in body["part_numbers"]
            }
            return httpx.Response(200, json={"presigned_urls": urls})
        if path == "/uploads/complete-multipart.json":
            self.completed_parts = body["parts"]
            return httpx.Response(200, json=self.upload_json("f.bin", sum(len(p) for p in self.parts.values())))
        if path == "/uploads/abort-multipart.json":
            return httpx.Response(200, json={"success": "OK"})
        return httpx.Response(404, json={"errors": ["?"]})

    async def s3(self, request: httpx.Request) -> httpx.Response:
        self.s3_requests.append(request)
        content = await request.aread()
        number = request.url.params.get("partNumber")
        if number is None:
            self.objects["k"] = content
            return httpx.Response(200, headers={"ETag": '"whole"'})
        n = int(number)
        if self.fail_part.get(n, 0) > 0:
            self.fail_part[n] -= 1
            return httpx.Response(503, content=b"<Error><Code>SlowDown</Code></Error>")
        if self.fail_part.get(n, 0) < 0:
            return httpx.Response(400, content=b"<Error><Code>InvalidPart</Code></Error>")
        self.parts[n] = content
        return httpx.Response(200, headers={"ETag": f'"etag-{n}-{hashlib.md5(content).hexdigest()}"'})

    def clients(self) -> tuple[Discourse, httpx.AsyncClient]:
        dc = Discourse(
            "https://forum.example.com",
            api_key=KEY,
            api_username="system",
            transport=httpx.MockTransport(self.discourse),
        )
        return dc, httpx.AsyncClient(transport=httpx.MockTransport(self.s3))


def test_part_size_rules() -> None:
    assert _part_size(10 * MiB, 1) == 5 * MiB  # never below S3's 5 MiB
    assert _part_size(10 * MiB, 8 * MiB) == 8 * MiB
    huge = 100 * 1024 * MiB  # 100 GiB at 8 MiB parts would be 12,800 parts
    assert huge / _part_size(huge, 8 * MiB) <= 10_000


@pytest.mark.parametrize("size", [0, 1, 100])
async def test_small_files_go_in_one_post(size: int) -> None:
    site = Site()
    dc, s3 = site.clients()
    async with dc, s3:
        upload = await dc.uploads.upload(b"x" * size, filename="f.bin", s3_client=s3)
    assert upload.id == 1
    assert site.calls == ["/uploads.json"]
    assert site.s3_requests == []


async def test_presigned_route_streams_to_s3_without_credentials(tmp_path: Path) -> None:
    path = tmp_path / "video.bin"
    path.write_bytes(b"v" * (6 * MiB))
    site = Site()
    dc, s3 = site.clients()
    progress: list[tuple[int, int]] = []
    async with dc, s3:
        await dc.uploads.upload(path, route="presigned", s3_client=s3, on_progress=lambda a, b: progress.append((a, b)))
    assert site.calls == ["/uploads/generate-presigned-put.json", "/uploads/complete-external-upload.json"]
    assert site.objects["k"] == path.read_bytes()
    put = site.s3_requests[0]
    assert put.headers["x-amz-acl"] == "private"
    assert not {"api-key", "api-username", "user-api-key"} & set(put.headers.keys())
    assert progress[-1] == (6 * MiB, 6 * MiB)


@pytest.mark.parametrize("kind", ["path", "bytes", "file", "stream"])
async def test_multipart_sends_sorted_etags_and_exact_bytes(kind: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * (4 * 1024 * 19 + 7)  # ~19 MiB + 1792 bytes: 4 parts of 5 MiB
    site = Site()
    dc, s3 = site.clients()
    source: object
    size = None
    if kind == "path":
        source = tmp_path / "f.bin"
        source.write_bytes(data)  # type: ignore[attr-defined]
    elif kind == "bytes":
        source = data
    elif kind == "file":
        source = io.BytesIO(data)
    else:

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(data), 65536):
                yield data[i : i + 65536]
                await asyncio.sleep(0)

        source, size = chunks(), len(data)
    async with dc, s3:
        await dc.uploads.upload(source, filename="f.bin", size=size, route="multipart", part_size=5 * MiB, s3_client=s3)  # type: ignore[arg-type]
    assert b"".join(site.parts[n] for n in sorted(site.parts)) == data
    assert [p["part_number"] for p in site.completed_parts] == [1, 2, 3, 4]
    assert all(p["etag"].startswith('"etag-') for p in site.completed_parts)  # type: ignore[union-attr]
    assert "/uploads/abort-multipart.json" not in site.calls
    assert site.calls.count("/uploads/batch-presign-multipart-parts.json") == 1


async def test_a_part_failing_twice_then_succeeding_completes() -> None:
    site = Site(fail_part={2: 2})
    dc, s3 = site.clients()
    async with dc, s3:
        await dc.uploads.upload(b"z" * (11 * MiB), filename="f.bin", route="multipart", part_size=5 * MiB, s3_client=s3)
    assert "/uploads/complete-multipart.json" in site.calls
    assert len([r for r in site.s3_requests if r.url.params.get("partNumber") == "2"]) == 3


async def test_a_part_failing_for_good_aborts_and_names_the_part() -> None:
    site = Site(fail_part={3: -1})
    dc, s3 = site.clients()
    async with dc, s3:
        with pytest.raises(UploadError) as info:
            await dc.uploads.upload(
                b"z" * (11 * MiB), filename="f.bin", route="multipart", part_size=5 * MiB, s3_client=s3
            )
    assert info.value.part_number == 3
    assert "part 3" in str(info.value)
    assert "X-Amz-Signature" not in str(info.value) and "sig" not in str(info.value)
    assert site.calls[-1] == "/uploads/abort-multipart.json"
    assert "/uploads/complete-multipart.json" not in site.calls


async def test_sites_without_direct_s3_fall_back_to_a_post() -> None:
    site = Site(direct_s3=False)
    dc, s3 = site.clients()
    async with dc, s3:
        await dc.uploads.upload(b"q" * (3 * MiB), filename="f.bin", simple_max=1 * MiB, s3_client=s3)
    assert site.calls == ["/uploads/generate-presigned-put.json", "/uploads.json"]


async def test_bad_sources() -> None:
    site = Site()
    dc, s3 = site.clients()
    async with dc, s3:
        with pytest.raises(TypeError):
            await dc.uploads.upload(12345, s3_client=s3)  # type: ignore[arg-type]

        async def stream() -> AsyncIterator[bytes]:
            yield b"x"

        with pytest.raises(ValueError, match="size"):
            await dc.uploads.upload(stream(), s3_client=s3)


@pytest.mark.parametrize("route", ["presigned", "multipart"])
async def test_a_mock_transport_sees_every_request_of_an_upload(route: str) -> None:
    """Without s3_client, presigned URLs go through the client's own engine: here, its transport."""
    site = Site()

    def both(request: httpx.Request) -> httpx.Response | asyncio.Future[httpx.Response]:
        if request.url.host == "bucket.s3.example":
            return asyncio.ensure_future(site.s3(request))
        return site.discourse(request)

    async def handler(request: httpx.Request) -> httpx.Response:
        answer = both(request)
        return await answer if isinstance(answer, asyncio.Future) else answer

    dc = Discourse(
        "https://forum.example.com",
        api_key=KEY,
        api_username="system",
        headers={"X-Bot": "mine"},
        transport=httpx.MockTransport(handler),
    )
    async with dc:
        upload = await dc.uploads.upload(b"m" * (11 * MiB), filename="f.bin", route=route, part_size=5 * MiB)  # type: ignore[arg-type]
    assert upload.id == 1
    assert len(site.s3_requests) == (1 if route == "presigned" else 3)
    for request in site.s3_requests:
        names = {name.lower() for name in request.headers}
        assert not names & {"api-key", "api-username", "x-bot"}  # no credentials, no default headers
        assert "discourse-async" not in request.headers.get("user-agent", "")


async def test_presigned_urls_share_the_builtin_engines_pool() -> None:
    site = Site()
    requests: list[tuple[str, str, dict[str, str]]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_request_head(reader)) is not None:
                method, target, headers = request
                site.objects["k"] = await reader.readexactly(int(headers.get("content-length", "0")))
                requests.append((method, target, headers))
                writer.write(b'HTTP/1.1 200 OK\r\nETag: "e"\r\nContent-Length: 0\r\n\r\n')
                await writer.drain()
        finally:
            writer.close()  # the server's side of the connection, or it is left to the garbage collector

    bucket = await asyncio.start_server(handle, "127.0.0.1", 0)
    bucket_url = f"http://127.0.0.1:{bucket.sockets[0].getsockname()[1]}"

    def discourse(request: httpx.Request) -> httpx.Response:
        response = site.discourse(request)
        if request.url.path == "/uploads/generate-presigned-put.json":
            return httpx.Response(
                200, json={**json.loads(response.content), "url": f"{bucket_url}/k?X-Amz-Signature=s"}
            )
        return response

    # The site answers through a mock; the engine under test sends the presigned PUT for real.
    dc = Discourse("https://forum.example.com", api_key=KEY, api_username="system", engine="builtin", rate_limits=None)
    path = dc._path

    async def send_site_calls(request: object, timeout: httpx.Timeout) -> object:
        from discourse_async._engines import RawResponse, Request

        assert isinstance(request, Request)
        if request.url.startswith(bucket_url):
            return await real_send(request, timeout)
        built = httpx.Request(request.method, request.url, headers=request.headers, content=request.content)  # type: ignore[arg-type]
        answer = discourse(built)
        return RawResponse(answer.status_code, answer.headers, answer.content, method=request.method, url=request.url)

    real_send = path.engine.send
    path.engine.send = send_site_calls  # type: ignore[method-assign,assignment]
    try:
        async with dc:
            await dc.uploads.upload(b"p" * (6 * MiB), filename="f.bin", route="presigned")
            pooled = path.engine._idle  # type: ignore[attr-defined]
            assert ("http", "127.0.0.1", bucket.sockets[0].getsockname()[1]) in pooled
    finally:
        bucket.close()
        await bucket.wait_closed()
    ((method, target, headers),) = requests
    assert method == "PUT" and target.startswith("/k?X-Amz-Signature")
    assert not {"api-key", "api-username", "accept", "user-agent"} & set(headers)
