"""Every iterator against multi-page data on the fake Discourse: exact counts, order, stop rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from discourse_async import Discourse
from discourse_async.testing import FakeDiscourse

pytest.importorskip("starlette")


def requests_to(fake: FakeDiscourse, path: str) -> int:
    return sum(1 for r in fake.requests if r.path == path)


@pytest.fixture
async def forum() -> AsyncIterator[tuple[FakeDiscourse, Discourse]]:
    fake = FakeDiscourse()
    async with fake.client() as dc:
        yield fake, dc


async def test_latest_95_topics_is_4_pages_newest_first(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    seeded = fake.seed_topics(95)
    fake.clear_log()
    ids = [t.id async for t in dc.topics.iter_latest()]
    assert ids == [t.id for t in reversed(seeded)]
    assert requests_to(fake, "/latest.json") == 4  # 30 + 30 + 30 + 5: the short page has no marker
    pages = [len(p.items) async for p in dc.topics.iter_latest().pages()]
    assert pages == [30, 30, 30, 5]


async def test_exactly_full_last_page_stops_on_the_empty_one(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    fake.seed_topics(60)
    fake.clear_log()
    assert len([t async for t in dc.topics.iter_latest()]) == 60
    # The second page is full, so more_topics_url is there; the third page is empty and ends it.
    assert requests_to(fake, "/latest.json") == 3


async def test_max_items_and_prefetch(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    fake.seed_topics(95)
    fake.clear_log()
    first = [t.id async for t in dc.topics.iter_latest(max_items=31)]
    assert len(first) == 31
    assert requests_to(fake, "/latest.json") == 2
    ahead = [t.id async for t in dc.topics.iter_latest(prefetch=1)]
    assert len(ahead) == 95
    assert len(set(ahead)) == 95


async def test_new_topics_arriving_while_iterating_cause_no_duplicates(
    forum: tuple[FakeDiscourse, Discourse],
) -> None:
    fake, dc = forum
    fake.seed_topics(65)
    seen: list[int] = []
    async for topic in dc.topics.iter_latest():
        seen.append(topic.id)  # type: ignore[arg-type]
        if len(seen) == 30:
            fake.seed_topics(3)  # pushes three topics of page 1 onto page 2
    assert len(seen) == len(set(seen)) == 65


async def test_top_category_tag_and_message_lists(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    category = fake.create_category("Support")
    fake.seed_topics(40, category=category.id, tags=["howto"])
    fake.seed_topics(10)
    assert len([t async for t in dc.topics.iter_top(period="all")]) == 50
    in_category = [t async for t in dc.categories.iter_topics(category.slug, category.id)]
    assert len(in_category) == 40
    assert len([t async for t in dc.tags.iter_topics("howto")]) == 40

    fake.create_user("alice")
    fake.create_user("bob")
    async with fake.client("alice") as alice:
        for i in range(33):
            await alice.posts.create_post(
                title=f"A private question number {i:02d}",
                raw="A private message that is long enough.",
                target_recipients="bob",
                archetype="private_message",
            )
        sent = [t.id async for t in alice.private_messages.iter_sent("alice")]
    async with fake.client("bob") as bob:
        inbox = [t.id async for t in bob.private_messages.iter_inbox("bob")]
    assert len(sent) == 33
    assert sorted(inbox) == sorted(sent)


async def test_a_1234_post_topic_in_order_with_chunked_requests(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    (topic,) = fake.seed_topics(1)
    fake.seed_posts(topic.id, 1233)
    fake.clear_log()
    numbers = [p.post_number async for p in dc.topics.iter_posts(topic.id)]
    assert numbers == list(range(1, 1235))
    # One /t/{id}.json for the first 20 posts and all ids, then 1,214 ids in chunks of 20.
    assert requests_to(fake, f"/t/{topic.id}.json") == 1
    assert requests_to(fake, f"/t/{topic.id}/posts.json") == 61
    assert [p.post_number async for p in dc.topics.iter_posts(topic.id, max_items=25)] == list(range(1, 26))


async def test_latest_posts_walk_back_with_before(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    (topic,) = fake.seed_topics(1)
    fake.seed_posts(topic.id, 119)  # 120 posts: 50 + 50 + 20
    ids = [p.id async for p in dc.posts.iter_latest()]
    assert len(ids) == 120
    assert ids == sorted(ids, reverse=True)


async def test_groups_with_the_marker_present_on_the_last_page(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    before = len([g async for g in dc.groups.iter()])  # automatic groups the fake starts with
    fake.seed_groups(80)
    fake.clear_log()
    names = [g.name async for g in dc.groups.iter()]
    assert len(names) == before + 80
    assert len(set(names)) == len(names)
    # load_more_groups is on every page, the last one too: total_rows_groups is what stops it.
    assert requests_to(fake, "/groups.json") == -(-(before + 80) // 36)


async def test_group_members_by_offset_until_the_total(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    users = fake.seed_users(123)
    fake.seed_groups(1, prefix="team", members=[u.username for u in users])
    fake.clear_log()
    members = [m.username async for m in dc.groups.iter_members("team-0001", limit=50)]
    assert sorted(members) == sorted(u.username for u in users)
    assert requests_to(fake, "/groups/team-0001/members.json") == 3  # meta.total ends it: no empty page


async def test_directory_admin_list_and_user_actions(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    users = fake.seed_users(120)
    directory = [d async for d in dc.users.iter_directory(period="all", order="likes_received")]
    assert len(directory) >= 120
    admin = [u.username async for u in dc.users.iter_admin_list("active")]
    assert {u.username for u in users} <= set(admin)

    (topic,) = fake.seed_topics(1)
    fake.seed_posts(topic.id, 70, username=users[0].username)
    actions = [a async for a in dc.users.iter_actions(username=users[0].username, filter="5")]
    assert len(actions) == 70
    assert len({a.post_id for a in actions}) == 70


async def test_search_and_notifications(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    (topic,) = fake.seed_topics(1)
    fake.seed_posts(topic.id, 130)  # every seeded post text mentions the word "seeded"
    results = [p async for p in dc.search.iter(q="seeded", max_items=120)]
    assert len(results) == 120
    assert len({p.id for p in results}) == 120

    fake.create_user("carol")
    fake.seed_notifications("carol", 150)
    async with fake.client("carol") as carol:
        notes = [n.id async for n in carol.notifications.iter(limit=60)]
    assert len(notes) == 150
    assert len(set(notes)) == 150


async def test_every_page_goes_through_the_request_path(forum: tuple[FakeDiscourse, Discourse]) -> None:
    """Retries apply to every page: a 503 (a proxy page) is retried, nothing is lost or repeated."""
    fake, dc = forum
    fake.seed_topics(70)
    fake.add_fault("GET", "/latest.json", status=503, times=1)
    ids = [t.id async for t in dc.topics.iter_latest()]
    assert len(ids) == len(set(ids)) == 70


async def test_concurrent_iterators_share_one_client(forum: tuple[FakeDiscourse, Discourse]) -> None:
    fake, dc = forum
    fake.seed_topics(75)

    async def count() -> int:
        return len([t async for t in dc.topics.iter_latest()])

    assert await asyncio.gather(count(), count(), count()) == [75, 75, 75]
