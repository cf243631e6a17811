"""Auth, permissions and error bodies of the fake, checked on the wire."""

from __future__ import annotations

import httpx
import pytest

from discourse_async.testing import FakeDiscourse


def http(fake: FakeDiscourse, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://forum.test", headers=headers)


def admin_headers(fake: FakeDiscourse, username: str = "system") -> dict[str, str]:
    return {"Api-Key": fake.admin_api_key, "Api-Username": username}


TOPIC = {"title": "A perfectly fine topic title", "raw": "A perfectly fine first post body.", "category": 2}


async def test_unknown_key_is_403_invalid_access(fake: FakeDiscourse) -> None:
    async with http(fake, **{"Api-Key": "nope", "Api-Username": "system"}) as client:
        answer = await client.get("/latest.json")
    assert answer.status_code == 403
    assert answer.json() == {
        "errors": ["You are not permitted to view the requested resource. The API username or key is invalid."],
        "error_type": "invalid_access",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"Api-Username": "nobody"},  # no such user
        {},  # an all-users key names no user
        {"Api-User-Id": "999"},
    ],
)
async def test_admin_key_needs_a_real_user(fake: FakeDiscourse, headers: dict[str, str]) -> None:
    async with http(fake, **{"Api-Key": fake.admin_api_key, **headers}) as client:
        assert (await client.get("/latest.json")).status_code == 403


async def test_user_bound_key_and_user_id_header(fake: FakeDiscourse) -> None:
    key = fake.create_api_key("alice")
    async with http(fake, **{"Api-Key": key}) as client:
        me = (await client.get("/session/current.json")).json()["current_user"]
    async with http(fake, **{"Api-Key": key, "Api-Username": "bob"}) as client:
        wrong = await client.get("/session/current.json")
    async with http(fake, **{"Api-Key": fake.admin_api_key, "Api-User-Id": str(fake.user("bob").id)}) as client:
        bob = (await client.get("/session/current.json")).json()["current_user"]
    assert me["username"] == "alice" and wrong.status_code == 403 and bob["username"] == "bob"


async def test_credentials_in_the_query_string_are_ignored(fake: FakeDiscourse) -> None:
    async with http(fake) as client:
        answer = await client.get(
            "/notifications.json", params={"api_key": fake.admin_api_key, "api_username": "system"}
        )
    assert answer.status_code == 403 and answer.json()["error_type"] == "not_logged_in"


async def test_anonymous_reads_public_data_but_not_private(fake: FakeDiscourse) -> None:
    staff = fake.store.categories[3]
    fake.seed_topics(2)
    fake.seed_topics(1, category=staff.id)
    async with http(fake) as anon:
        assert (await anon.get("/latest.json")).status_code == 200
        assert len((await anon.get("/latest.json")).json()["topic_list"]["topics"]) == 2
        assert (await anon.get("/site.json")).status_code == 200
        assert (await anon.get("/categories.json")).status_code == 200
        assert (await anon.get("/u/alice.json")).status_code == 200
        assert (await anon.get("/search.json", params={"q": "seeded"})).status_code == 200
        assert (await anon.get(f"/c/staff/{staff.id}.json")).status_code == 404
        notes = await anon.get("/notifications.json")
        admin = await anon.get("/admin/users.json")
        write = await anon.post("/posts.json", json=TOPIC)
    assert notes.status_code == 403 and notes.json()["error_type"] == "not_logged_in"
    assert admin.status_code == 404  # Discourse's admin routes do not exist for non-admins
    assert write.status_code == 403


async def test_admin_routes_need_an_admin(fake: FakeDiscourse) -> None:
    async with http(fake, **admin_headers(fake, "alice")) as alice, http(fake, **admin_headers(fake)) as admin:
        assert (await alice.get("/admin/users.json")).status_code == 404
        assert (await alice.post("/categories.json", json={"name": "Mine"})).status_code == 403
        assert (await admin.get("/admin/users.json")).status_code == 200


async def test_private_messages_are_private(fake: FakeDiscourse) -> None:
    fake.create_user("carol")
    async with http(fake, **admin_headers(fake, "alice")) as alice:
        pm = (
            await alice.post("/posts.json", json={**TOPIC, "archetype": "private_message", "target_recipients": "bob"})
        ).json()
    async with (
        http(fake, **admin_headers(fake, "carol")) as carol,
        http(fake) as anon,
        http(fake, **admin_headers(fake, "bob")) as bob,
    ):
        assert (await carol.get(f"/t/{pm['topic_id']}.json")).status_code == 403
        assert (await anon.get(f"/t/{pm['topic_id']}.json")).status_code == 403
        assert (await bob.get(f"/t/{pm['topic_id']}.json")).status_code == 200
        assert (await carol.get("/search.json", params={"q": "perfectly fine in:personal"})).json()["posts"] == []


async def test_validation_errors_are_422_record_invalid(fake: FakeDiscourse) -> None:
    async with http(fake, **admin_headers(fake, "alice")) as client:
        short_title = await client.post("/posts.json", json=TOPIC | {"title": "Too short"})
        short_raw = await client.post("/posts.json", json=TOPIC | {"raw": "tiny"})
        assert (await client.post("/posts.json", json=TOPIC)).status_code == 200
        duplicate = await client.post("/posts.json", json=TOPIC)
    assert short_title.status_code == 422
    assert short_title.json() == {
        "errors": ["Title is too short (minimum is 15 characters)"],
        "error_type": "record_invalid",
    }
    assert short_raw.json()["errors"] == ["Body is too short (minimum is 20 characters)"]
    assert duplicate.status_code == 422 and duplicate.json()["errors"] == ["Title has already been used"]


