"""The real client against the fake Discourse: in-process (ASGITransport) and over a socket (uvicorn on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from discourse_async import (
    APIConnectionError,
    Discourse,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from discourse_async.testing import FakeDiscourse

ClientFactory = Callable[..., Discourse]


@pytest.fixture(params=["in-process", "socket"])
async def site(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FakeDiscourse, ClientFactory]]:
    fake = FakeDiscourse()
    fake.create_user("alice")
    fake.create_user("bob")
    if request.param == "in-process":
        yield fake, fake.client
        return
    async with fake.serve() as url:

        def make(username: str = "system", **options: Any) -> Discourse:
            return fake.client(username, base_url=url, **options)

        yield fake, make


async def test_a_forum_conversation(site: tuple[FakeDiscourse, ClientFactory]) -> None:
    fake, make = site
    async with make() as admin, make("alice") as alice, make("bob") as bob:
        category = (await admin.categories.create_category(name="Bots", color="0E76BD")).category
        first = await alice.posts.create_post(
            title="How do I write a Discourse bot?",
            raw="Looking for advice on writing a bot, @bob.",
            category=category.id,
        )
        reply = await bob.posts.create_post(
            topic_id=first.topic_id, raw="Start with discourse-async and its fake!", reply_to_post_number=1
        )
        await alice.posts.act_on_post(id=reply.id, post_action_type_id=2)
        topic = await bob.topics.get_topic(id=str(first.topic_id))
        assert [p.post_number for p in topic.post_stream.posts] == [1, 2]
        assert topic.post_stream.posts[1].reply_to_post_number == 1
        latest = await admin.topics.list_latest_topics()
        assert [t.id for t in latest.topic_list.topics] == [first.topic_id]
        found = await bob.search.search(q="discourse-async")
        assert found.grouped_search_result.post_ids == [reply.id]
        await bob.posts.create_post(
            title="Thanks for the question",
            raw="Happy to help you, Alice.",
            archetype="private_message",
            target_recipients="alice",
        )
        inbox = await alice.private_messages.list_user_private_messages(username="alice")
        assert [t.title for t in inbox.topic_list.topics] == ["Thanks for the question"]
        kinds = [n.notification_type for n in (await alice.notifications.list_notifications()).notifications]
        assert kinds == [6, 12, 2]  # private message, "First Like" badge, reply
        post = await alice.posts.get_post(id=str(first.id))
        assert post.raw.startswith("Looking for advice")
    assert len(fake.store.posts) == 3


async def test_typed_errors(site: tuple[FakeDiscourse, ClientFactory]) -> None:
    fake, make = site
    async with make(max_retries=0, max_rate_limit_wait=0) as dc:  # a 429 raised, not waited out
        with pytest.raises(NotFoundError) as missing:
            await dc.topics.get_topic(id="9999")
        assert missing.value.error_type == "not_found"
        with pytest.raises(UnprocessableEntityError) as invalid:
            await dc.posts.create_post(title="Too short", raw="A body that is long enough.", category=2)
        assert invalid.value.errors == ["Title is too short (minimum is 15 characters)"]
        fake.set_rate_limit(per_minute=0, scope="admin")
        with pytest.raises(RateLimitError) as limited:
            await dc.topics.list_latest_topics()
        assert limited.value.retry_after is not None and limited.value.error_type == "rate_limit"
    fake.clear_rate_limits()
    async with make(api_key="not-a-key", max_retries=0) as bad:
        with pytest.raises(PermissionDeniedError) as denied:
            await bad.topics.list_latest_topics()
    assert denied.value.error_type == "invalid_access"


async def test_external_id_redirect_is_followed(site: tuple[FakeDiscourse, ClientFactory]) -> None:
    _, make = site
    async with make() as dc:
        created = await dc.posts.create_post(
            title="Imported from elsewhere",
            raw="This topic came from an importer.",
            external_id="legacy-42",
            category=2,
        )
        topic = await dc.topics.get_topic_by_external_id(external_id="legacy-42")
    assert topic.id == created.topic_id  # type: ignore[union-attr]


async def test_iterators_walk_every_page(site: tuple[FakeDiscourse, ClientFactory]) -> None:
    fake, make = site
    fake.seed_topics(95)
    (long,) = fake.seed_topics(1)
    fake.seed_posts(long.id, 1233)
    async with make() as dc:
        topics = [t.id async for t in dc.topics.iter_latest()]
        posts = [p.post_number async for p in dc.topics.iter_posts(long.id)]
    assert len(topics) == 96 and len(set(topics)) == 96
    assert posts == list(range(1, 1235))


async def test_retries_against_faults(site: tuple[FakeDiscourse, ClientFactory]) -> None:
    fake, make = site
    fake.add_fault("GET", "/site/basic-info.json", status=503, times=1)
    fake.add_fault("POST", "/posts.json", status=502, after=True, times=1)
    async with make() as dc:
        info = await dc.site.get_site_basic_info()
        assert info.title == "Fake Discourse"
        assert fake.count_requests("GET", "/site/basic-info.json") == 2  # one 503, one retry
        with pytest.raises(InternalServerError):
            await dc.posts.create_post(title="Posted exactly once", raw="A write is never repeated.", category=2)
    assert fake.count_requests("POST", "/posts.json") == 1 and len(fake.store.topics) == 1


async def test_a_dropped_write_is_not_repeated(site: tuple[FakeDiscourse, ClientFactory]) -> None:
    fake, make = site
    fake.add_fault("POST", "/posts.json", drop="after", times=1)
    async with make() as dc:
        with pytest.raises(APIConnectionError):
            await dc.posts.create_post(title="Dropped after writing", raw="The post exists anyway.", category=2)
    assert fake.count_requests("POST", "/posts.json") == 1 and len(fake.store.topics) == 1
