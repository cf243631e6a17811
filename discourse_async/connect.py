"""DiscourseConnect (formerly "Discourse SSO"), both ways, plus ``sync_sso``.

A DiscourseConnect message is a query string (``nonce=...&email=...``), base64-encoded, sent as
``sso`` together with ``sig``, the hex HMAC-SHA256 of that base64 text under a secret shared
with the site. Two directions:

* **Your app is the provider** (Discourse setting ``discourse connect url``): Discourse sends
  users to you with ``sso``/``sig``; :func:`parse_request` checks it, you log the user in, and
  :func:`build_response` + :func:`response_url` send them back with their details.
* **Discourse is the provider** (setting ``discourse connect provider secrets``): your app signs
  users in with their forum account; :func:`build_auth_redirect` sends them to
  ``/session/sso_provider`` and :func:`parse_auth_response` checks what comes back.

:func:`sync_sso` pushes a user's details to Discourse without a login (admin API key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict, Unpack
from urllib.parse import parse_qsl, quote_plus, urlencode

import httpx

from discourse_async._client import Discourse
from discourse_async._exceptions import ConfigurationError, DiscourseError
from discourse_async._secrets import Secret

__all__ = [
    "ConnectError",
    "ConnectLoginFailedError",
    "ConnectNonceError",
    "ConnectPayloadError",
    "ConnectRequest",
    "ConnectSignatureError",
    "ConnectUser",
    "UserFields",
    "build_auth_redirect",
    "build_response",
    "decode_payload",
    "encode_payload",
    "parse_auth_response",
    "parse_request",
    "response_url",
    "sign_payload",
    "sync_sso",
]


class ConnectError(DiscourseError):
    """A DiscourseConnect message that cannot be trusted or used."""


class ConnectSignatureError(ConnectError):
    """``sig`` is missing, malformed, or does not match ``sso`` under the secret (tampered or wrong secret)."""


class ConnectPayloadError(ConnectError):
    """A correctly signed ``sso`` that is not a usable DiscourseConnect payload."""


class ConnectNonceError(ConnectError):
    """The payload answers another request (its nonce is not the one this app sent)."""


class ConnectLoginFailedError(ConnectError):
    """Discourse answered ``failed=true``: the user is not logged in (a ``prompt=none`` request)."""


class UserFields(TypedDict, total=False):
    """The user fields Discourse reads from a DiscourseConnect payload (``external_id`` and ``email`` required).

    Booleans are sent as ``"true"``/``"false"``; ``groups``, ``add_groups`` and ``remove_groups``
    take group names; ``custom_fields`` become ``custom.<name>`` (user custom fields the site
    setting ``discourse connect overrides ...`` lets through).
    """

    external_id: Required[str | int]
    email: Required[str]
    username: str
    name: str
    avatar_url: str
    avatar_force_update: bool
    bio: str
    title: str
    website: str
    location: str
    locale: str
    locale_force_update: bool
    profile_background_url: str
    card_background_url: str
    groups: Iterable[str]
    add_groups: Iterable[str]
    remove_groups: Iterable[str]
    admin: bool
    moderator: bool
    require_activation: bool
    suppress_welcome_message: bool
    logout: bool
    custom_fields: Mapping[str, str | int | bool]


_GROUP_LISTS = frozenset({"groups", "add_groups", "remove_groups"})
_USER_FIELDS = UserFields.__required_keys__ | UserFields.__optional_keys__
_SSO_CHARS = re.compile(r"[A-Za-z0-9+/=\r\n]+")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


# ------------------------------------------------------------------------------ signing and encoding


def _key(secret: str | bytes | Secret) -> bytes:
    if isinstance(secret, Secret):
        secret = secret.reveal()
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ConfigurationError("the DiscourseConnect secret must not be empty")
    return key


def sign_payload(sso: str, secret: str | bytes | Secret) -> str:
    """``sig`` for an ``sso`` value: the hex HMAC-SHA256 of the base64 text itself."""
    return hmac.new(_key(secret), sso.encode("ascii"), hashlib.sha256).hexdigest()


def _text(value: object) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    return str(value)


def _rack_escape(value: str) -> str:
    # Rack::Utils.escape, which Discourse uses: quote_plus, but "~" escaped as well. Python keeps "~"
    # literal, and "~" (0x7E) is the only character quote_plus leaves that can put a "+" into the
    # base64 (ASCII text gives "+" only from a byte whose low six bits are 111110: ">" or "~").
    return quote_plus(value, safe="").replace("~", "%7E")


def encode_payload(fields: Mapping[str, object]) -> str:
    """Base64 of the query string of ``fields`` (None values left out; booleans as true/false).

    The base64 never contains "+": the query string is ASCII without ">" or "~". That matters for
    ``sync_sso``, which Discourse before discourse/discourse#42024 (July 2026) decoded twice,
    turning a "+" into a space and refusing the signature.
    """
    query = "&".join(
        f"{_rack_escape(name)}={_rack_escape(_text(value))}" for name, value in fields.items() if value is not None
    )
    return base64.b64encode(query.encode("ascii")).decode("ascii")


def _verify(sso: str, sig: str | None, secret: str | bytes | Secret) -> str:
    """Check ``sig`` over ``sso`` in constant time; return the sso text the signature covers."""
    key = _key(secret)
    if not sso:
        raise ConnectPayloadError("the sso parameter is empty")
    # A query string decoded twice turns base64's "+" into " "; base64 has no spaces, so restoring
    # them recovers exactly the text that was signed.
    sso = sso.replace(" ", "+")
    if not _SSO_CHARS.fullmatch(sso):
        raise ConnectPayloadError("the sso parameter is not base64")
    if not sig or not _HEX_SHA256.fullmatch(sig.strip()):
        raise ConnectSignatureError("the sig parameter is missing or is not 64 hex digits")
    expected = hmac.new(key, sso.encode("ascii"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.strip().lower()):
        raise ConnectSignatureError("the sig does not match the sso payload: tampered, or signed with another secret")
    return sso


def decode_payload(sso: str, sig: str | None, secret: str | bytes | Secret) -> dict[str, str]:
    """Verify ``sig``, then decode ``sso`` into its fields (the last value wins for repeated names)."""
    sso = _verify(sso, sig, secret)
    try:
        text = base64.b64decode("".join(sso.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise ConnectPayloadError("the sso payload is not base64-encoded UTF-8") from exc
    return dict(parse_qsl(text, keep_blank_values=True))


def _new_nonce() -> str:
    return secrets.token_hex(16)


def _nonce_matches(received: str | None, expected: str) -> bool:
    return received is not None and hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def _user_payload(fields: Mapping[str, Any]) -> dict[str, object]:
    unknown = set(fields) - _USER_FIELDS
    if unknown:
        raise TypeError(f"unknown DiscourseConnect field(s): {', '.join(sorted(unknown))}")
    for required in ("external_id", "email"):
        if fields.get(required) in (None, ""):
            raise ConfigurationError(f"DiscourseConnect needs a non-empty {required}")
    out: dict[str, object] = {}
    for name, value in fields.items():
        if name == "custom_fields":
            for custom_name, custom_value in dict(value or {}).items():
                out[f"custom.{custom_name}"] = custom_value
        elif name in _GROUP_LISTS and value is not None:
            # Discourse takes one comma-separated string; a string given here already is one.
            names = value.split(",") if isinstance(value, str) else list(value)
            if any("," in g for g in names):
                raise ConfigurationError(f"{name}: group names cannot contain commas")
            out[name] = ",".join(n.strip() for n in names if n.strip())
        else:
            out[name] = value
    return out


# ------------------------------------------------------------------------------ your app as provider


@dataclass(frozen=True)
class ConnectRequest:
    """A verified sign-in request from Discourse (your app is the provider).

    ``prompt`` is ``"none"`` when Discourse only asks whether the user is already logged in.
    """

    nonce: str
    return_sso_url: str
    prompt: str | None = None
    fields: dict[str, str] = field(default_factory=dict, repr=False)


def parse_request(sso: str, sig: str | None, secret: str | bytes | Secret) -> ConnectRequest:
    """Verify and decode the ``sso``/``sig`` query parameters Discourse sent the user with."""
    fields = decode_payload(sso, sig, secret)
    nonce = fields.get("nonce")
    return_sso_url = fields.get("return_sso_url")
    if not nonce or not return_sso_url:
        raise ConnectPayloadError("a DiscourseConnect request needs a nonce and a return_sso_url")
    return ConnectRequest(nonce=nonce, return_sso_url=return_sso_url, prompt=fields.get("prompt"), fields=fields)


def build_response(
    request_or_nonce: ConnectRequest | str, secret: str | bytes | Secret, **user: Unpack[UserFields]
) -> tuple[str, str]:
    """The signed ``(sso, sig)`` answering a request with the logged-in user's details.

    ``external_id`` (your stable id for the user) and ``email`` are required; see
    :class:`UserFields` for the rest. Send it back with :func:`response_url`.
    """
    nonce = request_or_nonce.nonce if isinstance(request_or_nonce, ConnectRequest) else request_or_nonce
    if not nonce:
        raise ConfigurationError("a DiscourseConnect response needs the request's nonce")
    sso = encode_payload({"nonce": nonce, **_user_payload(user)})
    return sso, sign_payload(sso, secret)


def response_url(request: ConnectRequest, sso: str, sig: str) -> str:
    """The URL to redirect the user to: the request's ``return_sso_url`` with ``sso`` and ``sig``."""
    base = request.return_sso_url
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode({'sso': sso, 'sig': sig})}"


