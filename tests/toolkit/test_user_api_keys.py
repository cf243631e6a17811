"""User API keys: the URL, the payload both paddings, the nonce, the grant, revoke."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from typing import Any, Literal
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
import pytest
from pytest_httpx import HTTPXMock

pytest.importorskip("cryptography")

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from discourse_async import ConfigurationError, Discourse, DiscourseError, Secret
from discourse_async.user_api_keys import (
    KeyPair,
    UserApiKeyError,
    UserApiKeyFlow,
    UserApiKeyGrant,
    authorization_url,
    decrypt_payload,
    generate_key_pair,
    revoke,
)

BASE = "https://forum.example.com"
USER_KEY = "9c1f0e8d7b6a5f4e3d2c1b0a99887766-user-key"
REDIRECT = "https://app.example.com/callback"


@pytest.fixture(scope="module")
def key_pair() -> KeyPair:
    return generate_key_pair()


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def act_as_discourse(
    url: str, *, key: str = USER_KEY, nonce: str | None = None, padding_name: str | None = None
) -> str:
    """Do what Discourse does on approval, from the URL alone: encrypt, base64 (Ruby's encode64), redirect."""
    q = query_of(url)
    public_key = serialization.load_pem_public_key(q["public_key"].encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    message = json.dumps({"key": key, "nonce": nonce or q["nonce"], "push": False, "api": 4}).encode()
    chosen = padding_name or q.get("padding", "pkcs1")
    pad: padding.AsymmetricPadding
    if chosen == "oaep":  # Ruby's PKCS1_OAEP_PADDING: SHA-1 and MGF1(SHA-1)
        pad = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    else:
        pad = padding.PKCS1v15()
    ciphertext = public_key.encrypt(message, pad)
    b64 = base64.b64encode(ciphertext).decode()
    ruby_encode64 = "".join(b64[i : i + 60] + "\n" for i in range(0, len(b64), 60))
    return f"{q['auth_redirect']}?payload={quote_plus(ruby_encode64)}"  # CGI.escape


# ------------------------------------------------------------------ the URL


def test_authorization_url_has_discourse_parameter_names(key_pair: KeyPair) -> None:
    url, nonce = authorization_url(
        BASE + "/forum/",
        application_name="My Bot",
        client_id="client-123",
        public_key_pem=key_pair.public_key_pem,
        scopes=("read", "write", "notifications"),
        auth_redirect=REDIRECT,
        push_url="https://push.example.com/x",
        padding="pkcs1",
    )
    assert url.startswith("https://forum.example.com/forum/user-api-key/new?")
    q = query_of(url)
    assert q == {
        "application_name": "My Bot",
        "client_id": "client-123",
        "scopes": "read,write,notifications",
        "nonce": nonce,
        "public_key": key_pair.public_key_pem,
        "padding": "pkcs1",
        "auth_redirect": REDIRECT,
        "push_url": "https://push.example.com/x",
    }
    assert "+" not in urlsplit(url).query  # spaces and PEM "+" are percent-encoded, never "+"
    assert key_pair.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_authorization_url_defaults(key_pair: KeyPair) -> None:
    url, nonce = authorization_url(BASE, application_name="a", client_id="c", public_key_pem=key_pair.public_key_pem)
    q = query_of(url)
    assert q["scopes"] == "read"
    assert q["padding"] == "oaep"
    assert "auth_redirect" not in q
    assert len(nonce) >= 16
    _, other = authorization_url(BASE, application_name="a", client_id="c", public_key_pem=key_pair.public_key_pem)
    assert other != nonce


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scopes": ()},
        {"scopes": ("read,write",)},
        {"padding": "none"},
        {"application_name": ""},
    ],
)
def test_authorization_url_refuses_bad_options(key_pair: KeyPair, kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"application_name": "a", "client_id": "c", "public_key_pem": key_pair.public_key_pem}
    options.update(kwargs)
    with pytest.raises(ConfigurationError):
        authorization_url(BASE, **options)
    with pytest.raises(ConfigurationError):
        authorization_url("forum.example.com", application_name="a", client_id="c", public_key_pem="x")


def test_small_keys_refused() -> None:
    with pytest.raises(ConfigurationError):
        generate_key_pair(1024)


# ------------------------------------------------------------------ decrypting the payload