async def test_missing_parameters_and_malformed_json_are_400(fake: FakeDiscourse) -> None:
    async with http(fake, **admin_headers(fake)) as client:
        missing = await client.post("/posts.json", json={"title": TOPIC["title"]})
        malformed = await client.post("/posts.json", content=b"{not json", headers={"Content-Type": "application/json"})
    assert missing.status_code == 400
    assert missing.json() == {
        "errors": ["param is missing or the value is empty: raw"],
        "error_type": "invalid_parameters",
    }
    assert malformed.status_code == 400 and malformed.json()["error_type"] == "invalid_parameters"


async def test_not_found_routes_and_records(fake: FakeDiscourse) -> None:
    async with http(fake, **admin_headers(fake)) as client:
        for path in ("/t/999.json", "/posts/999.json", "/u/nobody.json", "/no/such/route.json", "/t/abc.json"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error_type"] == "not_found"


async def test_duplicate_username_is_a_200_with_success_false_like_discourse(fake: FakeDiscourse) -> None:
    body = {
        "name": "Alice Again",
        "email": "other@example.com",
        "password": "a long enough secret",
        "username": "Alice",
    }
    async with http(fake, **admin_headers(fake)) as client:
        answer = await client.post("/users.json", json=body)
    assert answer.status_code == 200
    assert answer.json()["success"] is False and answer.json()["errors"] == {"username": ["must be unique"]}


async def test_closed_topics_refuse_replies_from_non_staff(fake: FakeDiscourse) -> None:
    (topic,) = fake.seed_topics(1)
    async with http(fake, **admin_headers(fake)) as admin, http(fake, **admin_headers(fake, "alice")) as alice:
        await admin.put(f"/t/{topic.id}/status.json", json={"status": "closed", "enabled": "true"})
        refused = await alice.post("/posts.json", json={"topic_id": topic.id, "raw": "Can I still reply here?"})
        staff = await admin.post("/posts.json", json={"topic_id": topic.id, "raw": "Staff can still reply here."})
    assert refused.status_code == 403 and staff.status_code == 200
    assert [p.action_code for p in topic.posts] == [None, "closed.enabled", None]


async def test_suspended_and_silenced_users(fake: FakeDiscourse) -> None:
    async with http(fake, **admin_headers(fake)) as admin:
        alice, bob = fake.user("alice"), fake.user("bob")
        await admin.put(f"/admin/users/{alice.id}/suspend.json", json={"suspend_until": "2099-01-01", "reason": "spam"})
        await admin.put(f"/admin/users/{bob.id}/silence.json", json={"silenced_till": "2099-01-01", "reason": "rude"})
    async with (
        http(fake, **admin_headers(fake, "alice")) as as_alice,
        http(fake, **admin_headers(fake, "bob")) as as_bob,
    ):
        assert (await as_alice.get("/latest.json")).status_code == 403
        assert (await as_bob.get("/latest.json")).status_code == 200
        assert (await as_bob.post("/posts.json", json=TOPIC)).status_code == 403


async def test_user_api_key_scopes_and_client_id(fake: FakeDiscourse) -> None:
    reader = fake.create_user_api_key("alice", scopes=["read"], client_id="reader-app")
    notifier = fake.create_user_api_key("alice", scopes=["notifications"], client_id="bell-app")
    async with http(fake, **{"User-Api-Key": reader}) as client:
        assert (await client.get("/latest.json")).status_code == 200
        assert (await client.post("/posts.json", json=TOPIC)).status_code == 403
    async with http(fake, **{"User-Api-Key": reader, "User-Api-Client-Id": "other-app"}) as client:
        assert (await client.get("/latest.json")).status_code == 403
    async with http(fake, **{"User-Api-Key": notifier}) as client:
        assert (await client.get("/notifications.json")).status_code == 200
        assert (await client.get("/latest.json")).status_code == 403
        assert (await client.post("/user-api-key/revoke")).json() == {"success": "OK"}
        assert (await client.get("/notifications.json")).status_code == 403


async def test_notifications_from_replies_mentions_likes_and_messages(fake: FakeDiscourse) -> None:
    fake.create_user("carol")
    async with http(fake, **admin_headers(fake, "alice")) as alice, http(fake, **admin_headers(fake, "bob")) as bob:
        first = (await alice.post("/posts.json", json={**TOPIC, "raw": "Hello @carol, what do you think?"})).json()
        reply = (
            await bob.post(
                "/posts.json",
                json={"topic_id": first["topic_id"], "reply_to_post_number": 1, "raw": "I think this is a fine idea."},
            )
        ).json()
        await alice.post("/post_actions.json", json={"id": reply["id"], "post_action_type_id": 2})
        await bob.post(
            "/posts.json",
            json={
                "title": "A private question",
                "raw": "Are you there, Alice?",
                "archetype": "private_message",
                "target_recipients": "alice",
            },
        )
        alice_notes = (await alice.get("/notifications.json")).json()["notifications"]
        bob_notes = (await bob.get("/notifications.json")).json()["notifications"]
    kinds = fake.store.users_by_name
    # newest first: private_message, granted_badge ("First Like" for her first like), replied
    assert [n["notification_type"] for n in alice_notes] == [6, 12, 2]
    assert [n["notification_type"] for n in bob_notes] == [5]  # liked
    assert [n.notification_type for n in kinds["carol"].notifications] == [1]  # mentioned
    assert alice_notes[2]["data"]["display_username"] == "bob"
