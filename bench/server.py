"""A loopback HTTP/1.1 server fast enough not to be the bottleneck: canned Discourse JSON.

    python bench/server.py --port 0 [--latency-ms 20] [--tls-cert cert.pem --tls-key key.pem]

It answers every request with a pre-built response (a /latest.json topic list for any path, a
20-post topic for /t/<id>.json, a 1,000-post topic for /t/big.json): no routing, no JSON encoding
at request time, keep-alive, pipelining-safe. With --tls-cert/--tls-key it speaks HTTPS (TLS 1.2 and
1.3; session tickets, so a client that offers a session resumes it).
Prints "READY <port>" when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from payloads import latest_json, topic_json


def build_response(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Discourse-Route: list/latest\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


class Handler(asyncio.Protocol):
    """Parses just enough HTTP/1.1 (headers, Content-Length) to answer keep-alive requests."""

    def __init__(self, responses: dict[bytes, bytes], latency: float) -> None:
        self.responses = responses
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            path = head.split(b" ", 2)[1]
            self.buffer = self.buffer[end + 4 + length :]
            if path.startswith(b"/t/big"):
                response = self.responses[b"/t/big"]
            elif path.startswith(b"/t/"):
                response = self.responses[b"/t/"]
            else:
                response = self.responses[b"/"]
            if self.latency:
                asyncio.get_running_loop().call_later(self.latency, self._send, response)
            else:
                self._send(response)

    def _send(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(sock: socket.socket, latency: float, context: ssl.SSLContext | None = None) -> None:
    responses = {
        b"/": build_response(json.dumps(latest_json()).encode()),
        b"/t/": build_response(json.dumps(topic_json(20)).encode()),
        b"/t/big": build_response(json.dumps(topic_json(1000)).encode()),
    }
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Handler(responses, latency), sock=sock, backlog=4096, ssl=context)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(4096)
    sock.setblocking(False)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    try:
        import uvloop

        uvloop.run(serve(sock, args.latency_ms / 1000, context))
    except ImportError:
        asyncio.run(serve(sock, args.latency_ms / 1000, context))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
