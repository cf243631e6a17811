"""Uploads: plain ones kept in memory, and the S3 direct and multipart flows."""

from __future__ import annotations

import asyncio
import hashlib
import re
import struct
import uuid
from typing import Any

from starlette.responses import Response

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op, route
from discourse_async.testing._s3 import S3Error, S3Store

_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base62(number: int) -> str:
    """Base 62 as Discourse's short upload URLs use it."""
    out = ""
    while number:
        number, rest = divmod(number, 62)
        out = _BASE62[rest] + out
    return out or "0"


def human_size(size: int) -> str:
    """A size as Discourse's number_to_human_size writes it."""
    if size < 1024:
        return f"{size} Bytes"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} GB"


def upload_json(u: backend.Upload, *, base_url: str) -> JSON:
    """UploadSerializer."""
    short = base62(int(u.sha1, 16))
    data: JSON = {
        "id": u.id,
        "url": upload_url(u, base_url=base_url),
        "original_filename": u.original_filename,
        "filesize": u.filesize,
        "extension": u.extension,
        "short_url": f"upload://{short}.{u.extension}" if u.extension else f"upload://{short}",
        "short_path": f"/uploads/short-url/{short}.{u.extension}" if u.extension else f"/uploads/short-url/{short}",
        "retain_hours": None,
        "human_filesize": human_size(u.filesize),
        "dominant_color": None,
        "thumbnail": None,
        "optimized_video": None,
    }
    # UploadSerializer always has the image fields: null for a file that is not an image.
    data |= {"width": u.width, "height": u.height, "thumbnail_width": u.width, "thumbnail_height": u.height}
    return data


def upload_url(u: backend.Upload, *, base_url: str) -> str:
    """Where the file is served: the site for local storage, the bucket for S3."""
    name = f"{u.sha1}.{u.extension}" if u.extension else u.sha1
    if u.s3_key is not None:
        return f"{base_url}/{u.s3_key}"
    return f"/uploads/default/original/1X/{name}"


UPLOAD_TYPES = ("avatar", "profile_background", "card_background", "custom_emoji", "composer")


MAX_PART_NUMBER = 10_000


CHECKSUM_LIMIT = 100 * 1024 * 1024  # Discourse re-reads smaller external uploads to check their SHA1


