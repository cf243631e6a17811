"""The client core: options, credentials, redirects, errors, raw responses, path safety."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

import discourse_async
from discourse_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    Discourse,
    DiscourseError,
    InternalServerError,
    NotFoundError,
    PathParameterError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    Secret,
    UnprocessableEntityError,
)

KEY = "0123456789abcdef-super-secret-admin-key"
USER_KEY = "user-api-key-9f8e7d6c5b4a-secret"
CREDENTIAL_NAMES = {"api-key", "api-username", "user-api-key", "user-api-client-id", "authorization", "cookie"}

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, base: str = "https://forum.example.com", **kwargs: object) -> Discourse:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("api_username", "system")
    return Discourse(base, transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def topic_json() -> dict[str, object]:
    return {"id": 42, "title": "Hello there everyone", "post_stream": {"posts": [], "stream": []}}


# ------------------------------------------------------------------ auth modes


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"api_key": KEY, "api_username": "system"}, {"api-key": KEY, "api-username": "system"}),
        ({"api_key": KEY, "api_user_id": 7}, {"api-key": KEY, "api-user-id": "7"}),
        ({"api_key": KEY, "api_user_external_id": "ext-1"}, {"api-key": KEY, "api-user-external-id": "ext-1"}),
        ({"api_key": KEY}, {"api-key": KEY}),
        ({"user_api_key": USER_KEY}, {"user-api-key": USER_KEY}),
        (
            {"user_api_key": USER_KEY, "user_api_client_id": "bot"},
            {"user-api-key": USER_KEY, "user-api-client-id": "bot"},
        ),
        ({}, {}),
    ],
)
async def test_auth_modes_send_headers_only(kwargs: dict[str, object], expected: dict[str, str]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=topic_json())

    async with Discourse("https://forum.example.com", transport=httpx.MockTransport(handler), **kwargs) as dc:  # type: ignore[arg-type]
        await dc.topics.get_topic(id="42")
    sent = {k: v for k, v in seen[0].headers.items() if k in CREDENTIAL_NAMES | {"api-user-id", "api-user-external-id"}}
    assert sent == expected
    assert KEY not in str(seen[0].url) and USER_KEY not in str(seen[0].url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": KEY, "user_api_key": USER_KEY},
        {"api_key": KEY, "api_username": "a", "api_user_id": 1},
        {"api_username": "system"},
        {"user_api_client_id": "x"},
        {"headers": {"Api-Key": KEY}},
        {"headers": {"Authorization": "Bearer x"}},
    ],
)
def test_bad_options_are_refused_without_echoing_secrets(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Discourse("https://forum.example.com", **kwargs)  # type: ignore[arg-type]
    assert KEY not in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "url", ["forum.example.com", "ftp://x.example", "https://x.example/?a=1", "https://u:p@x.example"]
)
def test_bad_base_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Discourse(url)


async def test_repr_and_vars_hide_keys() -> None:
    dc = Discourse("https://forum.example.com", api_key=KEY, api_username="system")
    text = repr(dc) + str(vars(dc)) + repr(vars(dc._path)) + repr(dc._path.credentials)
    assert KEY not in text
    assert "forum.example.com" in repr(dc)
    user = Discourse("https://forum.example.com", user_api_key=USER_KEY)
    assert USER_KEY not in repr(user) + str(vars(user))
    await dc.aclose()
    await user.aclose()


def test_secret_type() -> None:
    s = Secret(KEY)
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}" and KEY not in f"{s!r}"
    assert s.reveal() == KEY
    assert s == Secret(KEY) and s != Secret("other")
    with pytest.raises(TypeError):
        Secret("")


# ------------------------------------------------------------------ base URL, path parameters


async def test_subfolder_base_url(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://example.com/forum/t/42.json", json=topic_json())
    async with Discourse("https://example.com/forum", api_key=KEY, api_username="system") as dc:
        topic = await dc.topics.get_topic(id="42")
    assert topic.id == 42


@pytest.mark.parametrize("bad", [".", "..", ""])
async def test_dot_segments_are_refused(bad: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request may be sent, got {request.url}")

    async with client(handler) as dc:
        with pytest.raises(PathParameterError, match="username"):
            await dc.users.get_user(username=bad)
        with pytest.raises(PathParameterError):
            await dc.backups.download_backup(filename=bad, token="t")


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("?admin=1", "%3Fadmin%3D1"),
        ("#frag", "%23frag"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("é s", "%C3%A9%20s"),
    ],
)
async def test_path_parameters_stay_one_segment(value: str, encoded: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"user": {"id": 1}})

    async with client(handler) as dc:
        await dc.users.get_user(username=value)
    assert seen[0].url.raw_path == f"/u/{encoded}.json".encode()
    assert seen[0].url.query == b""


# ------------------------------------------------------------------ typed errors


def _error(status: int, **kwargs: object) -> Handler:
    return lambda request: httpx.Response(status, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "cls", "body", "error_type"),
    [
        (400, BadRequestError, {"errors": ["param is missing or the value is empty: raw"]}, None),
        (401, AuthenticationError, {"errors": ["not logged in"], "error_type": "not_logged_in"}, "not_logged_in"),
        (
            403,
            PermissionDeniedError,
            {"errors": ["You are not permitted to view the requested resource."], "error_type": "invalid_access"},
            "invalid_access",
        ),
        (
            404,
            NotFoundError,
            {"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"},
            "not_found",
        ),
        (
            422,
            UnprocessableEntityError,
            {"errors": ["Title is too short"], "error_type": "record_invalid"},
            "record_invalid",
        ),
        (
            429,
            RateLimitError,
            {"errors": ["slow down"], "error_type": "rate_limit", "extras": {"wait_seconds": 7}},
            "rate_limit",
        ),
        (500, InternalServerError, {"errors": ["boom"]}, None),
        (503, InternalServerError, {"errors": ["maintenance"]}, None),
        (418, APIStatusError, {"errors": ["teapot"]}, None),
    ],
)
async def test_json_errors(
    status: int, cls: type[APIStatusError], body: dict[str, object], error_type: str | None
) -> None:
    async with client(_error(status, json=body), max_retries=0, max_rate_limit_wait=0) as dc:
        with pytest.raises(cls) as info:
            await dc.topics.get_topic(id="42")
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.errors == body["errors"]
    assert err.error_type == error_type
    assert err.response.status_code == status
    assert str(body["errors"][0]) in str(err)  # type: ignore[index]
    assert "/t/42.json" in str(err)
    assert KEY not in str(err) and KEY not in repr(err.args)
    assert isinstance(err, DiscourseError)
    if cls is RateLimitError:
        assert err.retry_after == 7  # type: ignore[attr-defined]
        assert err.extras == {"wait_seconds": 7}


async def test_text_and_html_error_bodies() -> None:
    text = "Slow down, too many requests from this IP address. Please retry again in 10 seconds."
    async with client(_error(429, text=text, headers={"Retry-After": "10"}), max_rate_limit_wait=0) as dc:
        with pytest.raises(RateLimitError) as info:
            await dc.topics.get_topic(id="1")
    assert info.value.retry_after == 10
    assert info.value.errors == [text]
    html = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    async with client(_error(502, html=html), max_retries=0) as dc:
        with pytest.raises(InternalServerError) as info2:
            await dc.topics.get_topic(id="1")
    assert "HTML page: 502 Bad Gateway" in str(info2.value)
    assert info2.value.errors == [] and info2.value.body == html
    async with client(_error(429, html="<html><body>Too many</body></html>"), max_rate_limit_wait=0) as dc:
        with pytest.raises(RateLimitError) as info3:
            await dc.topics.get_topic(id="1")
    assert info3.value.retry_after is None


async def test_body_that_does_not_fit_the_model_is_kept_or_reported_in_strict_mode() -> None:
    raw = b'[{"id": 1}, {"id": 2}]'
    async with client(_error(200, content=raw, headers={"content-type": "application/json"})) as dc:
        # By default nothing is thrown away: the model gives back what came.
        topic = await dc.topics.get_topic(id="1")
        assert topic.id is None and topic.to_dict() == [{"id": 1}, {"id": 2}]
        strict = dc.with_options(strict=True)
        with pytest.raises(APIResponseValidationError) as info:
            await strict.topics.get_topic(id="1")
        assert info.value.body == raw
        assert "get_topic" in str(info.value) and "$: expected Topic" in str(info.value)
        # The raw variant gives the response; parsing is what fails.
        response = await strict.topics.with_raw_response.get_topic(id="1")
        assert response.status_code == 200 and response.json() == [{"id": 1}, {"id": 2}]
        with pytest.raises(APIResponseValidationError):
            response.parse()
    # Not JSON at all fails in either mode, with the body kept.
    async with client(_error(200, content=b"<html>", headers={"content-type": "application/json"})) as dc:
        with pytest.raises(APIResponseValidationError) as info:
            await dc.topics.get_topic(id="1")
        assert info.value.body == b"<html>"


async def test_connection_errors_and_timeouts() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with client(refuse, max_retries=0) as dc:
        with pytest.raises(APIConnectionError) as info:
            await dc.topics.get_topic(id="1")
        assert not isinstance(info.value, APITimeoutError)
    async with client(slow, max_retries=0) as dc:
        with pytest.raises(APITimeoutError) as info2:
            await dc.topics.get_topic(id="1")
        assert isinstance(info2.value, APIConnectionError)


def test_every_error_is_importable_from_the_package() -> None:
    for name in (
        "APIStatusError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "UnprocessableEntityError",
        "RateLimitError",
        "InternalServerError",
        "APIConnectionError",
        "APITimeoutError",
        "APIResponseValidationError",
        "DiscourseError",
    ):
        assert name in discourse_async.__all__


# ------------------------------------------------------------------ raw responses, options


async def test_raw_response_and_with_options_share_the_pool() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=topic_json(), headers={"X-Discourse-Route": "topics/show"})

    dc = client(handler)
    raw = await dc.topics.with_raw_response.get_topic(id="42")
    assert raw.status_code == 200
    assert raw.headers["x-discourse-route"] == "topics/show"
    assert raw.json()["id"] == 42
    assert raw.parse().title == "Hello there everyone"
    assert raw.parse() is raw.parse()
    fast = dc.with_options(timeout=2.5)
    assert fast._path.engine is dc._path.engine
    assert fast.timeout.read == 2.5 and dc.timeout.read == 30.0
    await fast.topics.get_topic(id="42")
    await fast.aclose()  # does not close the shared pool
    await dc.topics.get_topic(id="42")
    await dc.aclose()
    assert dc._path.engine.client.is_closed  # type: ignore[attr-defined]
    assert len(seen) == 3


def test_default_timeout_is_set() -> None:
    dc = Discourse("https://forum.example.com")
    assert dc.timeout.connect == 5.0 and dc.timeout.read == 30.0
    assert discourse_async.DEFAULT_TIMEOUT.read == 30.0


async def test_plain_strings_for_enums_and_dict_bodies() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 9, "topic_id": 3})

    async with client(handler) as dc:
        await dc.users.list_directory(period="weekly", order="likes_received")
        post = await dc.posts.create_post(raw="A reply long enough to post.", topic_id=3)
        with pytest.raises(TypeError, match="raw"):
            await dc.posts.create_post(topic_id=3)
    assert post.id == 9
    assert seen[0].url.params["period"] == "weekly"
    assert seen[1].read() == b'{"raw":"A reply long enough to post.","topic_id":3}'


async def test_no_cookies_are_kept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=topic_json(), headers={"Set-Cookie": "_forum_session=abc; path=/"})

    async with client(handler) as dc:
        await dc.topics.get_topic(id="1")
        await dc.topics.get_topic(id="1")
    assert "cookie" not in seen[1].headers


async def test_raw_request_for_any_endpoint() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("missing.json"):
            return httpx.Response(404, json={"errors": ["nope"], "error_type": "not_found"})
        return httpx.Response(200, json={"poll": {"name": "poll", "status": "closed"}})

    async with client(handler) as dc:
        data = await dc.request("PUT", "/polls/toggle_status.json", json={"post_id": 1, "status": "closed"})
        assert data == {"poll": {"name": "poll", "status": "closed"}}
        with pytest.raises(NotFoundError):
            await dc.request("GET", "/plugin/missing.json")
    assert seen[0].headers["api-key"] == KEY


async def test_log_records_never_hold_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"errors": ["nope"]})

    async with client(handler) as dc:
        with pytest.raises(NotFoundError):
            await dc.topics.get_topic(id="1")
    assert caplog.records, "the request path logs at DEBUG"
    for record in caplog.records:
        assert KEY not in record.getMessage()
    gc.collect()


# ------------------------------------------------------------------ redirects and origins

ORIGINS = {
    "same origin": "https://forum.example.com/t/slug/42.json",
    "other host": "https://evil.example.net/t/42.json",
    "sub domain": "https://cdn.forum.example.com/t/42.json",
    "other port": "https://forum.example.com:8443/t/42.json",
    "other scheme (downgrade)": "http://forum.example.com/t/42.json",
}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target", sorted(ORIGINS))
async def test_redirect_matrix(status: int, target: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(status, headers={"Location": ORIGINS[target]})
        return httpx.Response(200, json=topic_json())

    async with client(handler) as dc:
        topic = await dc.topics.get_topic_by_external_id(external_id="ext-42")
    assert topic.id == 42
    assert len(seen) == 2
    first, second = seen
    assert first.headers["api-key"] == KEY
    assert str(second.url) == ORIGINS[target]
    leaked = CREDENTIAL_NAMES & set(second.headers.keys())
    if target == "same origin":
        assert second.headers["api-key"] == KEY and second.headers["api-username"] == "system"
    else:
        assert not leaked, f"{sorted(leaked)} sent to {target}"


async def test_credentials_never_return_after_leaving_the_origin() -> None:
    chain = ["https://other.example.net/hop", "https://forum.example.com/t/42.json"]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if chain:
            return httpx.Response(302, headers={"Location": chain.pop(0)})
        return httpx.Response(200, json=topic_json())

    async with client(handler) as dc:
        await dc.topics.get_topic(id="1")
    assert "api-key" in seen[0].headers
    assert "api-key" not in seen[1].headers and "api-key" not in seen[2].headers


async def test_redirect_loops_stop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "/t/1.json"})

    async with client(handler, max_redirects=3) as dc:
        with pytest.raises(RedirectError, match="more than 3 redirects"):
            await dc.topics.get_topic(id="1")


async def test_absolute_urls_to_other_origins_get_no_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with client(handler, headers={"X-Trace": "1"}) as dc:
        await dc.request("GET", "https://s3.example.com/bucket/key?X-Amz-Signature=abc")
        await dc.request("GET", "https://forum.example.com/site.json")
    assert not CREDENTIAL_NAMES & set(seen[0].headers.keys())
    assert seen[1].headers["api-key"] == KEY


async def test_error_responses_carry_no_credentials() -> None:
    async with client(_error(404, json={"errors": ["nope"]}), max_retries=0) as dc:
        with pytest.raises(NotFoundError) as info:
            await dc.topics.get_topic(id="1")
    err = info.value
    assert KEY not in repr(err.response.request.headers)
    assert KEY not in repr(vars(err))
