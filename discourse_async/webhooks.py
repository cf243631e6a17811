"""Receive Discourse webhooks: verify the signature, parse the delivery, dispatch it to handlers.

Discourse signs every delivery with the webhook's secret: the header
``X-Discourse-Event-Signature: sha256=<hex HMAC-SHA256 of the raw body>``. Check it on the raw
bytes, before any parsing, and never act on a body that fails the check::

    from discourse_async.webhooks import WebhookApp

    hooks = WebhookApp(secret=WEBHOOK_SECRET)

    @hooks.on("post_created")
    async def new_post(event):
        print(event.post.username, event.post.raw)

    # Starlette / FastAPI: app.mount("/hooks", hooks)  ->  POST /hooks/discourse-webhooks

Outside ASGI, call :func:`parse_event` with the request's headers and raw body.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging
import re
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

from discourse_async._asgi import Receive, Scope, Send, lifespan
from discourse_async._exceptions import ConfigurationError, DiscourseError
from discourse_async._secrets import Secret

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "EVENT_HEADER",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "INSTANCE_HEADER",
    "SIGNATURE_HEADER",
    "PostPayload",
    "TopicPayload",
    "UserPayload",
    "WebhookApp",
    "WebhookError",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "parse_event",
    "sign",
    "verify_signature",
]

log = logging.getLogger("discourse_async.webhooks")

SIGNATURE_HEADER = "X-Discourse-Event-Signature"
EVENT_TYPE_HEADER = "X-Discourse-Event-Type"
EVENT_HEADER = "X-Discourse-Event"
EVENT_ID_HEADER = "X-Discourse-Event-Id"
INSTANCE_HEADER = "X-Discourse-Instance"

#: Largest body the ASGI app reads. A post's payload carries its raw and cooked text (up to
#: 32,000 characters each by default), so 2 MiB leaves ample room and still bounds memory.
DEFAULT_MAX_BODY_SIZE = 2 * 1024 * 1024

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class WebhookError(DiscourseError):
    """A webhook delivery that cannot be trusted or understood."""


class WebhookSignatureError(WebhookError):
    """The signature header is missing, malformed, or does not match the body and secret."""


class WebhookPayloadError(WebhookError):
    """A signed delivery whose headers or body are not a Discourse webhook event."""


def _as_secret(secret: str | bytes | Secret) -> Secret:
    """The secret as a :class:`Secret`, so that no repr, traceback or debugger shows it."""
    if isinstance(secret, Secret):
        return secret
    if isinstance(secret, bytes):
        # Discourse's webhook secret is text typed into its admin page; bytes are that text encoded.
        try:
            secret = secret.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError("a webhook secret given as bytes must be UTF-8 text") from None
    if not secret:
        raise ConfigurationError("the webhook secret must not be empty")
    return Secret(secret)


def _key(secret: str | bytes | Secret) -> bytes:
    return _as_secret(secret).reveal().encode("utf-8")


def sign(body: bytes, secret: str | bytes | Secret) -> str:
    """The ``X-Discourse-Event-Signature`` value Discourse sends for ``body`` (for tests and fakes)."""
    return "sha256=" + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature_header: str | None, secret: str | bytes | Secret) -> None:
    """Check ``X-Discourse-Event-Signature`` against the raw body; raise :class:`WebhookSignatureError`.

    ``body`` must be the bytes exactly as received: re-serialised JSON does not match.
    """
    key = _key(secret)
    if not signature_header:
        raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header is missing: the delivery is not signed")
    scheme, sep, digest = signature_header.strip().partition("=")
    # Messages never echo the header: a near-miss value would help someone forging signatures.
    if not sep or scheme.strip().lower() != "sha256" or not _HEX_SHA256.fullmatch(digest.strip()):
        raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header is malformed: expected 'sha256=<64 hex digits>'")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header does not match the body: wrong secret, or the body was altered"
        )


# ------------------------------------------------------------------------------ typed payloads

_T = TypeVar("_T")


def _field(obj: Mapping[str, Any], name: str, kind: type[_T] | tuple[type, ...], what: str) -> Any:
    """``obj[name]`` if it is absent/null or of ``kind``; a clear error otherwise."""
    value = obj.get(name)
    if value is None:
        return None
    # JSON true/false are Python bools, which are also ints: an id of `true` is not an id.
    if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind)):
        return value
    raise WebhookPayloadError(f"{what}.{name} should be {_describe(kind)}, got {type(value).__name__}")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _describe(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _required_id(obj: Mapping[str, Any], what: str) -> int:
    value = _field(obj, "id", int, what)
    if value is None:
        raise WebhookPayloadError(f"{what} has no id")
    return int(value)


class _Payload:
    """Builds a payload dataclass from its JSON object, field by field, by the declared types."""

    _what: ClassVar[str]

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Self:
        """Build from the decoded JSON object; raise :class:`WebhookPayloadError` on wrong types."""
        values: dict[str, Any] = {"id": _required_id(obj, cls._what)}
        known = {"id"}
        for name, kind in _field_types(cls).items():
            if name not in ("id", "additional_properties"):
                values[name] = cls._convert(name, _field(obj, name, kind, cls._what))
                known.add(name)
        extra = {k: v for k, v in obj.items() if k not in known}
        return cls(**values, additional_properties=extra)  # type: ignore[call-arg] # the dataclass subclasses' fields

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        return value


_FIELD_TYPES: dict[type, dict[str, type]] = {}


def _field_types(cls: type) -> dict[str, type]:
    """Each dataclass field's type, without its ``| None`` (``str | None`` -> ``str``)."""
    if cls in _FIELD_TYPES:
        return _FIELD_TYPES[cls]
    kinds: dict[str, type] = {}
    for name, hint in typing.get_type_hints(cls).items():
        if name.startswith("_"):
            continue
        declared = hint
        if isinstance(declared, types.UnionType):  # `str | None`: the type is the member that is not None
            declared = next(t for t in typing.get_args(declared) if t is not type(None))
        kind = typing.get_origin(declared) or declared
        kinds[name] = list if kind is tuple else kind  # JSON arrays arrive as lists
    _FIELD_TYPES[cls] = kinds
    return kinds


