"""Discourse's guardian for the fake: who may do what, as one table the handlers consult.

Each :class:`Rule` says who may do something (anonymous callers, trust levels, the owner, staff,
admins, a User API key's scopes), which site settings gate it, and the answer a refused call gets,
status and body as Discourse sends them. Handlers do not write their own ``if`` chains for these:
they call ``ctx.guard("<rule>", ...)`` (or ``ctx.require_user()`` and its kin, which consult the
generic rules), so a rule changes in one place. The facts come from Discourse's ``Guardian`` modules,
its controllers and ``config/site_settings.yml``; ``docs/testing.md``'s rule table is generated from
:data:`RULES` and the handlers that consult them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from discourse_async.testing import _backend as backend
from discourse_async.testing._settings import SiteSettings

DAY = 86400.0


@dataclass
class Facts:
    """What a rule looks at: the site, the acting user, and the records the call is about."""

    store: backend.Store
    user: backend.User | None
    topic: backend.Topic | None = None
    post: backend.Post | None = None
    category: backend.Category | None = None
    target: backend.User | None = None
    upload: backend.Upload | None = None
    group: backend.Group | None = None
    providers: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> SiteSettings:
        """The site settings."""
        return self.store.settings

    @property
    def now(self) -> float:
        """The fake's clock."""
        return self.store.now()

    def trust(self, level: int) -> bool:
        """Whether the acting user has at least this trust level."""
        return self.user is not None and self.user.trust_level >= level

    def in_groups(self, setting: str) -> bool:
        """Whether the acting user is staff or in one of a group-list setting's groups."""
        if self.user is None:
            return False
        if self.user.staff:
            return True
        return bool(self.settings.groups(setting) & self.store.group_ids_of(self.user))

    def category_permission(self) -> int | None:
        """The acting user's best permission type on the category (1 create, 2 reply, 3 see); staff get 1."""
        category = self.category
        if category is None:
            return 1
        if self.user is not None and self.user.staff:
            return 1
        groups = {"everyone"}
        if self.user is not None:
            groups |= {self.store.groups[g].name for g in self.store.group_ids_of(self.user) if g in self.store.groups}
        types = [kind for name, kind in category.permissions.items() if name in groups]
        return min(types) if types else None


@dataclass(frozen=True)
class Rule:
    """One of Discourse's permission rules: who may, the settings it reads, and the refusal."""

    name: str
    allows: str  # who may, in words (the docs table)
    check: Callable[[Facts], bool]
    status: int
    errors: tuple[str, ...]
    error_type: str | None = None
    settings: tuple[str, ...] = ()
    helper: str | None = None  # the Ctx method that consults it, for generic rules
    where: str | None = None  # where it applies when the app (not a handler) consults it

    def refusal(self) -> backend.DiscourseHTTPError:
        """The error Discourse answers with."""
        return backend.DiscourseHTTPError(self.status, list(self.errors), self.error_type)

    def enforce(self, facts: Facts) -> None:
        """Raise the refusal unless the rule allows the call."""
        if not self.check(facts):
            raise self.refusal()


NOT_PERMITTED = "You are not permitted to view the requested resource."
NOT_LOGGED_IN = "You need to be logged in to do that."
_CLOSED = "This topic is closed; it no longer accepts new replies."


def _user(f: Facts) -> backend.User:
    assert f.user is not None, "rules about a user's rights are consulted after logged_in"
    return f.user


def _staff(f: Facts) -> bool:
    return f.user is not None and f.user.staff


def _admin(f: Facts) -> bool:
    return f.user is not None and f.user.admin


def _owner(f: Facts, user_id: int | None) -> bool:
    return f.user is not None and f.user.id == user_id


def _edit_topic(f: Facts) -> bool:
    topic, user = f.topic, _user(f)
    assert topic is not None
    if user.staff:
        return True
    trusted = f.settings.trusted_users_can_edit_others and not topic.private
    if trusted and f.trust(4):
        return True  # leaders edit others' topics, archived ones too
    if topic.archived:
        return False
    return (trusted and f.trust(3)) or user.id == topic.user_id


def _delete_topic(f: Facts) -> bool:
    topic = f.topic
    assert topic is not None
    if _staff(f):
        return True
    return _owner(f, topic.user_id) and topic.live_posts <= 1 and topic.created_at > f.now - DAY


