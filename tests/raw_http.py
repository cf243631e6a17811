"""Reading requests on a raw asyncio test server (the few lines of HTTP/1.1 our tests' servers need)."""

from __future__ import annotations

import asyncio


async def read_request_head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]] | None:
    """The next request's method, target and headers (names lowercased); None once the client is gone."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    line, *rest = head.decode().split("\r\n")
    method, target, _ = line.split(" ")
    return method, target, {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