@dataclass(frozen=True)
class TopicPayload(_Payload):
    """The ``topic`` object of a topic event. Fields not named here are kept in ``additional_properties``."""

    id: int
    title: str | None = None
    slug: str | None = None
    category_id: int | None = None
    user_id: int | None = None
    archetype: str | None = None
    created_at: str | None = None
    posts_count: int | None = None
    closed: bool | None = None
    archived: bool | None = None
    visible: bool | None = None
    tags: tuple[str, ...] = ()
    additional_properties: dict[str, Any] = field(default_factory=dict, repr=False)

    _what: ClassVar[str] = "topic"

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        if name != "tags":
            return value
        # Older sites send tag names; newer ones send {"id", "name", "slug"} objects.
        return tuple(
            t if isinstance(t, str) else str(t.get("name", "")) for t in value or () if isinstance(t, str | dict)
        )


@dataclass(frozen=True)
class PostPayload(_Payload):
    """The ``post`` object of a post event. ``raw`` is the post's Markdown, ``cooked`` its HTML."""

    id: int
    topic_id: int | None = None
    post_number: int | None = None
    user_id: int | None = None
    username: str | None = None
    raw: str | None = None
    cooked: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    reply_to_post_number: int | None = None
    post_type: int | None = None
    topic_title: str | None = None
    topic_slug: str | None = None
    category_id: int | None = None
    additional_properties: dict[str, Any] = field(default_factory=dict, repr=False)

    _what: ClassVar[str] = "post"


@dataclass(frozen=True)
class UserPayload(_Payload):
    """The ``user`` object of a user event. ``email`` is present only when Discourse includes it."""

    id: int
    username: str | None = None
    name: str | None = None
    email: str | None = None
    trust_level: int | None = None
    admin: bool | None = None
    moderator: bool | None = None
    created_at: str | None = None
    last_seen_at: str | None = None
    avatar_template: str | None = None
    additional_properties: dict[str, Any] = field(default_factory=dict, repr=False)

    _what: ClassVar[str] = "user"


