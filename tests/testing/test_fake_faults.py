"""Rate limits in Discourse's three 429 shapes, injected faults, and the request log, on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from discourse_async.testing import DroppedConnection, FakeDiscourse, ManualClock

TOPIC = {"title": "A perfectly fine topic title", "raw": "A perfectly fine first post body.", "category": 2}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(now=1_700_000_000.0)


@pytest.fixture
def fake(clock: ManualClock) -> FakeDiscourse:
    return FakeDiscourse(clock=clock)


@pytest.fixture(params=["in-process", "socket"])
async def client(request: pytest.FixtureRequest, fake: FakeDiscourse) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client with the admin key, in-process and over a real socket (uvicorn on 127.0.0.1)."""
    headers = {"Api-Key": fake.admin_api_key, "Api-Username": "system"}
    if request.param == "in-process":
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake), base_url="http://forum.test", headers=headers
        ) as http:
            yield http
    else:
        async with fake.serve() as url, httpx.AsyncClient(base_url=url, headers=headers) as http:
            yield http


# ------------------------------------------------------------------------------------- 429s


async def test_json_429_as_discourse_sends_for_admin_keys(fake: FakeDiscourse, client: httpx.AsyncClient) -> None:
    rule = fake.set_rate_limit(per_minute=2, scope="admin")
    assert [(await client.get("/latest.json")).status_code for _ in range(2)] == [200, 200]
    limited = await client.get("/latest.json")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert limited.headers["Discourse-Rate-Limit-Error-Code"] == "admin_api_key_rate_limit"
    assert limited.headers["content-type"].startswith("application/json")
    assert limited.json() == {
        "errors": ["You’ve performed this action too many times. Please wait 1 minute before trying again."],
        "error_type": "rate_limit",
        "extras": {"wait_seconds": 60, "time_left": "1 minute"},
    }
    assert rule.refused == 1


async def test_text_429_as_discourse_sends_for_ip_limits(fake: FakeDiscourse, client: httpx.AsyncClient) -> None:
    fake.set_rate_limit(1, 10, scope="ip")
    await client.get("/latest.json")
    limited = await client.get("/latest.json")
    assert limited.status_code == 429 and limited.headers["content-type"].startswith("text/plain")
    assert limited.headers["Retry-After"] == "10"
    assert limited.text == (
        "Slow down, too many requests from this IP address. Please retry again in 10 seconds. "
        "Error code: ip_10_secs_limit.\n"
    )


async def test_html_429_from_a_proxy_has_no_retry_after(fake: FakeDiscourse, client: httpx.AsyncClient) -> None:
    fake.set_rate_limit(1, 60, scope="proxy")
    await client.get("/latest.json")
    limited = await client.get("/latest.json")
    assert limited.status_code == 429 and limited.headers["content-type"].startswith("text/html")
    assert "retry-after" not in limited.headers and "<title>429 Too Many Requests</title>" in limited.text


async def test_windows_follow_the_fake_clock_and_budgets_can_be_counted(
    fake: FakeDiscourse, clock: ManualClock
) -> None:
    fake.set_rate_limit(per_minute=3, scope="admin")
    statuses = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake),
        base_url="http://forum.test",
        headers={"Api-Key": fake.admin_api_key, "Api-Username": "system"},
    ) as http:
        for _ in range(10):
            statuses.append((await http.get("/latest.json")).status_code)
            clock.advance(10)
    # 3 per sliding minute: t=0,10,20 pass; 30,40,50 refused; 60 passes (t=0 left the window)...
    assert statuses == [200, 200, 200, 429, 429, 429, 200, 200, 200, 429]
    assert fake.max_requests_in_window(60) == 3
    assert fake.count_requests("GET", "/latest.json", status=429) == 4