# ------------------------------------------------------------------------------ Discourse as provider


@dataclass(frozen=True)
class ConnectUser:
    """A forum user, as Discourse vouches for them after :func:`build_auth_redirect`.

    ``external_id`` is the user's Discourse id (as text). ``fields`` has everything Discourse sent.
    """

    external_id: str
    email: str | None = None
    username: str | None = None
    name: str | None = None
    avatar_url: str | None = None
    admin: bool = False
    moderator: bool = False
    groups: tuple[str, ...] = ()
    return_sso_url: str | None = None
    fields: dict[str, str] = field(default_factory=dict, repr=False)


def build_auth_redirect(
    base_url: str | httpx.URL,
    return_url: str,
    secret: str | bytes | Secret,
    nonce: str | None = None,
    *,
    prompt: str | None = None,
) -> tuple[str, str]:
    """The ``/session/sso_provider`` URL to send the user to, and the nonce to keep for the answer.

    Store the nonce (in the user's session) and pass it to :func:`parse_auth_response`; it is what
    ties the answer to this browser. ``prompt="none"`` asks Discourse not to show a login page.
    """
    url = httpx.URL(str(base_url))
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError("base_url must be an absolute http(s) URL such as https://forum.example.com")
    nonce = nonce or _new_nonce()
    sso = encode_payload({"nonce": nonce, "return_sso_url": return_url, "prompt": prompt})
    endpoint = str(url.copy_with(query=None, fragment=None)).rstrip("/") + "/session/sso_provider"
    return f"{endpoint}?{urlencode({'sso': sso, 'sig': sign_payload(sso, secret)})}", nonce


