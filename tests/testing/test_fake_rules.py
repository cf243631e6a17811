"""The fake refuses what Discourse refuses: each rule of ``_rules.RULES`` on the wire, status and body.

Each test here is one of the leniencies the fake once had (a call every real Discourse refuses that
the fake answered 200), or a rule of the table that reads a site setting; the refusal is checked
against Discourse's status and error body, and so is the call that the same rule lets through.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from discourse_async.testing import FakeDiscourse, ManualClock
from discourse_async.testing._rules import RULES

TOPIC = {"title": "A perfectly fine topic title", "raw": "A perfectly fine first post body.", "category": 2}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00" + b"\x00" * 64


def http(fake: FakeDiscourse, username: str = "system") -> httpx.AsyncClient:
    headers = {"Api-Key": fake.admin_api_key, "Api-Username": username}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://forum.test", headers=headers)


def refused_by(answer: httpx.Response, rule: str) -> bool:
    """Whether ``answer`` is the rule's refusal, status and body, exactly as Discourse sends it."""
    expected: dict[str, Any] = {"errors": list(RULES[rule].errors)}
    if RULES[rule].error_type is not None:
        expected["error_type"] = RULES[rule].error_type
    return answer.status_code == RULES[rule].status and answer.json() == expected


async def topic_by(fake: FakeDiscourse, username: str, **extra: Any) -> dict[str, Any]:
    async with http(fake, username) as client:
        answer = await client.post("/posts.json", json=TOPIC | extra)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_inviting_a_user_to_a_regular_topic_is_422_not_pm(fake: FakeDiscourse) -> None:
    topic = await topic_by(fake, "alice")
    pm = await topic_by(fake, "alice", title="A private word", archetype="private_message", target_recipients="bob")
    fake.create_user("carol")
    async with http(fake, "alice") as client:
        regular = await client.post(f"/t/{topic['topic_id']}/invite.json", json={"user": "carol"})
        private = await client.post(f"/t/{pm['topic_id']}/invite.json", json={"user": "carol"})
    assert refused_by(regular, "topic_invite.not_pm"), regular.text
    assert regular.json() == {"errors": ["You can only invite to private messages."]}
    assert private.status_code == 200, private.text
    assert fake.user("carol").id in fake.store.topics[pm["topic_id"]].allowed_user_ids


async def _upload(fake: FakeDiscourse, username: str) -> int:
    async with http(fake, username) as client:
        answer = await client.post(
            "/uploads.json",
            data={"type": "avatar", "synchronous": "true"},
            files={"file": ("me.png", PNG, "image/png")},
        )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["id"])


async def test_an_avatar_must_be_an_upload_of_ones_own(fake: FakeDiscourse) -> None:
    bobs = await _upload(fake, "bob")
    alices = await _upload(fake, "alice")
    path = "/u/alice/preferences/avatar/pick.json"
    async with http(fake, "alice") as alice:
        others = await alice.put(path, json={"upload_id": bobs, "type": "uploaded"})
        missing = await alice.put(path, json={"upload_id": 99999, "type": "uploaded"})
        own = await alice.put(path, json={"upload_id": alices, "type": "uploaded"})
    async with http(fake) as admin:
        by_admin = await admin.put(path, json={"upload_id": bobs, "type": "uploaded"})
    assert refused_by(others, "pick_avatar") and others.json()["error_type"] == "invalid_access", others.text
    assert refused_by(missing, "avatar.missing") and missing.status_code == 422, missing.text
    assert own.status_code == 200 and by_admin.status_code == 200  # admins may pick any upload
    assert fake.user("alice").uploaded_avatar_id == bobs


def _new_user(username: str, external_ids: dict[str, str]) -> dict[str, Any]:
    return {
        "name": username.title(),
        "email": f"{username}@example.com",
        "password": "a long enough secret",
        "username": username,
        "active": True,
        "external_ids": external_ids,
    }


