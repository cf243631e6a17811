"""Every route of the fake Discourse answers with a body that fits openapi.yaml's 200 response schema.

One scenario builds a small forum through the real client (in-process) and calls all 93 operations
with realistic data; each JSON body is validated with jsonschema (Draft 2020-12), parsed into the
generated model, and (when $DISCOURSE_ASYNC_SPEC_CACHE holds Discourse's published document) checked
for the top-level keys that document requires. The test fails if an operation was not exercised.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx

from discourse_async import File
from discourse_async._generated.api import INPUTS, METHOD_NAMES, OPERATIONS
from discourse_async.testing import FakeDiscourse, S3Server
from tests.samples import operations, response_validator

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00" + b"\x00" * 64

#: Where a current Discourse sends a value that openapi.yaml types differently: the fake stays
#: faithful to Discourse, and these are reported for codegen/corrections.yaml. When the document
#: is corrected the entry must go (the test fails on a gap that no longer shows).
#: Where the fake answers as real sites do and the document does not.
KNOWN_SPEC_GAPS: dict[tuple[str, str], str] = {
    (operation, "width|height|thumbnail_width|thumbnail_height"): "null for a file that is not an image"
    for operation in ("complete_external_upload", "complete_multipart")
}


#: Top-level keys the published document requires that a current Discourse does not always send
#: (the document's required lists are one admin's view of one build): operation -> {key: why}.
PUBLISHED_REQUIRED_GAPS: dict[str, dict[str, str]] = {
    "createUser": {"active": "a refused account's 200 answer is {success: false, message, errors, values}"},
}


@functools.cache
def published_required() -> dict[str, list[str]] | None:
    """operationId -> the top-level keys the published document's 200 answer requires (None without it)."""
    cache = os.environ.get("DISCOURSE_ASYNC_SPEC_CACHE")
    path = Path(cache) / "discourse_api_docs-openapi.json" if cache else None
    if path is None or not path.exists():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))
    required: dict[str, list[str]] = {}
    for item in doc["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            schema = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema")
            required[op["operationId"]] = list(schema.get("required", [])) if isinstance(schema, dict) else []
    return required


class Checker:
    """Validates each raw response against its operation's schema and keeps what was covered."""

    def __init__(self) -> None:
        by_route = {(method, path): op_id for op_id, (method, path, _op) in operations().items()}
        self.by_snake = {name: by_route[(method, path)] for name, (_tag, method, path) in OPERATIONS.items()}
        self.covered: set[str] = set()
        self.problems: list[str] = []
        self.gaps_seen: set[tuple[str, str]] = set()
        self.anonymous: set[int] = set()  # ids of the clients that send no credentials

    def check(self, name: str, response: Any, *, anonymous: bool = False) -> Any:
        self.covered.add(name)
        status = response.status_code
        if not 200 <= status < 300:
            self.problems.append(f"{name}: HTTP {status}: {response.text[:300]}")
            return None
        validator = response_validator(self.by_snake[name], status)
        if validator is None or not response.content:
            return None
        body = response.json()
        for error in validator.iter_errors(body):
            self.problem(name, "/".join(str(p) for p in error.absolute_path) or "<root>", error.message[:200])
        self.check_required(name, body, anonymous=anonymous)
        try:
            response.parse()
        except Exception as exc:  # the generated model must accept what the fake sends
            self.problem(name, "<model>", f"model parse failed: {exc}")
        return body

    def check_required(self, name: str, body: Any, *, anonymous: bool) -> None:
        """The top-level keys Discourse's published document requires, where it is right about them."""
        required = published_required()
        if required is None or not isinstance(body, dict):
            return
        op_id = self.by_snake[name]
        gaps = PUBLISHED_REQUIRED_GAPS.get(op_id, {})
        for key in required.get(op_id, []):
            # anonymous viewers never get the permission flags or review counts from a real site
            viewer_only = anonymous and key.startswith(("can_", "reviewable_"))
            if key not in body and key not in gaps and not viewer_only:
                self.problems.append(f"{name}: no {key!r}, which the published document requires")

    def problem(self, name: str, where: str, message: str) -> None:
        gap = next((k for k in KNOWN_SPEC_GAPS if k[0] == name and re.fullmatch(k[1], where)), None)
        if gap is not None:
            self.gaps_seen.add(gap)
        else:
            self.problems.append(f"{name}: {where}: {message}")


async def call(checker: Checker, client: Any, operation: str, /, body: Any = None, **kwargs: Any) -> Any:
    """Call an operation by its name in the table; ``body`` is spread into its body keywords."""
    tag = OPERATIONS[operation][0]
    raw = getattr(getattr(client, tag).with_raw_response, METHOD_NAMES[operation])
    if body is not None:
        keyword = {key: kw for kw, key, where in INPUTS[operation] if where in ("json", "form")}
        kwargs.update({keyword[k]: v for k, v in body.items() if k in keyword})
        extra = {k: v for k, v in body.items() if k not in keyword}
        if extra:
            kwargs["extra_body"] = extra
    return checker.check(operation, await raw(**kwargs), anonymous=id(client) in checker.anonymous)


