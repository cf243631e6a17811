"""DiscourseConnect: both directions against payloads built independently here, tampering, sync_sso."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from pytest_httpx import HTTPXMock

from discourse_async import ConfigurationError, Discourse, DiscourseError, UnprocessableEntityError
from discourse_async.connect import (
    ConnectError,
    ConnectLoginFailedError,
    ConnectNonceError,
    ConnectPayloadError,
    ConnectRequest,
    ConnectSignatureError,
    ConnectUser,
    build_auth_redirect,
    build_response,
    decode_payload,
    parse_auth_response,
    parse_request,
    response_url,
    sign_payload,
    sync_sso,
)

SECRET = "connect-secret-7Hq2-never-shown"
BASE = "https://forum.example.com"
ADMIN_KEY = "admin-key-for-sync-sso-0123456789"


# Independent implementations of the wire format, as Discourse (Ruby) does it.
def hmac_hex(sso: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), sso.encode(), hashlib.sha256).hexdigest()


def discourse_encode(fields: dict[str, str], *, ruby_lines: bool = False) -> tuple[str, str]:
    b64 = base64.b64encode(urlencode(fields).encode()).decode()
    if ruby_lines:  # the old Base64.encode64: a newline every 60 characters and at the end
        b64 = "".join(b64[i : i + 60] + "\n" for i in range(0, len(b64), 60))
    return b64, hmac_hex(b64)


def discourse_decode(sso: str, sig: str, secret: str = SECRET) -> dict[str, str]:
    assert hmac.compare_digest(hmac_hex(sso, secret), sig)
    return dict(parse_qsl(base64.b64decode(sso).decode(), keep_blank_values=True))


def flip(b64: str) -> str:
    """Change one base64 character (keeping it valid base64)."""
    i = len(b64) // 2
    return b64[:i] + ("A" if b64[i] != "A" else "B") + b64[i + 1 :]


# ------------------------------------------------------------------ your app as provider


def test_sign_payload_matches_independent_hmac() -> None:
    sso, sig = discourse_encode({"nonce": "abc"})
    assert sign_payload(sso, SECRET) == sig
    assert sign_payload(sso, SECRET.encode()) == sig


@pytest.mark.parametrize("ruby_lines", [False, True])
def test_parse_request(ruby_lines: bool) -> None:
    fields = {"nonce": "cb68251eefb5211e58c00ff1395f0c0b", "return_sso_url": f"{BASE}/session/sso_login"}
    sso, sig = discourse_encode(fields, ruby_lines=ruby_lines)
    request = parse_request(sso, sig, SECRET)
    assert isinstance(request, ConnectRequest)
    assert request.nonce == fields["nonce"]
    assert request.return_sso_url == fields["return_sso_url"]
    assert request.prompt is None
    prompt_sso, prompt_sig = discourse_encode({**fields, "prompt": "none"})
    assert parse_request(prompt_sso, prompt_sig.upper(), SECRET).prompt == "none"


def test_parse_request_recovers_plus_turned_into_space() -> None:
    # Find a nonce whose payload has a "+" in its base64.
    for i in range(200):
        sso, sig = discourse_encode({"nonce": f"n{i}~~>>??", "return_sso_url": f"{BASE}/session/sso_login"})
        if "+" in sso:
            break
    assert "+" in sso
    assert parse_request(sso.replace("+", " "), sig, SECRET).nonce.startswith("n")


def request_fields() -> dict[str, str]:
    return {"nonce": "n-1", "return_sso_url": f"{BASE}/session/sso_login"}


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda sso, sig: (flip(sso), sig), ConnectSignatureError),
        (lambda sso, sig: (sso, sig[:-1] + ("0" if sig[-1] != "0" else "1")), ConnectSignatureError),
        (lambda sso, sig: (sso, None), ConnectSignatureError),
        (lambda sso, sig: (sso, ""), ConnectSignatureError),
        (lambda sso, sig: (sso, "not-hex"), ConnectSignatureError),
        (lambda sso, sig: (sso, hmac_hex(sso, "another-secret")), ConnectSignatureError),
        (lambda sso, sig: (sso + "%", sig), ConnectPayloadError),
        (lambda sso, sig: ("", sig), ConnectPayloadError),
    ],
)
def test_tampered_request_refused(mutate: Any, error: type[Exception]) -> None:
    sso, sig = mutate(*discourse_encode(request_fields()))
    with pytest.raises(error):
        parse_request(sso, sig, SECRET)


def test_request_without_nonce_refused() -> None:
    sso, sig = discourse_encode({"return_sso_url": f"{BASE}/x"})
    with pytest.raises(ConnectPayloadError, match="nonce"):
        parse_request(sso, sig, SECRET)


def test_signed_non_base64_refused() -> None:
    sso = "abc="  # valid characters, invalid base64 (bad padding)
    with pytest.raises(ConnectPayloadError):
        decode_payload(sso, hmac_hex(sso), SECRET)


def test_build_response_fields_and_encoding() -> None:
    request = parse_request(*discourse_encode(request_fields()), SECRET)
    sso, sig = build_response(
        request,
        SECRET,
        external_id=42,
        email="alice@example.com",
        username="alice",
        name="Alice Liddell",
        avatar_url="https://app.example.com/a.png?s=1&t=2",
        groups=["staff", "beta"],
        add_groups="one, two",
        admin=False,
        moderator=True,
        require_activation=True,
        suppress_welcome_message=False,
        custom_fields={"plan": "gold", "seats": 3},
    )
    assert sig == hmac_hex(sso)
    fields = discourse_decode(sso, sig)
    assert fields == {
        "nonce": "n-1",
        "external_id": "42",
        "email": "alice@example.com",
        "username": "alice",
        "name": "Alice Liddell",
        "avatar_url": "https://app.example.com/a.png?s=1&t=2",
        "groups": "staff,beta",
        "add_groups": "one,two",
        "admin": "false",
        "moderator": "true",
        "require_activation": "true",
        "suppress_welcome_message": "false",
        "custom.plan": "gold",
        "custom.seats": "3",
    }
    assert "\n" not in sso  # strict base64, as Discourse's own Base64.strict_encode64


def test_build_response_checks_fields() -> None:
    with pytest.raises(ConfigurationError, match="email"):
        build_response("n", SECRET, external_id="1", email="")
    with pytest.raises(TypeError, match="usernme"):
        build_response("n", SECRET, external_id="1", email="a@b.c", usernme="typo")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="nonce"):
        build_response("", SECRET, external_id="1", email="a@b.c")
    with pytest.raises(ConfigurationError, match="commas"):
        build_response("n", SECRET, external_id="1", email="a@b.c", groups=["a,b"])


@pytest.mark.parametrize("return_url", [f"{BASE}/session/sso_login", f"{BASE}/session/sso_login?x=1"])
def test_response_url(return_url: str) -> None:
    request = ConnectRequest(nonce="n-1", return_sso_url=return_url)
    sso, sig = build_response(request, SECRET, external_id="7", email="a@example.com")
    url = response_url(request, sso, sig)
    assert url.startswith(return_url + ("&" if "?" in return_url else "?"))
    q = parse_qs(urlsplit(url).query)
    assert q["sso"] == [sso]
    assert q["sig"] == [sig]
    assert discourse_decode(q["sso"][0], q["sig"][0])["nonce"] == "n-1"


def test_provider_round_trip() -> None:
    # Discourse asks, the app answers, Discourse checks: signature and nonce must hold.
    sso, sig = discourse_encode(request_fields())
    request = parse_request(sso, sig, SECRET)
    answer_url = response_url(request, *build_response(request, SECRET, external_id="u-9", email="u9@example.com"))
    q = parse_qs(urlsplit(answer_url).query)
    fields = discourse_decode(q["sso"][0], q["sig"][0])
    assert fields["nonce"] == request_fields()["nonce"]
    assert (fields["external_id"], fields["email"]) == ("u-9", "u9@example.com")


# ------------------------------------------------------------------ Discourse as provider


def discourse_answers(url: str, **user: str) -> tuple[str, str]:
    """What /session/sso_provider does: check the request, answer with the user."""
    q = parse_qs(urlsplit(url).query)
    asked = discourse_decode(q["sso"][0], q["sig"][0])
    return discourse_encode({"nonce": asked["nonce"], "return_sso_url": asked["return_sso_url"], **user})


def test_build_auth_redirect() -> None:
    url, nonce = build_auth_redirect(BASE + "/forum", "https://app.example.com/sso?next=/home", SECRET)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "forum.example.com", "/forum/session/sso_provider")
    q = parse_qs(parts.query)
    fields = discourse_decode(q["sso"][0], q["sig"][0])
    assert fields == {"nonce": nonce, "return_sso_url": "https://app.example.com/sso?next=/home"}
    assert len(nonce) >= 16
    url2, nonce2 = build_auth_redirect(BASE, "https://app.example.com/sso", SECRET, "fixed", prompt="none")
    q2 = parse_qs(urlsplit(url2).query)
    assert nonce2 == "fixed"
    assert discourse_decode(q2["sso"][0], q2["sig"][0])["prompt"] == "none"


def test_client_round_trip() -> None:
    url, nonce = build_auth_redirect(BASE, "https://app.example.com/sso", SECRET)
    sso, sig = discourse_answers(
        url,
        external_id="17",
        email="bob@example.com",
        username="bob",
        name="Bob",
        admin="true",
        moderator="false",
        groups="trust_level_0,trust_level_1,staff",
        avatar_url="https://forum.example.com/avatar.png",
    )
    user = parse_auth_response(sso, sig, SECRET, nonce)
    assert isinstance(user, ConnectUser)
    assert (user.external_id, user.email, user.username, user.name) == ("17", "bob@example.com", "bob", "Bob")
    assert user.admin is True
    assert user.moderator is False
    assert user.groups == ("trust_level_0", "trust_level_1", "staff")
    assert user.return_sso_url == "https://app.example.com/sso"
    assert user.fields["avatar_url"] == "https://forum.example.com/avatar.png"


def test_client_refuses_wrong_nonce_and_tampering() -> None:
    url, nonce = build_auth_redirect(BASE, "https://app.example.com/sso", SECRET)
    sso, sig = discourse_answers(url, external_id="17", email="bob@example.com")
    with pytest.raises(ConnectNonceError):
        parse_auth_response(sso, sig, SECRET, "another-nonce")
    with pytest.raises(ConnectSignatureError):
        parse_auth_response(flip(sso), sig, SECRET, nonce)
    forged = base64.b64encode(base64.b64decode(sso).replace(b"17", b"1")).decode()
    with pytest.raises(ConnectSignatureError):
        parse_auth_response(forged, sig, SECRET, nonce)
    with pytest.raises(ConnectSignatureError):
        parse_auth_response(sso, sig, "wrong-secret", nonce)


def test_client_login_failed_and_missing_id() -> None:
    url, nonce = build_auth_redirect(BASE, "https://app.example.com/sso", SECRET, prompt="none")
    with pytest.raises(ConnectLoginFailedError):
        parse_auth_response(*discourse_answers(url, failed="true"), SECRET, nonce)
    with pytest.raises(ConnectPayloadError, match="external_id"):
        parse_auth_response(*discourse_answers(url, email="x@example.com"), SECRET, nonce)


def test_error_hierarchy() -> None:
    for cls in (ConnectSignatureError, ConnectPayloadError, ConnectNonceError, ConnectLoginFailedError):
        assert issubclass(cls, ConnectError)
    assert issubclass(ConnectError, DiscourseError)


# ------------------------------------------------------------------ sync_sso


def sent_form(request: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_sync_sso_sends_signed_form(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{BASE}/admin/users/sync_sso", json={"id": 5, "username": "alice"})
    async with Discourse(BASE, api_key=ADMIN_KEY, api_username="system") as dc:
        user = await sync_sso(dc, SECRET, external_id="ext-1", email="alice@example.com", username="alice", admin=False)
    assert user == {"id": 5, "username": "alice"}
    (request,) = httpx_mock.get_requests()
    assert request.method == "POST"
    assert request.headers["Api-Key"] == ADMIN_KEY
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = sent_form(request)
    assert set(form) == {"sso", "sig"}
    assert discourse_decode(form["sso"], form["sig"]) == {
        "external_id": "ext-1",
        "email": "alice@example.com",
        "username": "alice",
        "admin": "false",
    }


def old_discourse_sync_sso(form: dict[str, str]) -> dict[str, str]:
    """Discourse before #42024: DiscourseConnect.parse("sso=#{params[:sso]}&sig=#{params[:sig]}").

    The already-decoded values are parsed as a query string again, so "+" becomes " ".
    """
    again = dict(parse_qsl(f"sso={form['sso']}&sig={form['sig']}", keep_blank_values=True))
    return discourse_decode(again["sso"], again["sig"])


TRICKY = ["~", "~~", "a~", "ab~", ">>>", "~>~>", "Zoë ~ Ünïcødé ✓", "a+b c/d?e=f&g", "\x7f\x00", "*-._"]


@pytest.mark.parametrize("value", TRICKY)
def test_payload_base64_never_has_a_plus(value: str) -> None:
    for prefix in ("", "x", "xy"):  # every alignment of the value within the 3-byte groups
        sso, sig = build_response("n", SECRET, external_id=prefix + value, email="a@example.com", name=value)
        assert "+" not in sso
        assert discourse_decode(sso, sig)["external_id"] == prefix + value
        assert discourse_decode(sso, sig)["name"] == value


async def test_sync_sso_survives_older_discourse_double_decoding(httpx_mock: HTTPXMock) -> None:
    # Python's urlencode leaves "~" alone, and "~" at the right place gives a "+" in the base64:
    naive = base64.b64encode(urlencode({"external_id": "ab~"}).encode()).decode()
    assert "+" in naive
    with pytest.raises(AssertionError):  # which the older Discourse cannot verify
        old_discourse_sync_sso({"sso": naive, "sig": hmac_hex(naive)})
    httpx_mock.add_response(method="POST", url=f"{BASE}/admin/users/sync_sso", json={"id": 9})
    async with Discourse(BASE, api_key=ADMIN_KEY, api_username="system") as dc:
        assert await sync_sso(dc, SECRET, external_id="ab~", email="a~b@example.com") == {"id": 9}
    form = sent_form(httpx_mock.get_requests()[0])
    expected = {"external_id": "ab~", "email": "a~b@example.com"}
    assert discourse_decode(form["sso"], form["sig"]) == expected  # current Discourse
    assert old_discourse_sync_sso(form) == expected  # and the older one


async def test_sync_sso_errors_are_typed(httpx_mock: HTTPXMock) -> None:
    error = {"failed": "FAILED", "message": "Login Error"}
    httpx_mock.add_response(method="POST", url=f"{BASE}/admin/users/sync_sso", status_code=422, json=error)
    async with Discourse(BASE, api_key=ADMIN_KEY, api_username="system") as dc:
        with pytest.raises(UnprocessableEntityError) as info:
            await sync_sso(dc, SECRET, external_id="1", email="a@example.com")
    assert len(httpx_mock.get_requests()) == 1  # a POST is not repeated
    assert SECRET not in str(info.value)


# ------------------------------------------------------------------ no secret leaks


def test_secret_never_in_messages_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    sso, sig = discourse_encode(request_fields())
    request = parse_request(sso, sig, SECRET)
    texts.append(repr(request))
    attempts: list[tuple[str, str | None]] = [
        (flip(sso), sig),
        (sso, None),
        (sso, hmac_hex(sso, "x")),
        ("%%%", sig),
    ]
    for bad_sso, bad_sig in attempts:
        try:
            parse_request(bad_sso, bad_sig, SECRET)
        except ConnectError as exc:
            texts += [str(exc), repr(exc)]
    url, nonce = build_auth_redirect(BASE, "https://app.example.com/sso", SECRET)
    try:
        parse_auth_response(*discourse_answers(url, external_id="1", email="e@x"), SECRET, "other")
    except ConnectNonceError as exc:
        texts += [str(exc), repr(exc)]
    texts.append(repr(parse_auth_response(*discourse_answers(url, external_id="1", email="e@x"), SECRET, nonce)))
    texts.append(caplog.text)
    for text in texts:
        assert SECRET not in text
        assert sig not in text  # nor the expected signature