@dataclass(frozen=True)
class WebhookEvent:
    """One verified delivery.

    ``event_type`` is the kind of object (``post``, ``topic``, ``user``, ``category``, ``ping``, ...),
    ``event`` what happened (``post_created``, ``topic_edited``, ...), and ``payload`` the object
    Discourse sent under the ``event_type`` key, as decoded JSON. For topic, post and user events
    the typed view is also in ``topic``, ``post`` or ``user``. ``event_id`` is the same on a
    redelivery, so it can be used to ignore duplicates.
    """

    event_type: str
    event: str
    event_id: int | None
    instance: str | None
    payload: Any
    topic: TopicPayload | None = None
    post: PostPayload | None = None
    user: UserPayload | None = None
    body: dict[str, Any] = field(default_factory=dict, repr=False)


HeadersLike = Mapping[str, str] | Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]]


def _lower_headers(headers: HeadersLike) -> dict[str, str]:
    items: Iterable[tuple[str | bytes, str | bytes]]
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        out[key.lower()] = value.decode("latin-1") if isinstance(value, bytes) else value
    return out


def parse_event(headers: HeadersLike, body: bytes, secret: str | bytes | Secret) -> WebhookEvent:
    """Verify a delivery's signature, then parse it into a :class:`WebhookEvent`.

    ``headers`` is any mapping of header names (any case) to values, or the ASGI list of
    ``(name, value)`` byte pairs; ``body`` is the raw request body. Raises
    :class:`WebhookSignatureError` before looking at the body if the signature does not hold,
    and :class:`WebhookPayloadError` if a signed delivery is not a webhook event.
    """
    h = _lower_headers(headers)
    verify_signature(body, h.get(SIGNATURE_HEADER.lower()), secret)

    event_type = h.get(EVENT_TYPE_HEADER.lower(), "").strip()
    event = h.get(EVENT_HEADER.lower(), "").strip()
    if not event_type or not event:
        raise WebhookPayloadError(f"a webhook delivery needs the {EVENT_TYPE_HEADER} and {EVENT_HEADER} headers")
    event_id: int | None = None
    raw_id = h.get(EVENT_ID_HEADER.lower(), "").strip()
    if raw_id:
        if not (raw_id.isascii() and raw_id.isdigit()):
            raise WebhookPayloadError(f"the {EVENT_ID_HEADER} header should be an integer")
        event_id = int(raw_id)

    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookPayloadError(
            f"the body of a {event} delivery is not valid JSON ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(document, dict):
        raise WebhookPayloadError(f"the body of a {event} delivery should be a JSON object")
    # Discourse sends {"<event type>": <object>}, e.g. {"post": {...}}; a ping is {"ping": "OK"}.
    if event_type not in document:
        raise WebhookPayloadError(f"the body of a {event} delivery has no {event_type!r} key")
    payload = document[event_type]
    if event_type != "ping" and not isinstance(payload, dict):
        raise WebhookPayloadError(f"{event_type!r} in a {event} delivery should be a JSON object")

    views: dict[str, Any] = {}
    if event_type == "topic":
        views["topic"] = TopicPayload.from_dict(payload)
    elif event_type == "post":
        views["post"] = PostPayload.from_dict(payload)
    elif event_type == "user":
        views["user"] = UserPayload.from_dict(payload)
    return WebhookEvent(
        event_type=event_type,
        event=event,
        event_id=event_id,
        instance=h.get(INSTANCE_HEADER.lower()) or None,
        payload=payload,
        body=document,
        **views,
    )


# ------------------------------------------------------------------------------ the ASGI app

Handler = Callable[[WebhookEvent], Awaitable[None] | None]
_H = TypeVar("_H", bound=Handler)


class _Refused(Exception):
    """A delivery answered with an error status before any handler runs."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class _Disconnected(Exception):
    pass


def _norm_path(path: str) -> str:
    return "/" + path.strip("/")


class WebhookApp:
    """A plain ASGI app receiving Discourse webhooks, with handlers per event.

    It answers 200 once the handlers have run on a verified delivery; 401 to a missing or wrong
    signature and 400 to a malformed delivery (no handler runs for either); 405 to anything but
    POST; 404 off ``path``; 413 to bodies over ``max_body_size``; 500 if a handler raises.

    Handlers may be sync or async. For one delivery, the handlers for its ``event`` run first, then
    those for its ``event_type``; ``default`` handlers run only when neither matched. A sync handler
    runs on the event loop, so keep it quick (hand long work to a task or a thread): Discourse
    waits for the answer.

    Args:
        secret: the webhook's secret, as set in Discourse's webhook settings.
        path: the path to answer on, relative to where the app is mounted; ``None`` answers on any path.
        max_body_size: the largest body accepted, in bytes.
    """

    def __init__(
        self,
        secret: str | bytes | Secret,
        *,
        path: str | None = "/discourse-webhooks",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self._secret = _as_secret(secret)
        self._path = None if path is None else _norm_path(path)
        self.max_body_size = max_body_size
        self._by_event: dict[str, list[Handler]] = {}
        self._by_type: dict[str, list[Handler]] = {}
        self._default: list[Handler] = []

    def __repr__(self) -> str:
        return f"<WebhookApp path={self._path!r}>"

    # -------------------------------------------------------------- registration

    def on(self, *events: str) -> Callable[[_H], _H]:
        """Register a handler for one or more events (``"post_created"``, ``"topic_edited"``, ...)."""

        def register(handler: _H) -> _H:
            for name in events:
                self._by_event.setdefault(name, []).append(handler)
            return handler

        return register

    def on_type(self, *event_types: str) -> Callable[[_H], _H]:
        """Register a handler for every event of one or more types (``"post"``, ``"user"``, ...)."""

        def register(handler: _H) -> _H:
            for name in event_types:
                self._by_type.setdefault(name, []).append(handler)
            return handler

        return register

    def default(self, handler: _H) -> _H:
        """Register a handler for deliveries no ``on``/``on_type`` handler takes (pings included)."""
        self._default.append(handler)
        return handler

    # -------------------------------------------------------------- dispatch

    def parse(self, headers: HeadersLike, body: bytes) -> WebhookEvent:
        """:func:`parse_event` with this app's secret (for use from another framework)."""
        assert self._secret is not None
        return parse_event(headers, body, self._secret)

    async def dispatch(self, event: WebhookEvent) -> int:
        """Run the handlers for a verified event; return how many ran."""
        handlers = [*self._by_event.get(event.event, ()), *self._by_type.get(event.event_type, ())]
        if not handlers:
            handlers = list(self._default)
        for handler in handlers:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        return len(handlers)

    # -------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        try:
            event = await self._receive_event(scope, receive)
        except _Refused as refused:
            if refused.status in (400, 401, 413):
                log.warning("webhook refused (%d): %s", refused.status, refused.message)
            await _respond(send, refused.status, {"error": refused.message}, refused.headers)
            return
        except _Disconnected:
            return
        try:
            count = await self.dispatch(event)
        except Exception:
            log.exception("webhook handler failed for %s (event id %s)", event.event, event.event_id)
            await _respond(send, 500, {"error": "a handler failed"})
            return
        log.debug("webhook %s (event id %s) handled by %d handler(s)", event.event, event.event_id, count)
        await _respond(send, 200, {"ok": True, "handled": count})

    async def _receive_event(self, scope: Scope, receive: Receive) -> WebhookEvent:
        if self._path is not None and _norm_path(self._route_path(scope)) != self._path:
            raise _Refused(404, "not found")
        if scope["method"] != "POST":
            raise _Refused(405, "webhooks are delivered with POST", [(b"allow", b"POST")])
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        body = await self._read_body(headers, receive)
        try:
            return self.parse(headers, body)
        except WebhookSignatureError as exc:
            raise _Refused(401, str(exc)) from None
        except WebhookPayloadError as exc:
            raise _Refused(400, str(exc)) from None

    @staticmethod
    def _route_path(scope: Scope) -> str:
        # When mounted, Starlette leaves the full path in scope["path"] and the mount point in
        # root_path (ASGI: path includes root_path); strip it, as Starlette's own routing does.
        path: str = scope.get("path") or "/"
        root: str = scope.get("root_path") or ""
        if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
            path = path[len(root) :]
        return path

    async def _read_body(self, headers: list[tuple[bytes, bytes]], receive: Receive) -> bytes:
        for name, value in headers:
            if name.lower() == b"content-length" and value.strip().isdigit() and int(value) > self.max_body_size:
                raise _Refused(413, f"the body is over {self.max_body_size} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_size:
                raise _Refused(413, f"the body is over {self.max_body_size} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def _respond(
    send: Send, status: int, body: Mapping[str, Any], extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": content})
