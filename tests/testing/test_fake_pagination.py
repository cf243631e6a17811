"""The fake pages every list the way Discourse does, quirks included (exact counts and order)."""

from __future__ import annotations

import httpx
import pytest

from discourse_async.testing import FakeDiscourse


def http(fake: FakeDiscourse, username: str | None = "system") -> httpx.AsyncClient:
    headers = {"Api-Key": fake.admin_api_key, "Api-Username": username} if username else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://forum.test", headers=headers)


async def test_latest_pages_of_30_with_more_topics_url_only_when_full() -> None:
    fake = FakeDiscourse()
    seeded = fake.seed_topics(95)
    async with http(fake, None) as client:
        pages = []
        for page in range(5):
            body = (await client.get("/latest.json", params={"page": page})).json()
            pages.append(body["topic_list"])
    assert [len(p["topics"]) for p in pages] == [30, 30, 30, 5, 0]
    assert [p.get("more_topics_url") for p in pages[:3]] == ["/latest?page=1", "/latest?page=2", "/latest?page=3"]
    assert "more_topics_url" not in pages[3] and "more_topics_url" not in pages[4]
    ids = [t["id"] for p in pages for t in p["topics"]]
    assert ids == [t.id for t in reversed(seeded)]  # newest activity first, nothing twice, nothing skipped


async def test_a_full_last_page_still_has_more_topics_url() -> None:
    fake = FakeDiscourse()
    fake.seed_topics(60)
    async with http(fake) as client:
        second = (await client.get("/latest.json?page=1")).json()["topic_list"]
        third = (await client.get("/latest.json?page=2")).json()["topic_list"]
    assert len(second["topics"]) == 30 and second["more_topics_url"] == "/latest?page=2"
    assert third["topics"] == [] and "more_topics_url" not in third


async def test_category_tag_and_top_lists_page_alike() -> None:
    fake = FakeDiscourse()
    category = fake.create_category("Support")
    fake.seed_topics(31, category=category.id, tags=["help"])
    fake.seed_topics(5)  # elsewhere
    async with http(fake, None) as client:
        cat = (await client.get(f"/c/support/{category.id}.json")).json()["topic_list"]
        tag = (await client.get("/tag/help.json", params={"page": 1})).json()["topic_list"]
        top = (await client.get("/top.json", params={"period": "all"})).json()["topic_list"]
    assert len(cat["topics"]) == 30 and cat["more_topics_url"] == f"/c/support/{category.id}/l/latest?page=1"
    assert len(tag["topics"]) == 1 and "more_topics_url" not in tag
    assert top["for_period"] == "all" and len(top["topics"]) == 30


async def test_pinned_topics_lead_latest() -> None:
    fake = FakeDiscourse()
    first, *_ = fake.seed_topics(3)
    async with http(fake) as client:
        await client.put(f"/t/{first.id}/status.json", json={"status": "pinned_globally", "enabled": "true"})
        topics = (await client.get("/latest.json")).json()["topic_list"]["topics"]
    assert topics[0]["id"] == first.id and topics[0]["pinned_globally"] is True


async def test_topic_view_has_20_posts_and_the_whole_stream() -> None:
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    fake.seed_posts(topic.id, 1233)  # a 1,234-post topic
    async with http(fake, None) as client:
        view = (await client.get(f"/t/{topic.id}.json")).json()
        stream = view["post_stream"]["stream"]
        assert len(view["post_stream"]["posts"]) == 20 and view["posts_count"] == 1234
        assert len(stream) == 1234 and stream == sorted(stream)
        numbers = []
        for start in range(20, len(stream), 20):
            chunk = stream[start : start + 20]
            body = (await client.get(f"/t/{topic.id}/posts.json", params=[("post_ids[]", i) for i in chunk])).json()
            numbers += [p["post_number"] for p in body["post_stream"]["posts"]]
    assert numbers == list(range(21, 1235))


async def test_latest_posts_newest_first_50_a_page_with_before() -> None:
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    fake.seed_posts(topic.id, 119)  # 120 posts in all
    async with http(fake, None) as client:
        seen: list[int] = []
        before = None
        while True:
            params = {"before": before} if before else {}
            posts = (await client.get("/posts.json", params=params)).json()["latest_posts"]
            if not posts:
                break
            seen += [p["id"] for p in posts]
            before = posts[-1]["id"]
    assert len(seen) == 120 and seen == sorted(seen, reverse=True)


async def test_user_actions_by_offset_and_filter() -> None:
    fake = FakeDiscourse()
    fake.create_user("alice")
    topics = fake.seed_topics(40, username="alice")
    fake.seed_posts(topics[0].id, 5, username="alice")
    async with http(fake, None) as client:

        async def page(offset: int, kinds: str) -> list[dict]:
            params = {"username": "alice", "offset": offset, "filter": kinds}
            return (await client.get("/user_actions.json", params=params)).json()["user_actions"]

        new_topics = await page(0, "4") + await page(30, "4") + await page(60, "4")
        replies = await page(0, "5")
    assert len(new_topics) == 40 and [a["action_type"] for a in new_topics] == [4] * 40
    assert [a["topic_id"] for a in new_topics] == [t.id for t in reversed(topics)]
    assert len(replies) == 5


