"""Webhooks: signatures against independent vectors, parsing, and the ASGI app."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import httpx
import pytest

from discourse_async import ConfigurationError, DiscourseError, Secret
from discourse_async.webhooks import (
    PostPayload,
    TopicPayload,
    UserPayload,
    WebhookApp,
    WebhookError,
    WebhookEvent,
    WebhookPayloadError,
    WebhookSignatureError,
    parse_event,
    sign,
    verify_signature,
)

SECRET = "webhook-secret-Zq81-do-not-leak"


def expected_signature(body: bytes, secret: str = SECRET) -> str:
    """Computed here with hmac directly, independently of the module under test."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_body(**overrides: Any) -> bytes:
    post = {
        "id": 101,
        "topic_id": 42,
        "post_number": 2,
        "user_id": 7,
        "username": "alice",
        "raw": "Hello **world**",
        "cooked": "<p>Hello <strong>world</strong></p>",
        "created_at": "2026-01-02T03:04:05.000Z",
        "topic_title": "Greetings",
        "reply_to_post_number": None,
        "some_plugin_field": {"nested": [1, 2]},
    }
    post.update(overrides)
    return json.dumps({"post": post}).encode()


def headers_for(body: bytes, *, event: str = "post_created", event_type: str = "post", **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Discourse-Instance": "https://forum.example.com",
        "X-Discourse-Event-Id": "9001",
        "X-Discourse-Event-Type": event_type,
        "X-Discourse-Event": event,
        "X-Discourse-Event-Signature": expected_signature(body),
        **extra,
    }


# ------------------------------------------------------------------ signatures


def test_sign_matches_independent_hmac() -> None:
    body = b'{"ping":"OK"}'
    assert sign(body, SECRET) == expected_signature(body)
    assert sign(body, SECRET.encode()) == expected_signature(body)
    assert sign(body, Secret(SECRET)) == expected_signature(body)


def test_known_vector() -> None:
    # RFC 4231 test case 2 (HMAC-SHA256 of "what do ya want for nothing?" with key "Jefe").
    digest = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    verify_signature(b"what do ya want for nothing?", f"sha256={digest}", "Jefe")
    assert sign(b"what do ya want for nothing?", "Jefe") == f"sha256={digest}"


def test_verify_accepts_correct_signature_in_any_hex_case() -> None:
    body = post_body()
    verify_signature(body, expected_signature(body), SECRET)
    verify_signature(body, expected_signature(body).upper().replace("SHA256=", "sha256="), SECRET)
    verify_signature(body, "  " + expected_signature(body) + " ", SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256",
        "sha256=",
        "sha1=" + "0" * 40,
        "md5=" + "0" * 64,
        "sha256=" + "z" * 64,
        "sha256=" + "0" * 63,
        "0" * 64,
    ],
)
def test_missing_or_malformed_header_refused(header: str | None) -> None:
    with pytest.raises(WebhookSignatureError) as info:
        verify_signature(post_body(), header, SECRET)
    assert "X-Discourse-Event-Signature" in str(info.value)


def test_tampered_body_refused() -> None:
    body = post_body()
    tampered = body.replace(b"alice", b"mallory")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(tampered, expected_signature(body), SECRET)


def test_wrong_secret_refused() -> None:
    body = post_body()
    with pytest.raises(WebhookSignatureError):
        verify_signature(body, expected_signature(body, "another-secret"), SECRET)


def test_reserialised_body_refused() -> None:
    # The signature covers the exact bytes; JSON that means the same but is spelled differently fails.
    body = post_body()
    respelled = json.dumps(json.loads(body), indent=2).encode()
    with pytest.raises(WebhookSignatureError):
        verify_signature(respelled, expected_signature(body), SECRET)


def test_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        verify_signature(b"{}", expected_signature(b"{}"), "")
    with pytest.raises(ConfigurationError):
        WebhookApp(b"")


def test_error_hierarchy() -> None:
    assert issubclass(WebhookSignatureError, WebhookError)
    assert issubclass(WebhookPayloadError, WebhookError)
    assert issubclass(WebhookError, DiscourseError)


# ------------------------------------------------------------------ parsing


