"""The request path never holds a caller in silence, and says what it can about a refusal.

A long pause raises at once on every call until it is over; waits for budget or a pause log a line
and call ``on_wait``; a closed client refuses calls; credentials that cannot work together are
refused at construction; a 403 ``invalid_access`` names the credential headers that went.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from discourse_async import (
    ClientClosedError,
    ConfigurationError,
    Discourse,
    PermissionDeniedError,
    RateLimitError,
)
from discourse_async._limits import RateLimit
from tests.client.test_resilience import KEY, FakeClock, make, scripted, topic

GLOBAL_429 = httpx.Response(
    429,
    json={"errors": ["slow down"], "error_type": "rate_limit", "extras": {"wait_seconds": 3600}},
    headers={"Retry-After": "3600", "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate_limit"},
)


async def test_a_long_pause_raises_at_once_on_every_call_until_it_is_over() -> None:
    handler, seen = scripted(GLOBAL_429, httpx.Response(200, json=topic()))
    clock = FakeClock()
    async with make(handler, clock, max_retries=0) as dc:
        with pytest.raises(RateLimitError) as first:
            await dc.topics.get_topic(id="1")
        assert first.value.retry_after == 3600
        for _ in range(3):  # the next calls raise too, without waiting and without sending
            with pytest.raises(RateLimitError) as later:
                await dc.topics.get_topic(id="1")
            assert 3599 <= (later.value.retry_after or 0) <= 3600
            assert "paused" in str(later.value) and "nothing was sent" in str(later.value)
        assert len(seen) == 1
        assert clock.sleeps == []
        clock.t += 3600  # the pause is over: calls go out again
        assert (await dc.topics.get_topic(id="1")).id == 1
    assert len(seen) == 2


async def test_a_pause_within_max_retry_after_is_waited_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="discourse_async")
    short = httpx.Response(
        429,
        json={"errors": ["slow down"], "error_type": "rate_limit"},
        headers={"Retry-After": "12", "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate_limit"},
    )
    handler, _ = scripted(short, httpx.Response(200, json=topic()))
    waits: list[tuple[float, str]] = []
    clock = FakeClock()
    async with make(handler, clock, on_wait=lambda s, r: waits.append((s, r))) as dc:
        with pytest.raises(RateLimitError):  # a call that will not wait out a 429 at all
            await dc.with_options(max_rate_limit_wait=0).topics.get_topic(id="1")
        await dc.topics.get_topic(id="2")  # waits out the pause, then succeeds
    assert [round(s) for s, _ in waits] == [12]
    assert "pause" in waits[0][1]
    lines = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert len(lines) == 1 and "get_topic" in lines[0] and "12.0s" in lines[0]


async def test_waiting_for_budget_is_logged_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="discourse_async")
    handler, seen = scripted(httpx.Response(200, json=topic()))
    waits: list[tuple[float, str]] = []
    clock = FakeClock()
    async with make(handler, clock, rate_limits=[RateLimit(1, 10)], on_wait=lambda s, r: waits.append((s, r))) as dc:
        await dc.topics.get_topic(id="1")
        await dc.topics.get_topic(id="2")
    assert len(seen) == 2
    assert [s for s, _ in waits] == [10]
    assert "client-side rate limit (1 per 10s" in waits[0][1]
    lines = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert lines == [f"get_topic: waiting 10.0s: {waits[0][1]}"]
    assert KEY not in " ".join(r.getMessage() for r in caplog.records)


async def test_a_closed_client_raises_and_opens_no_connection() -> None:
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        for engine in ("builtin", "httpx", "aiohttp"):
            dc = Discourse(url, engine=engine, rate_limits=None)
            copy = dc.with_options(max_retries=0)
            await dc.aclose()
            for client in (dc, copy):
                with pytest.raises(ClientClosedError, match="closed"):
                    await client.request("GET", "/latest.json")
                with pytest.raises(ClientClosedError):
                    await client.topics.get_topic(id="1")
        assert connections == 0
    finally:
        server.close()


async def test_closing_a_copy_leaves_the_client_working() -> None:
    handler, seen = scripted(httpx.Response(200, json=topic()))
    async with make(handler) as dc:
        await dc.with_options(timeout=5).aclose()
        await dc.topics.get_topic(id="1")
    assert len(seen) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": "k", "user_api_key": "u"},
        {"api_key": "k", "api_username": "system", "user_api_key": "u"},
        {"user_api_key": "u", "api_username": "alice"},
        {"user_api_key": "u", "api_user_id": 3},
        {"api_key": "k", "user_api_client_id": "client"},
        {"api_key": "k", "api_username": "a", "api_user_id": 1},
        {"api_username": "alice"},
    ],
)
def test_credentials_that_cannot_work_together_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Discourse("https://forum.example.com", **kwargs)  # type: ignore[arg-type]
    for value in ("k", "u"):
        assert f"'{value}'" not in str(info.value)


INVALID_ACCESS = httpx.Response(
    403, json={"errors": ["You are not permitted to view the requested resource."], "error_type": "invalid_access"}
)


@pytest.mark.parametrize(
    ("kwargs", "names", "hint"),
    [
        ({"api_key": KEY}, "Api-Key", True),
        ({"api_key": KEY, "api_username": "system"}, "Api-Key, Api-Username", False),
        ({"api_key": KEY, "api_user_id": 7}, "Api-Key, Api-User-Id", False),
        ({"user_api_key": KEY, "user_api_client_id": "bot"}, "User-Api-Key, User-Api-Client-Id", False),
        ({}, "", False),
    ],
)
async def test_invalid_access_says_which_credentials_went(kwargs: dict[str, object], names: str, hint: bool) -> None:
    handler, _ = scripted(INVALID_ACCESS)
    dc = Discourse(
        "https://forum.example.com",
        transport=httpx.MockTransport(handler),
        rate_limits=None,
        **kwargs,  # type: ignore[arg-type]
    )
    async with dc:
        with pytest.raises(PermissionDeniedError) as info:
            await dc.topics.get_topic(id="1")
    message = str(info.value)
    assert KEY not in message
    if names:
        assert f"credentials sent: {names};" in message
    else:
        assert "no credentials were sent" in message
    assert ("a key for all users needs api_username" in message) is hint


@pytest.mark.parametrize(
    "errors",
    [
        ["You are not permitted to view the requested resource. The API username or key is invalid."],
        ["You are not permitted to view the requested resource."],
        [],
    ],
)
async def test_a_403_about_credentials_names_them(errors: list[str]) -> None:
    answer = httpx.Response(403, json={"errors": errors, "error_type": "invalid_access"})
    handler, _ = scripted(answer)
    async with make(handler) as dc:
        with pytest.raises(PermissionDeniedError) as info:
            await dc.topics.get_topic(id="1")
    assert "credentials sent" in str(info.value)
    assert "check the key and the user it acts as" in str(info.value)


@pytest.mark.parametrize(
    "rule", ["You can't act on your own post.", "This topic is closed; it no longer accepts new replies."]
)
async def test_a_403_for_a_permission_rule_does_not_send_the_user_after_the_key(rule: str) -> None:
    handler, _ = scripted(httpx.Response(403, json={"errors": [rule], "error_type": "invalid_access"}))
    async with make(handler) as dc:
        with pytest.raises(PermissionDeniedError) as info:
            await dc.topics.get_topic(id="1")
    assert str(info.value).endswith(rule)
    assert "credentials" not in str(info.value)
    assert "key" not in str(info.value)


async def test_other_403s_are_left_as_they_are() -> None:
    handler, _ = scripted(httpx.Response(403, json={"errors": ["not yours"], "error_type": "not_allowed"}))
    async with make(handler) as dc:
        with pytest.raises(PermissionDeniedError) as info:
            await dc.topics.get_topic(id="1")
    assert "credentials sent" not in str(info.value)
