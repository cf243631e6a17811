"""The fake routes as Discourse does: optional format suffix, ``/u`` and ``/users``, slugged and
unslugged topic paths, legacy routes, sync_sso, and Discourse's 404 (logged) for what it lacks."""

from __future__ import annotations

import logging

import httpx
import pytest

from discourse_async import NotFoundError, UnprocessableEntityError, connect
from discourse_async.connect import sync_sso
from discourse_async.testing import FakeDiscourse

NOT_FOUND = {"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"}


@pytest.fixture
def fake() -> FakeDiscourse:
    fake = FakeDiscourse()
    fake.create_user("alice")
    fake.seed_topics(1)
    fake.seed_posts(1, 30)
    return fake


def raw_client(fake: FakeDiscourse, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake),
        base_url=fake.base_url,
        headers={"Api-Key": fake.admin_api_key, "Api-Username": "system", **headers},
    )


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/latest", "list_latest_topics"),
        ("GET", "/latest.json", "list_latest_topics"),
        ("GET", "/u/alice", "get_user"),
        ("GET", "/users/alice", "get_user"),
        ("GET", "/users/alice.json", "get_user"),
        ("GET", "/users/alice/emails.json", "get_user_emails"),
        ("GET", "/t/1", "get_topic"),
        ("GET", "/t/seeded-topic/1", "get_topic_with_slug"),
        ("GET", "/t/1/25.json", "get_topic_with_slug"),
        ("GET", "/t/seeded-topic/1/25", "get_topic_with_slug"),
        ("GET", "/t/1/posts", "get_specific_posts_from_topic"),
        ("GET", "/posts/by_number/1/2", "get_post_by_number"),
        ("GET", "/c/1.json", "list_category_topics"),
        ("GET", "/topics/created-by/system", "list_topics_created_by"),
        ("GET", "/session/hp.json", "honeypot"),
        ("GET", "/groups/search.json", "search_groups"),
    ],
)
async def test_paths_route_like_discourse(fake: FakeDiscourse, method: str, path: str, route: str) -> None:
    async with raw_client(fake) as client:
        response = await client.request(method, path)
    assert response.status_code == 200, response.text
    assert fake.requests[-1].route == route


async def test_a_topic_at_a_post_number_gives_the_posts_around_it(fake: FakeDiscourse) -> None:
    async with raw_client(fake) as client:
        at = (await client.get("/t/1/25.json")).json()
        first = (await client.get("/t/1.json")).json()
    assert [p["post_number"] for p in first["post_stream"]["posts"]] == list(range(1, 21))
    numbers = [p["post_number"] for p in at["post_stream"]["posts"]]
    assert 25 in numbers and len(numbers) == 20 and numbers[0] == 12  # the last 20 of 31
    assert len(at["post_stream"]["stream"]) == 31


async def test_writes_without_the_suffix(fake: FakeDiscourse) -> None:
    async with raw_client(fake) as client:
        reply = await client.post("/posts", data={"topic_id": "1", "raw": "A reply without the json suffix."})
        closed = await client.put("/t/1/status", data={"status": "closed", "enabled": "true"})
        renamed = await client.put("/t/1", data={"title": "A new title for the seeded topic"})
        user = await client.post(
            "/users", data={"username": "bob", "email": "bob@example.com", "password": "a-long-password", "active": "1"}
        )
        group = await client.post("/admin/groups", json={"group": {"name": "helpers"}})
        group_id = group.json()["basic_group"]["id"]
        added = await client.post(f"/admin/users/{fake.user('bob').id}/groups", data={"group_id": str(group_id)})
        by_id = await client.put(f"/groups/{group_id}/members", data={"usernames": "alice"})
    assert [r.status_code for r in (reply, closed, renamed, user, group, added, by_id)] == [200] * 7
    assert fake.topic(1).closed and fake.topic(1).title == "A new title for the seeded topic"
    assert "A reply without the json suffix." in [p.raw for p in fake.topic(1).posts]
    assert user.json()["success"] is True
    members = next(g for g in fake.store.groups.values() if g.name == "helpers").members
    assert set(members) == {fake.user("bob").id, fake.user("alice").id}


