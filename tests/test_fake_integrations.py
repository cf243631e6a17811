"""What Discourse's own tools and popular integrations call beyond our document, and the documented
operations they caught answering unlike Discourse: each over a real socket, its shape checked
(against openapi.yaml where the operation is documented)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from discourse_async.testing import FakeDiscourse
from tests.samples import response_validator

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x04\x00\x00\x00\x05\x08\x02\x00\x00\x00" + b"\x00" * 16


@pytest.fixture
def fake() -> FakeDiscourse:
    fake = FakeDiscourse()
    fake.create_user("alice", trust_level=2)
    fake.create_user("bob")
    fake.seed_topics(3, username="alice", tags=["howto"])
    fake.seed_posts(1, 4)
    return fake


@pytest.fixture
async def site(fake: FakeDiscourse) -> AsyncIterator[httpx.AsyncClient]:
    """The fake on 127.0.0.1 with a raw HTTP client holding the admin key (acting as system)."""
    headers = {"Api-Key": fake.admin_api_key, "Api-Username": "system"}
    async with fake.serve() as url, httpx.AsyncClient(base_url=url, headers=headers) as http:
        yield http


def valid(operation_id: str, response: httpx.Response) -> Any:
    """The JSON of a 200 answer, after checking it against the operation's schema in openapi.yaml."""
    assert response.status_code == 200, response.text
    body = response.json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in response_validator(operation_id).iter_errors(body)]
    assert not errors, errors
    return body


# ------------------------------------------------------------------------------------- documented operations


async def test_topic_with_include_raw_gives_raw(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    plain = valid("getTopic", await site.get("/t/1.json"))
    assert all("raw" not in p for p in plain["post_stream"]["posts"])
    with_raw = valid("getTopic", await site.get("/t/1.json", params={"include_raw": "true"}))
    posts = with_raw["post_stream"]["posts"]
    assert [p["raw"] for p in posts] == [p.raw for p in fake.store.topics[1].posts]
    chunk = (await site.get("/t/1/posts.json", params={"post_ids[]": posts[1]["id"], "include_raw": "1"})).json()
    assert chunk["post_stream"]["posts"][0]["raw"] == posts[1]["raw"]


async def test_upload_answers_the_upload_record(site: httpx.AsyncClient) -> None:
    answer = await site.post("/uploads.json", data={"type": "composer"}, files={"file": ("dot.png", PNG, "image/png")})
    upload = valid("createUpload", answer)
    assert upload["original_filename"] == "dot.png" and upload["extension"] == "png"
    assert (upload["filesize"], upload["width"], upload["height"]) == (len(PNG), 4, 5)
    assert upload["short_url"].startswith("upload://") and upload["url"].endswith(".png")
    served = await site.get(upload["url"])
    assert served.content == PNG


async def test_directory_without_order_uses_discourses_default(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    bob = fake.store.user("bob")
    bob.likes_received = 5
    body = valid("listUsersPublic", await site.get("/directory_items.json", params={"period": "all"}))
    assert body["directory_items"][0]["user"]["username"] == "bob"  # likes_received, most first
    assert body["meta"]["total_rows_directory_items"] == 2


async def test_update_user_stores_and_returns_profile_fields(site: httpx.AsyncClient) -> None:
    fields = {
        "name": "Alice L.",
        "location": "Wonderland",
        "website": "https://alice.example.com/about",
        "bio_raw": "I fell down a **rabbit hole**.",
        "title": "Explorer",
        "locale": "en_GB",
        "user_fields": {"1": "tea"},
        "muted_usernames": ["bob"],
        "watched_category_ids": [2],
        "email_level": 2,
        "external_links_in_new_tab": True,
    }
    updated = valid("updateUser", await site.put("/u/alice.json", json=fields))
    for user in (updated["user"], valid("getUser", await site.get("/u/alice.json"))["user"]):
        assert {k: user[k] for k in ("name", "location", "website", "bio_raw", "title", "locale")} == {
            k: fields[k] for k in ("name", "location", "website", "bio_raw", "title", "locale")
        }
        assert user["website_name"] == "alice.example.com" and "<strong>rabbit hole</strong>" in user["bio_cooked"]
        assert user["user_fields"] == {"1": "tea", "2": None}
        assert (user["muted_usernames"], user["watched_category_ids"]) == (["bob"], [2])
        assert user["user_option"]["email_level"] == 2 and user["user_option"]["external_links_in_new_tab"] is True
    form = await site.put("/u/alice", data={"location": "Looking glass", "email_level": "1"})
    assert form.json()["user"]["location"] == "Looking glass"
    assert form.json()["user"]["user_option"]["email_level"] == 1
    async with httpx.AsyncClient(base_url=site.base_url) as anon:
        anonymous = (await anon.get("/u/alice.json")).json()["user"]
    assert anonymous["location"] == "Looking glass" and "muted_usernames" not in anonymous


async def test_categories_page_two_is_empty(site: httpx.AsyncClient) -> None:
    first = valid("listCategories", await site.get("/categories.json"))
    assert len(first["category_list"]["categories"]) == 3
    assert valid("listCategories", await site.get("/categories.json", params={"page": 1})) == first
    second = valid("listCategories", await site.get("/categories.json", params={"page": 2}))
    assert second["category_list"]["categories"] == []
