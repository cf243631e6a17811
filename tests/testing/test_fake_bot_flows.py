"""The fake's side of the bot toolkit: the User API key authorization flow, and signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from discourse_async.testing import FakeDiscourse

crypto = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402


def http(fake: FakeDiscourse, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://forum.test", headers=headers)


@pytest.mark.parametrize("padding_name", ["pkcs1", "oaep"])
async def test_user_api_key_flow_round_trips(padding_name: str) -> None:
    fake = FakeDiscourse()
    fake.create_user("sam")
    fake.user_api_key_approver = "sam"
    private = crypto.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    params = {
        "application_name": "My bot",
        "client_id": "bot-1",
        "scopes": "read,notifications",
        "nonce": "n0nce",
        "public_key": pem.decode(),
        "auth_redirect": "https://bot.example/callback?state=1",
        "padding": padding_name,
    }
    async with http(fake) as client:
        answer = await client.get("/user-api-key/new", params=params)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert location.netloc == "bot.example" and parse_qs(location.query)["state"] == ["1"]
    payload = parse_qs(location.query)["payload"][0]
    assert "\n" in payload  # Ruby's Base64.encode64 breaks lines, and clients must cope
    scheme = (
        padding.PKCS1v15()
        if padding_name == "pkcs1"
        else padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    data = json.loads(private.decrypt(base64.b64decode(payload), scheme))
    assert data["nonce"] == "n0nce" and data["push"] is False and data["api"] == 4
    async with http(fake, **{"User-Api-Key": data["key"], "User-Api-Client-Id": "bot-1"}) as client:
        assert (await client.get("/notifications.json")).status_code == 200
        refused = await client.post(
            "/posts.json", json={"title": "Not allowed to write", "raw": "No write scope here.", "category": 2}
        )
        assert refused.status_code == 403
    assert fake.store.user_api_keys[data["key"]].scopes == ("read", "notifications")


async def test_user_api_key_flow_refuses_bad_requests() -> None:
    fake = FakeDiscourse()
    async with http(fake) as anon:
        missing = await anon.get("/user-api-key/new", params={"application_name": "x"})
        no_user = await anon.get(
            "/user-api-key/new",
            params={"application_name": "x", "client_id": "c", "scopes": "read", "nonce": "n", "public_key": "k"},
        )
        bad_scope = await anon.get(
            "/user-api-key/new",
            params={"application_name": "x", "client_id": "c", "scopes": "root", "nonce": "n", "public_key": "k"},
        )
    assert missing.status_code == 400 and no_user.status_code == 403 and bad_scope.status_code == 400


class Receiver:
    """A webhook endpoint that keeps every delivery."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.deliveries.append((headers, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def test_webhooks_are_signed_and_typed() -> None:
    fake = FakeDiscourse()
    receiver = Receiver()
    fake.add_webhook(
        "http://bot.test/hooks", "s3cret", events=["topic_created", "post"], transport=httpx.ASGITransport(app=receiver)
    )
    async with http(fake, **{"Api-Key": fake.admin_api_key, "Api-Username": "system"}) as client:
        await client.post(
            "/posts.json",
            json={"title": "A topic for the webhook", "raw": "Body of the topic for hooks.", "category": 2},
        )
        await client.post(
            "/users.json",
            json={
                "name": "N",
                "email": "n@example.com",
                "password": "long enough pw",
                "username": "newbie",
                "active": True,
            },
        )
    events = [(h["x-discourse-event-type"], h["x-discourse-event"]) for h, _ in receiver.deliveries]
    assert events == [("topic", "topic_created"), ("post", "post_created")]  # user events were not asked for
    for headers, body in receiver.deliveries:
        expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["x-discourse-event-signature"] == f"sha256={expected}"
        assert headers["x-discourse-instance"] == "http://forum.test"
        assert list(json.loads(body)) == [headers["x-discourse-event-type"]]
    assert [d.status for d in fake.webhook_deliveries] == [200, 200]
    assert json.loads(receiver.deliveries[1][1])["post"]["raw"] == "Body of the topic for hooks."


async def test_webhook_failures_are_recorded_not_raised() -> None:
    fake = FakeDiscourse()
    fake.add_webhook("http://127.0.0.1:9/nothing-listens-here", "x")
    async with http(fake, **{"Api-Key": fake.admin_api_key, "Api-Username": "system"}) as client:
        answer = await client.post(
            "/posts.json", json={"title": "Another topic for hooks", "raw": "The body of it, long.", "category": 2}
        )
    assert answer.status_code == 200
    assert fake.webhook_deliveries and all(d.error for d in fake.webhook_deliveries)