async def test_external_ids_need_an_enabled_login_provider(fake: FakeDiscourse) -> None:
    async with http(fake) as admin:
        made_up = await admin.post("/users.json", json=_new_user("dave", {"my_sso": "d-1"}))
        github_off = await admin.post("/users.json", json=_new_user("dave", {"github": "d-1"}))
        connect_off = await admin.post("/users.json", json=_new_user("dave", {"discourse_connect": "d-1"}))
        update_off = await admin.put("/u/alice.json", json={"external_ids": {"discourse_connect": "a-1"}})
        fake.site_settings.enable_github_logins = True
        github_on = await admin.post("/users.json", json=_new_user("dave", {"github": "d-1"}))
        fake.site_settings.enable_discourse_connect = True
        update_on = await admin.put("/u/alice.json", json={"external_ids": {"discourse_connect": "a-1"}})
    for answer in (made_up, github_off, connect_off, update_off):
        assert refused_by(answer, "external_ids"), answer.text
    assert made_up.json()["error_type"] == "invalid_parameters" and made_up.status_code == 400
    assert github_on.json()["success"] is True and fake.user("dave").external_ids == {"github": "d-1"}
    assert update_on.status_code == 200 and fake.user("alice").external_ids == {"discourse_connect": "a-1"}


@pytest.mark.parametrize(
    "setting", [{"enable_discourse_connect": True}, {"enable_local_logins": False}], ids=["connect", "no-local"]
)
async def test_no_password_reset_without_local_logins(fake: FakeDiscourse, setting: dict[str, bool]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://forum.test") as anon:
        allowed = await anon.post("/session/forgot_password.json", json={"login": "alice"})
        for name, value in setting.items():
            setattr(fake.site_settings, name, value)
        refused = await anon.post("/session/forgot_password.json", json={"login": "alice"})
    assert allowed.status_code == 200
    assert refused_by(refused, "local_logins") and refused.status_code == 403, refused.text
    assert len(fake.emails) == 1  # only the allowed reset sent a mail


async def test_topics_need_a_category_unless_uncategorized_topics_are_allowed(fake: FakeDiscourse) -> None:
    async with http(fake, "alice") as client:
        none = await client.post("/posts.json", json={"title": TOPIC["title"], "raw": TOPIC["raw"]})
        uncategorized = await client.post("/posts.json", json=TOPIC | {"category": 1})
        fake.site_settings.allow_uncategorized_topics = True
        allowed = await client.post("/posts.json", json={"title": TOPIC["title"], "raw": TOPIC["raw"]})
    assert refused_by(none, "uncategorized_topics") and none.status_code == 422, none.text
    assert refused_by(uncategorized, "uncategorized_topics"), uncategorized.text
    assert allowed.status_code == 200 and fake.store.topics[allowed.json()["topic_id"]].category_id == 1
    assert fake.count_requests("POST", "/posts.json", wrote=True) == 1


async def test_update_topic_reads_the_top_level_title_only(fake: FakeDiscourse) -> None:
    topic = await topic_by(fake, "alice")
    path = f"/t/-/{topic['topic_id']}.json"
    async with http(fake, "alice") as client:
        nested = await client.put(path, json={"topic": {"title": "A title that is never applied"}})
        unchanged = fake.store.topics[topic["topic_id"]].title
        flat = await client.put(path, json={"title": "A title that is applied at once"})
    assert nested.status_code == 200 and unchanged == TOPIC["title"]  # 200, and nothing changed: as Discourse
    assert flat.status_code == 200 and flat.json()["basic_topic"]["title"] == "A title that is applied at once"


async def test_suspend_answers_suspension_and_silence_answers_silence(fake: FakeDiscourse) -> None:
    alice, bob = fake.user("alice"), fake.user("bob")
    async with http(fake) as admin:
        suspended = await admin.put(
            f"/admin/users/{alice.id}/suspend.json", json={"suspend_until": "2099-01-01", "reason": "spam"}
        )
        silenced = await admin.put(
            f"/admin/users/{bob.id}/silence.json", json={"silenced_till": "2099-01-01", "reason": "spam"}
        )
        staff = await admin.put("/admin/users/-1/suspend.json", json={"suspend_until": "2099-01-01", "reason": "x"})
    assert set(suspended.json()) == {"suspension"} and suspended.json()["suspension"]["suspend_reason"] == "spam"
    assert set(silenced.json()) == {"silence"} and silenced.json()["silence"]["silenced"] is True
    assert refused_by(staff, "suspend_staff"), staff.text


async def test_find_categories_with_permissions_gives_group_permissions(fake: FakeDiscourse) -> None:
    async with http(fake) as admin:
        plain = (await admin.get("/categories/find.json", params={"ids[]": [2, 3]})).json()
        full = (
            await admin.get("/categories/find.json", params={"ids[]": [2, 3], "include_permissions": "true"})
        ).json()
    assert all("group_permissions" not in c for c in plain["categories"])
    staff = next(c for c in full["categories"] if c["id"] == 3)
    assert staff["group_permissions"] == [{"permission_type": 1, "group_name": "staff", "group_id": 3}]


async def test_private_messages_need_trust_level_1(fake: FakeDiscourse) -> None:
    fake.create_user("newbie", trust_level=0)
    message = TOPIC | {"archetype": "private_message", "target_recipients": "alice"}
    async with http(fake, "newbie") as newbie, http(fake, "bob") as bob:
        refused = await newbie.post("/posts.json", json=message)
        allowed = await bob.post("/posts.json", json=message)
        fake.site_settings.personal_message_enabled_groups = "10"  # trust_level_0: everyone
        now_allowed = await newbie.post("/posts.json", json=message | {"title": "Another private word here"})
        fake.site_settings.enable_personal_messages = False
        off = await bob.post("/posts.json", json=message | {"title": "A third private word here"})
    assert refused_by(refused, "send_private_message"), refused.text
    assert allowed.status_code == 200 and now_allowed.status_code == 200
    assert refused_by(off, "send_private_message"), off.text


async def test_topics_only_where_the_category_gives_create(fake: FakeDiscourse) -> None:
    category = fake.create_category("Announcements")
    category.permissions = {"everyone": 3, "staff": 1}  # everyone sees, staff create (a common setup)
    async with http(fake, "alice") as alice, http(fake) as admin:
        refused = await alice.post("/posts.json", json=TOPIC | {"category": category.id})
        allowed = await admin.post("/posts.json", json=TOPIC | {"category": category.id})
        reply = await alice.post("/posts.json", json={"topic_id": allowed.json()["topic_id"], "raw": TOPIC["raw"]})
    assert refused_by(refused, "create_topic"), refused.text
    assert allowed.status_code == 200
    assert refused_by(reply, "reply_in_category"), reply.text  # "see" only: no replies either


async def test_closed_topics_take_replies_from_moderators_and_trust_level_4(fake: FakeDiscourse) -> None:
    fake.create_user("leader", trust_level=4)
    topic = await topic_by(fake, "alice")
    fake.store.topics[topic["topic_id"]].closed = True
    body = {"topic_id": topic["topic_id"], "raw": "A reply to a closed topic, long enough."}
    async with http(fake, "bob") as bob, http(fake, "leader") as leader:
        refused = await bob.post("/posts.json", json=body)
        allowed = await leader.post("/posts.json", json=body)
    assert refused_by(refused, "reply_to_closed_topic"), refused.text
    assert allowed.status_code == 200, allowed.text


async def test_trust_level_3_edits_others_topics_unless_the_setting_is_off(fake: FakeDiscourse) -> None:
    fake.create_user("regular", trust_level=3)
    topic = await topic_by(fake, "alice")
    path = f"/t/-/{topic['topic_id']}.json"
    async with http(fake, "regular") as regular, http(fake, "bob") as bob:
        by_bob = await bob.put(path, json={"title": "Bob renames a topic of Alice"})
        by_regular = await regular.put(path, json={"title": "A regular renames a topic"})
        fake.site_settings.trusted_users_can_edit_others = False
        refused = await regular.put(path, json={"title": "Not any more, though"})
    assert refused_by(by_bob, "edit_topic") and refused_by(refused, "edit_topic")
    assert by_regular.status_code == 200


async def test_authors_delete_their_topics_only_within_a_day() -> None:
    clock = ManualClock()
    fake = FakeDiscourse(clock=clock)
    fake.create_user("alice")
    first, second = await topic_by(fake, "alice"), await topic_by(fake, "alice", title="A second topic of Alice")
    async with http(fake, "alice") as alice:
        soon = await alice.delete(f"/t/{first['topic_id']}.json")
        clock.advance(86400 + 1)
        late = await alice.delete(f"/t/{second['topic_id']}.json")
    assert soon.status_code == 200
    assert refused_by(late, "delete_topic"), late.text


async def test_minimum_lengths_are_site_settings(fake: FakeDiscourse) -> None:
    short = TOPIC | {"title": "Short one"}
    async with http(fake, "alice") as client:
        refused = await client.post("/posts.json", json=short)
        fake.site_settings.min_topic_title_length = 5
        allowed = await client.post("/posts.json", json=short)
    assert refused.json() == {
        "errors": ["Title is too short (minimum is 15 characters)"],
        "error_type": "record_invalid",
    }
    assert allowed.status_code == 200


def test_site_settings_refuse_unknown_names_and_cast_text() -> None:
    settings = FakeDiscourse().site_settings
    with pytest.raises(AttributeError):
        settings.allow_uncategorised_topics = True  # type: ignore[attr-defined]  # a typo must not pass silently
    settings.set_text("allow_uncategorized_topics", "true")
    settings.set_text("min_post_length", "5")
    assert settings.allow_uncategorized_topics is True and settings.min_post_length == 5
    with pytest.raises(ValueError, match="unknown site setting 'no_such_setting'"):
        settings.set_text("no_such_setting", "1")
    with pytest.raises(ValueError, match="takes an integer"):
        settings.set_text("min_post_length", "five")


async def test_group_owners_manage_their_group_and_others_do_not(fake: FakeDiscourse) -> None:
    fake.create_user("carol")
    group = fake.store.groups[fake.seed_groups(1, members=["alice"])[0].id]
    fake.add_group_members(group.name, ["alice"], owner=True)
    path = f"/groups/{group.id}/members.json"
    async with http(fake, "alice") as owner, http(fake, "bob") as bob:
        refused = await bob.put(path, json={"usernames": "carol"})
        allowed = await owner.put(path, json={"usernames": "carol"})
        automatic = await owner.put("/groups/10/members.json", json={"usernames": "carol"})
    assert refused_by(refused, "group_owner"), refused.text
    assert allowed.status_code == 200, allowed.text
    assert refused_by(automatic, "group_owner"), automatic.text  # trust_level_0 is computed, owned by none


async def test_private_message_lists_are_their_users_own(fake: FakeDiscourse) -> None:
    async with http(fake, "bob") as bob, http(fake) as admin:
        refused = await bob.get("/topics/private-messages/alice.json")
        own = await bob.get("/topics/private-messages/bob.json")
        by_admin = await admin.get("/topics/private-messages/alice.json")
    assert refused_by(refused, "read_private_messages"), refused.text
    assert own.status_code == 200 and by_admin.status_code == 200


async def test_nobody_likes_their_own_post(fake: FakeDiscourse) -> None:
    topic = await topic_by(fake, "alice")
    async with http(fake, "alice") as alice, http(fake, "bob") as bob:
        own = await alice.post("/post_actions.json", json={"id": topic["id"], "post_action_type_id": 2})
        other = await bob.post("/post_actions.json", json={"id": topic["id"], "post_action_type_id": 2})
    assert refused_by(own, "act_on_post"), own.text
    assert other.status_code == 200, other.text


async def test_admins_are_neither_deleted_nor_anonymized(fake: FakeDiscourse) -> None:
    boss = fake.create_user("boss", admin=True)
    async with http(fake) as admin:
        deleted = await admin.delete(f"/admin/users/{boss.id}.json")
        anonymized = await admin.put(f"/admin/users/{boss.id}/anonymize.json")
    assert refused_by(deleted, "delete_admin") and refused_by(anonymized, "anonymize_admin")