def image_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG or GIF header (enough for the fake's upload records)."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if head[:4] == b"GIF8" and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    return None


def _extension(filename: str) -> str:
    match = re.search(r"\.([A-Za-z0-9]{1,10})$", filename)
    return match.group(1).lower() if match else ""


def _upload_type(ctx: Ctx, *names: str) -> str:
    value = next((ctx.param(n) for n in names if ctx.has(n)), None)
    if not value:
        raise backend.invalid_parameters(f"param is missing or the value is empty: {names[0]}")
    return value


def _check_size(ctx: Ctx, size: int) -> None:
    limit = ctx.fake.max_upload_bytes
    if limit is not None and size > limit:
        raise backend.record_invalid(
            f"Sorry, the file you are trying to upload is too big (maximum size is {human_size(limit)})."
        )


def _record(ctx: Ctx, operation: str, **details: Any) -> None:
    ctx.fake.upload_calls.append((operation, details))


def _new_upload(
    ctx: Ctx,
    user: backend.User,
    *,
    filename: str,
    size: int,
    sha1: str,
    upload_type: str,
    data: bytes | None = None,
    s3_key: str | None = None,
    head: bytes = b"",
) -> backend.Upload:
    dims = image_size(head or (data or b"")[:32])
    upload = backend.Upload(
        id=ctx.store.next_id("upload"),
        user_id=user.id,
        original_filename=filename,
        filesize=size,
        sha1=sha1,
        extension=_extension(filename),
        created_at=ctx.store.now(),
        upload_type=upload_type,
        data=data,
        s3_key=s3_key,
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
    )
    ctx.store.uploads[upload.id] = upload
    ctx.store.changed()
    return upload


def _json(ctx: Ctx, upload: backend.Upload) -> JSON:
    return upload_json(upload, base_url=ctx.fake.s3.public_url("").rstrip("/") if ctx.fake.s3 else "")


@op("create_upload")
async def create_upload(ctx: Ctx) -> JSON:
    """POST /uploads.json (multipart ``file``): the upload record, as current Discourse answers it.

    Not modelled: the site's allowed extensions, thumbnails and optimized images, secure uploads.
    """
    user = ctx.require_user()
    upload_type = _upload_type(ctx, "upload_type", "type")
    file = ctx.file("file") or ctx.file("files[]")
    if file is None:
        raise backend.invalid_parameters("param is missing or the value is empty: file")
    data = await file.read()
    _check_size(ctx, len(data))
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    filename = file.filename or "blob"
    s3: S3Store | None = ctx.fake.s3
    key = None
    if s3 is not None:
        key = f"original/1X/{sha1}.{_extension(filename)}" if _extension(filename) else f"original/1X/{sha1}"
        await asyncio.to_thread(s3.put, key, data)
    upload = _new_upload(
        ctx,
        user,
        filename=filename,
        size=len(data),
        sha1=sha1,
        upload_type=upload_type,
        data=None if key else data,
        s3_key=key,
        head=data[:32],
    )
    _record(ctx, "create_upload", id=upload.id, size=len(data))
    return _json(ctx, upload)


@route("GET", "/uploads/default/original/1X/{name}")
async def serve_upload(ctx: Ctx) -> Response:
    """The bytes of a locally stored upload, at the URL its record gives."""
    sha1 = ctx.path("name").split(".", 1)[0]
    upload = next((u for u in ctx.store.uploads.values() if u.sha1 == sha1 and u.data is not None), None)
    if upload is None or upload.data is None:
        raise backend.not_found()
    return Response(upload.data, media_type="application/octet-stream")


def _s3(ctx: Ctx) -> S3Store:
    """The bucket; sites without direct S3 uploads answer these routes with a 404, as Discourse does."""
    if ctx.fake.s3 is None:
        raise backend.not_found()
    return ctx.fake.s3


def _metadata(ctx: Ctx) -> dict[str, str]:
    meta = ctx.param_dict("metadata")
    return {"sha1-checksum": str(meta["sha1-checksum"])} if meta.get("sha1-checksum") else {}


def _new_stub(ctx: Ctx, user: backend.User, *, multipart: bool) -> backend.ExternalUploadStub:
    filename = ctx.require("file_name")
    size = ctx.require_int("file_size")
    if size < 0:
        raise backend.invalid_parameters("file_size must be 0 or more")
    _check_size(ctx, size)
    upload_type = _upload_type(ctx, "upload_type", "type") if multipart else _upload_type(ctx, "type", "upload_type")
    if upload_type not in UPLOAD_TYPES:
        raise backend.invalid_parameters(f"invalid upload type: {upload_type}")
    stub = backend.ExternalUploadStub(
        unique_identifier=str(uuid.uuid4()),
        key=f"temp/uploads/default/{uuid.uuid4().hex[:16]}/{filename}",
        user_id=user.id,
        original_filename=filename,
        filesize=size,
        upload_type=upload_type,
        multipart=multipart,
        created_at=ctx.store.now(),
        sha1=_metadata(ctx).get("sha1-checksum"),
    )
    ctx.store.upload_stubs[stub.unique_identifier] = stub
    return stub


def _stub(ctx: Ctx, user: backend.User, *, multipart: bool) -> backend.ExternalUploadStub:
    stub = ctx.store.upload_stubs.get(ctx.require("unique_identifier"))
    if stub is None or stub.user_id != user.id or stub.multipart != multipart:
        raise backend.not_found()
    return stub


async def _promote(ctx: Ctx, s3: S3Store, stub: backend.ExternalUploadStub, user: backend.User) -> backend.Upload:
    """Discourse's ExternalUploadManager: check the object's size (and SHA1), then make the record."""
    size = await asyncio.to_thread(s3.size_of, stub.key)
    if size is None:
        raise backend.record_invalid("The file was not found in the store; upload it before completing.")
    if size != stub.filesize:
        raise backend.record_invalid(
            f"The uploaded file's size ({size} bytes) does not match the size given "
            f"when the upload started ({stub.filesize} bytes)."
        )
    head = await asyncio.to_thread(s3.read, stub.key, "bytes=0-31") if size else b""
    sha1 = stub.sha1 or hashlib.sha1(stub.key.encode(), usedforsecurity=False).hexdigest()
    if stub.sha1 and size <= CHECKSUM_LIMIT:
        actual = hashlib.sha1(await asyncio.to_thread(s3.read, stub.key), usedforsecurity=False).hexdigest()
        if actual != stub.sha1:
            raise backend.record_invalid("The file's SHA1 checksum does not match metadata.sha1-checksum.")
    del ctx.store.upload_stubs[stub.unique_identifier]
    return _new_upload(
        ctx,
        user,
        filename=stub.original_filename,
        size=size,
        sha1=sha1,
        upload_type=stub.upload_type,
        s3_key=stub.key,
        head=head,
    )


@op("generate_presigned_put")
async def generate_presigned_put(ctx: Ctx) -> JSON:
    """POST /uploads/generate-presigned-put.json."""
    user, s3 = ctx.require_user(), _s3(ctx)
    stub = _new_stub(ctx, user, multipart=False)
    url, headers = await asyncio.to_thread(
        s3.presign_put, stub.key, expires=ctx.fake.presigned_expires, metadata=_metadata(ctx)
    )
    _record(ctx, "generate_presigned_put", unique_identifier=stub.unique_identifier, size=stub.filesize)
    return {"key": stub.key, "url": url, "signed_headers": headers, "unique_identifier": stub.unique_identifier}


@op("complete_external_upload")
async def complete_external_upload(ctx: Ctx) -> JSON:
    """POST /uploads/complete-external-upload.json."""
    user, s3 = ctx.require_user(), _s3(ctx)
    stub = _stub(ctx, user, multipart=False)
    _record(ctx, "complete_external_upload", unique_identifier=stub.unique_identifier)
    return _json(ctx, await _promote(ctx, s3, stub, user))


@op("create_multipart_upload")
async def create_multipart_upload(ctx: Ctx) -> JSON:
    """POST /uploads/create-multipart.json: S3 CreateMultipartUpload."""
    user, s3 = ctx.require_user(), _s3(ctx)
    stub = _new_stub(ctx, user, multipart=True)
    try:
        stub.external_upload_identifier = await asyncio.to_thread(s3.create_multipart, stub.key, _metadata(ctx))
    except S3Error as exc:
        raise backend.record_invalid(exc.message) from exc
    _record(
        ctx,
        "create_multipart",
        unique_identifier=stub.unique_identifier,
        external_upload_identifier=stub.external_upload_identifier,
        size=stub.filesize,
    )
    return {
        "external_upload_identifier": stub.external_upload_identifier,
        "key": stub.key,
        "unique_identifier": stub.unique_identifier,
    }


@op("batch_presign_multipart_parts")
async def batch_presign_multipart_parts(ctx: Ctx) -> JSON:
    """POST /uploads/batch-presign-multipart-parts.json: ``{"presigned_urls": {"1": url, ...}}``."""
    user, s3 = ctx.require_user(), _s3(ctx)
    stub = _stub(ctx, user, multipart=True)
    try:
        numbers = [int(n) for n in ctx.param_list("part_numbers")]
    except (TypeError, ValueError):
        raise backend.invalid_parameters("part_numbers must be integers") from None
    if not numbers:
        raise backend.invalid_parameters("param is missing or the value is empty: part_numbers")
    if any(n < 1 or n > MAX_PART_NUMBER for n in numbers):
        raise backend.invalid_parameters(f"Each part number should be between 1 and {MAX_PART_NUMBER}")
    upload_id = stub.external_upload_identifier or ""
    urls = {}
    for number in numbers:
        urls[str(number)] = await asyncio.to_thread(
            s3.presign_part, stub.key, upload_id, number, expires=ctx.fake.presigned_expires
        )
    _record(ctx, "batch_presign_multipart_parts", unique_identifier=stub.unique_identifier, part_numbers=numbers)
    return {"presigned_urls": urls}


@op("complete_multipart")
async def complete_multipart(ctx: Ctx) -> JSON:
    """POST /uploads/complete-multipart.json: parts in ascending order; S3 checks every ETag."""
    user, s3 = ctx.require_user(), _s3(ctx)
    stub = _stub(ctx, user, multipart=True)
    raw_parts = ctx.param_list("parts")
    if not raw_parts:
        raise backend.invalid_parameters("param is missing or the value is empty: parts")
    parts: list[tuple[int, str]] = []
    for part in raw_parts:
        if not isinstance(part, dict) or not part.get("etag") or part.get("part_number") in (None, ""):
            raise backend.invalid_parameters("Each part needs a part_number and an etag")
        parts.append((int(part["part_number"]), str(part["etag"])))
    _record(ctx, "complete_multipart", unique_identifier=stub.unique_identifier, parts=len(parts))
    if [n for n, _ in parts] != sorted({n for n, _ in parts}):
        raise backend.record_invalid(
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        )
    try:
        await asyncio.to_thread(s3.complete_multipart, stub.key, stub.external_upload_identifier or "", parts)
    except S3Error as exc:
        raise backend.record_invalid(f"{exc.code}: {exc.message}") from exc
    return _json(ctx, await _promote(ctx, s3, stub, user))


@op("abort_multipart")
async def abort_multipart(ctx: Ctx) -> JSON:
    """POST /uploads/abort-multipart.json: an unknown identifier is fine (already gone)."""
    user, s3 = ctx.require_user(), _s3(ctx)
    identifier = ctx.require("external_upload_identifier")
    _record(ctx, "abort_multipart", external_upload_identifier=identifier)
    stub = next((s for s in ctx.store.upload_stubs.values() if s.external_upload_identifier == identifier), None)
    if stub is None:
        return {"success": "OK"}
    if stub.user_id != user.id:
        raise backend.not_found()
    try:
        await asyncio.to_thread(s3.abort_multipart, stub.key, identifier)
    except S3Error as exc:
        if exc.code != "NoSuchUpload":
            raise backend.record_invalid(exc.message) from exc
    del ctx.store.upload_stubs[stub.unique_identifier]
    return {"success": "OK"}
