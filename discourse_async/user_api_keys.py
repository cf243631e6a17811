"""User API keys: let a user grant your app a key that acts as them, without sharing a password.

The flow (Discourse's "User API keys specification"):

1. The app makes an RSA key pair and sends the user to ``/user-api-key/new`` with its public key,
   a client id, the scopes it wants and a fresh nonce.
2. The user approves; Discourse encrypts ``{"key", "nonce", "push", "api"}`` with the public key
   and hands it back as ``payload`` (a redirect to ``auth_redirect``, or a page to copy from).
3. The app decrypts the payload, checks the nonce, and uses the key as ``User-Api-Key``.

::

    flow = UserApiKeyFlow("https://forum.example.com", application_name="My bot",
                          auth_redirect="https://bot.example.com/callback")
    redirect_user_to(flow.authorization_url)
    grant = flow.complete(request_url_or_payload)      # UserApiKeyGrant
    async with grant.client("https://forum.example.com") as dc:
        ...

Needs the optional ``cryptography`` package (``pip install 'discourse-async[user-api-keys]'``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx

from discourse_async._client import Discourse
from discourse_async._exceptions import ConfigurationError, DiscourseError
from discourse_async._extras import MissingExtraError
from discourse_async._secrets import Secret

# cryptography is an optional extra: importing this module works without it, and the first call
# that needs it raises an ImportError that says what to install.
_CRYPTOGRAPHY_MISSING: ImportError | None = None
try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
    from cryptography.hazmat.primitives.asymmetric import rsa
except ImportError as _exc:  # pragma: no cover - exercised only without the extra installed
    _CRYPTOGRAPHY_MISSING = _exc


__all__ = [
    "DEFAULT_SCOPES",
    "KeyPair",
    "Padding",
    "UserApiKeyError",
    "UserApiKeyFlow",
    "UserApiKeyGrant",
    "authorization_url",
    "decrypt_payload",
    "generate_key_pair",
    "revoke",
]

Padding = Literal["oaep", "pkcs1"]

DEFAULT_SCOPES: tuple[str, ...] = ("read",)

#: The payload is one RSA block; with OAEP/SHA-1 a 2048-bit key fits 214 bytes, enough for the key,
#: a nonce and the flags. Smaller keys are both weak and too small for the payload.
MIN_KEY_BITS = 2048


class UserApiKeyError(DiscourseError):
    """The payload could not be decrypted, parsed, or did not answer this request (nonce)."""


def _require_cryptography() -> None:
    if _CRYPTOGRAPHY_MISSING is not None:
        raise MissingExtraError(
            "discourse_async.user_api_keys", "user-api-keys", _CRYPTOGRAPHY_MISSING.name
        ) from _CRYPTOGRAPHY_MISSING


# ------------------------------------------------------------------------------ key pairs


@dataclass(frozen=True, repr=False)
class KeyPair:
    """An RSA key pair: ``private_key`` decrypts the payload, ``public_key_pem`` goes in the URL."""

    private_key: rsa.RSAPrivateKey
    public_key_pem: str

    def __repr__(self) -> str:
        return f"<KeyPair RSA-{self.private_key.key_size}>"

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> KeyPair:
        """Wrap an existing ``cryptography`` RSA private key."""
        _require_cryptography()
        pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private_key, pem.decode("ascii"))

    @classmethod
    def from_private_key_pem(cls, pem: bytes | str, password: bytes | None = None) -> KeyPair:
        """Load a key pair saved with :meth:`private_key_pem` (a flow can span a process restart)."""
        _require_cryptography()
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            raise UserApiKeyError("the private key PEM could not be loaded (corrupt, or wrong password)") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise UserApiKeyError("the private key is not an RSA key")
        return cls.from_private_key(key)

    def private_key_pem(self, password: bytes | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted with ``password`` when one is given."""
        _require_cryptography()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def generate_key_pair(bits: int = 2048) -> KeyPair:
    """A fresh RSA key pair (public exponent 65537) for one authorization."""
    if bits < MIN_KEY_BITS:
        raise ConfigurationError(f"use an RSA key of at least {MIN_KEY_BITS} bits")
    _require_cryptography()
    return KeyPair.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=bits))


# ------------------------------------------------------------------------------ the request URL


def _new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _check_padding(padding: str) -> Padding:
    if padding == "oaep":
        return "oaep"
    if padding == "pkcs1":
        return "pkcs1"
    raise ConfigurationError("padding must be 'oaep' or 'pkcs1'")