async def test_a_files_own_json_name_is_not_a_format_suffix(fake: FakeDiscourse) -> None:
    async with fake.client() as dc:
        upload = await dc.uploads.upload(b'{"a": 1}', filename="data.json")
    async with raw_client(fake) as client:
        served = await client.get(upload.url)
    assert upload.url.endswith(".json")
    assert (served.status_code, served.content) == (200, b'{"a": 1}')


async def test_accept_decides_the_format_of_a_bare_path(fake: FakeDiscourse) -> None:
    async with raw_client(fake, Accept="text/html") as client:
        html = await client.get("/latest")
        suffixed = await client.get("/latest.json")
    async with raw_client(fake, Accept="application/json") as client:
        json_ = await client.get("/latest")
    assert html.status_code == 406  # the fake has no HTML views
    assert suffixed.status_code == json_.status_code == 200


async def test_an_unmodelled_route_is_discourses_404_and_logged(
    fake: FakeDiscourse, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="discourse_async.testing"):
        async with raw_client(fake) as client:
            response = await client.post("/admin/plugins/explorer/queries/1/run")
            known = await client.get("/t/999.json")
    assert response.status_code == known.status_code == 404
    assert response.json() == known.json() == NOT_FOUND
    assert [r.getMessage() for r in caplog.records] == [
        "fake Discourse has no route for POST /admin/plugins/explorer/queries/1/run"
    ]
    assert fake.requests[-2].route is None and fake.requests[-1].route == "get_topic"


async def test_sync_sso_creates_then_updates_a_user(fake: FakeDiscourse) -> None:
    fake.discourse_connect_secret = "connect-secret"
    async with fake.client() as dc:
        created = await sync_sso(dc, "connect-secret", external_id="ext-1", email="carol@example.com", username="carol")
        updated = await sync_sso(
            dc, "connect-secret", external_id="ext-1", email="carol@example.org", username="carol", name="Carol C"
        )
    assert created["id"] == updated["id"] == fake.user("carol").id
    assert fake.user("carol").email == "carol@example.org" and fake.user("carol").name == "Carol C"
    assert fake.user("carol").external_ids == {"discourse_connect": "ext-1"}


async def test_sync_sso_refuses_a_bad_signature_and_is_absent_when_disabled(fake: FakeDiscourse) -> None:
    async with fake.client() as dc:
        with pytest.raises(NotFoundError):
            await sync_sso(dc, "whatever", external_id="ext-1", email="carol@example.com")
        fake.discourse_connect_secret = "connect-secret"
        with pytest.raises(UnprocessableEntityError) as refused:
            await sync_sso(dc, "another-secret", external_id="ext-1", email="carol@example.com")
    assert refused.value.body == {"failed": "FAILED", "message": "Login Error"}


async def test_discourse_as_identity_provider(fake: FakeDiscourse) -> None:
    fake.discourse_connect_provider_secrets = {"app.example.com": "provider-secret"}
    url, nonce = connect.build_auth_redirect(fake.base_url, "https://app.example.com/sso", "provider-secret")
    quiet, quiet_nonce = connect.build_auth_redirect(
        fake.base_url, "https://app.example.com/sso", "provider-secret", prompt="none"
    )
    async with raw_client(fake, **{"Api-Username": "alice"}) as client:
        answer = await client.get(url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)) as anonymous:
        not_logged_in = await anonymous.get(quiet)
    assert answer.status_code == not_logged_in.status_code == 302
    location = httpx.URL(answer.headers["location"])
    assert str(location).startswith("https://app.example.com/sso?")
    user = connect.parse_auth_response(location.params["sso"], location.params["sig"], "provider-secret", nonce)
    assert (user.username, user.email, user.external_id) == ("alice", "alice@example.com", str(fake.user("alice").id))
    refused = httpx.URL(not_logged_in.headers["location"]).params
    with pytest.raises(connect.ConnectLoginFailedError):
        connect.parse_auth_response(refused["sso"], refused["sig"], "provider-secret", quiet_nonce)
