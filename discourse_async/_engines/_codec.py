"""JSON, query strings, and the content codings of response bodies."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json as _json
import zlib
from collections.abc import AsyncIterable, Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

try:  # a faster JSON codec when installed (discourse-async[speed]); the standard library otherwise
    import orjson

    _decode: Callable[[bytes | bytearray | str], Any] = orjson.loads

    def dumps(value: Any) -> bytes:
        """Encode JSON (compact, UTF-8)."""
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - depends on the environment
    _decode = _json.loads

    def dumps(value: Any) -> bytes:
        """Encode JSON (compact, UTF-8)."""
        return _json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


#: Documents from this size up are decoded with the cyclic garbage collector paused.
PAUSE_GC_FROM = 32 * 1024


@contextlib.contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while many acyclic objects are made (when ``pause``).

    A large answer is thousands of new containers. Every 700 of them would start a collection that
    walks the young ones again, and each tenth of those the next generation, and so on up to the
    whole heap: work that finds nothing, as JSON (and a model built over it) has no cycles. Paused,
    the collector meets the new objects once, afterwards (a 1,000-post topic: bench/run.py). The
    pause is process-wide but brief; a collector already off is left off.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def loads(data: bytes | bytearray | str) -> Any:
    """Decode JSON."""
    if len(data) < PAUSE_GC_FROM:
        return _decode(data)
    with gc_paused():  # the decoder runs without giving up the GIL: no other thread's code runs
        return _decode(data)


try:  # lazy documents for large answers to models (discourse-async[speed]); decoded dicts otherwise
    import simdjson

    LazyObject = simdjson.Object
    LazyArray = simdjson.Array
    _Parser = simdjson.Parser
except (ImportError, AttributeError):  # pragma: no cover - not installed, or another package of that name

    class LazyObject:  # type: ignore[no-redef] # stands in for simdjson's: nothing is of this type
        """Never instantiated: simdjson is not installed."""

    class LazyArray:  # type: ignore[no-redef]
        """Never instantiated: simdjson is not installed."""

    _Parser = None  # type: ignore[assignment,misc]

#: JSON objects from this size up are parsed into a lazy document when a model is built from them.
LAZY_FROM = 32 * 1024


def lazy_loads(data: bytes | bytearray) -> LazyObject | None:
    """A large JSON object as a lazy simdjson document, or None (small, not an object, no simdjson).

    simdjson indexes the whole text at once, outside Python's heap, and makes a Python value only
    when a field is read: a model over it costs nothing for the fields nobody reads, and the
    cyclic garbage collector has nothing to walk. None for anything simdjson refuses (numbers past
    64 bits, say), so the standard decoder reads it (or reports it) as it always has.
    """
    if _Parser is None or len(data) < LAZY_FROM or data[:1] != b"{":
        return None
    return lazy_document(data)


def lazy_document(data: bytes | bytearray) -> LazyObject | None:
    """``data`` as a lazy simdjson document whatever its size, or None (see :func:`lazy_loads`)."""
    if _Parser is None:
        return None
    try:
        # A parser per document: a document keeps its parser, and a parser holds one document.
        document = _Parser().parse(data)
    except (ValueError, RuntimeError):  # UnicodeDecodeError is a ValueError
        return None
    return document if type(document) is LazyObject else None


async def read_body(pieces: AsyncIterable[bytes], codings: Sequence[bytes], limit: int) -> bytes | bytearray:
    """A body read raw from ``pieces``, refused past ``limit``, its content ``codings`` then undone."""
    received: list[bytes] = []
    size = 0
    async for piece in pieces:
        size += len(piece)
        if size > limit:
            raise ResponseTooLarge(f"the response body is larger than {limit} bytes")
        received.append(piece)
    content = b"".join(received)
    if codings and content:  # HEAD, 204, 304 and empty bodies name a coding they do not use
        return await decode_body(content, codings, limit)
    return content


def encode_params(params: Mapping[str, Any] | None) -> str:
    """A query string with httpx's conventions: booleans as true/false, lists repeated, None dropped."""
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is None:
                continue
            pairs.append((key, "true" if item is True else "false" if item is False else str(item)))
    return urlencode(pairs)


class ResponseTooLarge(httpx.DecodingError):
    """A body, as received or once decoded, over the engine's size limit."""


#: Output per decompression step, and how much output between two yields to the event loop: a
#: step takes well under a millisecond, so no response holds the loop for more than a few.
_STEP = 256 * 1024
_STEPS_PER_YIELD = 8


def codings_of(values: Sequence[bytes]) -> list[bytes]:
    """The content codings named by every ``Content-Encoding`` header, in the order applied."""
    codings = []
    for value in values:
        for part in value.split(b","):
            token = part.strip().lower()
            if token and token != b"identity":
                codings.append(token)
    return codings


async def decode_body(body: bytes | bytearray, codings: Sequence[bytes], limit: int) -> bytes | bytearray:
    """Undo ``codings`` (applied in that order, so undone last first), refusing more than ``limit`` bytes.

    Raises ``httpx.DecodingError`` for a coding we do not know or a body that does not decode
    (corrupt or truncated), ``ResponseTooLarge`` past ``limit``. An empty body stays empty: HEAD,
    204 and 304 answers name a coding without having a body.
    """
    for coding in reversed(codings):
        if not body:
            return body
        if coding in (b"gzip", b"x-gzip"):
            body = await _inflate(body, 16 + zlib.MAX_WBITS, limit, coding, members=True)
        elif coding == b"deflate":
            # RFC 9110 says zlib-wrapped; some servers send raw deflate. The header tells them apart.
            wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
            body = await _inflate(body, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS, limit, coding, members=False)
        else:
            name = coding.decode("latin-1")
            raise httpx.DecodingError(f"the response is encoded with {name!r}, which was not asked for")
    return body


async def _inflate(data: bytes | bytearray, wbits: int, limit: int, coding: bytes, *, members: bool) -> bytes:
    name = coding.decode()
    out: list[bytes] = []
    total = steps = 0
    decoder = zlib.decompressobj(wbits)
    pending = data
    try:
        while True:
            piece = decoder.decompress(pending, _STEP)
            pending = decoder.unconsumed_tail
            total += len(piece)
            if total > limit:
                raise ResponseTooLarge(f"the {name} body decodes to more than {limit} bytes")
            out.append(piece)
            if decoder.eof:
                rest = decoder.unused_data
                if members and rest.strip(b"\0"):  # gzip allows several members one after another
                    decoder, pending = zlib.decompressobj(wbits), rest
                    continue
                if rest.strip(b"\0"):
                    raise httpx.DecodingError(f"{len(rest)} bytes after the end of the {name} body")
                break
            if not pending and len(piece) < _STEP:
                raise httpx.DecodingError(f"the {name} body is truncated")
            steps += 1
            if steps % _STEPS_PER_YIELD == 0:
                await asyncio.sleep(0)
    except zlib.error as exc:
        raise httpx.DecodingError(f"could not decode the {name} body: {exc}") from exc
    return out[0] if len(out) == 1 else b"".join(out)