def test_parse_post_event() -> None:
    body = post_body()
    event = parse_event(headers_for(body), body, SECRET)
    assert isinstance(event, WebhookEvent)
    assert (event.event_type, event.event, event.event_id) == ("post", "post_created", 9001)
    assert event.instance == "https://forum.example.com"
    assert isinstance(event.post, PostPayload)
    assert event.post.id == 101
    assert event.post.topic_id == 42
    assert event.post.raw == "Hello **world**"
    assert event.post.reply_to_post_number is None
    # Unknown fields are kept, and the full object stays available.
    assert event.post.additional_properties == {"some_plugin_field": {"nested": [1, 2]}}
    assert event.payload["some_plugin_field"] == {"nested": [1, 2]}
    assert event.body == json.loads(body)
    assert event.topic is None
    assert event.user is None


def test_headers_are_case_insensitive_and_asgi_pairs_work() -> None:
    body = post_body()
    lower = {k.lower(): v for k, v in headers_for(body).items()}
    assert parse_event(lower, body, SECRET).event == "post_created"
    pairs = [(k.lower().encode(), v.encode()) for k, v in headers_for(body).items()]
    assert parse_event(pairs, body, SECRET).post is not None


def test_parse_topic_event_with_tag_objects() -> None:
    topic = {
        "id": 42,
        "title": "Hello",
        "slug": "hello",
        "category_id": 3,
        "closed": False,
        "tags": ["python", {"id": 5, "name": "asyncio", "slug": "asyncio"}],
        "created_by": {"id": 7, "username": "alice"},
    }
    body = json.dumps({"topic": topic}).encode()
    event = parse_event(headers_for(body, event="topic_created", event_type="topic"), body, SECRET)
    assert isinstance(event.topic, TopicPayload)
    assert event.topic.tags == ("python", "asyncio")
    assert event.topic.closed is False
    assert event.topic.additional_properties == {"created_by": {"id": 7, "username": "alice"}}


def test_parse_user_event() -> None:
    body = json.dumps({"user": {"id": 7, "username": "alice", "admin": False, "trust_level": 1, "x": 1}}).encode()
    event = parse_event(headers_for(body, event="user_created", event_type="user"), body, SECRET)
    assert isinstance(event.user, UserPayload)
    assert (event.user.id, event.user.username, event.user.trust_level) == (7, "alice", 1)
    assert event.user.additional_properties == {"x": 1}


def test_parse_ping_and_other_types() -> None:
    body = b'{"ping":"OK"}'
    event = parse_event(headers_for(body, event="ping", event_type="ping"), body, SECRET)
    assert event.payload == "OK"
    body = json.dumps({"category": {"id": 3, "name": "General"}}).encode()
    event = parse_event(headers_for(body, event="category_updated", event_type="category"), body, SECRET)
    assert event.payload == {"id": 3, "name": "General"}
    assert (event.topic, event.post, event.user) == (None, None, None)


def test_event_id_is_optional() -> None:
    body = post_body()
    headers = headers_for(body)
    del headers["X-Discourse-Event-Id"]
    del headers["X-Discourse-Instance"]
    event = parse_event(headers, body, SECRET)
    assert event.event_id is None
    assert event.instance is None


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"topic": {"id": 1}}', "no 'post' key"),
        (b'{"post": "text"}', "should be a JSON object"),
        (b'{"post": {"title": "no id"}}', "has no id"),
        (b'{"post": {"id": "101"}}', r"post\.id should be int"),
        (b'{"post": {"id": true}}', r"post\.id should be int"),
        (b'{"post": {"id": 1, "raw": 5}}', r"post\.raw should be str"),
    ],
)
def test_signed_but_malformed_body_refused(body: bytes, match: str) -> None:
    with pytest.raises(WebhookPayloadError, match=match):
        parse_event(headers_for(body), body, SECRET)


def test_missing_event_headers_refused() -> None:
    body = post_body()
    headers = headers_for(body)
    del headers["X-Discourse-Event"]
    with pytest.raises(WebhookPayloadError, match="X-Discourse-Event"):
        parse_event(headers, body, SECRET)
    for bad_id in ("12a", "²", "-1"):
        with pytest.raises(WebhookPayloadError, match="Event-Id"):
            parse_event(headers_for(body, **{"X-Discourse-Event-Id": bad_id}), body, SECRET)


def test_signature_is_checked_before_the_body_is_read() -> None:
    body = b"not json at all"
    headers = headers_for(body)
    headers["X-Discourse-Event-Signature"] = expected_signature(b"something else")
    with pytest.raises(WebhookSignatureError):
        parse_event(headers, body, SECRET)


# ------------------------------------------------------------------ the ASGI app


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, WebhookEvent]] = []


