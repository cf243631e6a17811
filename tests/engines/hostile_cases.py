"""The hostile-server cases: what each server does, and what the client must make of it.

``ok``: the call must give this value; ``error``: one of our typed errors (of a given class when
named); ``either``: the value or a typed error (both are honest). Wrong data taken for success, an
error of another type, a hang or a socket left open is never acceptable.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from functools import cache
from typing import Any

from tests.engines.hostile import (
    CANCELLED,
    CLOSE,
    CREDS,
    HOLD,
    NO_READ,
    READ,
    RESET,
    SHUT_WR,
    Call,
    Case,
    Script,
    drip,
    either,
    error,
    flood,
    ok,
    ok_none,
    send,
    sleep,
)

OK_BODY = b'{"ok": true}'
R2 = {"second": True}
R2_BODY = b'{"second": true}'
STALE = b'{"stale": true}'


def resp(body: bytes = OK_BODY, status: str = "200 OK", headers: str = "", length: bool = True) -> bytes:
    """A response, byte for byte; Content-Length added unless ``length`` is False or headers set one."""
    extra = headers
    if length and "content-length" not in headers.lower():
        extra += f"Content-Length: {len(body)}\r\n"
    return f"HTTP/1.1 {status}\r\n{extra}\r\n".encode() + body


def chunked(*pieces: bytes, headers: str = "") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    return f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{headers}\r\n".encode() + body


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@cache
def bomb(size: int = 16 * 1024 * 1024) -> bytes:
    """``size`` zero bytes, gzipped (a thousand to one)."""
    return gzip.compress(b"\0" * size, compresslevel=9, mtime=0)


def one(*steps: Any) -> tuple[Script, ...]:
    """The same script on every connection."""
    return (tuple(steps),)


def then_fresh(*first: Any) -> tuple[Script, ...]:
    """``first`` on the first connection; any later one answers R2."""
    return (tuple(first), (READ, send(resp(R2_BODY))))


TWO = (Call(), Call(ok(R2), pause=0.1))
TWO_POST = (Call(), Call(ok(R2), method="POST", content=b"{}", pause=0.1))
TYPED = b'{"id": 1, "title": "A title long enough"}'
BIG = json.dumps({"items": [{"n": i, "text": "x" * 40} for i in range(40_000)]}).encode()
# JSON that gzip cannot shrink much: hex of random bytes (seeded, so every run sends the same).
INCOMPRESSIBLE = json.dumps({"hex": random.Random(1).randbytes(512 * 1024).hex()}).encode()


def _cases() -> list[Case]:
    c: list[Case] = []

    def add(name: str, group: str, what: str, scripts: tuple[Script, ...], *calls: Call, **kw: Any) -> None:
        c.append(Case(name, group, what, scripts, calls or (Call(),), **kw))

    g = "framing"
    add("length", g, "Content-Length body", one(READ, send(resp())))
    add("chunked", g, "chunked body in two chunks", one(READ, send(chunked(b'{"ok":', b" true}"))))
    add(
        "chunk-ext",
        g,
        "chunk extensions",
        one(
            READ,
            send(resp(b'c;a=b\r\n{"ok": true}\r\n0\r\n\r\n', headers="Transfer-Encoding: chunked\r\n", length=False)),
        ),
    )
    add(
        "trailers",
        g,
        "chunked body with trailers",
        one(
            READ,
            send(
                resp(
                    b'c\r\n{"ok": true}\r\n0\r\nX-T: 1\r\n\r\n', headers="Transfer-Encoding: chunked\r\n", length=False
                )
            ),
        ),
    )
    add(
        "until-close",
        g,
        "no length, Connection: close, then FIN",
        one(READ, send(resp(headers="Connection: close\r\n", length=False)), CLOSE),
    )
    add("until-close-bare", g, "no length, no Connection header, then FIN", one(READ, send(resp(length=False)), CLOSE))
    add(
        "http10-until-close",
        g,
        "HTTP/1.0, no length, then FIN",
        one(READ, send(b"HTTP/1.0 200 OK\r\n\r\n" + OK_BODY), CLOSE),
    )
    add(
        "short-length-fin",
        g,
        "Content-Length 100, 12 bytes, FIN",
        one(READ, send(resp(headers="Content-Length: 100\r\n")), CLOSE),
        Call(error()),
    )
    add(
        "short-length-rst",
        g,
        "Content-Length 100, 12 bytes, RST",
        one(READ, send(resp(headers="Content-Length: 100\r\n")), sleep(0.05), RESET),
        Call(error()),
    )
    add(
        "chunked-no-end",
        g,
        "chunked without the last chunk, FIN",
        one(READ, send(resp(b'c\r\n{"ok": true}\r\n', headers="Transfer-Encoding: chunked\r\n", length=False)), CLOSE),
        Call(error()),
    )
    add(
        "chunk-size-garbage",
        g,
        "chunk size `zz`",
        one(READ, send(resp(b"zz\r\nxx\r\n0\r\n\r\n", headers="Transfer-Encoding: chunked\r\n", length=False))),
        Call(error()),
    )
    add(
        "chunk-size-overflow",
        g,
        "chunk size of 20 hex digits",
        one(
            READ,
            send(
                resp(b"fffffffffffffffffff1\r\nxx\r\n0\r\n\r\n", headers="Transfer-Encoding: chunked\r\n", length=False)
            ),
        ),
        Call(error()),
    )
    add(
        "chunk-longer-than-data",
        g,
        "chunk announces 100 bytes, 12 come, FIN",
        one(READ, send(resp(b'64\r\n{"ok": true}', headers="Transfer-Encoding: chunked\r\n", length=False)), CLOSE),
        Call(error()),
    )
    add(
        "chunk-no-crlf",
        g,
        "chunk data not followed by CRLF",
        one(READ, send(resp(b'c\r\n{"ok": true}XX0\r\n\r\n', headers="Transfer-Encoding: chunked\r\n", length=False))),
        Call(error()),
    )
    add("length-zero", g, "Content-Length 0", one(READ, send(resp(b""))), Call(ok_none()))
    add(
        "length-leading-zeros",
        g,
        "Content-Length 0012",
        one(READ, send(resp(headers="Content-Length: 0012\r\n"))),
        Call(either()),
    )
    add(
        "length-negative",
        g,
        "Content-Length -1",
        one(READ, send(resp(headers="Content-Length: -1\r\n"))),
        Call(error()),
    )
    add(
        "length-garbage",
        g,
        "Content-Length abc",
        one(READ, send(resp(headers="Content-Length: abc\r\n"))),
        Call(error()),
    )
    add(
        "length-plus", g, "Content-Length +12", one(READ, send(resp(headers="Content-Length: +12\r\n"))), Call(either())
    )
    add(
        "length-twice-differ",
        g,
        "Content-Length 5 and 12",
        one(READ, send(resp(headers="Content-Length: 5\r\nContent-Length: 12\r\n"))),
        Call(error()),
    )
    add(
        "length-list-same",
        g,
        "Content-Length `12, 12`",
        one(READ, send(resp(headers="Content-Length: 12, 12\r\n"))),
        Call(either()),
    )
    add(
        "length-twice-same",
        g,
        "Content-Length 12 twice",
        one(READ, send(resp(headers="Content-Length: 12\r\ncontent-length: 12\r\n"))),
        Call(either()),
    )
    add("body-longer-than-length", g, "Content-Length 12, more bytes, FIN", one(READ, send(resp() + b"XXXX"), CLOSE))
    add(
        "no-reason",
        g,
        "status line without a reason",
        one(READ, send(b"HTTP/1.1 200\r\nContent-Length: 12\r\n\r\n" + OK_BODY)),
    )
    add("status-999", g, "status 999", one(READ, send(resp(status="999 Odd"))), Call(error()))
    add("status-garbage", g, "status `abc`", one(READ, send(resp(status="abc OK"))), Call(error()))
    add(
        "http2-status",
        g,
        "`HTTP/2.0` status line",
        one(READ, send(resp().replace(b"HTTP/1.1", b"HTTP/2.0"))),
        Call(either()),
    )
    add("bare-lf", g, "lines ended by LF alone", one(READ, send(resp().replace(b"\r\n", b"\n"))), Call(either()))
    add("not-http", g, "an answer that is not HTTP", one(READ, send(b"hello there\r\n\r\n"), CLOSE), Call(error()))
    add("empty-answer", g, "FIN without a byte", one(READ, CLOSE), Call(error()))
    add(
        "header-no-colon",
        g,
        "a header line without a colon",
        one(READ, send(resp(headers="Broken header\r\n"))),
        Call(either()),
    )
    add(
        "space-before-colon",
        g,
        "`Content-Length : 12`",
        one(READ, send(resp(headers="Content-Length : 12\r\n", length=False)), sleep(0.1), CLOSE),
        Call(either()),
    )
    add("obs-fold", g, "a folded header line", one(READ, send(resp(headers="X-A: 1\r\n  2\r\n"))), Call(either()))
    add("nul-in-header", g, "NUL in a header value", one(READ, send(resp(headers="X-A: a\0b\r\n"))), Call(either()))
    add("no-content-type", g, "JSON without Content-Type", one(READ, send(resp())))

    g = "desync"
    add(
        "garbage-after",
        g,
        "bytes after a complete answer, same segment",
        then_fresh(READ, send(resp() + b"GARBAGE"), READ, send(resp(R2_BODY))),
        *TWO,
    )
    add(
        "unsolicited-after",
        g,
        "a second, unasked answer in the same segment",
        then_fresh(READ, send(resp() + resp(STALE)), READ, HOLD),
        *TWO,
    )
    add(
        "unsolicited-after-chunked",
        g,
        "an unasked answer after a chunked one",
        then_fresh(READ, send(chunked(OK_BODY) + resp(STALE)), READ, HOLD),
        *TWO,
    )
    add(
        "unsolicited-split",
        g,
        "answer's tail and an unasked answer in a later segment",
        then_fresh(READ, send(resp()[:-4]), sleep(0.02), send(resp()[-4:] + resp(STALE)), READ, HOLD),
        *TWO,
    )
    add(
        "late-unsolicited",
        g,
        "an unasked answer on the idle connection",
        then_fresh(READ, send(resp()), sleep(0.03), send(resp(STALE)), READ, HOLD),
        *TWO,
    )
    add(
        "late-garbage",
        g,
        "bytes on the idle connection",
        then_fresh(READ, send(resp()), sleep(0.03), send(b"XX"), READ, send(resp(STALE))),
        *TWO,
    )
    add(
        "204-with-body",
        g,
        "204 followed by body bytes",
        then_fresh(
            READ,
            send(resp(status="204 No Content", headers="Content-Length: 12\r\n", length=False) + OK_BODY),
            READ,
            HOLD,
        ),
        Call(ok_none()),
        Call(ok(R2), pause=0.1),
    )
    add(
        "304-with-body",
        g,
        "304 followed by body bytes",
        then_fresh(
            READ,
            send(resp(status="304 Not Modified", headers="Content-Length: 12\r\n", length=False) + OK_BODY),
            READ,
            HOLD,
        ),
        Call(error()),
        Call(ok(R2), pause=0.1),
    )
    add(
        "head-with-body",
        g,
        "HEAD answered with a body",
        then_fresh(READ, send(resp()), READ, HOLD),
        Call(ok((200, b"")), method="HEAD", kind="raw"),
        Call(ok(R2), pause=0.1),
    )
    add(
        "connection-close-kept-open",
        g,
        "`Connection: close`, connection kept open",
        then_fresh(READ, send(resp(headers="Connection: close\r\n")), READ, send(resp(STALE))),
        *TWO,
    )
    add(
        "http10-kept-open",
        g,
        "HTTP/1.0 answer, connection kept open",
        then_fresh(READ, send(resp().replace(b"HTTP/1.1", b"HTTP/1.0")), READ, send(resp(STALE))),
        *TWO,
    )
    add(
        "crlf-after",
        g,
        "an empty line after the answer",
        then_fresh(READ, send(resp() + b"\r\n"), READ, send(resp(R2_BODY))),
        *TWO,
    )
    add(
        "interim-after",
        g,
        "a 100 Continue after the final answer",
        then_fresh(READ, send(resp() + b"HTTP/1.1 100 Continue\r\n\r\n"), READ, HOLD),
        *TWO,
    )
    add(
        "early-answer-stale",
        g,
        "answer, then 408 on the idle connection",
        then_fresh(READ, send(resp()), sleep(0.03), send(resp(b"", "408 Request Timeout")), READ, HOLD),
        *TWO,
    )

    g = "smuggling"
    body_chunked = b'c\r\n{"ok": true}\r\n0\r\n\r\n'
    add(
        "length-and-chunked",
        g,
        "Content-Length 3 and chunked",
        then_fresh(
            READ,
            send(resp(body_chunked, headers="Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")),
            READ,
            send(resp(STALE)),
        ),
        Call(either()),
        Call(ok(R2), pause=0.1),
    )
    add(
        "chunked-and-length",
        g,
        "chunked, then Content-Length 3",
        then_fresh(
            READ,
            send(resp(body_chunked, headers="Transfer-Encoding: chunked\r\nContent-Length: 3\r\n")),
            READ,
            send(resp(STALE)),
        ),
        Call(either()),
        Call(ok(R2), pause=0.1),
    )
    add(
        "chunked-twice",
        g,
        "`chunked, chunked`",
        one(READ, send(resp(body_chunked, headers="Transfer-Encoding: chunked, chunked\r\n", length=False)), CLOSE),
        Call(either()),
    )
    add(
        "chunked-space",
        g,
        "`Transfer-Encoding:  chunked`",
        one(READ, send(resp(body_chunked, headers="Transfer-Encoding:  chunked\r\n", length=False))),
        Call(either()),
    )
    add(
        "chunked-upper",
        g,
        "`Transfer-Encoding: CHUNKED`",
        one(READ, send(resp(body_chunked, headers="Transfer-Encoding: CHUNKED\r\n", length=False))),
        Call(either()),
    )
    add(
        "xchunked",
        g,
        "`Transfer-Encoding: xchunked`, plain body, FIN",
        one(READ, send(resp(headers="Transfer-Encoding: xchunked\r\n", length=False)), CLOSE),
        Call(either()),
    )
    add(
        "chunked-http10",
        g,
        "chunked in an HTTP/1.0 answer",
        one(
            READ,
            send(
                resp(body_chunked, headers="Transfer-Encoding: chunked\r\n", length=False).replace(
                    b"HTTP/1.1", b"HTTP/1.0"
                )
            ),
            CLOSE,
        ),
        Call(either()),
    )
    add(
        "chunked-folded",
        g,
        "Transfer-Encoding folded onto a second line",
        one(READ, send(resp(body_chunked, headers="Transfer-Encoding:\r\n chunked\r\n", length=False)), CLOSE),
        Call(either()),
    )
    add(
        "chunk-size-space",
        g,
        "chunk size with a leading space",
        one(
            READ,
            send(resp(b' c\r\n{"ok": true}\r\n0\r\n\r\n', headers="Transfer-Encoding: chunked\r\n", length=False)),
            CLOSE,
        ),
        Call(either()),
    )
    add(
        "chunk-size-0x",
        g,
        "chunk size `0xc`",
        one(
            READ,
            send(resp(b'0xc\r\n{"ok": true}\r\n0\r\n\r\n', headers="Transfer-Encoding: chunked\r\n", length=False)),
            CLOSE,
        ),
        Call(either()),
    )
    add(
        "identity-then-chunked",
        g,
        "`Transfer-Encoding: identity` and `chunked`",
        one(
            READ,
            send(
                resp(
                    body_chunked, headers="Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", length=False
                )
            ),
            CLOSE,
        ),
        Call(either()),
    )
    add(
        "length-with-space",
        g,
        "`Content-Length: 1 2`",
        one(READ, send(resp(headers="Content-Length: 1 2\r\n")), CLOSE),
        Call(either()),
    )
    add(
        "name-with-space",
        g,
        "`Content Length: 12`",
        one(READ, send(resp(headers="Content Length: 12\r\n", length=False)), sleep(0.05), CLOSE),
        Call(either()),
    )
    add(
        "bare-cr",
        g,
        "a bare CR inside a header value",
        one(READ, send(resp(headers="X-A: a\rContent-Length: 1\r\n"))),
        Call(either()),
    )
    add(
        "chunk-ext-huge",
        g,
        "a 100 KiB chunk extension",
        one(
            READ,
            send(
                resp(
                    b"c;" + b"a" * 100_000 + b'\r\n{"ok": true}\r\n0\r\n\r\n',
                    headers="Transfer-Encoding: chunked\r\n",
                    length=False,
                )
            ),
            CLOSE,
        ),
        Call(either()),
    )

    g = "stale keep-alive"
    add("idle-fin-get", g, "FIN on the idle connection, then a GET", then_fresh(READ, send(resp()), CLOSE), *TWO)
    add(
        "idle-fin-post",
        g,
        "FIN on the idle connection, then a POST",
        then_fresh(READ, send(resp()), CLOSE),
        *TWO_POST,
        max_posts=1,
    )
    add(
        "idle-rst-post",
        g,
        "RST on the idle connection, then a POST",
        then_fresh(READ, send(resp()), sleep(0.02), RESET),
        *TWO_POST,
        max_posts=1,
    )
    add(
        "fin-with-answer-post",
        g,
        "FIN right behind the answer, then a POST",
        then_fresh(READ, send(resp()), CLOSE),
        Call(),
        Call(ok(R2), method="POST", content=b"{}", pause=0.05),
        max_posts=1,
    )
    add("idle-half-close", g, "write side shut on the idle connection", then_fresh(READ, send(resp()), SHUT_WR), *TWO)
    add(
        "idle-408-post",
        g,
        "408 and FIN on the idle connection, then a POST",
        then_fresh(
            READ, send(resp()), sleep(0.03), send(resp(b"", "408 Request Timeout", "Connection: close\r\n")), CLOSE
        ),
        Call(),
        Call(ok(R2), method="POST", content=b"{}", pause=0.3),
        max_posts=1,
    )
    add("reuse", g, "two answers on one connection", one(READ, send(resp()), READ, send(resp(R2_BODY))), *TWO)
    add(
        "hangup-get-retried",
        g,
        "request read, FIN without answer (GET, one retry)",
        then_fresh(READ, CLOSE),
        Call(ok(R2)),
        retries=1,
    )
    add(
        "hangup-post-not-retried",
        g,
        "request read, FIN without answer (POST, two retries)",
        then_fresh(READ, CLOSE),
        Call(error(), method="POST", content=b"{}"),
        retries=2,
        max_posts=1,
    )
    add(
        "reset-post-not-retried",
        g,
        "request read, RST (POST, two retries)",
        then_fresh(READ, RESET),
        Call(error(), method="POST", content=b"{}"),
        retries=2,
        max_posts=1,
    )

    g = "1xx"
    add("continue", g, "100 Continue, then 200", one(READ, send(b"HTTP/1.1 100 Continue\r\n\r\n" + resp())))
    add(
        "three-interim",
        g,
        "100, 102, 103, then 200",
        one(
            READ,
            send(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                + resp()
            ),
        ),
    )
    add(
        "early-hints-split",
        g,
        "103 and 200 in separate segments",
        one(READ, send(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"), sleep(0.02), send(resp())),
    )
    add(
        "switching",
        g,
        "101 Switching Protocols",
        one(
            READ,
            send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n" + resp()),
        ),
        Call(error()),
    )
    add(
        "interim-flood",
        g,
        "5,000 `100 Continue`, then 200",
        one(READ, flood(b"HTTP/1.1 100 Continue\r\n\r\n", 5000), send(resp())),
        Call(either()),
    )
    add(
        "interim-endless",
        g,
        "`100 Continue` for 1 MiB, and no final answer",
        one(READ, flood(b"HTTP/1.1 100 Continue\r\n\r\n", 40_000)),
        Call(error()),
        read_timeout=0.5,
    )
    add(
        "interim-with-body",
        g,
        "a 100 with a body",
        one(READ, send(b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello" + resp())),
        Call(either()),
    )
    add(
        "continue-then-fin",
        g,
        "100 Continue, then FIN",
        one(READ, send(b"HTTP/1.1 100 Continue\r\n\r\n"), CLOSE),
        Call(error()),
    )
    add(
        "interim-drip",
        g,
        "100 interims of 100 Continue, one per write, then 200",
        # Written apart but without waits: how an engine meets them cannot depend on the machine's load.
        one(READ, drip(b"HTTP/1.1 100 Continue\r\n\r\n" * 100, 0.0, 25), send(resp())),
        Call(either()),
    )

    g = "header bombs"
    add(
        "huge-value",
        g,
        "one header value of 8 MiB",
        one(
            READ,
            send(b"HTTP/1.1 200 OK\r\nX-Big: "),
            flood(b"a" * 1024, 8192),
            send(b"\r\nContent-Length: 12\r\n\r\n" + OK_BODY),
        ),
        Call(error()),
    )
    add(
        "many-headers",
        g,
        "100,000 header lines",
        one(
            READ,
            send(b"HTTP/1.1 200 OK\r\n"),
            flood(b"X-N: 1\r\n", 100_000),
            send(b"Content-Length: 12\r\n\r\n" + OK_BODY),
        ),
        Call(error()),
    )
    add(
        "repeated-name",
        g,
        "60,000 lines of one name",
        one(
            READ,
            send(b"HTTP/1.1 200 OK\r\n"),
            flood(b"Set-Cookie: a=b\r\n", 60_000),
            send(b"Content-Length: 12\r\n\r\n" + OK_BODY),
        ),
        Call(error()),
    )
    add(
        "under-head-limit",
        g,
        "30 headers of 2 KiB (60 KiB)",
        one(READ, send(resp(headers="".join(f"X-{i}: {'v' * 2000}\r\n" for i in range(30))))),
    )
    add(
        "over-head-count",
        g,
        "300 short headers",
        one(READ, send(resp(headers="".join(f"X-{i}: 1\r\n" for i in range(300))))),
        Call(error()),
    )
    add(
        "many-short-headers",
        g,
        "200 short headers",
        one(READ, send(resp(headers="".join(f"X-{i}: 1\r\n" for i in range(200))))),
    )
    add(
        "long-reason", g, "a 100 KiB reason phrase", one(READ, send(resp(status="200 " + "O" * 100_000))), Call(error())
    )
    add(
        "long-name", g, "a 100 KiB header name", one(READ, send(resp(headers="X" * 100_000 + ": 1\r\n"))), Call(error())
    )
    add(
        "interim-heads",
        g,
        "five 1xx answers of 20 KiB headers each",
        one(
            READ,
            send(
                b"".join(b"HTTP/1.1 103 Early Hints\r\nLink: " + b"a" * 20_000 + b"\r\n\r\n" for _ in range(5)) + resp()
            ),
        ),
        Call(error()),
    )
    add(
        "slow-head",
        g,
        "1 MiB of headers in 4 KiB pieces",
        one(READ, send(b"HTTP/1.1 200 OK\r\n"), drip((b"X-A: " + b"b" * 1017 + b"\r\n") * 1024, 0.001, 4096)),
        Call(error()),
    )
    add("value-16k", g, "one 16 KiB header value", one(READ, send(resp(headers=f"X-A: {'v' * 16384}\r\n"))))
    add(
        "latin1-header-200",
        g,
        "bytes 0x80-0xff in a header of a 200",
        one(READ, send(resp().replace(b"\r\n\r\n", b"\r\nX-Name: caf\xe9 \xff\xfe\r\n\r\n", 1))),
    )
    add(
        "latin1-header-404",
        g,
        "bytes 0x80-0xff in a header of a 404",
        one(
            READ,
            send(
                resp(
                    b'{"errors": ["gone"], "error_type": "not_found"}', "404 Not Found", "X-Name: caf\xe9\r\n"
                ).replace(b"caf\xc3\xa9", b"caf\xe9\xff")
            ),
        ),
        Call(error("NotFoundError")),
    )
    add(
        "latin1-header-500",
        g,
        "bytes 0x80-0xff in a header of a 500",
        one(READ, send(resp(b"oops", "500 Internal Server Error").replace(b"\r\n\r\n", b"\r\nX-Why: \xff\r\n\r\n", 1))),
        Call(error("InternalServerError")),
    )
    add(
        "latin1-header-429",
        g,
        "bytes 0x80-0xff in Retry-After of a 429",
        one(
            READ,
            send(
                resp(b"slow down", "429 Too Many Requests").replace(
                    b"\r\n\r\n", b"\r\nRetry-After: \xff\xfe\r\n\r\n", 1
                )
            ),
        ),
        Call(error("RateLimitError")),
    )
    add(
        "utf8-header-403",
        g,
        "UTF-8 in a header of a 403",
        one(
            READ,
            send(
                resp(
                    b'{"errors": ["no"], "error_type": "invalid_access"}',
                    "403 Forbidden",
                    "X-Name: caf\u00e9 \u2603\r\n",
                )
            ),
        ),
        Call(error("PermissionDeniedError")),
    )

    g = "codings"
    add("gzip", g, "gzip", one(READ, send(resp(gz(OK_BODY), headers="Content-Encoding: gzip\r\n"))))
    add(
        "deflate",
        g,
        "deflate (zlib)",
        one(READ, send(resp(zlib.compress(OK_BODY), headers="Content-Encoding: deflate\r\n"))),
    )
    raw_deflate = zlib.compressobj(wbits=-15)
    add(
        "deflate-raw",
        g,
        "deflate without the zlib wrapper",
        one(
            READ,
            send(resp(raw_deflate.compress(OK_BODY) + raw_deflate.flush(), headers="Content-Encoding: deflate\r\n")),
        ),
    )
    add(
        "gzip-gzip",
        g,
        "`gzip, gzip`",
        one(READ, send(resp(gz(gz(OK_BODY)), headers="Content-Encoding: gzip, gzip\r\n"))),
    )
    add(
        "gzip-two-headers",
        g,
        "two `Content-Encoding: gzip` lines",
        one(READ, send(resp(gz(gz(OK_BODY)), headers="Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n"))),
    )
    add(
        "deflate-gzip",
        g,
        "`deflate, gzip`",
        one(READ, send(resp(gz(zlib.compress(OK_BODY)), headers="Content-Encoding: deflate, gzip\r\n"))),
    )
    add("identity", g, "`identity`", one(READ, send(resp(headers="Content-Encoding: identity\r\n"))))
    add(
        "identity-gzip",
        g,
        "`identity, gzip`",
        one(READ, send(resp(gz(OK_BODY), headers="Content-Encoding: identity, gzip\r\n"))),
    )
    add("gzip-upper", g, "`GZIP`", one(READ, send(resp(gz(OK_BODY), headers="Content-Encoding: GZIP\r\n"))))
    add("gzip-spaces", g, "`  gzip  `", one(READ, send(resp(gz(OK_BODY), headers="Content-Encoding:   gzip  \r\n"))))
    add("x-gzip", g, "`x-gzip`", one(READ, send(resp(gz(OK_BODY), headers="Content-Encoding: x-gzip\r\n"))))
    add(
        "gzip-members",
        g,
        "gzip of three members",
        one(READ, send(resp(gz(b'{"ok"') + gz(b": tr") + gz(b"ue}"), headers="Content-Encoding: gzip\r\n"))),
    )
    corrupt = bytearray(gz(OK_BODY * 10))
    corrupt[15:25] = b"\xff" * 10
    add(
        "gzip-corrupt",
        g,
        "corrupt gzip",
        one(READ, send(resp(bytes(corrupt), headers="Content-Encoding: gzip\r\n"))),
        Call(error()),
    )
    add(
        "gzip-truncated",
        g,
        "gzip cut short",
        one(READ, send(resp(gz(OK_BODY)[:-6], headers="Content-Encoding: gzip\r\n"))),
        Call(error()),
    )
    add(
        "gzip-trailing",
        g,
        "gzip, then garbage",
        one(READ, send(resp(gz(OK_BODY) + b"garbage", headers="Content-Encoding: gzip\r\n"))),
        Call(either()),
    )
    add(
        "gzip-not-gzip",
        g,
        "`gzip` on a plain body",
        one(READ, send(resp(headers="Content-Encoding: gzip\r\n"))),
        Call(error()),
    )
    add(
        "brotli-unasked",
        g,
        "`br`, never asked for",
        one(READ, send(resp(b"\x0b\x05\x80" + OK_BODY + b"\x03", headers="Content-Encoding: br\r\n"))),
        Call(error()),
    )
    add(
        "compress-unknown",
        g,
        "`compress`",
        one(READ, send(resp(OK_BODY, headers="Content-Encoding: compress\r\n"))),
        Call(error()),
    )
    add(
        "gzip-bomb",
        g,
        "16 MiB of zeros, gzipped (limit here: 4 MiB)",
        one(READ, send(resp(bomb(), headers="Content-Encoding: gzip\r\n"))),
        Call(error()),
    )
    add(
        "gzip-gzip-bomb",
        g,
        "the same bomb gzipped twice",
        one(READ, send(resp(gz(bomb()), headers="Content-Encoding: gzip, gzip\r\n"))),
        Call(error()),
    )
    add(
        "deflate-bomb",
        g,
        "16 MiB of zeros, deflated",
        one(READ, send(resp(zlib.compress(b"\0" * (16 << 20), 9), headers="Content-Encoding: deflate\r\n"))),
        Call(error()),
    )
    add(
        "endless-body",
        g,
        "Content-Length of 1 TiB",
        one(READ, send(resp(headers="Content-Length: 1099511627776\r\n")), flood(b"x" * 65536, 128)),
        Call(error()),
        read_timeout=0.5,
    )
    add(
        "head-gzip",
        g,
        "HEAD answered with `gzip` and a length",
        one(READ, send(resp(b"", headers="Content-Encoding: gzip\r\nContent-Length: 40\r\n", length=False))),
        Call(ok((200, b"")), method="HEAD", kind="raw"),
    )
    add(
        "204-gzip",
        g,
        "204 with `gzip`",
        one(READ, send(resp(b"", "204 No Content", "Content-Encoding: gzip\r\n", length=False))),
        Call(ok_none()),
    )
    add(
        "304-gzip",
        g,
        "304 with `gzip`",
        one(READ, send(resp(b"", "304 Not Modified", "Content-Encoding: gzip\r\n", length=False))),
        Call(error("APIStatusError")),
    )
    add(
        "empty-gzip",
        g,
        "Content-Length 0 with `gzip`",
        one(READ, send(resp(b"", headers="Content-Encoding: gzip\r\n"))),
        Call(ok_none()),
    )
    add(
        "gzip-404",
        g,
        "a gzipped 404",
        one(
            READ,
            send(
                resp(
                    gz(b'{"errors": ["gone"], "error_type": "not_found"}'),
                    "404 Not Found",
                    "Content-Encoding: gzip\r\n",
                )
            ),
        ),
        Call(error("NotFoundError")),
    )
    add(
        "gzip-chunked",
        g,
        "gzip, chunked",
        one(READ, send(chunked(gz(OK_BODY)[:10], gz(OK_BODY)[10:], headers="Content-Encoding: gzip\r\n"))),
    )
    add(
        "gzip-until-close",
        g,
        "gzip, read until close",
        one(READ, send(resp(gz(OK_BODY), headers="Content-Encoding: gzip\r\n", length=False)), CLOSE),
    )
    add(
        "gzip-big",
        g,
        "a 3 MiB JSON answer, gzipped",
        one(READ, send(resp(gz(BIG), headers="Content-Encoding: gzip\r\n"))),
        Call(ok(json.loads(BIG))),
    )
    add(
        "deflate-corrupt",
        g,
        "corrupt deflate",
        one(READ, send(resp(b"\x78\x9c" + b"\xff" * 20, headers="Content-Encoding: deflate\r\n"))),
        Call(error()),
    )
    add(
        "invalid-json",
        g,
        "invalid JSON as application/json",
        one(READ, send(resp(b'{"ok": tru', headers="Content-Type: application/json\r\n"))),
        Call(error("APIResponseValidationError")),
    )
    add(
        "invalid-utf8-text",
        g,
        "invalid UTF-8 in text/plain",
        one(READ, send(resp(b"caf\xff", headers="Content-Type: text/plain; charset=utf-8\r\n"))),
        Call(ok("caf\ufffd")),
    )
    add(
        "typed-invalid-json",
        g,
        "invalid JSON to a typed call",
        one(READ, send(resp(b'{"id": 1,', headers="Content-Type: application/json\r\n"))),
        Call(error("APIResponseValidationError"), kind="typed"),
    )
    add(
        "typed-ok",
        g,
        "a typed call",
        one(READ, send(resp(TYPED, headers="Content-Type: application/json\r\n"))),
        Call(ok({"id": 1, "title": "A title long enough"}), kind="typed"),
    )

    g = "slow and stalled"
    add(
        "never-answers",
        g,
        "request read, nothing said",
        one(READ, HOLD),
        Call(error("APITimeoutError")),
        read_timeout=0.5,
    )
    add(
        "headers-then-stall",
        g,
        "headers, then nothing",
        one(READ, send(resp()[:-5]), HOLD),
        Call(error("APITimeoutError")),
        read_timeout=0.5,
    )
    add(
        "half-status-line",
        g,
        "half a status line, then nothing",
        one(READ, send(b"HTTP/1.1 2"), HOLD),
        Call(error("APITimeoutError")),
        read_timeout=0.5,
    )
    add(
        "chunk-stall",
        g,
        "half a chunk, then nothing",
        one(READ, send(resp(b'c\r\n{"ok"', headers="Transfer-Encoding: chunked\r\n", length=False)), HOLD),
        Call(error("APITimeoutError")),
        read_timeout=0.5,
    )
    add(
        "until-close-stall",
        g,
        "a read-until-close body that never ends",
        one(READ, send(resp(length=False)), HOLD),
        Call(error("APITimeoutError")),
        read_timeout=0.5,
    )
    # One byte per write, without waits (the timers' side of a slow answer is drip-body's): a
    # wait per byte made the outcome a race between the sum of the waits and the timeouts.
    add("drip-bytes", g, "the whole answer one byte per write", one(READ, drip(resp(), 0.0)), read_timeout=0.5)
    add(
        "drip-body",
        g,
        "the body in 4 pieces 50 ms apart",
        one(READ, send(resp()[:-12]), drip(OK_BODY, 0.05, 3)),
        read_timeout=10.0,
    )
    add(
        "write-stall",
        g,
        "never reads a 16 MiB POST",
        one(NO_READ),
        Call(error("APITimeoutError"), method="POST", content=b"x" * (16 << 20)),
        read_timeout=0.5,
    )
    add(
        "no-read-get",
        g,
        "accepts, never reads, never answers",
        one(NO_READ),
        Call(error("APITimeoutError")),
        read_timeout=0.5,
    )

    g = "resets"
    add("rst-before-answer", g, "RST after reading the request", one(READ, RESET), Call(error()))
    add(
        "rst-mid-status",
        g,
        "RST inside the status line",
        one(READ, send(b"HTTP/1.1 20"), sleep(0.02), RESET),
        Call(error()),
    )
    add(
        "rst-mid-headers",
        g,
        "RST inside the headers",
        one(READ, send(b"HTTP/1.1 200 OK\r\nContent-Le"), sleep(0.02), RESET),
        Call(error()),
    )
    add(
        "rst-mid-length-body",
        g,
        "RST inside a Content-Length body",
        one(READ, send(resp()[:-5]), sleep(0.02), RESET),
        Call(error()),
    )
    add(
        "rst-mid-chunked",
        g,
        "RST inside a chunked body",
        one(READ, send(chunked(OK_BODY)[:-8]), sleep(0.02), RESET),
        Call(error()),
    )
    add(
        "rst-mid-until-close",
        g,
        "RST inside a read-until-close body",
        one(READ, send(resp(length=False)[:-5]), sleep(0.02), RESET),
        Call(error()),
    )
    add(
        "rst-after-until-close",
        g,
        "RST after a whole read-until-close body",
        one(READ, send(resp(length=False)), sleep(0.02), RESET),
        Call(error()),
    )
    add(
        "rst-idle",
        g,
        "RST on the idle connection, then a GET",
        then_fresh(READ, send(resp()), sleep(0.02), RESET),
        *TWO,
    )
    add(
        "typed-rst-until-close",
        g,
        "RST inside a typed call's read-until-close body",
        one(READ, send(resp(TYPED, length=False)[:-5]), sleep(0.02), RESET),
        Call(error("APIConnectionError"), kind="typed"),
    )
    add(
        "typed-rst-length",
        g,
        "RST inside a typed call's Content-Length body",
        one(READ, send(resp(TYPED)[:-5]), sleep(0.02), RESET),
        Call(error("APIConnectionError"), kind="typed"),
    )
    add(
        "typed-fin-length",
        g,
        "FIN inside a typed call's Content-Length body",
        one(READ, send(resp(TYPED)[:-5]), CLOSE),
        Call(error("APIConnectionError"), kind="typed"),
    )
    add(
        "rst-mid-gzip",
        g,
        "RST inside a gzip body",
        one(READ, send(resp(gz(BIG), headers="Content-Encoding: gzip\r\n")[:5000]), sleep(0.02), RESET),
        Call(error()),
    )
    add(
        "rst-during-upload",
        g,
        "RST while a 4 MiB POST is sent",
        one(sleep(0.02), RESET),
        Call(error(), method="POST", content=b"x" * (4 << 20)),
        max_posts=1,
    )
    add(
        "rst-get-retried",
        g,
        "RST inside a body (GET, one retry)",
        then_fresh(READ, send(resp()[:-5]), sleep(0.02), RESET),
        Call(ok(R2)),
        retries=1,
    )

    g = "redirects"
    add(
        "redirect-same-origin",
        g,
        "301 to a path of the same origin",
        one(READ, send(resp(b"", "301 Moved", "Location: /next\r\n")), READ, send(resp(R2_BODY))),
        Call(ok(R2)),
    )
    add(
        "redirect-loop",
        g,
        "302 to itself, forever",
        one(
            READ,
            send(resp(b"", "302 Found", "Location: /\r\n")),
            READ,
            send(resp(b"", "302 Found", "Location: /\r\n")),
            READ,
            send(resp(b"", "302 Found", "Location: /\r\n")),
            READ,
            send(resp(b"", "302 Found", "Location: /\r\n")),
            READ,
            send(resp(b"", "302 Found", "Location: /\r\n")),
            READ,
            send(resp(b"", "302 Found", "Location: /\r\n")),
        ),
        Call(error("RedirectError")),
    )
    add("redirect-no-location", g, "302 without Location", one(READ, send(resp(b"", "302 Found"))), Call(error()))
    add(
        "redirect-other-origin",
        g,
        "302 to another origin: are credentials sent?",
        one(READ, send(resp(b"", "302 Found", "Location: http://localhost:{PORT}/other\r\n")), READ, CREDS),
        Call(ok({"leak": False})),
    )
    add(
        "redirect-ftp",
        g,
        "302 to ftp://",
        one(READ, send(resp(b"", "302 Found", "Location: ftp://127.0.0.1/x\r\n"))),
        Call(error()),
    )
    add(
        "redirect-bad-url",
        g,
        "302 to `http://[::1`",
        one(READ, send(resp(b"", "302 Found", "Location: http://[::1\r\n"))),
        Call(error()),
    )
    add(
        "redirect-303-post",
        g,
        "303 after a POST",
        one(READ, send(resp(b"", "303 See Other", "Location: /next\r\n")), READ, send(resp(R2_BODY))),
        Call(ok(R2), method="POST", content=b"{}"),
    )
    add(
        "redirect-307-post",
        g,
        "307 after a POST",
        one(READ, send(resp(b"", "307 Temporary Redirect", "Location: /next\r\n")), READ, send(resp(R2_BODY))),
        Call(ok(R2), method="POST", content=b"{}"),
    )
    add(
        "redirect-gzip-body",
        g,
        "301 with a gzipped body",
        one(
            READ,
            send(resp(gz(b"moved"), "301 Moved", "Location: /next\r\nContent-Encoding: gzip\r\n")),
            READ,
            send(resp(R2_BODY)),
        ),
        Call(ok(R2)),
    )
    add(
        "redirect-latin1",
        g,
        "Location with bytes 0x80-0xff",
        one(
            READ,
            send(resp(b"", "302 Found").replace(b"\r\n\r\n", b"\r\nLocation: /caf\xe9\r\n\r\n", 1)),
            READ,
            send(resp(R2_BODY)),
        ),
        Call(either(R2)),
    )

    g = "cancellation"
    add(
        "cancel-waiting",
        g,
        "call cancelled while the server is silent; next call",
        then_fresh(READ, HOLD),
        Call(CANCELLED, cancel_after=0.1),
        Call(ok(R2)),
    )
    add(
        "cancel-mid-body",
        g,
        "call cancelled inside a body; next call",
        then_fresh(READ, send(resp()[:-5]), HOLD),
        Call(CANCELLED, cancel_after=0.1),
        Call(ok(R2)),
    )
    add(
        "cancel-upload",
        g,
        "call cancelled while a 16 MiB POST stalls; next call",
        then_fresh(NO_READ),
        Call(CANCELLED, method="POST", content=b"x" * (16 << 20), cancel_after=0.5),
        Call(ok(R2)),
    )
    add(
        "cancel-late-bytes",
        g,
        "call cancelled; the rest of its answer comes later",
        then_fresh(READ, send(resp()[:-5]), sleep(0.2), send(resp()[-5:] + resp(STALE)), HOLD),
        Call(CANCELLED, cancel_after=0.1),
        Call(ok(R2)),
    )
    add(
        "cancel-drip",
        g,
        "call cancelled while the answer drips",
        then_fresh(READ, drip(resp() * 3, 0.01)),
        Call(CANCELLED, cancel_after=0.1),
        Call(ok(R2)),
    )
    g = "large bodies"
    # The built-in engine reads the rest of a large announced body straight into a buffer of
    # its length: the same framing rules must hold on that path.
    big = resp(BIG)
    cut = len(big) // 2
    add("big-length", g, "a 2 MiB answer with Content-Length", one(READ, send(big)), Call(ok(json.loads(BIG))))
    add(
        "big-drip",
        g,
        "a 2 MiB answer in 64 KiB pieces",
        one(READ, drip(big, 0.001, 64 * 1024)),
        Call(ok(json.loads(BIG))),
    )
    add("big-short-fin", g, "half of a 2 MiB answer, FIN", one(READ, send(big[:cut]), CLOSE), Call(error()))
    add(
        "big-short-rst",
        g,
        "half of a 2 MiB answer, RST",
        one(READ, send(big[:cut]), sleep(0.05), RESET),
        Call(error()),
    )
    add(
        "big-stall",
        g,
        "half of a 2 MiB answer, then silence",
        one(READ, send(big[:cut]), HOLD),
        Call(error("APITimeoutError")),
        read_timeout=0.3,
    )
    add(
        "big-unsolicited-after",
        g,
        "an unasked answer right after a 2 MiB one",
        then_fresh(READ, send(big + resp(STALE)), READ, HOLD),
        Call(ok(json.loads(BIG))),
        Call(ok(R2), pause=0.1),
    )
    add(
        "big-late-unsolicited",
        g,
        "a 2 MiB answer, then an unasked one on the idle connection",
        then_fresh(READ, send(big), sleep(0.03), send(resp(STALE)), READ, HOLD),
        Call(ok(json.loads(BIG))),
        Call(ok(R2), pause=0.1),
    )
    big_chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (BIG[:100_000], BIG[100_000:])) + b"0\r\n\r\n"
    add(
        "big-chunked-and-length",
        g,
        "a 2 MiB chunked answer that also announces its length",
        then_fresh(
            READ,
            send(resp(big_chunked, headers=f"Transfer-Encoding: chunked\r\nContent-Length: {len(BIG)}\r\n")),
            READ,
            send(resp(STALE)),
        ),
        Call(either(json.loads(BIG))),
        Call(ok(R2), pause=0.1),
    )
    add(
        "big-gzip-incompressible",
        g,
        "a gzipped answer of 1 MiB that does not compress",
        one(READ, send(resp(gz(INCOMPRESSIBLE), headers="Content-Encoding: gzip\r\n"))),
        Call(ok(json.loads(INCOMPRESSIBLE))),
    )
    add(
        "304-big-length",
        g,
        "304 announcing 2 MiB, no body; the connection reused",
        (
            (
                READ,
                send(resp(b"", "304 Not Modified", "Content-Length: 2000000\r\n", length=False)),
                READ,
                send(resp(R2_BODY)),
            ),
        ),
        Call(error("APIStatusError")),
        Call(ok(R2), pause=0.1),
    )
    return c


CASES = _cases()
