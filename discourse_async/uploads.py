"""Uploads: one call that moves any file to Discourse, including the S3 multipart flow.

``await dc.uploads.upload(source)`` picks a route by size and by what the site supports:

* ``"simple"``: ``POST /uploads.json`` with the file in a multipart body (small files, and sites
  without direct S3 uploads);
* ``"presigned"``: one presigned ``PUT`` straight to the site's S3 bucket, then
  ``complete-external-upload``;
* ``"multipart"``: S3 multipart: ``create-multipart`` -> presign parts in small batches as they are
  needed -> ``PUT`` each part (several at once), keeping its ETag -> ``complete-multipart``; any
  failure or cancellation calls ``abort-multipart`` so no half-done upload is left behind.

Presigned URLs are sent through the client's own engine and pool, bare: no Discourse credentials,
none of the client's default headers, and no redirects. Memory stays bounded by part size x concurrency
whatever the file size: parts are read by offset (or in order from a stream) and sent as they are
read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import math
import mimetypes
import os
import random
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast

import httpx

from discourse_async._engines import RawResponse
from discourse_async._exceptions import APIStatusError, DiscourseError
from discourse_async._extras import requires_extra
from discourse_async._generated.api.uploads import Uploads as _Uploads
from discourse_async._generated.types import UNSET, File, Unset
from discourse_async._http import safe_url

if TYPE_CHECKING:
    from discourse_async._client import Discourse
    from discourse_async._generated.models import Upload, UploadMetadata
    from discourse_async._transport import BareSender

__all__ = ["MiB", "Source", "UploadError", "Uploads", "progress_bar"]

log = logging.getLogger("discourse_async")

MiB = 1024 * 1024
#: S3's limits: every part but the last at least 5 MiB, at most 10,000 parts.
S3_MIN_PART = 5 * MiB
S3_MAX_PARTS = 10_000
#: Discourse's default max_attachment_size_kb is 4 MB: bigger files need direct S3 uploads.
SIMPLE_MAX = 4 * MiB
MULTIPART_THRESHOLD = 16 * MiB
DEFAULT_PART_SIZE = 8 * MiB
PRESIGN_BATCH = 10
PART_ATTEMPTS = 5
_CHUNK = 256 * 1024

Route = Literal["auto", "simple", "presigned", "multipart"]
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | AsyncIterable[bytes]
Progress = Callable[[int, int], None]


class UploadError(DiscourseError):
    """An upload failed and was cleaned up (the multipart upload was aborted).

    ``part_number`` names the failing part (None when the failure was not in a part), ``cause`` the
    underlying error. Messages never contain a presigned URL's signature.
    """

    def __init__(self, message: str, *, part_number: int | None = None, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.part_number = part_number
        self.cause = cause


# ----------------------------------------------------------------------------------- sources


class _Reader:
    """Reads parts of a source. Random-access sources read by offset; streams in order only."""

    def __init__(self, source: Source, size: int | None) -> None:
        self._fd: int | None = None
        self._data: memoryview | None = None
        self._file: BinaryIO | None = None
        self._stream: AsyncIterator[bytes] | None = None
        self._buffer = bytearray()
        self._position = 0
        self.name = "upload.bin"
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            self._fd = os.open(path, os.O_RDONLY)
            self.size = os.fstat(self._fd).st_size
            self.name = path.name
        elif isinstance(source, bytes | bytearray | memoryview):
            self._data = memoryview(source).cast("B")
            self.size = len(self._data)
        elif hasattr(source, "read"):
            file: BinaryIO = source  # type: ignore[assignment]
            self._file = file
            name = getattr(file, "name", None)
            if isinstance(name, str):
                self.name = os.path.basename(name)
            if size is not None:
                self.size = size
            elif self._seekable():
                start = file.tell()
                self.size = file.seek(0, io.SEEK_END) - start
                file.seek(start)
                self._position = start
            else:
                raise ValueError("give size= for a file object that cannot seek")
        elif isinstance(source, AsyncIterable):
            if size is None:
                raise ValueError("give size= for an async iterator source")
            self._stream = aiter(source)
            self.size = size
        else:
            raise TypeError(f"cannot upload a {type(source).__name__}: give a path, bytes, a file or an async iterator")
        if self.size < 0:
            raise ValueError("size must not be negative")

    def _seekable(self) -> bool:
        try:
            return bool(self._file is not None and self._file.seekable())
        except (AttributeError, OSError):
            return False

    @property
    def random_access(self) -> bool:
        """Whether parts can be read in any order (and read twice, e.g. for a checksum)."""
        return self._fd is not None or self._data is not None or self._seekable()

    async def read(self, offset: int, length: int) -> bytes | memoryview:
        """``length`` bytes at ``offset`` (streams: must be called in increasing order)."""
        if self._data is not None:
            return self._data[offset : offset + length]
        if self._fd is not None:
            return await asyncio.to_thread(_pread_exact, self._fd, length, offset)
        if self._file is not None and self._seekable():
            base = self._position

            def seek_read() -> bytes:
                assert self._file is not None
                self._file.seek(base + offset)
                return _read_exact(self._file, length)

            return await asyncio.to_thread(seek_read)
        if self._file is not None:
            return await asyncio.to_thread(_read_exact, self._file, length)
        return await self._read_stream(length)

    async def _read_stream(self, length: int) -> bytes:
        assert self._stream is not None
        while len(self._buffer) < length:
            try:
                chunk = await anext(self._stream)
            except StopAsyncIteration:
                break
            self._buffer += chunk
        data, self._buffer = bytes(self._buffer[:length]), self._buffer[length:]
        if len(data) < length:
            raise ValueError(f"the source ended after fewer bytes than size={self.size}")
        return data

    async def sha1(self) -> str | None:
        """The SHA-1 of the whole source, for Discourse's checksum; None for one-pass streams."""
        if not self.random_access:
            return None
        if self._fd is not None:
            # One thread hop for the whole file: hashlib releases the GIL on big buffers.
            return await asyncio.to_thread(_sha1_of_fd, self._fd, self.size)
        digest = hashlib.sha1(usedforsecurity=False)
        for offset in range(0, self.size, 4 * MiB):
            digest.update(await self.read(offset, min(4 * MiB, self.size - offset)))
        return digest.hexdigest()

    def close(self) -> None:
        """Release the file descriptor we opened (file objects stay the caller's)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _sha1_of_fd(fd: int, size: int) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for offset in range(0, size, 4 * MiB):
        digest.update(_pread_exact(fd, min(4 * MiB, size - offset), offset))
    return digest.hexdigest()


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    chunks, got = [], 0
    while got < length:
        chunk = os.pread(fd, length - got, offset + got)
        if not chunk:
            raise ValueError("the file is shorter than when the upload started")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_exact(file: BinaryIO, length: int) -> bytes:
    data = file.read(length)
    while len(data) < length:
        more = file.read(length - len(data))
        if not more:
            raise ValueError("the file object ended before the size given")
        data += more
    return data


def _part_size(size: int, wanted: int) -> int:
    """A part size of at least 5 MiB that needs no more than 10,000 parts for ``size`` bytes."""
    needed = math.ceil(size / S3_MAX_PARTS)
    part = max(wanted, S3_MIN_PART, needed)
    return math.ceil(part / MiB) * MiB


# ----------------------------------------------------------------------------------- S3 answers

_EXPIRED = re.compile(rb"Request has expired|<Code>ExpiredToken</Code>|expired", re.IGNORECASE)


#: Presigned requests: a part of several MiB may take a while on a slow uplink.
S3_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def _s3_code(response: httpx.Response | RawResponse) -> str:
    match = re.search(rb"<Code>([^<]+)</Code>", response.content or b"")
    return match.group(1).decode() if match else ""


class _PartFailed(Exception):
    """One attempt at a part failed; ``retry`` and ``represign`` tell what may help."""

    def __init__(self, message: str, *, retry: bool, represign: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        self.represign = represign


def progress_bar(description: str = "upload") -> Progress:
    """An ``on_progress`` callback drawing a tqdm progress bar (``pip install discourse-async[progress]``)."""
    with requires_extra("progress", "progress_bar()"):
        from tqdm import tqdm  # type: ignore[import-untyped]
    bar: Any = None

    def update(sent: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=description)
        bar.update(sent - bar.n)
        if sent >= total:
            bar.close()

    return update


# ----------------------------------------------------------------------------------- the namespace


@dataclass
class _Plan:
    reader: _Reader
    filename: str
    content_type: str
    upload_type: str
    on_progress: Progress | None
    s3: httpx.AsyncClient | BareSender
    sent: int = 0

    def progress(self, n: int) -> None:
        self.sent += n
        if self.on_progress is not None:
            self.on_progress(self.sent, self.reader.size)


class _Presigner:
    """Presigned part URLs, asked for lazily in small batches: they expire after ~10 minutes."""

    def __init__(self, uploads: _Uploads, identifier: str, parts: int) -> None:
        self._uploads = uploads
        self._identifier = identifier
        self._parts = parts
        self._urls: dict[int, str] = {}
        self._lock = asyncio.Lock()
        self._next = 1  # the lowest part number never presigned

    async def __call__(self, number: int, *, fresh: bool = False) -> str:
        """The URL of part ``number`` (``fresh``: the last one expired, ask again)."""
        url = None if fresh else self._urls.get(number)
        if url is not None:
            # Known already: do not queue behind another worker's batch request for it.
            return url
        async with self._lock:
            if fresh:
                self._urls.pop(number, None)
            if number not in self._urls:
                # The part asked for, then the next parts never presigned: workers ask in any
                # order, and one batch should serve them all.
                wanted = {number}
                while len(wanted) < PRESIGN_BATCH and self._next <= self._parts:
                    if self._next not in self._urls:
                        wanted.add(self._next)
                    self._next += 1
                answer = await self._uploads.batch_presign_multipart_parts(
                    part_numbers=sorted(wanted), unique_identifier=self._identifier
                )
                for key, value in _props(answer.presigned_urls).items():
                    self._urls[int(key)] = str(value)
            if number not in self._urls:
                raise UploadError(f"Discourse did not presign part {number}", part_number=number)
            return self._urls[number]


class Uploads(_Uploads):
    """Upload operations, plus :meth:`upload`, which picks the route and does every step."""

    async def upload(
        self,
        source: Source,
        *,
        type: str = "composer",
        filename: str | None = None,
        content_type: str | None = None,
        size: int | None = None,
        route: Route = "auto",
        user_id: int | Unset = UNSET,
        on_progress: Progress | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        concurrency: int = 4,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        simple_max: int = SIMPLE_MAX,
        s3_client: httpx.AsyncClient | None = None,
    ) -> Upload:
        """Upload ``source`` and return the upload record (``id``, ``url``, ``short_url``, ...).

        Args:
            source: a path, bytes, a binary file object, or an async iterator of bytes (with ``size``).
            type: Discourse's upload type (``composer``, ``avatar``, ``profile_background``, ...).
            filename: the name Discourse shows (default: the path's name).
            content_type: the media type (default: guessed from the name).
            size: the byte count, needed for async iterators and unseekable file objects.
            user_id: for admins, the user the upload is made for.
            route: ``"auto"`` (by size; falls back to ``"simple"`` on sites without direct S3
                uploads), or force ``"simple"``, ``"presigned"`` or ``"multipart"``.
            on_progress: called as ``on_progress(sent_bytes, total_bytes)``; see :func:`progress_bar`.
            part_size: multipart part size (raised to 5 MiB, and as needed to stay within 10,000 parts).
            concurrency: parts uploaded at once.
            multipart_threshold: files at least this big go multipart under ``"auto"``.
            simple_max: files at most this big go in one POST under ``"auto"``.
            s3_client: an httpx client for the presigned URLs instead of this client's own engine
                (which sends them bare: no credentials, no default headers, no redirects).
        """
        reader = _Reader(source, size)
        name = filename or reader.name
        plan = _Plan(
            reader=reader,
            filename=name,
            content_type=content_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
            upload_type=type,
            on_progress=on_progress,
            s3=s3_client or cast("Discourse", self._client)._bare_sender(S3_TIMEOUT),
        )
        try:
            chosen = route if route != "auto" else self._route(reader.size, multipart_threshold, simple_max)
            if chosen == "simple":
                return await self._simple(plan, user_id)
            try:
                if chosen == "presigned":
                    return await self._presigned(plan)
                return await self._multipart(plan, part_size, concurrency)
            except APIStatusError as exc:
                # Sites without direct S3 uploads answer the S3 routes with 404 (or 403/422):
                # under "auto", fall back to the plain upload when nothing was sent to S3 yet.
                if route != "auto" or exc.status_code not in (403, 404, 422) or plan.sent:
                    raise
                log.info("%s: direct S3 uploads unavailable (%s); sending it to /uploads.json", name, exc.status_code)
                return await self._simple(plan, user_id)
        finally:
            reader.close()

    @staticmethod
    def _route(size: int, multipart_threshold: int, simple_max: int) -> Route:
        if size <= simple_max:
            return "simple"
        return "multipart" if size >= max(multipart_threshold, S3_MIN_PART) else "presigned"

    async def _simple(self, plan: _Plan, user_id: int | Unset) -> Upload:
        reader = plan.reader
        if reader.random_access:
            data = await reader.read(0, reader.size)
            payload: BinaryIO = io.BytesIO(data)
        else:
            payload = io.BytesIO(await reader.read(0, reader.size))
        result = await self.create_upload(
            upload_type=plan.upload_type,  # any upload type the site accepts
            file=File(payload=payload, file_name=plan.filename, mime_type=plan.content_type),
            synchronous=True,
            user_id=user_id,
        )
        plan.progress(reader.size)
        return result

    async def _presigned(self, plan: _Plan) -> Upload:
        reader = plan.reader
        metadata = await self._metadata(reader)
        presign = await self.generate_presigned_put(
            type=plan.upload_type,  # any upload type the site accepts
            file_name=plan.filename,
            file_size=reader.size,
            metadata=metadata,
        )
        url = str(presign.url)
        headers = {k: str(v) for k, v in _props(presign.signed_headers).items()}
        headers["Content-Length"] = str(reader.size)

        async def body() -> AsyncIterator[bytes]:
            for offset in range(0, reader.size, _CHUNK):
                data = await reader.read(offset, min(_CHUNK, reader.size - offset))
                yield bytes(data)
                plan.progress(len(data))

        try:
            response = await plan.s3.put(url, content=body() if reader.size else b"", headers=headers)
        except httpx.RequestError as exc:
            raise UploadError(
                f"the upload of {plan.filename} to {safe_url(url)} failed: {type(exc).__name__}: {exc}", cause=exc
            ) from exc
        if response.status_code >= 300:
            raise UploadError(
                f"S3 refused the upload of {plan.filename}: {response.status_code} {_s3_code(response)} "
                f"at {safe_url(url)}"
            )
        return _as_upload(await self.complete_external_upload(unique_identifier=presign.unique_identifier))

    async def _metadata(self, reader: _Reader) -> UploadMetadata | Unset:
        from discourse_async.models import UploadMetadata

        checksum = await reader.sha1()
        return UploadMetadata.from_dict({"sha1-checksum": checksum}) if checksum else UNSET

    async def _multipart(self, plan: _Plan, wanted_part_size: int, concurrency: int) -> Upload:
        reader = plan.reader
        if reader.size == 0:
            raise ValueError("an empty file cannot be sent as an S3 multipart upload; use route='simple'")
        part_size = _part_size(reader.size, wanted_part_size)
        parts = math.ceil(reader.size / part_size)
        metadata = await self._metadata(reader)
        created = await self.create_multipart_upload(
            upload_type=plan.upload_type,  # any upload type the site accepts
            file_name=plan.filename,
            file_size=reader.size,
            metadata=metadata,
        )
        identifier = str(created.unique_identifier)
        external_id = str(created.external_upload_identifier)
        presigned_url = _Presigner(self, identifier, parts)
        read_lock = asyncio.Lock()
        etags: dict[int, str] = {}
        next_part = 1

        async def worker() -> None:
            nonlocal next_part
            while True:
                async with read_lock:
                    if next_part > parts:
                        return
                    number = next_part
                    next_part += 1
                    offset = (number - 1) * part_size
                    length = min(part_size, reader.size - offset)
                    # Streams must be read strictly in order: under the lock. Files and bytes can
                    # be read by offset from several workers at once.
                    data = None if reader.random_access else await reader.read(offset, length)
                if data is None:
                    data = await reader.read(offset, length)
                etags[number] = await self._put_part(plan, number, data, presigned_url)
                # Drop the part before reading the next one: memory stays at one part per worker.
                del data

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, min(concurrency, parts))):
                    group.create_task(worker())
            from discourse_async.models import CompleteMultipartBodyPartsItem as Part

            ordered = [Part(part_number=n, etag=etags[n]) for n in sorted(etags)]
            done = await self.complete_multipart(unique_identifier=identifier, parts=ordered)
            return _as_upload(done)
        except BaseException as exc:
            await self._abort(external_id, plan.filename)
            if isinstance(exc, asyncio.CancelledError):
                raise
            cause = _first_cause(exc)
            if isinstance(cause, asyncio.CancelledError):
                raise cause from exc
            if isinstance(cause, UploadError):
                raise UploadError(str(cause), part_number=cause.part_number, cause=cause.cause or cause) from exc
            raise UploadError(
                f"multipart upload of {plan.filename} failed and was aborted: {type(cause).__name__}: {cause}",
                cause=cause,
            ) from exc

    async def _put_part(
        self,
        plan: _Plan,
        number: int,
        data: bytes | memoryview,
        presigned_url: Callable[..., Any],
    ) -> str:
        """PUT one part, retrying what S3 or the network may fix; return its ETag exactly."""
        fresh = False
        rng = random.Random()  # noqa: S311 - jitter
        for attempt in range(1, PART_ATTEMPTS + 1):
            url = await presigned_url(number, fresh=fresh)
            fresh = False
            try:
                response = await plan.s3.put(
                    url, content=_slices(data, plan), headers={"Content-Length": str(len(data))}
                )
                etag = self._part_answer(response)
            except httpx.RequestError as exc:
                failure = _PartFailed(f"{type(exc).__name__}", retry=True)
            except _PartFailed as exc:
                failure = exc
            else:
                return etag
            if not failure.retry or attempt == PART_ATTEMPTS:
                raise UploadError(
                    f"part {number} of {plan.filename} failed after {attempt} attempt(s): {failure}",
                    part_number=number,
                    cause=failure,
                )
            fresh = failure.represign
            wait = min(0.2 * 2 ** (attempt - 1), 5.0) * (0.5 + rng.random() / 2)
            log.info(
                "%s: part %d attempt %d failed (%s); retrying in %.2fs", plan.filename, number, attempt, failure, wait
            )
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _part_answer(response: httpx.Response | RawResponse) -> str:
        status = response.status_code
        if 200 <= status < 300:
            etag: str | None = response.headers.get("etag")
            if not etag:
                raise _PartFailed("S3 answered without an ETag (is ETag exposed by the bucket's CORS?)", retry=False)
            return etag
        code = _s3_code(response)
        if status == 403 and _EXPIRED.search(response.content or b""):
            raise _PartFailed(f"403 {code or 'expired'}: the presigned URL expired", retry=True, represign=True)
        if status >= 500 or code in ("SlowDown", "RequestTimeout", "InternalError"):
            raise _PartFailed(f"{status} {code}".strip(), retry=True)
        raise _PartFailed(f"{status} {code}".strip(), retry=False)

    async def _abort(self, external_id: str, filename: str) -> None:
        # Shielded: a cancelled upload must still be aborted, or its parts stay in the bucket.
        async def abort() -> None:
            try:
                await self.abort_multipart(external_upload_identifier=external_id)
            except Exception as exc:  # the original failure matters more; report this one in the log
                log.warning("%s: aborting the multipart upload failed: %s", filename, type(exc).__name__)

        task = asyncio.ensure_future(abort())
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
        if not task.done():
            await task


async def _slices(data: bytes | memoryview, plan: _Plan) -> AsyncIterator[bytes]:
    """A part as 1 MiB pieces, reporting progress as they go.

    Sent this way, nothing in the HTTP client keeps the whole part once it is sent (a response
    keeps its request, and the request its body), and progress moves within a part.
    """
    view = memoryview(data)
    sent = 0
    try:
        for start in range(0, len(view), MiB):
            piece = bytes(view[start : start + MiB])
            yield piece
            sent += len(piece)
            plan.progress(len(piece))
    finally:
        # A failed attempt is sent again from the start: take back what it reported.
        if sent < len(view):
            plan.progress(-sent)


def _as_upload(model: Any) -> Upload:
    """The three routes answer with the same upload record (one model); a checked cast."""
    from discourse_async._generated.models import Upload

    if isinstance(model, Upload):
        return model
    return Upload.from_dict(model.to_dict() if hasattr(model, "to_dict") else model)


def _props(value: Any) -> dict[str, Any]:
    """The fields of a generated model (known and additional), or a plain dict."""
    if value is None or isinstance(value, Unset):
        return {}
    if isinstance(value, dict):
        return value
    data: dict[str, Any] = value.to_dict()
    return data


def _first_cause(exc: BaseException) -> BaseException:
    """The first real error inside a TaskGroup's ExceptionGroup."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
