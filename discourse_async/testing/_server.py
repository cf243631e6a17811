"""Serving the fake over a real socket with uvicorn: in the running event loop, or in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
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


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, bound here so that a taken port raises ``OSError`` at once.

    (uvicorn binding it itself would log the error and call ``sys.exit``.)
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _bound_url(sock: socket.socket, host: str) -> str:
    return f"http://{host}:{sock.getsockname()[1]}"


@contextlib.asynccontextmanager
async def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0 picks a free port) in this event loop; yields its base URL."""
    server = _server(app, host, port)
    sock = _bind(host, port)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        yield _bound_url(sock, host)
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def run_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread with its own event loop; yields its base URL.

    For synchronous code (scripts, the demo, other test runners); async tests can use :func:`serve`.
    """
    server = _server(app, host, port)
    sock = _bind(host, port)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name="fake-discourse", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the fake Discourse server did not start: {failure[:1]}")
            threading.Event().wait(0.005)
        yield _bound_url(sock, host)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
