"""Serving the fake over a real socket with uvicorn: in the running event loop, or in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone (tests and threads own them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return None


def _server(app: Any, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=2
    )
    return _Server(config)


def _bound_url(server: _Server, host: str) -> str:
    sockets = [sock for srv in server.servers for sock in srv.sockets]
    return f"http://{host}:{sockets[0].getsockname()[1]}"


@contextlib.asynccontextmanager
async def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0 picks a free port) in this event loop; yields its base URL."""
    server = _server(app, host, port)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed (port in use...): raise its error
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.005)
    try:
        yield _bound_url(server, host)
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def run_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread with its own event loop; yields its base URL.

    For synchronous code (scripts, the demo, other test runners); async tests can use :func:`serve`.
    """
    server = _server(app, host, port)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name="fake-discourse", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the fake Discourse server did not start: {failure[:1]}")
        threading.Event().wait(0.005)
    try:
        yield _bound_url(server, host)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