def _reply_open(f: Facts) -> bool:
    topic = f.topic
    assert topic is not None
    if _admin(f):
        return True
    if not (topic.closed or topic.archived):
        return True
    return (f.user is not None and f.user.moderator) or f.trust(4)


def _edit_post(f: Facts) -> bool:
    post, topic, user = f.post, f.topic, _user(f)
    assert post is not None
    assert topic is not None
    if user.staff:
        return True
    return user.id == post.user_id and not post.locked and not topic.archived


def _pick_avatar(f: Facts) -> bool:
    upload, target = f.upload, f.target
    assert upload is not None
    assert target is not None
    return _admin(f) or upload.user_id == target.id


def _group_owner(f: Facts) -> bool:
    group, user = f.group, _user(f)
    assert group is not None
    if user.admin:
        return True
    membership = group.members.get(user.id)
    return not group.automatic and membership is not None and membership.owner


def _send_private_message(f: Facts) -> bool:
    return _staff(f) or (f.settings.enable_personal_messages and f.in_groups("personal_message_enabled_groups"))


def _restrict(f: Facts) -> bool:
    target = f.target
    assert target is not None
    return not target.staff


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        # ---------------------------------------------------------------- who is calling
        Rule(
            "logged_in",
            "any signed-in user (anonymous callers are refused)",
            lambda f: f.user is not None,
            403,
            (NOT_LOGGED_IN,),
            "not_logged_in",
            helper="require_user",
        ),
        Rule("staff", "moderators and admins", _staff, 403, (NOT_PERMITTED,), "invalid_access", helper="require_staff"),
        Rule("admin", "admins", _admin, 403, (NOT_PERMITTED,), "invalid_access", helper="require_admin"),
        Rule(
            "admin_routes",
            "admins; for anyone else the route does not exist (Discourse's admin constraint)",
            _admin,
            404,
            ("The requested URL or resource could not be found.",),
            "not_found",
            where="every route under `/admin/`",
        ),
        Rule(
            "user_api_key_scope",
            "a User API key whose scopes cover the call: `read` any GET, `write` anything, "
            "`notifications` and `session_info` their routes",
            lambda f: bool(f.extra.get("scope_allows")),
            403,
            (NOT_PERMITTED,),
            "invalid_access",
            where="every route, for User API keys",
        ),
        Rule(
            "not_silenced",
            "users who are not silenced",
            lambda f: f.user is not None and not f.user.silenced(f.now),
            403,
            ("You have been silenced and cannot post.",),
            "invalid_access",
            helper="require_poster",
        ),
        Rule(
            "edit_user",
            "the user themself, and staff",
            lambda f: _staff(f) or (f.target is not None and _owner(f, f.target.id)),
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        # ---------------------------------------------------------------- topics and posts
        Rule(
            "uncategorized_topics",
            "topics without a category only while `allow_uncategorized_topics` is on",
            lambda f: f.settings.allow_uncategorized_topics or not (f.category is None or f.category.uncategorized),
            422,
            ("Category can't be blank",),
            "record_invalid",
            settings=("allow_uncategorized_topics",),
        ),
        Rule(
            "create_topic",
            "staff; members of `create_topic_allowed_groups` (trust level 0 and up) in a category "
            "whose permissions give one of their groups Create",
            lambda f: f.in_groups("create_topic_allowed_groups") and f.category_permission() == 1,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
            settings=("create_topic_allowed_groups",),
        ),
        Rule(
            "reply_in_category",
            "staff; users whose groups have Create or Reply permission on the topic's category",
            lambda f: (f.category_permission() or 3) <= 2,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        Rule(
            "reply_to_closed_topic",
            "admins; moderators and trust level 4 in closed or archived topics; others in open ones",
            _reply_open,
            403,
            (_CLOSED,),
            "invalid_access",
        ),
        Rule(
            "send_private_message",
            "staff; members of `personal_message_enabled_groups` (trust level 1 and up) "
            "while `enable_personal_messages` is on",
            _send_private_message,
            422,
            ("Sorry, you cannot send a personal message to that user.",),
            None,
            settings=("enable_personal_messages", "personal_message_enabled_groups"),
        ),
        Rule(
            "act_on_post",
            "likes and flags on other people's posts only",
            lambda f: f.post is not None and not _owner(f, f.post.user_id),
            403,
            ("You can't act on your own post.",),
            "invalid_access",
        ),
        Rule(
            "edit_topic",
            "staff; the author unless archived; with `trusted_users_can_edit_others`, trust level 3 "
            "in others' regular topics and trust level 4 in archived ones",
            _edit_topic,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
            settings=("trusted_users_can_edit_others",),
        ),
        Rule(
            "delete_topic",
            "staff; the author of a topic without replies within 24 hours of creating it",
            _delete_topic,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        Rule(
            "edit_post",
            "staff; the author unless the post is locked or its topic archived",
            _edit_post,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        Rule(
            "delete_post",
            "staff and the post's author; `force_destroy` admins only",
            lambda f: (
                _admin(f)
                or (not f.extra.get("force") and (_staff(f) or (f.post is not None and _owner(f, f.post.user_id))))
            ),
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        Rule(
            "topic_invite.not_pm",
            "inviting a user to a private message only (a regular topic is refused)",
            lambda f: f.topic is not None and f.topic.private,
            422,
            ("You can only invite to private messages.",),
            None,
        ),
        Rule(
            "invite_users",
            "staff; members of `invite_allowed_groups` (trust level 2 and up)",
            lambda f: f.in_groups("invite_allowed_groups"),
            403,
            ("You are not permitted to invite users.",),
            "invalid_access",
            settings=("invite_allowed_groups",),
        ),
        Rule(
            "invite_group.not_pm",
            "inviting a group to a private message only",
            lambda f: f.topic is not None and f.topic.private,
            403,
            ("Groups can only be invited to messages.",),
            "invalid_access",
        ),
        # ---------------------------------------------------------------- users and logins
        Rule(
            "avatar.missing",
            "an upload that exists",
            lambda f: f.upload is not None,
            422,
            ("Sorry, we can't find the avatar associated with that email address. Can you try uploading it again?",),
            None,
        ),
        Rule(
            "pick_avatar",
            "admins; the user with an upload they own",
            _pick_avatar,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        Rule(
            "external_ids",
            "external ids only for enabled providers: `discourse_connect` with `enable_discourse_connect`, "
            "a managed login provider (google_oauth2, github, ...) with its `enable_<provider>_logins`; "
            "on update, admins only",
            lambda f: all(f.settings.provider_enabled(p) for p in f.providers),
            400,
            ("You supplied invalid parameters to the request: external_ids",),
            "invalid_parameters",
            settings=("enable_discourse_connect", "enable_<provider>_logins"),
        ),
        Rule(
            "read_private_messages",
            "the user themself, and admins",
            lambda f: _admin(f) or (f.target is not None and _owner(f, f.target.id)),
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        Rule(
            "group_owner",
            "admins; the group's owners (automatic groups: admins only)",
            _group_owner,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
        ),
        Rule(
            "local_logins",
            "only while local logins are on (`enable_local_logins`, and DiscourseConnect off)",
            lambda f: f.settings.enable_local_logins and not f.settings.enable_discourse_connect,
            403,
            (NOT_PERMITTED,),
            "invalid_access",
            settings=("enable_local_logins", "enable_discourse_connect"),
        ),
        Rule(
            "discourse_connect",
            "only while DiscourseConnect is on (`enable_discourse_connect` with a `discourse_connect_secret`)",
            lambda f: f.settings.enable_discourse_connect and bool(f.settings.discourse_connect_secret),
            404,
            ("The requested URL or resource could not be found.",),
            "not_found",
            settings=("enable_discourse_connect", "discourse_connect_secret"),
        ),
        Rule(
            "suspend_staff",
            "suspending users who are not staff",
            _restrict,
            403,
            ("Staff can't be suspended.",),
            "invalid_access",
        ),
        Rule(
            "delete_admin",
            "deleting users who are not admins (nor system users)",
            lambda f: f.target is not None and not f.target.admin and f.target.id > 0,
            403,
            ("You can't delete an admin.",),
            "invalid_access",
        ),
        Rule(
            "anonymize_admin",
            "anonymizing users who are not admins",
            lambda f: f.target is not None and not f.target.admin,
            403,
            ("You can't anonymize an admin.",),
            "invalid_access",
        ),
        Rule(
            "silence_staff",
            "silencing users who are not staff",
            _restrict,
            403,
            ("Staff can't be silenced.",),
            "invalid_access",
        ),
    )
}