async def test_group_members_offset_limit_and_meta() -> None:
    fake = FakeDiscourse()
    users = fake.seed_users(7)
    (group,) = fake.seed_groups(1, members=[u.username for u in users])
    fake.add_group_members(group.name, ["user7"], owner=True)
    async with http(fake, None) as client:
        first = (await client.get(f"/groups/{group.name}/members.json", params={"limit": 3})).json()
        last = (await client.get(f"/groups/{group.name}/members.json", params={"limit": 3, "offset": 6})).json()
    assert first["meta"] == {"total": 7, "limit": 3, "offset": 0}
    assert [m["username"] for m in first["members"]] == ["user7", "user1", "user2"]  # owners first
    assert [o["username"] for o in first["owners"]] == ["user7"]
    assert [m["username"] for m in last["members"]] == ["user6"] and last["meta"]["offset"] == 6


async def test_groups_load_more_is_present_even_on_the_last_page() -> None:
    fake = FakeDiscourse()
    fake.seed_groups(40)
    async with http(fake) as client:
        pages = [(await client.get("/groups.json", params={"page": n, "type": "custom"})).json() for n in range(3)]
    assert [len(p["groups"]) for p in pages] == [36, 4, 0]
    assert [p["total_rows_groups"] for p in pages] == [40, 40, 40]
    assert [p["load_more_groups"] for p in pages] == [
        "/groups?type=custom&page=1",
        "/groups?type=custom&page=2",
        "/groups?type=custom&page=3",
    ]


async def test_directory_load_more_only_when_more_exist() -> None:
    fake = FakeDiscourse()
    fake.seed_users(75)
    async with http(fake, None) as client:
        params = {"period": "all", "order": "post_count"}
        first = (await client.get("/directory_items.json", params=params)).json()
        second = (await client.get("/directory_items.json", params={**params, "page": 1})).json()
    assert len(first["directory_items"]) == 50 and first["meta"]["total_rows_directory_items"] == 75
    assert first["meta"]["load_more_directory_items"] == "/directory_items?order=post_count&page=1&period=all"
    assert len(second["directory_items"]) == 25 and "load_more_directory_items" not in second["meta"]


async def test_notifications_offset_limit_and_totals() -> None:
    fake = FakeDiscourse()
    fake.create_user("alice")
    notes = fake.seed_notifications("alice", 70)
    async with http(fake, "alice") as client:
        first = (await client.get("/notifications.json")).json()
        rest = (await client.get("/notifications.json", params={"offset": 60})).json()
    assert len(first["notifications"]) == 60 and first["total_rows_notifications"] == 70
    assert first["load_more_notifications"] == "/notifications?offset=60&username=alice"
    assert len(rest["notifications"]) == 10 and "load_more_notifications" not in rest
    assert [n["id"] for n in first["notifications"] + rest["notifications"]] == [n.id for n in reversed(notes)]


async def test_search_pages_of_50_with_more_full_page_results() -> None:
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    fake.seed_posts(topic.id, 60)
    async with http(fake, None) as client:
        first = (await client.get("/search.json", params={"q": "seeded reply"})).json()
        second = (await client.get("/search.json", params={"q": "seeded reply", "page": 2})).json()
    assert len(first["posts"]) == 50 and first["grouped_search_result"]["more_full_page_results"] is True
    assert len(second["posts"]) == 10 and second["grouped_search_result"]["more_full_page_results"] is None
    assert not {p["id"] for p in first["posts"]} & {p["id"] for p in second["posts"]}


async def test_private_message_lists_page_and_stay_private() -> None:
    fake = FakeDiscourse()
    fake.create_user("alice")
    fake.create_user("bob")
    async with http(fake, "alice") as alice:
        for n in range(31):
            answer = await alice.post(
                "/posts.json",
                json={
                    "title": f"Private note number {n}",
                    "raw": "Hello Bob, just between us.",
                    "archetype": "private_message",
                    "target_recipients": "bob",
                },
            )
            assert answer.status_code == 200, answer.text
    async with http(fake, "bob") as bob:
        inbox = (await bob.get("/topics/private-messages/bob.json")).json()["topic_list"]
        forbidden = await bob.get("/topics/private-messages/alice.json")
        latest = (await bob.get("/latest.json")).json()["topic_list"]["topics"]
    assert len(inbox["topics"]) == 30 and inbox["more_topics_url"] == "/topics/private-messages/bob?page=1"
    assert forbidden.status_code == 403 and latest == []


@pytest.mark.parametrize("count", [0, 1, 30])
async def test_seeding_is_cheap_and_exact(count: int) -> None:
    fake = FakeDiscourse()
    assert len(fake.seed_topics(count)) == count
    assert len(fake.store.topics) == count
