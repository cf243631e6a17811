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


# ------------------------------------------------------------------------------------- routes beyond the document


def has(body: dict[str, Any], **types: type | tuple[type, ...]) -> None:
    """The keys are there with values of these types (Discourse's shape for a route our document lacks)."""
    wrong = {k: body.get(k, "<missing>") for k, t in types.items() if k not in body or not isinstance(body[k], t)}
    assert not wrong, wrong


async def test_about_with_its_stats(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    fake.create_user("mod", moderator=True)
    about = (await site.get("/about.json")).json()["about"]
    has(about, stats=dict, title=str, description=str, version=str, admins=list, moderators=list, admin_ids=list)
    has(about, category_moderators=list, site_creation_date=str, locale=str, https=bool, can_see_about_stats=bool)
    stats = about["stats"]
    assert stats["topics_count"] == stats["topic_count"] == 3 and stats["topics_7_days"] == 3
    assert stats["posts_count"] == 7 and stats["users_count"] == 3 and stats["likes_count"] == 0
    assert all(isinstance(stats[f"{k}_{p}"], int) for k in ("active_users", "likes") for p in ("last_day", "30_days"))
    assert [m["username"] for m in about["moderators"]] == ["mod"] and about["admins"] == []
    has(about["moderators"][0], id=int, username=str, avatar_template=str, last_seen_at=(str, type(None)))


async def test_filter_understands_order_status_category_tag_in_and_pages(
    site: httpx.AsyncClient, fake: FakeDiscourse
) -> None:
    fake.seed_topics(4, category="Site Feedback", tags=["bug"])  # topics 4..7
    fake.store.topics[4].closed = True
    fake.store.topics[5].pinned_at = fake.store.now()
    await site.put("/t/6/bookmark.json")

    async def ids(q: str, **params: Any) -> list[int]:
        body = (await site.get("/filter.json", params={"q": q, **params})).json()
        has(body, users=list, primary_groups=list, topic_list=dict)
        valid("listLatestTopics", httpx.Response(200, json=body))  # the same topic list shape as /latest
        return [t["id"] for t in body["topic_list"]["topics"]]

    def oldest_first(*wanted: int) -> list[int]:
        return sorted(wanted, key=lambda i: (fake.store.topics[i].created_at, i))

    assert await ids("order:created-asc") == oldest_first(1, 2, 3, 4, 5, 6, 7)
    assert await ids("order:created") == oldest_first(1, 2, 3, 4, 5, 6, 7)[::-1]
    assert await ids("order:title-asc") == [1, 2, 3, 4, 5, 6, 7]  # "Seeded topic number 0000N ..."
    assert await ids("status:closed") == [4]
    assert await ids("status:open category:site-feedback order:created") == oldest_first(5, 6, 7)[::-1]
    assert await ids("-category:site-feedback order:created") == oldest_first(1, 2, 3)[::-1]
    assert await ids("tag:howto order:created-asc") == oldest_first(1, 2, 3)
    assert await ids("tag:howto,bug") == await ids("")
    assert await ids("tag:howto+bug") == []
    assert await ids("-tag:bug in:pinned") == [] and await ids("in:pinned") == [5]
    assert await ids("in:bookmarked") == [6]
    assert await ids("number 00002") == [2]
    first = (await site.get("/filter.json", params={"q": "order:title", "per_page": 3})).json()["topic_list"]
    assert [t["id"] for t in first["topics"]] == [7, 6, 5]
    assert first["more_topics_url"].startswith("/filter?") and "page=1" in first["more_topics_url"]
    assert await ids("order:title", per_page=3, page=2) == [1]


async def test_post_ids(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    posts = fake.store.topics[1].posts
    body = (await site.get("/t/1/post_ids.json", params={"post_number": 2})).json()
    assert body == {"post_ids": [p.id for p in posts[2:]]}
    everything = (await site.get("/t/1/post_ids.json")).json()["post_ids"]
    assert everything == [p.id for p in posts]
    mine = (await site.get("/t/1/post_ids.json", params={"username_filters": "alice"})).json()["post_ids"]
    assert mine == [p.id for p in posts if p.user_id == fake.store.user("alice").id]
    assert (await site.get("/t/999/post_ids.json")).status_code == 404


async def test_user_summary(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    async with fake.client("bob", base_url=str(site.base_url)) as bob:
        await bob.posts.like(post_id=fake.store.topics[2].posts[0].id)
        await bob.posts.create_post(topic_id=2, raw="Bob replies to the second seeded topic.", reply_to_post_number=1)
    body = (await site.get("/u/alice/summary.json")).json()
    has(body, topics=list, badges=list, user_summary=dict)
    summary = body["user_summary"]
    has(summary, likes_given=int, likes_received=int, topic_count=int, post_count=int, time_read=int, topic_ids=list)
    has(summary, replies=list, links=list, most_liked_by_users=list, most_replied_to_users=list, top_categories=list)
    assert summary["topic_ids"][0] == 2 and summary["topic_count"] == 3 and summary["likes_received"] == 1
    assert [(u["username"], u["count"]) for u in summary["most_liked_by_users"]] == [("bob", 1)]
    assert {t["id"] for t in body["topics"]} >= set(summary["topic_ids"])
    has(summary["top_categories"][0], id=int, name=str, slug=str, topic_count=int, post_count=int)
    bob_summary = (await site.get("/users/bob/summary.json")).json()["user_summary"]
    assert [u["username"] for u in bob_summary["most_replied_to_users"]] == ["alice"]
    assert [u["username"] for u in bob_summary["most_liked_users"]] == ["alice"]
    assert (await site.get("/u/nobody/summary.json")).status_code == 404


async def test_group_posts(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    fake.seed_groups(1, members=["alice"])
    group = next(g for g in fake.store.groups.values() if not g.automatic)
    posts = (await site.get(f"/groups/{group.name}/posts.json")).json()
    alice = fake.store.user("alice").id
    assert isinstance(posts, list)
    assert [p["id"] for p in posts] == sorted(
        (p.id for p in fake.store.posts.values() if p.user_id == alice), reverse=True
    )
    has(
        posts[0],
        id=int,
        topic_id=int,
        topic_title=str,
        url=str,
        post_number=int,
        excerpt=str,
        user=dict,
        created_at=str,
    )
    older = (await site.get(f"/groups/{group.name}/posts.json", params={"before_post_id": posts[0]["id"]})).json()
    assert [p["id"] for p in older] == [p["id"] for p in posts[1:]]
    assert (await site.get("/groups/nothing-here/posts.json")).status_code == 404


async def test_view_stats_from_the_fakes_view_counts(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    for _ in range(3):
        await site.get("/t/2.json")
    body = (await site.get("/t/2/view-stats.json")).json()
    today = fake.store.topics[2].daily_views
    assert body == {"topic_id": 2, "stats": [{"viewed_at": day, "views": 3} for day in today]} and len(today) == 1
    assert (await site.get("/t/3/view-stats.json")).json() == {"topic_id": 3, "stats": []}
    later = (await site.get("/t/2/view-stats.json", params={"from": "2999-01-01"})).json()
    assert later["stats"] == []


async def test_category_search_and_find(site: httpx.AsyncClient, fake: FakeDiscourse) -> None:
    async with fake.client(base_url=str(site.base_url)) as admin:
        parent = await admin.categories.create_category(name="Feedback and ideas", color="0088CC", text_color="FFFFFF")
        await admin.categories.create_category(name="Ideas board", parent_category_id=parent.category.id)
    found = (await site.post("/categories/search.json", json={"term": "feed"})).json()
    has(found, categories=list)
    assert [c["name"] for c in found["categories"]] == ["Feedback and ideas", "Site Feedback"]
    has(found["categories"][0], id=int, name=str, slug=str, color=str, read_restricted=bool, topic_count=int)
    child = (await site.post("/categories/search.json", data={"term": "board", "include_ancestors": "true"})).json()
    assert [c["name"] for c in child["categories"]] == ["Ideas board"]
    assert [c["name"] for c in child["ancestors"]] == ["Feedback and ideas"]
    top = (await site.post("/categories/search.json", json={"parent_category_id": -1, "limit": 2})).json()
    assert len(top["categories"]) == 2 and all("parent_category_id" not in c for c in top["categories"])
    no_uncategorized = await site.post("/categories/search.json", json={"include_uncategorized": False})
    assert "Uncategorized" not in [c["name"] for c in no_uncategorized.json()["categories"]]
    both = (await site.get("/categories/find.json", params=[("ids[]", "1"), ("ids[]", "2")])).json()
    assert [c["id"] for c in both["categories"]] == [1, 2]
    async with httpx.AsyncClient(base_url=site.base_url) as anon:
        staff_only = (await anon.get("/categories/find.json", params={"ids[]": "3"})).json()
    assert staff_only == {"categories": []}  # the Staff category is not the anonymous caller's to see


async def test_tag_group_search(site: httpx.AsyncClient) -> None:
    for name, tags in (("Platforms", ["linux", "windows"]), ("Plans", ["free", "pro"]), ("Colours", ["red"])):
        assert (await site.post("/tag_groups.json", json={"name": name, "tag_names": tags})).status_code == 200
    found = (await site.get("/tag_groups/filter/search.json", params={"q": "pla"})).json()
    # tags as {id, name, slug}, as a current Discourse sends them (and Discourse's MCP server reads them)
    assert [(r["name"], [t["name"] for t in r["tags"]]) for r in found["results"]] == [
        ("Plans", ["free", "pro"]),
        ("Platforms", ["linux", "windows"]),
    ]
    assert all(set(t) == {"id", "name", "slug"} for r in found["results"] for t in r["tags"])
    named = await site.get("/tag_groups/filter/search.json", params=[("names[]", "colours"), ("names[]", "plans")])
    assert [r["name"] for r in named.json()["results"]] == ["Colours", "Plans"]
    assert len((await site.get("/tag_groups/filter/search.json", params={"limit": 1})).json()["results"]) == 1