def parse_auth_response(sso: str, sig: str | None, secret: str | bytes | Secret, expected_nonce: str) -> ConnectUser:
    """Verify Discourse's answer (the ``sso``/``sig`` on your return URL) and return the user.

    Raises :class:`ConnectSignatureError` for a tampered answer, :class:`ConnectNonceError` for an
    answer to another request, and :class:`ConnectLoginFailedError` when Discourse reports that
    the user is not logged in (``prompt="none"``).
    """
    fields = decode_payload(sso, sig, secret)
    if not _nonce_matches(fields.get("nonce"), expected_nonce):
        raise ConnectNonceError("the answer's nonce does not match this request: refusing a replayed or foreign login")
    if fields.get("failed") == "true":
        raise ConnectLoginFailedError("Discourse reports the user is not logged in")
    external_id = fields.get("external_id")
    if not external_id:
        raise ConnectPayloadError("the answer has no external_id")
    groups = fields.get("groups") or ""
    return ConnectUser(
        external_id=external_id,
        email=fields.get("email"),
        username=fields.get("username"),
        name=fields.get("name"),
        avatar_url=fields.get("avatar_url"),
        admin=fields.get("admin") == "true",
        moderator=fields.get("moderator") == "true",
        groups=tuple(g for g in groups.split(",") if g),
        return_sso_url=fields.get("return_sso_url"),
        fields=fields,
    )


# ------------------------------------------------------------------------------ sync_sso


async def sync_sso(client: Discourse, secret: str | bytes | Secret, **user: Unpack[UserFields]) -> Any:
    """Create or update a user from DiscourseConnect fields (``POST /admin/users/sync_sso``).

    Needs an admin API key and DiscourseConnect enabled on the site; returns the user as Discourse
    answers it (decoded JSON).
    """
    sso = encode_payload(_user_payload(user))
    return await client.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sign_payload(sso, secret)})