@pytest.mark.parametrize("pad", ["oaep", "pkcs1"])
def test_flow_round_trip_both_paddings(pad: Literal["oaep", "pkcs1"], key_pair: KeyPair) -> None:
    flow = UserApiKeyFlow(BASE, application_name="My Bot", auth_redirect=REDIRECT, padding=pad, key_pair=key_pair)
    assert query_of(flow.authorization_url)["padding"] == pad
    redirect = act_as_discourse(flow.authorization_url)
    grant = flow.complete(redirect)
    assert isinstance(grant, UserApiKeyGrant)
    assert isinstance(grant.key, Secret)
    assert grant.key.reveal() == USER_KEY
    assert grant.client_id == flow.client_id
    assert grant.api_version == 4
    assert grant.push is False


@pytest.mark.parametrize("pad", ["oaep", "pkcs1"])
def test_decrypt_payload_forms(pad: Literal["oaep", "pkcs1"], key_pair: KeyPair) -> None:
    url, nonce = authorization_url(
        BASE,
        application_name="a",
        client_id="c",
        public_key_pem=key_pair.public_key_pem,
        auth_redirect=REDIRECT,
        padding=pad,
    )
    redirect = act_as_discourse(url)
    escaped = redirect.split("payload=", 1)[1]
    plain = parse_qs(urlsplit(redirect).query)["payload"][0]
    assert "\n" in plain  # Ruby's line breaks
    for form in (redirect, escaped, plain, plain.replace("\n", ""), "payload=" + escaped):
        grant = decrypt_payload(form, key_pair, expected_nonce=nonce, padding=pad, client_id="c")
        assert grant.key.reveal() == USER_KEY
    # The private key object works as well as the pair.
    assert decrypt_payload(plain, key_pair.private_key, expected_nonce=nonce, padding=pad).client_id is None


def test_wrong_nonce_refused(key_pair: KeyPair) -> None:
    flow = UserApiKeyFlow(BASE, application_name="a", auth_redirect=REDIRECT, key_pair=key_pair)
    replayed = act_as_discourse(flow.authorization_url, nonce="a-nonce-from-another-request")
    with pytest.raises(UserApiKeyError, match="nonce") as info:
        flow.complete(replayed)
    assert USER_KEY not in str(info.value)
    assert "a-nonce-from-another-request" not in str(info.value)


def test_wrong_padding_or_key_refused(key_pair: KeyPair) -> None:
    url, nonce = authorization_url(
        BASE, application_name="a", client_id="c", public_key_pem=key_pair.public_key_pem, auth_redirect=REDIRECT
    )
    # An older Discourse ignores padding=oaep and encrypts with PKCS#1 v1.5.
    old_discourse = act_as_discourse(url, padding_name="pkcs1")
    with pytest.raises(UserApiKeyError, match="pkcs1"):
        decrypt_payload(old_discourse, key_pair, expected_nonce=nonce, padding="oaep")
    assert decrypt_payload(old_discourse, key_pair, expected_nonce=nonce, padding="pkcs1").key.reveal() == USER_KEY
    other = generate_key_pair()
    for pad in ("oaep", "pkcs1"):
        with pytest.raises(UserApiKeyError):
            decrypt_payload(old_discourse, other, expected_nonce=nonce, padding=pad)


@pytest.mark.parametrize(
    "payload",
    ["", "not base64 at all!", base64.b64encode(b"short").decode(), "https://app.example.com/callback?x=1&payload="],
)
def test_garbage_payload_refused(payload: str, key_pair: KeyPair) -> None:
    with pytest.raises(UserApiKeyError):
        decrypt_payload(payload, key_pair, expected_nonce="n")


def test_payload_without_key_refused(key_pair: KeyPair) -> None:
    ciphertext = key_pair.private_key.public_key().encrypt(json.dumps({"nonce": "n"}).encode(), padding.PKCS1v15())
    with pytest.raises(UserApiKeyError, match="no key"):
        decrypt_payload(base64.b64encode(ciphertext).decode(), key_pair, expected_nonce="n", padding="pkcs1")


def test_flow_completes_once(key_pair: KeyPair) -> None:
    flow = UserApiKeyFlow(BASE, application_name="a", auth_redirect=REDIRECT, key_pair=key_pair)
    redirect = act_as_discourse(flow.authorization_url)
    flow.complete(redirect)
    with pytest.raises(UserApiKeyError, match="already"):
        flow.complete(redirect)


def test_key_pair_pem_round_trip(key_pair: KeyPair) -> None:
    pem = key_pair.private_key_pem(password=b"pw")
    assert b"ENCRYPTED" in pem
    again = KeyPair.from_private_key_pem(pem, password=b"pw")
    assert again.public_key_pem == key_pair.public_key_pem
    assert KeyPair.from_private_key_pem(key_pair.private_key_pem()).public_key_pem == key_pair.public_key_pem
    with pytest.raises(UserApiKeyError):
        KeyPair.from_private_key_pem(pem, password=b"wrong")