def _endpoint(base_url: str | httpx.URL, path: str) -> str:
    url = httpx.URL(str(base_url))
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError("base_url must be an absolute http(s) URL such as https://forum.example.com")
    # Keep a subfolder install's prefix (https://example.com/forum): URL.join would drop it.
    return str(url.copy_with(query=None, fragment=None)).rstrip("/") + path


def authorization_url(
    base_url: str | httpx.URL,
    *,
    application_name: str,
    client_id: str,
    public_key_pem: str,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    nonce: str | None = None,
    auth_redirect: str | None = None,
    push_url: str | None = None,
    padding: Padding = "oaep",
) -> tuple[str, str]:
    """The ``/user-api-key/new`` URL to send the user to, and the nonce to expect back.

    Args:
        base_url: the site, e.g. ``https://forum.example.com``.
        application_name: shown to the user on the approval page and in their Apps tab.
        client_id: identifies your app installation; Discourse replaces the user's earlier key for
            the same client id, so keep it stable per installation.
        public_key_pem: the PEM public key Discourse encrypts the payload with.
        scopes: e.g. ``("read", "write", "notifications")``; the site must allow them.
        nonce: a value echoed back in the payload; random when not given.
        auth_redirect: where Discourse redirects with ``?payload=``; it must be allowed by the
            site's ``allowed user api auth redirects``. Without it the user copies the payload.
        push_url: for the ``push`` scope.
        padding: ``"oaep"`` (RSA-OAEP; Discourse versions without ``padding`` support ignore it and
            use PKCS#1 v1.5) or ``"pkcs1"``.
    """
    scope_list = list(scopes)
    if not scope_list or any(not s or "," in s for s in scope_list):
        raise ConfigurationError("scopes must be non-empty names without commas, e.g. ('read', 'write')")
    if not application_name or not client_id:
        raise ConfigurationError("application_name and client_id must not be empty")
    nonce = nonce or _new_nonce()
    params: dict[str, str] = {
        "application_name": application_name,
        "client_id": client_id,
        "scopes": ",".join(scope_list),
        "nonce": nonce,
        "public_key": public_key_pem,
        "padding": _check_padding(padding),
    }
    if auth_redirect is not None:
        params["auth_redirect"] = auth_redirect
    if push_url is not None:
        params["push_url"] = push_url
    # quote (not quote_plus): the PEM's "+" and newlines must survive as %2B and %0A.
    query = urlencode(params, quote_via=quote)
    return f"{_endpoint(base_url, '/user-api-key/new')}?{query}", nonce


# ------------------------------------------------------------------------------ the payload


@dataclass(frozen=True)
class UserApiKeyGrant:
    """A User API key granted by a user. ``key`` is a :class:`Secret`; pass it on, never log it."""

    key: Secret
    client_id: str | None = None
    push: bool = False
    api_version: int | None = None

    def client(self, base_url: str | httpx.URL, **kwargs: Any) -> Discourse:
        """A :class:`~discourse_async.Discourse` client acting as the user who granted the key."""
        return Discourse(base_url, user_api_key=self.key, user_api_client_id=self.client_id, **kwargs)


def _payload_from(text: str) -> str:
    """The base64 payload from a payload, or from the whole redirect URL it came back on."""
    text = text.strip()
    if "payload=" in text and ("?" in text or text.startswith("payload=")):
        query = urlsplit(text).query if "?" in text else text
        values = parse_qs(query, keep_blank_values=True).get("payload")
        if not values:
            raise UserApiKeyError("no payload parameter in the URL")
        # parse_qs turned "+" into " "; base64 never holds spaces, so they were "+" signs.
        return values[-1].replace(" ", "+")
    if "%" in text:
        # Still URL-encoded (copied from an address bar): Discourse escapes it with CGI.escape.
        text = unquote(text)
    return text