async def test_user_api_keys_have_their_own_buckets(fake: FakeDiscourse) -> None:
    fake.create_user("alice")
    fake.create_user("bob")
    fake.set_rate_limit(per_minute=1, scope="user_api")
    keys = [fake.create_user_api_key("alice"), fake.create_user_api_key("bob")]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://forum.test") as http:
        first = [(await http.get("/latest.json", headers={"User-Api-Key": k})).status_code for k in keys]
        again = await http.get("/latest.json", headers={"User-Api-Key": keys[0]})
    assert first == [200, 200] and again.status_code == 429
    assert again.headers["Discourse-Rate-Limit-Error-Code"] == "user_api_key_limiter_60_secs"


# ------------------------------------------------------------------------------------- faults


async def test_5xx_fault_sends_a_proxy_html_page_then_stops(fake: FakeDiscourse, client: httpx.AsyncClient) -> None:
    fault = fake.add_fault("GET", "/latest.json", status=502, times=2)
    statuses = [(await client.get("/latest.json")).status_code for _ in range(3)]
    assert statuses == [502, 502, 200] and fault.fired == 2
    bad = fake.requests[0]
    assert bad.status == 502 and bad.fault == "status" and not bad.processed


async def test_5xx_after_processing_means_the_write_happened(fake: FakeDiscourse, client: httpx.AsyncClient) -> None:
    fake.add_fault("POST", "/posts.json", status=504, after=True, times=1)
    answer = await client.post("/posts.json", json=TOPIC)
    assert answer.status_code == 504 and "504 Gateway Time-out" in answer.text
    assert len(fake.store.topics) == 1  # the topic exists although the client saw a 504
    assert fake.count_requests("POST", "/posts.json", wrote=True) == 1


async def test_latency_fault(fake: FakeDiscourse, client: httpx.AsyncClient) -> None:
    fault = fake.add_fault("GET", "/site.json", delay=0.01, times=1)
    assert (await client.get("/site.json")).status_code == 200
    assert fault.fired == 1 and fake.requests[-1].fault == "delay"


async def test_dropped_connections_over_a_real_socket(fake: FakeDiscourse) -> None:
    headers = {"Api-Key": fake.admin_api_key, "Api-Username": "system"}
    fake.add_fault("POST", "/posts.json", drop="before", times=1)
    fake.add_fault("POST", "/posts.json", drop="after", times=1)
    async with fake.serve() as url, httpx.AsyncClient(base_url=url, headers=headers) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/posts.json", json=TOPIC)
        assert len(fake.store.topics) == 0  # dropped before: nothing written
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/posts.json", json=TOPIC)
        assert len(fake.store.topics) == 1  # dropped after: written, but the client never heard
        assert (await http.get("/latest.json")).status_code == 200  # the server is fine afterwards
    assert [(r.fault, r.wrote) for r in fake.requests[:2]] == [("drop_before", False), ("drop_after", True)]


async def test_dropped_connections_in_process_raise_from_the_app(fake: FakeDiscourse) -> None:
    fake.add_fault("POST", "/posts.json", drop="after", times=1)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake),
        base_url="http://forum.test",
        headers={"Api-Key": fake.admin_api_key, "Api-Username": "system"},
    ) as http:
        with pytest.raises(DroppedConnection) as caught:
            await http.post("/posts.json", json=TOPIC)
    assert isinstance(caught.value, httpx.TransportError)
    assert len(fake.store.topics) == 1 and fake.count_requests("POST", "/posts.json", wrote=True) == 1


async def test_probabilistic_faults_are_reproducible() -> None:
    runs = []
    for _ in range(2):
        fake = FakeDiscourse(seed=7)
        fake.add_fault("GET", "*", status=503, probability=0.3)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://forum.test") as http:
            runs.append([(await http.get("/site/basic-info.json")).status_code for _ in range(20)])
    assert runs[0] == runs[1] and 503 in runs[0] and 200 in runs[0]


def test_fault_arguments_are_checked(fake: FakeDiscourse) -> None:
    with pytest.raises(ValueError, match="drop"):
        fake.add_fault(drop="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        fake.add_fault(status=502, drop="before")
