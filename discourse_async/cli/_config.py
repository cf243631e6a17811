"""Where the command line finds the site and its credentials: options, profiles, the environment.

Values are taken field by field from, in order: the command line options; the profile named by
``--profile`` or ``DISCOURSE_PROFILE``; the ``DISCOURSE_*`` environment variables; the profile
named ``default`` (or the file's ``default_profile``). A credential is never combined with a site
URL that came from a later place than itself (a key from your default profile is not sent to the
site in ``DISCOURSE_URL``), except that a ``--url`` given on the command line takes credentials
from anywhere: that is an explicit choice.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import click

FIELDS = ("url", "api_key", "api_username", "user_api_key", "user_api_client_id")
CREDENTIALS = FIELDS[1:]
SECRETS = ("api_key", "user_api_key")
ENV = {name: f"DISCOURSE_{name.upper()}" for name in FIELDS}


@dataclass(frozen=True)
class Settings:
    """The site and credentials one command uses."""

    url: str | None = None
    api_key: str | None = None
    api_username: str | None = None
    user_api_key: str | None = None
    user_api_client_id: str | None = None

    def __repr__(self) -> str:
        # Keys must not show in a traceback or a debug print.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown.update({name: "****" for name in SECRETS if shown[name]})
        return f"Settings({shown})"


def config_path(env: Mapping[str, str]) -> Path:
    """``$DISCOURSE_ASYNC_CONFIG``, else ``$XDG_CONFIG_HOME`` or ``~/.config``, then ``discourse-async/config.toml``."""
    if env.get("DISCOURSE_ASYNC_CONFIG"):
        return Path(env["DISCOURSE_ASYNC_CONFIG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "discourse-async" / "config.toml"


def _load(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.UsageError(f"cannot read the config file {path}: {exc}") from None
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Like ssh with its keys: say so, since the file holds API keys.
        click.echo(f"warning: {path} can be read by other users; run: chmod 600 {path}", err=True)
    return data


def _profile(data: Mapping[str, object], name: str, path: Path, *, required: bool) -> dict[str, str]:
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or name not in profiles:
        if not required:
            return {}
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) and profiles else "none"
        raise click.UsageError(f"no profile {name!r} in {path} (profiles: {known})")
    profile = profiles[name]
    unknown = sorted(set(profile) - set(FIELDS)) if isinstance(profile, dict) else ["(not a table)"]
    if unknown:
        raise click.UsageError(f"profile {name!r} in {path}: unknown keys {unknown}; known: {', '.join(FIELDS)}")
    return {key: str(value) for key, value in profile.items() if value not in (None, "")}


def resolve(options: Mapping[str, str | None], env: Mapping[str, str]) -> Settings:
    """Settings from command line ``options`` (``url``, ``api_key``..., ``profile``) and ``env``."""
    path = config_path(env)
    data = _load(path)
    named = options.get("profile") or env.get("DISCOURSE_PROFILE")
    layers: list[dict[str, str]] = [{k: v for k, v in options.items() if k in FIELDS and v}]
    if named:
        layers.append(_profile(data, named, path, required=True))
    layers.append({name: env[var] for name, var in ENV.items() if env.get(var)})
    if not named:
        default = data.get("default_profile", "default")
        layers.append(_profile(data, str(default), path, required=default != "default"))

    url_layer = next((i for i, layer in enumerate(layers) if "url" in layer), 0)
    # Credentials come from the URL's own place or one before it; any place when --url was given.
    usable = layers if url_layer == 0 else layers[: url_layer + 1]
    values: dict[str, str] = {}
    for name in FIELDS:
        source = layers if name == "url" else usable
        value = next((layer[name] for layer in source if name in layer), None)
        if value is not None:
            values[name] = value
    # An admin key and a user API key from different places: the earlier place wins (with its companion).
    if "api_key" in values and "user_api_key" in values:
        admin = next(i for i, layer in enumerate(usable) if "api_key" in layer)
        user = next(i for i, layer in enumerate(usable) if "user_api_key" in layer)
        if admin != user:
            for name in ("user_api_key", "user_api_client_id") if admin < user else ("api_key", "api_username"):
                values.pop(name, None)
    return Settings(**values)
