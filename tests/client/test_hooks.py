"""Event hooks: every call's start, requests, responses, waits, retries and outcome, in order; a
hook that fails never fails the call; the first long budget wait of a client is a WARNING."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from discourse_async import NotFoundError, RateLimit
from discourse_async.hooks import Call, Hooks, WaitKind
from tests.client.test_resilience import KEY, FakeClock, make, scripted, topic


class Recorder(Hooks):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.calls: list[Call] = []

    def on_start(self, call: Call) -> None:
        self.calls.append(call)
        self.events.append(("start", call.name, call.method, call.route))

    def on_request(self, call: Call, method: str, url: str, resend: int) -> None:
        self.events.append(("request", method, url, resend))

    def on_response(self, call: Call, status_code: int, elapsed: float, size: int) -> None:
        self.events.append(("response", status_code, size))

    def on_retry(self, call: Call, wait: float, reason: str) -> None:
        self.events.append(("retry", wait, reason))

    def on_wait(self, call: Call, seconds: float, reason: str, kind: WaitKind) -> None:
        self.events.append(("wait", kind, seconds))

    def on_finish(self, call: Call, error: BaseException | None) -> None:
        self.events.append(("finish", type(error).__name__ if error else None, call.attempts, call.retries))


async def test_the_events_of_a_call_with_a_budget_wait_a_retry_and_a_redirect() -> None:
    handler, _ = scripted(
        httpx.Response(200, json=topic()),
        httpx.Response(503, text="<html><title>503</title></html>", headers={"Content-Type": "text/html"}),
        httpx.Response(301, headers={"Location": "/t/a-topic/1.json?secret=query"}),
        httpx.Response(200, json=topic()),
    )
    hooks = Recorder()
    clock = FakeClock()
    async with make(handler, clock, hooks=[hooks], rate_limits=[RateLimit(1, 10)], telemetry=False) as dc:
        await dc.topics.get_topic(id="1")
        hooks.events.clear()
        await dc.topics.get_topic(id="2")
    body = len(httpx.Response(200, json=topic()).content)
    wait = hooks.events[4][1]
    assert hooks.events == [
        ("start", "topics.get_topic", "GET", "/t/{id}.json"),
        ("wait", "budget", 10.0),
        ("request", "GET", "https://forum.example.com/t/2.json", 0),
        ("response", 503, len(b"<html><title>503</title></html>")),
        ("retry", wait, "503"),
        ("wait", "budget", pytest.approx(10 - wait)),
        ("request", "GET", "https://forum.example.com/t/2.json", 1),
        ("response", 301, 0),
        ("request", "GET", "https://forum.example.com/t/a-topic/1.json", 2),  # no query string
        ("response", 200, body),
        ("finish", None, 2, 1),
    ]
    call = hooks.calls[-1]
    assert call.username == "system"
    assert call.budget == "admin"
    assert call.status_code == 200
    assert call.ended is not None and call.ended >= call.started


async def test_a_failed_call_finishes_with_its_error_and_hooks_see_no_secret() -> None:
    handler, _ = scripted(httpx.Response(404, json={"errors": ["Not found"], "error_type": "not_found"}))
    hooks = Recorder()
    async with make(handler, hooks=[hooks], telemetry=False) as dc:
        with pytest.raises(NotFoundError):
            await dc.request("GET", "/plugin/thing.json", params={"token": "s3cret"})
    assert hooks.events[0] == ("start", "GET /plugin/thing.json", "GET", None)
    assert hooks.events[-1] == ("finish", "NotFoundError", 1, 0)
    assert "s3cret" not in repr(hooks.events) and KEY not in repr(hooks.events)


async def test_a_hook_that_raises_is_logged_and_the_call_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Hooks):
        def on_response(self, call: Call, status_code: int, elapsed: float, size: int) -> None:
            raise RuntimeError("a metrics backend is down")

    handler, _ = scripted(httpx.Response(200, json=topic()))
    after = Recorder()
    async with make(handler, hooks=[Broken(), after], telemetry=False) as dc:
        assert (await dc.topics.get_topic(id="1")).id == 1
    assert any("on_response hook" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert after.events[-1] == ("finish", None, 1, 0)  # the hooks after it still ran


async def test_on_wait_is_one_of_the_hooks() -> None:
    handler, _ = scripted(httpx.Response(200, json=topic()))
    waits: list[tuple[float, str]] = []
    hooks = Recorder()
    clock = FakeClock()
    async with make(
        handler, clock, rate_limits=[RateLimit(1, 10)], on_wait=lambda s, r: waits.append((s, r)), hooks=[hooks]
    ) as dc:
        await dc.topics.get_topic(id="1")
        await dc.topics.get_topic(id="2")
    assert [s for s, _ in waits] == [10]
    assert [e for e in hooks.events if e[0] == "wait"] == [("wait", "budget", 10)]


async def test_the_first_long_budget_wait_of_a_client_is_a_warning_naming_the_option(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="discourse_async")
    handler, _ = scripted(httpx.Response(200, json=topic()))
    clock = FakeClock()
    async with make(handler, clock, rate_limits=[RateLimit(1, 2), RateLimit(3, 60)]) as dc:
        copy = dc.with_options(api_username="alice")  # a copy shares the client's budget and its warning
        for client in (dc, dc, copy, copy, dc):
            await client.topics.get_topic(id="1")
    waits = [(r.levelname, r.getMessage()) for r in caplog.records if "waiting" in r.getMessage()]
    # 2 s waits are INFO; the first over a few seconds is a WARNING; later long ones INFO again.
    assert [level for level, _ in waits] == ["INFO", "INFO", "WARNING", "INFO"]
    assert "rate_limits=" in waits[2][1] and "3 per 60s" in waits[2][1]
