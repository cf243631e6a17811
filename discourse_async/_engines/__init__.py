"""The engines that put bytes on the wire, behind one small interface.

The built-in engine (:mod:`.builtin`) is the default: httpx's own connection pool slows down as
concurrency rises (measured in bench/: a few hundred requests/s at 64 calls in flight), and the
bots this client is for run hundreds of calls at once; aiohttp holds up but spends most of the
client's time per request (see :mod:`.builtin`). The httpx engine (:mod:`.httpx_engine`) is used whenever
a ``transport=`` is given (mocks, ``httpx.ASGITransport``, custom engines), when httpx is being
mocked (pytest-httpx), when proxy variables are set, or on request; it keeps the whole httpx
interface. The aiohttp engine (:mod:`.aiohttp_engine`) is there on request.

All take a :class:`Request` and give a :class:`RawResponse`; none follows redirects, adds
credentials or retries: that is the request path's job, written once in ``_transport.py``.
"""

from __future__ import annotations

import importlib.util
import os

import httpx

from discourse_async._engines._codec import dumps, encode_params, loads
from discourse_async._engines._types import DEFAULT_MAX_RESPONSE_SIZE, Engine, NotSent, RawResponse, Request
from discourse_async._engines.aiohttp_engine import AiohttpEngine, proxy_configured
from discourse_async._engines.httpx_engine import HttpxEngine
from discourse_async._extras import MissingExtraError

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "ENGINES",
    "AiohttpEngine",
    "Engine",
    "HttpxEngine",
    "NotSent",
    "RawResponse",
    "Request",
    "choose_engine",
    "dumps",
    "encode_params",
    "httpx_is_mocked",
    "loads",
]


def httpx_is_mocked() -> bool:
    """Whether a test tool (pytest-httpx, respx) has replaced httpx's transport: then httpx must send."""
    method = httpx.AsyncHTTPTransport.handle_async_request
    return getattr(method, "__module__", "").split(".")[0] != "httpx"


ENGINES = ("builtin", "aiohttp", "httpx")


def choose_engine(engine: str | None, transport: httpx.AsyncBaseTransport | None) -> str:
    """The engine to use.

    The one asked for; else httpx when a transport is given or httpx is mocked (a test's mock must
    see the requests); else ``DISCOURSE_ASYNC_ENGINE`` when set; else httpx when proxy variables
    are set (the built-in engine does not use proxies); else the built-in engine.
    """
    for choice in (engine, os.environ.get("DISCOURSE_ASYNC_ENGINE")):
        if choice and choice not in ENGINES:
            raise ValueError(f"unknown engine {choice!r}: use one of {', '.join(ENGINES)}")
    if transport is not None:
        if engine not in (None, "httpx"):
            raise ValueError("transport= is an httpx transport: it needs engine='httpx'")
        return "httpx"
    choice = engine or ("httpx" if httpx_is_mocked() else os.environ.get("DISCOURSE_ASYNC_ENGINE"))
    if not choice:
        return "httpx" if proxy_configured() else "builtin"
    if choice == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        raise MissingExtraError('engine="aiohttp"', "aiohttp", "aiohttp")
    return choice