def test_clear_error_without_cryptography() -> None:
    # In a fresh interpreter where cryptography cannot be imported: the module imports, and the
    # first call that needs it says what to install.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'cryptography':\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from discourse_async import user_api_keys\n"
        "try:\n"
        "    user_api_keys.generate_key_pair()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'discourse-async[user-api-keys]'" in result.stdout


def test_errors_are_discourse_errors() -> None:
    assert issubclass(UserApiKeyError, DiscourseError)


# ------------------------------------------------------------------ using and revoking the key


async def test_grant_client_sends_user_api_key_headers(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/session/current.json", json={"current_user": {"id": 1}})
    grant = UserApiKeyGrant(key=Secret(USER_KEY), client_id="client-123")
    async with grant.client(BASE) as dc:
        assert isinstance(dc, Discourse)
        assert await dc.request("GET", "/session/current.json") == {"current_user": {"id": 1}}
    request = httpx_mock.get_requests()[0]
    assert request.headers["User-Api-Key"] == USER_KEY
    assert request.headers["User-Api-Client-Id"] == "client-123"
    assert "Api-Key" not in request.headers


async def test_revoke_posts_through_the_client(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{BASE}/user-api-key/revoke", json={"success": "OK"})
    httpx_mock.add_response(method="POST", url=f"{BASE}/user-api-key/revoke", json={"success": "OK"})
    async with Discourse(BASE, user_api_key=USER_KEY, user_api_client_id="c") as dc:
        await revoke(dc)
        await revoke(dc, key_id=12)
    first, second = httpx_mock.get_requests()
    assert first.method == "POST"
    assert first.headers["User-Api-Key"] == USER_KEY
    assert second.content == b"id=12"


# ------------------------------------------------------------------ against the fake Discourse


@pytest.mark.parametrize("pad", ["oaep", "pkcs1"])
async def test_round_trip_against_fake_discourse(pad: Literal["oaep", "pkcs1"], key_pair: KeyPair) -> None:
    testing = pytest.importorskip("discourse_async.testing")
    fake = testing.FakeDiscourse()
    fake.user_api_key_approver = "system"  # the fake has no browser login: this user approves
    base = fake.base_url
    flow = UserApiKeyFlow(
        base,
        application_name="Bot",
        scopes=("read", "session_info"),
        auth_redirect=REDIRECT + "?state=xyz",
        padding=pad,
        key_pair=key_pair,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)) as http:
        response = await http.get(flow.authorization_url)
    if response.status_code == 404:
        pytest.skip("the fake Discourse does not serve /user-api-key/new")
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?state=xyz&")
    grant = flow.complete(location)
    # A nonce from another flow is refused.
    other = UserApiKeyFlow(base, application_name="Bot", auth_redirect=REDIRECT, padding=pad, key_pair=key_pair)
    with pytest.raises(UserApiKeyError, match="nonce"):
        other.complete(location)
    # The key acts as the approving user; once revoked it is refused.
    async with grant.client(base, transport=httpx.ASGITransport(app=fake)) as dc:
        current = await dc.request("GET", "/session/current.json")
        assert current["current_user"]["username"] == "system"
        await revoke(dc)
        with pytest.raises(DiscourseError):
            await dc.request("GET", "/session/current.json")


# ------------------------------------------------------------------ no secret leaks


def test_no_key_in_repr_str_or_errors(key_pair: KeyPair, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    flow = UserApiKeyFlow(BASE, application_name="a", auth_redirect=REDIRECT, key_pair=key_pair)
    grant = flow.complete(act_as_discourse(flow.authorization_url))
    private_pem = key_pair.private_key_pem().decode()
    private_body = "".join(private_pem.splitlines()[1:-1])[:40]
    texts = [repr(grant), str(grant), f"{grant}", repr(flow), repr(key_pair), str(vars(flow)), repr(grant.client(BASE))]
    for bad in ("garbage", act_as_discourse(flow.authorization_url, nonce="other")):
        try:
            decrypt_payload(bad, key_pair, expected_nonce=flow.nonce)
        except UserApiKeyError as exc:
            texts += [str(exc), repr(exc)]
    texts.append(caplog.text)
    for text in texts:
        assert USER_KEY not in text
        assert private_body not in text
    assert "****" in repr(grant)
