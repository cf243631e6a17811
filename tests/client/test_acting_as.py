"""Acting as other users through one all-users admin key: ``with_options(api_username=...)`` and
its siblings share the connection pool and the site's admin rate budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from discourse_async import ConfigurationError, RateLimit

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from discourse_async.testing import FakeDiscourse, serve

ENGINES = ["builtin", "httpx", "aiohttp"]
USERS = [f"user{i:02d}" for i in range(20)]
WINDOW = 0.5  # Discourse's 60 s window, compressed; the budget stays 60


class Connections:
    """An ASGI wrapper that remembers the client address (host, port) of every request: one per connection."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.peers: set[tuple[str, int]] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("client"):
            self.peers.add(tuple(scope["client"]))  # type: ignore[arg-type]
        await self.app(scope, receive, send)


@pytest.fixture
async def forum() -> AsyncIterator[tuple[FakeDiscourse, str, Connections]]:
    fake = FakeDiscourse()
    for name in USERS:
        fake.create_user(name)
    fake.seed_topics(2)
    counted = Connections(fake)
    async with serve(counted) as url:
        fake.base_url = url
        yield fake, url, counted


async def test_each_copy_acts_as_its_user(fake: FakeDiscourse) -> None:
    carol = fake.create_user("carol")
    carol.external_ids["discourse_connect"] = "sso-77"
    async with fake.client("system") as dc:
        me = await dc.with_options(api_username="alice").request("GET", "/session/current.json")
        by_id = await dc.with_options(api_user_id=fake.user("bob").id).request("GET", "/session/current.json")
        by_external = await dc.with_options(api_user_external_id="sso-77").request("GET", "/session/current.json")
        still_system = await dc.request("GET", "/session/current.json")
    assert me["current_user"]["username"] == "alice"
    assert by_id["current_user"]["username"] == "bob"
    assert by_external["current_user"]["username"] == "carol"
    assert still_system["current_user"]["username"] == "system"
    assert [r.username for r in fake.requests] == ["alice", "bob", "carol", "system"]


async def test_a_copy_replaces_the_user_and_keeps_the_other_options(fake: FakeDiscourse) -> None:
    async with fake.client("system", max_retries=4) as dc:
        bob = dc.with_options(api_user_id=fake.user("alice").id).with_options(api_username="bob")
        assert bob.max_retries == 4
        assert "acting as bob" in repr(bob)
        await bob.site.get_site()
    assert fake.requests[-1].username == "bob"


async def test_acting_as_needs_an_all_users_admin_key(fake: FakeDiscourse) -> None:
    key = fake.create_user_api_key("alice")
    async with fake.client(user_api_key=key) as dc:
        with pytest.raises(ConfigurationError, match="admin api_key") as info:
            dc.with_options(api_username="bob")
        assert key not in str(info.value)
    async with fake.client(anonymous=True) as dc:
        with pytest.raises(ConfigurationError, match="admin api_key"):
            dc.with_options(api_username="bob")
    async with fake.client("system") as dc:
        with pytest.raises(ConfigurationError, match="at most one"):
            dc.with_options(api_username="bob", api_user_id=3)


@pytest.mark.parametrize("engine", ENGINES)
async def test_twenty_users_share_one_connection(forum: tuple[FakeDiscourse, str, Connections], engine: str) -> None:
    fake, url, counted = forum
    async with fake.client("system", base_url=url, engine=engine) as dc:
        for _ in range(3):
            for name in USERS:  # one call at a time: a shared pool reuses its one connection
                await dc.with_options(api_username=name).site.get_site()
    assert {r.username for r in fake.requests} == set(USERS)
    assert len(fake.requests) == 60
    # One connection served all twenty users (a client per user would open twenty); a second is
    # allowed only in case the server closed the first as idle on a very slow machine.
    assert len(counted.peers) <= 2, counted.peers


@pytest.mark.parametrize("engine", ENGINES)
async def test_twenty_users_on_one_key_never_overrun_the_sites_admin_budget(
    forum: tuple[FakeDiscourse, str, Connections], engine: str
) -> None:
    fake, url, _ = forum
    # Discourse counts every admin key of a site in one budget, whoever it acts as.
    fake.set_rate_limit(60, WINDOW, scope="admin")
    fake.clear_log()
    async with fake.client(
        "system", base_url=url, engine=engine, rate_limits=[RateLimit(60, WINDOW)], max_retries=0
    ) as dc:
        users = [dc.with_options(api_username=name) for name in USERS]
        results = await asyncio.gather(
            *(user.site.get_site() for user in users for _ in range(8)), return_exceptions=True
        )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sum(1 for r in fake.requests if r.rate_limited) == 0  # no 429: the client waited instead
    assert {r.username for r in fake.requests} == set(USERS)
    worst = fake.max_requests_in_window(WINDOW)
    assert worst <= 60, worst


async def test_a_limit_discourse_keeps_per_user_holds_that_user_alone() -> None:
    """Discourse limits some actions per user (creating topics or posts too fast): its 429 carries no
    site-wide error code, so only the call that got it waits; other users acting through the same
    key go on at once. (The fake counts limits per site, key or address only; this is Discourse's rule.)"""
    import httpx

    from tests.client.test_resilience import FakeClock, make

    class LetOthersRunFirst(FakeClock):
        async def sleep(self, seconds: float) -> None:
            for _ in range(20):  # the other tasks run while this one waits, before time moves
                await asyncio.sleep(0)
            await super().sleep(seconds)

    sent: list[tuple[str, float]] = []
    clock = LetOthersRunFirst()
    refused = {"done": False}

    def handler(request: httpx.Request) -> httpx.Response:
        user = request.headers["Api-Username"]
        sent.append((user, clock.t))
        if user == "alice" and not refused["done"]:
            refused["done"] = True
            body = {"errors": ["You’ve performed this action too many times."], "error_type": "rate_limit"}
            return httpx.Response(429, json={**body, "extras": {"wait_seconds": 30}}, headers={"Retry-After": "30"})
        return httpx.Response(200, json={"id": 7, "topic_id": 3, "post_number": 2, "username": user})

    async with make(handler, clock, max_retries=1) as dc:
        alice, bob = dc.with_options(api_username="alice"), dc.with_options(api_username="bob")
        posted = await asyncio.gather(
            alice.posts.create_post(topic_id=3, raw="Alice posts too fast, Discourse says."),
            bob.posts.create_post(topic_id=3, raw="Bob is not held by Alice's limit."),
        )
    assert [p.username for p in posted] == ["alice", "bob"]
    # Alice's call waited what Discourse asked and was sent again; Bob's went while she waited (a
    # site-wide 429 would have paused it too).
    assert clock.sleeps == [30]
    assert sent == [("alice", 1000.0), ("bob", 1000.0), ("alice", 1030.0)]
