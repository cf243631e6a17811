"""Uploads on the fake: the plain POST, and direct S3 uploads against a real moto server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest

from discourse_async.testing import FakeDiscourse, S3Server

CREDENTIAL_HEADERS = {"api-key", "api-username", "api-user-id", "user-api-key", "user-api-client-id"}
MIB = 1024 * 1024


@pytest.fixture
def fake(s3_server: S3Server) -> FakeDiscourse:
    fake = FakeDiscourse(s3=s3_server)
    fake.create_user("alice")
    return fake


@pytest.fixture
async def site(fake: FakeDiscourse) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake),
        base_url="http://forum.test",
        headers={"Api-Key": fake.admin_api_key, "Api-Username": "alice"},
    ) as http:
        yield http


@pytest.fixture
async def bare() -> AsyncIterator[httpx.AsyncClient]:
    """What an upload helper should use for S3: no Discourse headers at all."""
    async with httpx.AsyncClient() as http:
        yield http


async def test_presigned_put_then_complete(
    fake: FakeDiscourse, site: httpx.AsyncClient, bare: httpx.AsyncClient, s3_server: S3Server
) -> None:
    data = bytes(range(256)) * 41
    sha1 = hashlib.sha1(data).hexdigest()
    s3_server.clear()
    put = (
        await site.post(
            "/uploads/generate-presigned-put.json",
            json={
                "type": "composer",
                "file_name": "table.bin",
                "file_size": len(data),
                "metadata": {"sha1-checksum": sha1},
            },
        )
    ).json()
    assert put["signed_headers"] == {"x-amz-meta-sha1-checksum": sha1}
    assert (await bare.put(put["url"], content=data, headers=put["signed_headers"])).status_code == 200
    done = await site.post(
        "/uploads/complete-external-upload.json", json={"unique_identifier": put["unique_identifier"]}
    )
    assert done.status_code == 200, done.text
    upload = done.json()
    assert upload["filesize"] == len(data) and upload["original_filename"] == "table.bin"
    assert hashlib.sha256(fake.read_upload(upload["id"])).digest() == hashlib.sha256(data).digest()
    again = await site.post(
        "/uploads/complete-external-upload.json", json={"unique_identifier": put["unique_identifier"]}
    )
    assert again.status_code == 404  # the stub is gone once completed
    client_puts = [r for r in s3_server.requests if r.method == "PUT" and "X-Amz-Signature" in r.query]
    assert len(client_puts) == 1
    assert not any(CREDENTIAL_HEADERS & {h.lower() for h in r.headers} for r in s3_server.requests)


async def test_complete_checks_size_and_checksum(site: httpx.AsyncClient, bare: httpx.AsyncClient) -> None:
    async def start(size: int, sha1: str | None = None) -> dict:
        body = {"type": "composer", "file_name": "a.txt", "file_size": size}
        if sha1:
            body["metadata"] = {"sha1-checksum": sha1}
        return (await site.post("/uploads/generate-presigned-put.json", json=body)).json()

    missing = await start(3)
    answer = await site.post(
        "/uploads/complete-external-upload.json", json={"unique_identifier": missing["unique_identifier"]}
    )
    assert answer.status_code == 422 and "not found" in answer.json()["errors"][0]
    wrong_size = await start(3)
    await bare.put(wrong_size["url"], content=b"four")
    answer = await site.post(
        "/uploads/complete-external-upload.json", json={"unique_identifier": wrong_size["unique_identifier"]}
    )
    assert answer.status_code == 422 and "size" in answer.json()["errors"][0]
    wrong_sum = await start(3, "0" * 40)
    await bare.put(wrong_sum["url"], content=b"abc", headers=wrong_sum["signed_headers"])
    answer = await site.post(
        "/uploads/complete-external-upload.json", json={"unique_identifier": wrong_sum["unique_identifier"]}
    )
    assert answer.status_code == 422 and "SHA1" in answer.json()["errors"][0]


async def _multipart(site: httpx.AsyncClient, size: int, name: str = "big.bin") -> tuple[dict, dict]:
    started = (
        await site.post(
            "/uploads/create-multipart.json",
            json={
                "upload_type": "composer",
                "file_name": name,
                "file_size": size,
            },
        )
    ).json()
    urls = (
        await site.post(
            "/uploads/batch-presign-multipart-parts.json",
            json={
                "part_numbers": [1, 2],
                "unique_identifier": started["unique_identifier"],
            },
        )
    ).json()["presigned_urls"]
    return started, urls


async def test_multipart_round_trip(fake: FakeDiscourse, site: httpx.AsyncClient, bare: httpx.AsyncClient) -> None:
    parts = [b"a" * (5 * MIB), b"tail"]
    started, urls = await _multipart(site, sum(map(len, parts)))
    etags = []
    for number, chunk in enumerate(parts, start=1):
        answer = await bare.put(urls[str(number)], content=chunk)
        etags.append({"part_number": number, "etag": answer.headers["etag"]})
    done = await site.post(
        "/uploads/complete-multipart.json", json={"unique_identifier": started["unique_identifier"], "parts": etags}
    )
    assert done.status_code == 200, done.text
    assert fake.read_upload(done.json()["id"]) == b"".join(parts)
    assert [name for name, _ in fake.upload_calls] == [
        "create_multipart",
        "batch_presign_multipart_parts",
        "complete_multipart",
    ]


async def test_multipart_checks_etags_and_order(site: httpx.AsyncClient, bare: httpx.AsyncClient) -> None:
    started, urls = await _multipart(site, 5 * MIB + 1)
    tags = [
        (await bare.put(urls["1"], content=b"b" * (5 * MIB))).headers["etag"],
        (await bare.put(urls["2"], content=b"c")).headers["etag"],
    ]
    unsorted = [{"part_number": 2, "etag": tags[1]}, {"part_number": 1, "etag": tags[0]}]
    wrong = [{"part_number": 1, "etag": '"0123"'}, {"part_number": 2, "etag": tags[1]}]
    body = {"unique_identifier": started["unique_identifier"]}
    answer = await site.post("/uploads/complete-multipart.json", json={**body, "parts": unsorted})
    assert answer.status_code == 422 and "ascending order" in answer.json()["errors"][0]
    answer = await site.post("/uploads/complete-multipart.json", json={**body, "parts": wrong})
    assert answer.status_code == 422 and answer.json()["errors"][0].startswith("InvalidPart")
    presign = await site.post("/uploads/batch-presign-multipart-parts.json", json={**body, "part_numbers": [0, 10001]})
    assert presign.status_code == 400


async def test_abort_is_recorded_and_clears_the_upload(fake: FakeDiscourse, site: httpx.AsyncClient) -> None:
    started, _ = await _multipart(site, 6 * MIB, "aborted.bin")
    assert started["external_upload_identifier"] in fake.s3.pending_multipart_uploads()  # type: ignore[union-attr]
    answer = await site.post(
        "/uploads/abort-multipart.json", json={"external_upload_identifier": started["external_upload_identifier"]}
    )
    assert answer.json() == {"success": "OK"}
    assert started["external_upload_identifier"] not in fake.s3.pending_multipart_uploads()  # type: ignore[union-attr]
    names = [name for name, _ in fake.upload_calls]
    assert "abort_multipart" in names and "complete_multipart" not in names


async def test_plain_upload_goes_to_the_bucket(fake: FakeDiscourse, site: httpx.AsyncClient) -> None:
    answer = await site.post(
        "/uploads.json",
        data={"upload_type": "composer", "synchronous": "true"},
        files={"file": ("hello.txt", b"hello world", "text/plain")},
    )
    upload = answer.json()
    assert upload["url"].startswith(fake.s3.public_url(""))  # type: ignore[union-attr]
    assert upload["short_url"].startswith("upload://") and upload["human_filesize"] == "11 Bytes"
    assert fake.read_upload(upload["id"]) == b"hello world"


async def test_sites_without_direct_uploads() -> None:
    fake = FakeDiscourse(max_upload_bytes=1024)
    headers = {"Api-Key": fake.admin_api_key, "Api-Username": "system"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake), base_url="http://forum.test", headers=headers
    ) as site:
        presign = await site.post(
            "/uploads/generate-presigned-put.json", json={"type": "composer", "file_name": "a.txt", "file_size": 1}
        )
        assert presign.status_code == 404
        plain = await site.post(
            "/uploads.json",
            data={"type": "composer", "synchronous": "true"},
            files={"file": ("pic.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 8 + b"\0\0\0\x10\0\0\0\x20", "image/png")},
        )
        upload = plain.json()
        assert (upload["width"], upload["height"]) == (16, 32)
        served = await site.get(upload["url"])
        assert served.content == fake.read_upload(upload["id"])
        plain_text = await site.post("/uploads.json", data={"type": "composer"}, files={"file": ("a.txt", b"x")})
        assert plain_text.json()["original_filename"] == "a.txt"  # current Discourse answers the record, always
        too_big = await site.post(
            "/uploads.json", data={"type": "composer", "synchronous": "true"}, files={"file": ("big.bin", b"x" * 2048)}
        )
        assert too_big.status_code == 422