def make_app(**kwargs: Any) -> tuple[WebhookApp, Recorder]:
    app = WebhookApp(SECRET, **kwargs)
    rec = Recorder()

    @app.on("post_created")
    async def created(event: WebhookEvent) -> None:
        rec.calls.append(("created", event))

    @app.on_type("post")
    def any_post(event: WebhookEvent) -> None:  # a sync handler
        rec.calls.append(("any_post", event))

    @app.default
    async def fallback(event: WebhookEvent) -> None:
        rec.calls.append(("default", event))

    return app, rec


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hooks.test")


async def test_app_runs_handlers_on_verified_delivery() -> None:
    app, rec = make_app()
    body = post_body()
    async with asgi_client(app) as http:
        response = await http.post("/discourse-webhooks", content=body, headers=headers_for(body))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "handled": 2}
    assert [name for name, _ in rec.calls] == ["created", "any_post"]
    assert rec.calls[0][1].post is not None
    assert rec.calls[0][1].post.username == "alice"


async def test_app_default_handler_only_when_nothing_else_matches() -> None:
    app, rec = make_app()
    async with asgi_client(app) as http:
        edited = post_body()
        await http.post("/discourse-webhooks", content=edited, headers=headers_for(edited, event="post_edited"))
        ping = b'{"ping":"OK"}'
        await http.post("/discourse-webhooks", content=ping, headers=headers_for(ping, event="ping", event_type="ping"))
    assert [name for name, _ in rec.calls] == ["any_post", "default"]


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda h, b: (dict(h, **{"X-Discourse-Event-Signature": expected_signature(b"other")}), b), 401),
        (lambda h, b: ({k: v for k, v in h.items() if k != "X-Discourse-Event-Signature"}, b), 401),
        (lambda h, b: (h, b.replace(b"alice", b"mallory")), 401),
        (lambda h, b: (dict(h, **{"X-Discourse-Event-Signature": "sha256=nothex"}), b), 401),
        (lambda h, b: (dict(h, **{"X-Discourse-Event-Signature": expected_signature(b"{}")}), b"{}"), 400),
        (lambda h, b: (dict(h, **{"X-Discourse-Event-Signature": expected_signature(b"oops")}), b"oops"), 400),
    ],
)
async def test_app_refuses_without_running_handlers(mutate: Any, status: int) -> None:
    app, rec = make_app()
    body = post_body()
    headers, sent = mutate(headers_for(body), body)
    async with asgi_client(app) as http:
        response = await http.post("/discourse-webhooks", content=sent, headers=headers)
    assert response.status_code == status
    assert "error" in response.json()
    assert rec.calls == []


async def test_app_method_path_and_size_limits() -> None:
    app, rec = make_app(max_body_size=1000)
    body = post_body(raw="x" * 2000)
    async with asgi_client(app) as http:
        get = await http.get("/discourse-webhooks")
        elsewhere = await http.post("/other", content=post_body(), headers=headers_for(post_body()))
        big = await http.post("/discourse-webhooks", content=body, headers=headers_for(body))

        async def stream() -> Any:  # no Content-Length: the limit must hold while reading
            for _ in range(5):
                yield b"x" * 400

        streamed = await http.post("/discourse-webhooks", content=stream(), headers=headers_for(b"x" * 2000))
    assert get.status_code == 405
    assert get.headers["allow"] == "POST"
    assert elsewhere.status_code == 404
    assert big.status_code == 413
    assert streamed.status_code == 413
    assert rec.calls == []


async def test_app_handler_failure_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    app = WebhookApp(SECRET)

    @app.on("post_created")
    def broken(event: WebhookEvent) -> None:
        raise RuntimeError("boom")

    body = post_body()
    async with asgi_client(app) as http:
        with caplog.at_level(logging.ERROR, logger="discourse_async.webhooks"):
            response = await http.post("/discourse-webhooks", content=body, headers=headers_for(body))
    assert response.status_code == 500
    assert "handler failed" in caplog.text


async def test_app_mounted_under_a_prefix() -> None:
    # What Starlette's Mount("/hooks", app) does: full path kept, the prefix moved to root_path.
    app, rec = make_app()

    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            assert scope["path"].startswith("/hooks")
            scope = dict(scope, root_path=scope.get("root_path", "") + "/hooks")
        await app(scope, receive, send)

    body = post_body()
    async with asgi_client(mounted) as http:
        ok = await http.post("/hooks/discourse-webhooks", content=body, headers=headers_for(body))
        not_here = await http.post("/hooks/elsewhere", content=body, headers=headers_for(body))
    assert ok.status_code == 200
    assert not_here.status_code == 404
    assert len(rec.calls) == 2