def _decode_base64(payload: str) -> bytes:
    # Ruby's Base64.encode64 breaks lines every 60 characters; "+" may have become " " in a
    # query string decoded once too often.
    compact = "".join(payload.replace(" ", "+").split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UserApiKeyError("the payload is not valid base64") from exc


def _rsa_padding(padding: Padding) -> rsa_padding.AsymmetricPadding:
    if padding == "oaep":
        # Discourse encrypts with Ruby's PKCS1_OAEP_PADDING: OAEP with SHA-1 and MGF1(SHA-1).
        # SHA-1 is fine here: OAEP's security does not rest on collision resistance.
        sha1 = hashes.SHA1()  # noqa: S303 - fixed by Discourse's encryption; used for OAEP, not signatures
        return rsa_padding.OAEP(mgf=rsa_padding.MGF1(algorithm=sha1), algorithm=sha1, label=None)
    return rsa_padding.PKCS1v15()


def decrypt_payload(
    payload: str,
    private_key: rsa.RSAPrivateKey | KeyPair,
    *,
    expected_nonce: str,
    padding: Padding = "oaep",
    client_id: str | None = None,
) -> UserApiKeyGrant:
    """Decrypt the ``payload`` Discourse returned and check its nonce.

    ``payload`` is the base64 text (line breaks and URL-encoding are tolerated) or the whole
    redirect URL carrying ``?payload=``. Raises :class:`UserApiKeyError` when it cannot be
    decrypted with this key and padding, is not the expected JSON, or carries another nonce.
    """
    _require_cryptography()
    key = private_key.private_key if isinstance(private_key, KeyPair) else private_key
    ciphertext = _decode_base64(_payload_from(payload))
    if len(ciphertext) != (key.key_size + 7) // 8:
        raise UserApiKeyError("the payload was not encrypted for this key (wrong length)")
    try:
        plaintext = key.decrypt(ciphertext, _rsa_padding(_check_padding(padding)))
    except ValueError as exc:
        hint = " (a Discourse without padding support always uses 'pkcs1')" if padding == "oaep" else ""
        raise UserApiKeyError(
            f"the payload could not be decrypted with this key and {padding!r} padding{hint}"
        ) from exc
    try:
        data = json.loads(plaintext)
    except ValueError as exc:
        # With PKCS#1 v1.5 a wrong key can "succeed" with random bytes (implicit rejection).
        raise UserApiKeyError(f"the decrypted payload is not JSON: wrong key or padding ({padding!r})?") from exc
    if not isinstance(data, dict) or not isinstance(data.get("key"), str) or not data["key"]:
        raise UserApiKeyError("the decrypted payload has no key")
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), expected_nonce.encode()):
        raise UserApiKeyError("the payload's nonce does not match this request: refusing a replayed or foreign key")
    api = data.get("api")
    return UserApiKeyGrant(
        key=Secret(data["key"]),
        client_id=client_id,
        push=data.get("push") is True,
        api_version=api if isinstance(api, int) and not isinstance(api, bool) else None,
    )


# ------------------------------------------------------------------------------ the flow


class UserApiKeyFlow:
    """One authorization: holds the key pair, nonce and client id between the two steps.

    Build it, send the user to :attr:`authorization_url`, then call :meth:`complete` with what came
    back. A flow completes once: a second payload is refused.
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        application_name: str,
        client_id: str | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        auth_redirect: str | None = None,
        push_url: str | None = None,
        padding: Padding = "oaep",
        key_pair: KeyPair | None = None,
        nonce: str | None = None,
    ) -> None:
        self.base_url = str(base_url)
        self.application_name = application_name
        self.client_id = client_id or uuid.uuid4().hex
        self.scopes = tuple(scopes)
        self.auth_redirect = auth_redirect
        self.push_url = push_url
        self.padding = _check_padding(padding)
        self.key_pair = key_pair or generate_key_pair()
        self.authorization_url, self.nonce = authorization_url(
            base_url,
            application_name=application_name,
            client_id=self.client_id,
            public_key_pem=self.key_pair.public_key_pem,
            scopes=self.scopes,
            nonce=nonce,
            auth_redirect=auth_redirect,
            push_url=push_url,
            padding=self.padding,
        )
        self._completed = False

    def __repr__(self) -> str:
        return f"<UserApiKeyFlow {self.base_url} client_id={self.client_id!r} scopes={','.join(self.scopes)}>"

    def complete(self, payload_or_url: str) -> UserApiKeyGrant:
        """Decrypt the returned payload (or the redirect URL carrying it) into a grant."""
        if self._completed:
            raise UserApiKeyError("this flow has already completed; start a new one for another key")
        grant = decrypt_payload(
            payload_or_url,
            self.key_pair,
            expected_nonce=self.nonce,
            padding=self.padding,
            client_id=self.client_id,
        )
        self._completed = True
        return grant


async def revoke(client: Discourse, *, key_id: int | None = None) -> None:
    """Revoke the User API key ``client`` authenticates with (or key ``key_id``, for an admin)."""
    data = None if key_id is None else {"id": key_id}
    await client.request("POST", "/user-api-key/revoke", data=data)