async def test_every_operation_matches_its_response_schema(s3_server: S3Server) -> None:
    fake = FakeDiscourse(s3=s3_server)
    alice = fake.create_user("alice", trust_level=2)
    fake.create_user("bob")
    fake.create_user("carol")
    fake.create_user("mod", moderator=True)
    c = Checker()
    async with (
        fake.client() as admin,
        fake.client("alice") as as_alice,
        fake.client("bob") as as_bob,
        fake.client(anonymous=True) as anon,
    ):
        c.anonymous.add(id(anon))
        # ------------------------------------------------------------ site, categories, content
        await call(c, anon, "get_site")
        await call(c, anon, "get_site_basic_info")
        body = await call(
            c, admin, "create_category", body={"name": "Announcements", "color": "BF1E2E", "text_color": "FFFFFF"}
        )
        category_id = body["category"]["id"]
        child = await call(c, admin, "create_category", body={"name": "Sub news", "parent_category_id": category_id})
        await call(c, admin, "update_category", id=category_id, body={"name": "News", "color": "3AB54A"})
        await call(c, anon, "get_category", id=category_id)
        await call(c, anon, "list_categories", include_subcategories=True)
        post = await call(
            c,
            as_alice,
            "create_topic_post_pm",
            body={
                "title": "Welcome to the fake forum",
                "raw": "The first post of the first topic, hello @bob.",
                "category": category_id,
                "tags": ["welcome", "news"],
                "external_id": "ext-1",
            },
        )
        topic_id = post["topic_id"]
        reply = await call(
            c,
            as_bob,
            "create_topic_post_pm",
            body={
                "topic_id": topic_id,
                "raw": "A reply from Bob to the first post.",
                "reply_to_post_number": 1,
            },
        )
        await as_alice.posts.create_post(
            topic_id=topic_id, raw="Alice answers Bob's reply here.", reply_to_post_number=2
        )
        await as_alice.posts.create_post(
            title="Second topic in the sub category",
            raw="Some text for the second topic here.",
            category=child["category"]["id"],
        )
        fake.seed_topics(3, category=category_id)
        await call(c, as_bob, "perform_post_action", body={"id": post["id"], "post_action_type_id": 2})
        await call(c, anon, "get_topic", id=str(topic_id))
        await call(c, admin, "get_topic", id=str(topic_id))
        await call(c, anon, "get_topic_by_external_id", external_id="ext-1")
        await call(c, admin, "get_specific_posts_from_topic", id=str(topic_id), post_ids=[post["id"], reply["id"]])
        await call(c, anon, "get_post", id=str(post["id"]))
        await call(
            c,
            as_alice,
            "update_post",
            id=str(post["id"]),
            body={"post": {"raw": "The first post of the first topic, edited by Alice.", "edit_reason": "typo"}},
        )
        await call(c, anon, "post_replies", id=str(post["id"]))
        await call(c, admin, "lock_post", id=str(reply["id"]), body={"locked": "true"})
        await call(c, anon, "list_posts")
        await call(c, admin, "list_posts", before=reply["id"])
        await call(c, anon, "list_latest_topics")
        await call(c, as_alice, "list_latest_topics", order="created", per_page=2)
        await call(c, anon, "list_top_topics", period="all")
        await call(c, as_bob, "list_top_topics", period="weekly")
        await call(c, anon, "list_category_topics", slug="news", id=category_id)
        await call(c, as_alice, "list_category_topics", slug="news", id=category_id, page=0)
        await call(c, anon, "list_tags")
        await call(c, anon, "get_tag", name="welcome")
        await call(c, as_alice, "get_tag", name="news")
        await call(c, admin, "create_tag_group", body={"name": "Topics of interest", "tag_names": ["welcome", "news"]})
        group_id = str(next(iter(fake.store.tag_groups)))
        await call(c, anon, "list_tag_groups")
        await call(c, anon, "get_tag_group", id=group_id)
        await call(c, admin, "update_tag_group", id=group_id, body={"name": "Interesting topics"})
        await call(c, anon, "search", q="first post")
        fake.seed_posts(topic_id, 55)
        await call(c, anon, "search", q="seeded reply")  # a full page: more_full_page_results is set
        await call(c, as_alice, "search", q="reply @bob", page=1)
        await call(c, as_alice, "set_notification_level", id=str(topic_id), body={"notification_level": "3"})
        await call(c, as_bob, "bookmark_topic", id=str(topic_id))
        # Discourse reads the new title from the top level of the body (not the documented {"topic": {...}}).
        await call(c, admin, "update_topic", id=str(topic_id), body={"title": "Welcome to our fake forum"})
        await call(c, admin, "update_topic_status", id=str(topic_id), body={"status": "pinned", "enabled": "true"})
        await call(c, admin, "update_topic_status", id=str(topic_id), body={"status": "closed", "enabled": "true"})
        await call(c, admin, "update_topic_timestamp", id=str(topic_id), body={"timestamp": "2024-01-02T03:04:05Z"})
        await call(c, admin, "create_topic_timer", id=str(topic_id), body={"time": "24", "status_type": "open"})
        await call(c, admin, "get_topic", id=str(topic_id))
        # ------------------------------------------------------------ private messages
        pm = await call(
            c,
            as_alice,
            "create_topic_post_pm",
            body={
                "title": "A private hello",
                "raw": "Hello Bob, this is private.",
                "archetype": "private_message",
                "target_recipients": "bob",
            },
        )
        await call(c, as_bob, "list_user_private_messages", username="bob")
        await call(c, as_alice, "get_user_sent_private_messages", username="alice")
        await call(c, as_alice, "invite_to_topic", id=str(pm["topic_id"]), body={"user": "carol"})
        # ------------------------------------------------------------ groups
        made = await call(
            c,
            admin,
            "create_group",
            body={
                "group": {
                    "name": "testers",
                    "full_name": "The testers",
                    "usernames": "alice,bob",
                    "owner_usernames": "alice",
                }
            },
        )
        gid = made["basic_group"]["id"]
        await call(c, as_alice, "invite_group_to_topic", id=str(pm["topic_id"]), body={"group": "testers"})
        await call(c, anon, "get_group", name="testers")
        await call(c, anon, "get_group_by_id", id=str(gid))
        await call(c, as_alice, "update_group", id=gid, body={"group": {"name": "testers", "bio_raw": "We test."}})
        await call(c, as_alice, "add_group_members", id=gid, body={"usernames": "carol"})
        await call(c, anon, "list_group_members", name="testers", limit=2)
        await call(c, as_alice, "remove_group_members", id=gid, body={"usernames": "carol"})
        await call(c, anon, "list_groups")
        await call(c, as_alice, "list_groups", type="my")
        # ------------------------------------------------------------ notifications
        await call(c, as_alice, "get_notifications")
        await call(c, as_bob, "get_notifications", limit=2, offset=0)
        await call(c, as_bob, "mark_notifications_as_read", body={})
        # ------------------------------------------------------------ badges, events
        fake.grant_badge("alice", "Welcome")
        await call(c, admin, "admin_list_badges")
        badge = await call(
            c, admin, "create_badge", body={"name": "Great tester", "badge_type_id": 2, "description": "Found a bug"}
        )
        await call(c, admin, "update_badge", id=badge["badge"]["id"], body={"name": "Great tester", "badge_type_id": 1})
        await call(c, anon, "list_user_badges", username="alice")
        fake.add_event(post["id"], "Release party", starts_at=fake.store.now() + 3600)
        await call(c, anon, "list_events", category_id=category_id)
        await call(c, anon, "export_events_ics")
        # ------------------------------------------------------------ invites, users
        await call(
            c,
            as_alice,
            "create_invite",
            body={"email": "dave@example.com", "topic_id": topic_id, "group_names": "testers"},
        )
        await call(c, admin, "create_multiple_invites", body={"email": ["eve@example.com", "frank@example.com"]})
        # external ids need their login provider on (DiscourseConnect, GitHub); local logins come back below
        fake.site_settings.enable_discourse_connect = fake.site_settings.enable_github_logins = True
        made_user = await call(
            c,
            admin,
            "create_user",
            body={
                "name": "Grace Hopper",
                "email": "grace@example.com",
                "password": "a long enough secret",
                "username": "grace",
                "active": True,
                "external_ids": {"discourse_connect": "g-1"},
            },
        )
        grace_id = made_user["user_id"]
        await call(
            c,
            admin,
            "create_user",
            body={"name": "Dup", "email": "dup@example.com", "password": "a long enough secret", "username": "grace"},
        )
        await call(c, anon, "get_user", username="alice")
        await call(c, as_alice, "get_user", username="alice")
        await call(c, as_alice, "update_user", username="alice", body={"name": "Alice Liddell"})
        await call(c, admin, "update_user", username="grace", body={"external_ids": {"github": "gh-7"}})
        await call(c, admin, "get_user_external_id", external_id="g-1")
        await call(c, admin, "get_user_identiy_provider_external_id", provider="github", external_id="gh-7")
        upload = await call(
            c,
            as_alice,
            "create_upload",
            body={
                "upload_type": "avatar",
                "synchronous": True,
                "file": File(payload=io.BytesIO(PNG), file_name="me.png", mime_type="image/png"),
            },
        )
        await call(c, as_alice, "update_avatar", username="alice", body={"upload_id": upload["id"], "type": "uploaded"})
        await call(c, as_alice, "update_email", username="alice", body={"email": "alice@new.example.com"})
        await call(c, admin, "update_username", username="grace", body={"new_username": "grace_h"})
        await call(c, anon, "list_users_public", period="all", order="post_count")
        await call(c, anon, "list_user_actions", offset=0, username="alice", filter="4,5")
        await call(c, as_alice, "get_user_emails", username="alice")
        await call(c, as_alice, "refresh_gravatar", username="alice")
        fake.site_settings.enable_discourse_connect = False  # password resets need local logins
        await call(c, anon, "send_password_reset_email", body={"login": "bob"})
        token = fake.emails[-1].token
        await call(c, anon, "change_password", token=token, body={"username": "bob", "password": "another long secret"})
        # ------------------------------------------------------------ admin users
        await call(c, admin, "admin_list_users", show_emails=True)
        await call(c, admin, "admin_list_users_flag", flag="staff")
        await call(c, admin, "admin_get_user", id=alice.id)
        await call(c, admin, "deactivate_user", id=grace_id)
        await call(c, admin, "activate_user", id=grace_id)
        await call(c, admin, "suspend_user", id=grace_id, body={"suspend_until": "2099-01-01", "reason": "spam"})
        await call(c, admin, "silence_user", id=grace_id, body={"silenced_till": "2099-01-01", "reason": "spam"})
        await call(c, admin, "log_out_user", id=grace_id)
        await call(c, admin, "admin_get_user", id=grace_id)
        await call(c, admin, "anonymize_user", id=grace_id)
        await call(c, admin, "delete_user", id=grace_id, body={"delete_posts": True})
        # ------------------------------------------------------------ backups
        await call(c, admin, "create_backup", body={"with_uploads": False})
        backups = await call(c, admin, "get_backups")
        filename = backups[0]["filename"]
        await call(c, admin, "send_download_backup_email", filename=filename)
        await call(c, admin, "download_backup", filename=filename, token=fake.emails[-1].token)
        # ------------------------------------------------------------ direct S3 uploads
        data = b"hello direct upload" * 10
        put = await call(
            c,
            as_alice,
            "generate_presigned_put",
            body={
                "type": "composer",
                "file_name": "notes.txt",
                "file_size": len(data),
                "metadata": {"sha1-checksum": hashlib.sha1(data).hexdigest()},
            },
        )
        async with httpx.AsyncClient() as bare:
            assert (await bare.put(put["url"], content=data, headers=put["signed_headers"])).status_code == 200
            await call(c, as_alice, "complete_external_upload", body={"unique_identifier": put["unique_identifier"]})
            part = b"x" * (5 * 1024 * 1024)
            started = await call(
                c,
                as_alice,
                "create_multipart_upload",
                body={
                    "upload_type": "composer",
                    "file_name": "big.bin",
                    "file_size": len(part) + 3,
                },
            )
            urls = await call(
                c,
                as_alice,
                "batch_presign_multipart_parts",
                body={
                    "part_numbers": [1, 2],
                    "unique_identifier": started["unique_identifier"],
                },
            )
            etags = []
            for number, chunk in ((1, part), (2, b"end")):
                answer = await bare.put(urls["presigned_urls"][str(number)], content=chunk)
                etags.append({"part_number": number, "etag": answer.headers["etag"]})
            await call(
                c,
                as_alice,
                "complete_multipart",
                body={"unique_identifier": started["unique_identifier"], "parts": etags},
            )
            other = await call(
                c,
                as_alice,
                "create_multipart_upload",
                body={
                    "upload_type": "composer",
                    "file_name": "gone.bin",
                    "file_size": 10,
                },
            )
            await call(
                c, as_alice, "abort_multipart", body={"external_upload_identifier": other["external_upload_identifier"]}
            )
        # ------------------------------------------------------------ deletions last
        await call(c, admin, "delete_badge", id=badge["badge"]["id"])
        await call(c, admin, "delete_group", id=gid)
        await call(c, as_bob, "delete_post", id=reply["id"], body={})
        await call(c, admin, "remove_topic", id=str(topic_id))

    missing = sorted(set(OPERATIONS) - c.covered)
    assert not missing, f"operations not exercised: {missing}"
    assert not c.problems, "responses that do not fit openapi.yaml:\n" + "\n".join(c.problems)
    fixed = set(KNOWN_SPEC_GAPS) - c.gaps_seen
    assert not fixed, f"these spec gaps no longer show; remove them from KNOWN_SPEC_GAPS: {sorted(fixed)}"