async def test_app_mounted_by_an_older_starlette() -> None:
    # Older Starlette stripped the prefix from path itself; a prefix that is also the start of
    # the route ("/d" and "/discourse-webhooks") must not be stripped twice.
    app, rec = make_app()

    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = dict(scope, path=scope["path"].removeprefix("/d"), root_path="/d")
        await app(scope, receive, send)

    body = post_body()
    async with asgi_client(mounted) as http:
        ok = await http.post("/d/discourse-webhooks", content=body, headers=headers_for(body))
    assert ok.status_code == 200
    assert len(rec.calls) == 2


async def test_app_with_no_path_answers_anywhere() -> None:
    app, rec = make_app(path=None)
    body = post_body()
    async with asgi_client(app) as http:
        response = await http.post("/any/where", content=body, headers=headers_for(body))
    assert response.status_code == 200
    assert len(rec.calls) == 2


async def test_app_lifespan() -> None:
    app = WebhookApp(SECRET)
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_dispatch_and_parse_for_other_frameworks() -> None:
    app, rec = make_app()
    body = post_body()
    event = app.parse(headers_for(body), body)
    assert await app.dispatch(event) == 2
    assert len(rec.calls) == 2


# ------------------------------------------------------------------ no secret leaks


async def test_secret_and_signature_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = make_app()
    assert SECRET not in repr(app)
    assert SECRET not in str(vars(app))
    body = post_body()
    good = expected_signature(body)
    wrong = expected_signature(body, "another-secret")
    messages: list[str] = []
    for header in (wrong, "sha256=" + "0" * 63, None):
        try:
            verify_signature(body, header, SECRET)
        except WebhookSignatureError as exc:
            messages.append(str(exc))
            messages.append(repr(exc))
    with caplog.at_level(logging.DEBUG, logger="discourse_async"):
        async with asgi_client(app) as http:
            refused = await http.post(
                "/discourse-webhooks", content=body, headers=headers_for(body) | {"X-Discourse-Event-Signature": wrong}
            )
            await http.post("/discourse-webhooks", content=body, headers=headers_for(body))
    messages.append(refused.text)
    messages.append(caplog.text)
    for text in messages:
        assert SECRET not in text
        assert good.removeprefix("sha256=") not in text
        assert wrong.removeprefix("sha256=") not in text


async def test_app_mounted_in_starlette() -> None:
    starlette_applications = pytest.importorskip("starlette.applications")
    routing = pytest.importorskip("starlette.routing")
    app, rec = make_app()
    site = starlette_applications.Starlette(routes=[routing.Mount("/hooks", app=app)])
    body = post_body()
    async with asgi_client(site) as http:
        response = await http.post("/hooks/discourse-webhooks", content=body, headers=headers_for(body))
    assert response.status_code == 200
    assert len(rec.calls) == 2


# ------------------------------------------------------------------ deliveries from the fake Discourse


async def test_deliveries_from_fake_discourse() -> None:
    testing = pytest.importorskip("discourse_async.testing")
    fake = testing.FakeDiscourse()
    app, rec = make_app()
    transport = httpx.ASGITransport(app=app)
    good = fake.add_webhook(
        "http://bot.test/discourse-webhooks", SECRET, ["post_created", "topic"], transport=transport
    )
    bad = fake.add_webhook(
        "http://bot.test/discourse-webhooks", "not-the-secret", ["post_created"], transport=transport
    )

    async with fake.client() as dc:
        await dc.posts.create_post(title="Webhooks from the fake", raw="A first post, long enough.", category=2)
    ping = await fake.ping_webhook(good)

    by_hook = {(d.webhook_id, d.event): d.status for d in fake.webhook_deliveries}
    assert by_hook[(good.id, "post_created")] == 200
    assert by_hook[(good.id, "topic_created")] == 200
    assert by_hook[(bad.id, "post_created")] == 401  # the wrongly signed one ran no handler
    assert ping.status == 200
    names = sorted((name, e.event) for name, e in rec.calls)
    assert names == [
        ("any_post", "post_created"),
        ("created", "post_created"),
        ("default", "ping"),
        ("default", "topic_created"),
    ]
    by_name = {name + ":" + e.event: e for name, e in rec.calls}
    created = by_name["created:post_created"]
    assert created.post is not None
    assert created.post.raw == "A first post, long enough."
    assert created.instance == fake.base_url
    assert created.event_id is not None
    topic_event = by_name["default:topic_created"]
    assert topic_event.topic is not None
    assert topic_event.topic.title == "Webhooks from the fake"
