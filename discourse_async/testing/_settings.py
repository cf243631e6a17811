"""The fake's site settings: the ones Discourse's rules read, with Discourse's defaults.

Set them in a test (``fake.site_settings.allow_uncategorized_topics = True``) or on the command line
(``--setting allow_uncategorized_topics=true``). Names are Discourse's own (``config/site_settings.yml``);
a name the fake does not know is an error rather than a setting that silently does nothing. Group-list
settings hold group ids separated by ``|``, as Discourse stores them (10..14 are trust_level_0..4).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: Login providers Discourse ships as managed authenticators (external ids may name them when enabled).
MANAGED_PROVIDERS = ("google_oauth2", "github", "twitter", "facebook", "discord", "linkedin_oidc")


@dataclass(slots=True)  # slots: assigning a misspelt name raises instead of doing nothing
class SiteSettings:
    """Discourse's site settings that the fake's rules read, with Discourse's defaults."""

    # topics and posts
    allow_uncategorized_topics: bool = False
    min_topic_title_length: int = 15
    max_topic_title_length: int = 255
    min_personal_message_title_length: int = 2
    min_post_length: int = 20
    min_first_post_length: int = 20
    min_personal_message_post_length: int = 10
    max_post_length: int = 32000
    trusted_users_can_edit_others: bool = True
    # who may do what (group ids; 10 is trust_level_0, 11 trust_level_1...; staff always may)
    create_topic_allowed_groups: str = "10"
    enable_personal_messages: bool = True
    personal_message_enabled_groups: str = "11"
    invite_allowed_groups: str = "12"
    # accounts and logins
    min_username_length: int = 3
    max_username_length: int = 20
    min_password_length: int = 10
    enable_local_logins: bool = True
    enable_discourse_connect: bool = False
    discourse_connect_secret: str = ""
    enable_google_oauth2_logins: bool = False
    enable_github_logins: bool = False
    enable_twitter_logins: bool = False
    enable_facebook_logins: bool = False
    enable_discord_logins: bool = False
    enable_linkedin_oidc_logins: bool = False

    def set_text(self, name: str, value: str) -> None:
        """Set a setting from text (``--setting NAME=VALUE``), cast to the setting's type."""
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        if name not in kinds:
            raise ValueError(f"unknown site setting {name!r}; the fake knows: {', '.join(sorted(kinds))}")
        kind = kinds[name]
        cast: Any
        if kind == "bool":
            lowered = value.strip().lower()
            if lowered not in ("true", "false", "t", "f", "1", "0"):
                raise ValueError(f"site setting {name} takes true or false, not {value!r}")
            cast = lowered in ("true", "t", "1")
        elif kind == "int":
            try:
                cast = int(value)
            except ValueError:
                raise ValueError(f"site setting {name} takes an integer, not {value!r}") from None
        else:
            cast = value
        setattr(self, name, cast)

    def groups(self, name: str) -> set[int]:
        """A group-list setting as a set of group ids."""
        value: str = getattr(self, name)
        return {int(part) for part in value.split("|") if part.strip().lstrip("-").isdigit()}

    def provider_enabled(self, provider: str) -> bool:
        """Whether external ids may name this login provider (enabled, and managed by Discourse)."""
        if provider == "discourse_connect":
            return self.enable_discourse_connect
        return provider in MANAGED_PROVIDERS and bool(getattr(self, f"enable_{provider}_logins"))
