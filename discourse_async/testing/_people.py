"""Routes for people: users, admin user tools, groups, badges, invites, backups, and User API keys."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from discourse_async.testing import _serialize as ser
from discourse_async.testing._context import Ctx
from discourse_async.testing._registry import op, route
from discourse_async.testing._store import (
    ACTION_TYPES,
    MIN_PASSWORD_LENGTH,
    USER_API_SCOPES,
    Badge,
    DiscourseHTTPError,
    Email,
    Group,
    Invite,
    Membership,
    User,
    invalid_access,
    invalid_parameters,
    iso,
    not_found,
    not_logged_in,
    parse_time,
    record_invalid,
)
from discourse_async.testing._topics import topic_event

JSON = dict[str, Any]
GROUPS_PER_PAGE = 36
DIRECTORY_PER_PAGE = 50
USER_ACTIONS_PER_PAGE = 30
ADMIN_USERS_PER_PAGE = 100
PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91, "yearly": 365, "all": None}


def user_event(user: User) -> JSON:
    """A user as a webhook delivers them."""
    return {
        "user": ser.basic_user(user)
        | {
            "created_at": iso(user.created_at),
            "trust_level": user.trust_level,
            "admin": user.admin,
            "moderator": user.moderator,
        }
    }


# ------------------------------------------------------------------------------------- users


@op("create_user")
async def create_user(ctx: Ctx) -> JSON:
    """POST /users.json. Like Discourse, a refused account is a 200 with ``success: false``."""
    ctx.require_admin()  # signups through the API need an admin key (no browser session here)
    username, email = ctx.require("username"), ctx.require("email")
    name, password = ctx.param("name"), ctx.require("password")
    store = ctx.store
    errors: dict[str, list[str]] = {}
    problems = store.validate_username(username)
    if problems:
        errors["username"] = [p.removeprefix("Username ") for p in problems]
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["email"] = ["is invalid"]
    elif any(u.email.lower() == email.lower() for u in store.users.values()):
        errors["email"] = ["has already been taken"]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"is too short (minimum is {MIN_PASSWORD_LENGTH} characters)"]
    if errors:
        messages = [f"{field.capitalize()} {text}" for field, texts in errors.items() for text in texts]
        return {
            "success": False,
            "message": "\n".join(messages),
            "errors": errors,
            "values": {"name": name, "username": username, "email": email},
            "is_developer": False,
        }
    active = ctx.param_bool("active")
    user = store.create_user(username, email=email, name=name, password=password, active=active)
    external = ctx.param_dict("external_ids")
    user.external_ids.update({str(k): str(v) for k, v in external.items()})
    ctx.events.append(("user", "user_created", user_event(user)))
    message = (
        "Your account is activated and ready to use."
        if active
        else f"<p>You're almost done! We sent an activation mail to <b>{email}</b>.</p>"
    )
    return {"success": True, "active": active, "message": message, "user_id": user.id}


def _user_for(ctx: Ctx, user: User) -> JSON:
    if user.id <= 0 and user.username != "system":
        raise not_found()
    badges = [b for b in ctx.store.user_badges if b.user_id == user.id]
    return {
        "user_badges": [{"id": b.id, "granted_at": iso(b.granted_at), "badge_id": b.badge_id} for b in badges],
        "user": ser.user_detail(ctx.store, ctx.user, user),
    }


@op("get_user")
async def get_user(ctx: Ctx) -> JSON:
    """GET /u/{username}.json: a public profile (private fields for the user and staff)."""
    user = ctx.store.user(ctx.path("username"))
    if (user.suspended(ctx.store.now()) or not user.active) and not (ctx.user and ctx.user.staff):
        raise not_found()
    return _user_for(ctx, user)


def _own_or_staff(ctx: Ctx, username: str) -> tuple[User, User]:
    actor = ctx.require_user()
    target = ctx.store.user(username)
    if actor.id != target.id and not actor.staff:
        raise invalid_access()
    return actor, target


@op("update_user")
async def update_user(ctx: Ctx) -> JSON:
    """PUT /u/{username}.json: name, title and (admins) external ids."""
    actor, user = _own_or_staff(ctx, ctx.path("username"))
    if ctx.has("name"):
        user.name = ctx.param("name")
    if ctx.has("title"):
        user.title = ctx.param("title")
    if ctx.param_dict("external_ids"):
        if not actor.admin:
            raise invalid_access()
        user.external_ids.update({str(k): str(v) for k, v in ctx.param_dict("external_ids").items()})
    ctx.store.changed()
    ctx.events.append(("user", "user_updated", user_event(user)))
    return {"success": "OK", "user": ser.user_detail(ctx.store, actor, user)}


def _by_external(ctx: Ctx, provider: str, external_id: str) -> JSON:
    ctx.require_staff()
    for user in ctx.store.users.values():
        if user.external_ids.get(provider) == external_id:
            return _user_for(ctx, user)
    raise not_found()


@op("get_user_external_id")
async def get_user_external_id(ctx: Ctx) -> JSON:
    """GET /u/by-external/{external_id}.json: the DiscourseConnect external id (staff)."""
    return _by_external(ctx, "discourse_connect", ctx.path("external_id"))


@op("get_user_identiy_provider_external_id")
async def get_user_identity_provider_external_id(ctx: Ctx) -> JSON:
    """GET /u/by-external/{provider}/{external_id}.json (staff)."""
    return _by_external(ctx, ctx.path("provider"), ctx.path("external_id"))


@op("update_avatar")
async def update_avatar(ctx: Ctx) -> JSON:
    """PUT /u/{username}/preferences/avatar/pick.json: use an upload (or the system avatar)."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    kind = ctx.require("type")
    if kind == "system":
        user.uploaded_avatar_id = None
    else:
        upload_id = ctx.require_int("upload_id")
        if upload_id not in ctx.store.uploads:
            raise not_found()
        user.uploaded_avatar_id = upload_id
    ctx.store.changed()
    return {"success": "OK"}


@op("update_email")
async def update_email(ctx: Ctx) -> JSON:
    """PUT /u/{username}/preferences/email.json (staff change it at once)."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    email = ctx.require("email")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise record_invalid("Email is invalid")
    if any(u.email.lower() == email.lower() and u is not user for u in ctx.store.users.values()):
        raise record_invalid("Email has already been taken")
    user.email = email
    ctx.store.changed()
    return {"success": "OK"}


@op("update_username")
async def update_username(ctx: Ctx) -> JSON:
    """PUT /u/{username}/preferences/username.json."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    new = ctx.require("new_username")
    problems = ctx.store.validate_username(new, current=user)
    if problems:
        raise record_invalid(*problems)
    ctx.store.rename_user(user, new)
    return {"id": user.id, "username": user.username}


def _directory_stats(ctx: Ctx, user: User, since: float | None) -> JSON:
    if since is None:
        likes_received, likes_given, topics, posts = (
            user.likes_received,
            user.likes_given,
            user.topic_count,
            user.post_count,
        )
    else:
        recent = [a for a in user.actions if a.created_at >= since]

        def count(kind: str) -> int:
            return sum(1 for a in recent if a.action_type == ACTION_TYPES[kind])

        likes_received, likes_given, topics = count("was_liked"), count("like"), count("new_topic")
        posts = topics + count("reply")
    return {
        "id": user.id,
        "likes_received": likes_received,
        "likes_given": likes_given,
        "topics_entered": 0,
        "topic_count": topics,
        "post_count": posts,
        "posts_read": 0,
        "days_visited": 1,
        "user": ser.basic_user(user) | {"title": user.title},
    }


_DIRECTORY_ORDERS = (
    "likes_received",
    "likes_given",
    "topic_count",
    "post_count",
    "topics_entered",
    "posts_read",
    "days_visited",
)


@op("list_users_public")
async def list_users_public(ctx: Ctx) -> JSON:
    """GET /directory_items.json: 50 a page; ``load_more_directory_items`` only when more exist."""
    period, order = ctx.require("period"), ctx.require("order")
    if period not in PERIOD_DAYS:
        raise invalid_parameters(f"invalid period: {period}")
    days = PERIOD_DAYS[period]
    since = None if days is None else ctx.store.now() - days * 86400
    users = [u for u in ctx.store.users.values() if u.id > 0 and u.active and not u.staged]
    rows = [_directory_stats(ctx, u, since) for u in users]
    asc = ctx.param_bool("asc")
    if order not in _DIRECTORY_ORDERS:
        raise invalid_parameters(f"invalid order: {order}")
    rows.sort(key=lambda r: (r[order], -r["id"] if not asc else r["id"]), reverse=not asc)
    page = max(0, ctx.param_int("page", 0) or 0)
    chunk = rows[page * DIRECTORY_PER_PAGE : (page + 1) * DIRECTORY_PER_PAGE]
    meta: JSON = {"last_updated_at": iso(ctx.store.now()), "total_rows_directory_items": len(rows)}
    if (page + 1) * DIRECTORY_PER_PAGE < len(rows):
        query = {"order": order, "page": page + 1, "period": period} | ({"asc": "true"} if asc else {})
        meta["load_more_directory_items"] = f"/directory_items?{urlencode(query)}"
    return {"directory_items": chunk, "meta": meta}


@op("list_user_actions")
async def list_user_actions(ctx: Ctx) -> JSON:
    """GET /user_actions.json: newest first, 30 from ``offset``, ``filter`` a list of action types."""
    user = ctx.store.user(ctx.require("username"))
    offset = ctx.param_int("offset", 0) or 0
    if offset < 0:
        raise invalid_parameters("offset must be 0 or more")
    try:
        kinds = {int(k) for k in ctx.param_list("filter")}
    except ValueError:
        raise invalid_parameters("filter must be a list of action types") from None
    private = {ACTION_TYPES["new_private_message"], ACTION_TYPES["got_private_message"]}
    may_see_private = ctx.user is not None and (ctx.user.id == user.id or ctx.user.admin)
    picked = []
    store = ctx.store
    for action in reversed(user.actions):
        if kinds and action.action_type not in kinds:
            continue
        if action.action_type in private and not may_see_private:
            continue
        topic = store.topics.get(action.topic_id)
        if topic is None or not store.can_see_topic(ctx.user, topic):
            continue
        picked.append(action)
        if len(picked) >= offset + USER_ACTIONS_PER_PAGE:
            break
    return {"user_actions": [ser.user_action(store, a) for a in picked[offset:]]}


@op("get_user_emails")
async def get_user_emails(ctx: Ctx) -> JSON:
    """GET /u/{username}/emails.json (the user or staff)."""
    _, user = _own_or_staff(ctx, ctx.path("username"))
    return {
        "email": user.email,
        "secondary_emails": list(user.secondary_emails),
        "unconfirmed_emails": [],
        "associated_accounts": [],
    }


@op("refresh_gravatar")
async def refresh_gravatar(ctx: Ctx) -> JSON:
    """POST /user_avatar/{username}/refresh_gravatar.json (no Gravatar offline: nothing found)."""
    _own_or_staff(ctx, ctx.path("username"))
    return {"gravatar_upload_id": None, "gravatar_avatar_template": None}


@op("send_password_reset_email")
async def send_password_reset_email(ctx: Ctx) -> JSON:
    """POST /session/forgot_password.json: "sends" a reset link (see ``fake.emails``)."""
    login = ctx.require("login").lower()
    user = ctx.store.users_by_name.get(login) or next(
        (u for u in ctx.store.users.values() if u.email.lower() == login), None
    )
    if user is not None and user.id > 0:
        token = secrets.token_hex(16)
        ctx.store.password_reset_tokens[token] = user.id
        ctx.store.emails.append(Email(to=user.email, kind="forgot_password", token=token))
    return {"success": "OK", "user_found": user is not None}


@op("change_password")
async def change_password(ctx: Ctx) -> JSON:
    """PUT /users/password-reset/{token}.json."""
    user_id = ctx.store.password_reset_tokens.get(ctx.path("token"))
    if user_id is None:
        raise record_invalid("Password reset link has expired")
    password = ctx.require("password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise record_invalid(f"Password is too short (minimum is {MIN_PASSWORD_LENGTH} characters)")
    del ctx.store.password_reset_tokens[ctx.path("token")]
    ctx.store.users[user_id].password = password
    ctx.store.changed()
    return {"success": True, "message": "Your password was changed.", "requires_approval": False}


# ------------------------------------------------------------------------------------- admin: users


def _admin_target(ctx: Ctx) -> User:
    ctx.require_admin()
    return ctx.store.user_by_id(ctx.path_int("id"))


@op("admin_get_user")
async def admin_get_user(ctx: Ctx) -> JSON:
    """GET /admin/users/{id}.json."""
    return ser.admin_user(ctx.store, _admin_target(ctx), detailed=True)


_ADMIN_ORDERS: dict[str, Callable[[User], Any]] = {
    "created": lambda u: u.created_at,
    "seen": lambda u: u.last_seen_at or 0,
    "username": lambda u: u.username.lower(),
    "email": lambda u: u.email.lower(),
    "trust_level": lambda u: u.trust_level,
    "posts": lambda u: u.post_count,
    "topics_viewed": lambda u: 0,
    "days_visited": lambda u: 1,
    "posts_read": lambda u: 0,
    "read_time": lambda u: 0,
    "last_emailed": lambda u: 0,
}


def _admin_list(ctx: Ctx, flag: str) -> list[JSON]:
    ctx.require_admin()
    now = ctx.store.now()
    filters: dict[str, Callable[[User], bool]] = {
        "active": lambda u: u.active,
        "new": lambda u: u.trust_level == 0,
        "staff": lambda u: u.staff,
        "suspended": lambda u: u.suspended(now),
        "blocked": lambda u: u.silenced(now),
        "silenced": lambda u: u.silenced(now),
        "suspect": lambda u: False,
        "staged": lambda u: u.staged,
        "admins": lambda u: u.admin,
        "moderators": lambda u: u.moderator,
    }
    if flag not in filters:
        raise not_found()
    users = [u for u in ctx.store.users.values() if u.id > 0 and filters[flag](u)]
    if ctx.has("email"):
        users = [u for u in users if (ctx.param("email") or "").lower() in u.email.lower()]
    if ctx.has("filter"):
        needle = (ctx.param("filter") or "").lower()
        users = [u for u in users if needle in u.username.lower() or needle in u.email.lower()]
    order = ctx.param("order") or "created"
    users.sort(key=_ADMIN_ORDERS.get(order, _ADMIN_ORDERS["created"]), reverse=not ctx.param_bool("asc"))
    page = max(1, ctx.param_int("page", 1) or 1)  # Discourse's admin list pages count from 1
    chunk = users[(page - 1) * ADMIN_USERS_PER_PAGE : page * ADMIN_USERS_PER_PAGE]
    return [ser.admin_user(ctx.store, u, show_email=ctx.param_bool("show_emails")) for u in chunk]


@op("admin_list_users")
async def admin_list_users(ctx: Ctx) -> list[JSON]:
    """GET /admin/users.json: active users, 100 a page."""
    return _admin_list(ctx, "active")


@op("admin_list_users_flag")
async def admin_list_users_flag(ctx: Ctx) -> list[JSON]:
    """GET /admin/users/list/{flag}.json."""
    return _admin_list(ctx, ctx.path("flag"))


@op("delete_user")
async def delete_user(ctx: Ctx) -> JSON:
    """DELETE /admin/users/{id}.json: refused while the user has posts unless ``delete_posts``."""
    user = _admin_target(ctx)
    if user.admin or user.id <= 0:
        raise invalid_access("You can't delete an admin.")
    if user.post_count and not ctx.param_bool("delete_posts"):
        raise DiscourseHTTPError(
            403,
            "",
            body={
                "deleted": False,
                "message": f"User {user.username} has {user.post_count} posts, so they can't be deleted.",
            },
        )
    for post in [p for p in ctx.store.posts.values() if p.user_id == user.id and p.deleted_at is None]:
        ctx.store.delete_post(post, ctx.require_user())
    del ctx.store.users[user.id]
    del ctx.store.users_by_name[user.username.lower()]
    ctx.store.changed()
    ctx.events.append(("user", "user_destroyed", user_event(user)))
    return {"deleted": True}


async def _set_flag(ctx: Ctx, **changes: Any) -> JSON:
    user = _admin_target(ctx)
    for name, value in changes.items():
        setattr(user, name, value)
    ctx.store.changed()
    return {"success": "OK"}


@op("activate_user")
async def activate_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/activate.json."""
    return await _set_flag(ctx, active=True)


@op("deactivate_user")
async def deactivate_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/deactivate.json."""
    return await _set_flag(ctx, active=False)


def _until(ctx: Ctx, name: str) -> float:
    value = ctx.require(name)
    if value == "forever":
        return ctx.store.now() + 1000 * 365 * 86400
    return parse_time(value)


@op("suspend_user")
async def suspend_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/suspend.json: staff cannot be suspended."""
    admin = ctx.require_admin()
    user = _admin_target(ctx)
    if user.staff:
        raise invalid_access("Staff can't be suspended.")
    user.suspended_till, user.suspend_reason = _until(ctx, "suspend_until"), ctx.require("reason")
    user.suspended_at = ctx.store.now()
    ctx.store.changed()
    return {
        "suspension": {
            "suspend_reason": user.suspend_reason,
            "full_suspend_reason": user.suspend_reason,
            "suspended_till": iso(user.suspended_till),
            "suspended_at": iso(user.suspended_at),
            "suspended_by": ser.basic_user(admin),
        }
    }


@op("silence_user")
async def silence_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/silence.json: the user can read but not post."""
    admin = ctx.require_admin()
    user = _admin_target(ctx)
    if user.staff:
        raise invalid_access("Staff can't be silenced.")
    user.silenced_till, user.silence_reason = _until(ctx, "silenced_till"), ctx.require("reason")
    user.silenced_at = ctx.store.now()
    ctx.store.changed()
    return {
        "silence": {
            "silenced": True,
            "silence_reason": user.silence_reason,
            "full_silence_reason": user.silence_reason,
            "silenced_till": iso(user.silenced_till),
            "silenced_at": iso(user.silenced_at),
            "silenced_by": ser.basic_user(admin),
        }
    }


@op("anonymize_user")
async def anonymize_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/anonymize.json."""
    user = _admin_target(ctx)
    if user.admin:
        raise invalid_access("You can't anonymize an admin.")
    new_name = f"anon{secrets.token_hex(4)}"
    ctx.store.rename_user(user, new_name)
    user.name, user.email, user.title, user.external_ids = None, f"{new_name}@anonymized.invalid", None, {}
    return {"success": "OK", "username": user.username}


@op("log_out_user")
async def log_out_user(ctx: Ctx) -> JSON:
    """POST /admin/users/{id}/log_out.json."""
    user = _admin_target(ctx)
    user.auth_token_count = 0
    return {"success": "OK"}


# ------------------------------------------------------------------------------------- groups


def _group_by_name(ctx: Ctx, name: str) -> Group:
    group = next((g for g in ctx.store.groups.values() if g.name.lower() == name.lower()), None)
    if group is None or not _can_see_group(ctx, group):
        raise not_found()
    return group


def _group_by_id(ctx: Ctx) -> Group:
    group = ctx.store.groups.get(ctx.path_int("id"))
    if group is None or not _can_see_group(ctx, group):
        raise not_found()
    return group


def _can_see_group(ctx: Ctx, group: Group) -> bool:
    viewer = ctx.user
    if group.visibility_level == 0 or (viewer is not None and viewer.staff):
        return True
    if viewer is None:
        return False
    if group.visibility_level == 1:
        return True
    return viewer.id in group.members


def _apply_group(ctx: Ctx, group: Group, fields: dict[str, Any]) -> None:
    for name in ("full_name", "bio_raw", "title", "flair_icon", "flair_bg_color"):
        if name in fields:
            setattr(group, name, fields[name] or None)
    for name in (
        "visibility_level",
        "members_visibility_level",
        "mentionable_level",
        "messageable_level",
        "default_notification_level",
    ):
        if fields.get(name) not in (None, ""):
            setattr(group, name, int(fields[name]))
    for name in ("primary_group", "public_admission", "public_exit", "allow_membership_requests"):
        if name in fields:
            setattr(group, name, str(fields[name]).lower() in ("true", "1"))
    now = ctx.store.now()
    for key, owner in (("usernames", False), ("owner_usernames", True)):
        for username in [n.strip() for n in str(fields.get(key) or "").split(",") if n.strip()]:
            user = ctx.store.users_by_name.get(username.lower())
            if user is None:
                raise record_invalid(f"The user '{username}' could not be found.")
            membership = group.members.setdefault(user.id, Membership(added_at=now))
            membership.owner = membership.owner or owner
    ctx.store.changed()


@op("create_group")
async def create_group(ctx: Ctx) -> JSON:
    """POST /admin/groups.json: ``{"group": {"name": ..., "usernames": "a,b", ...}}``."""
    ctx.require_admin()
    fields = ctx.param_dict("group")
    name = str(fields.get("name") or "")
    if not name:
        raise invalid_parameters("param is missing or the value is empty: group")
    if not re.fullmatch(r"[\w.-]{1,60}", name) or len(name) < 3:
        raise record_invalid("Name must be at least 3 characters and use only letters, numbers, dashes and underscores")
    if (
        any(g.name.lower() == name.lower() for g in ctx.store.groups.values())
        or name.lower() in ctx.store.users_by_name
    ):
        raise record_invalid("Name has already been taken")
    group = Group(id=ctx.store.next_id("group"), name=name, created_at=ctx.store.now())
    ctx.store.groups[group.id] = group
    _apply_group(ctx, group, fields)
    return {"basic_group": ser.group(ctx.store, ctx.user, group)}


@op("delete_group")
async def delete_group(ctx: Ctx) -> JSON:
    """DELETE /admin/groups/{id}.json: automatic groups stay."""
    ctx.require_admin()
    group = _group_by_id(ctx)
    if group.automatic:
        raise invalid_access("Automatic groups can't be deleted.")
    del ctx.store.groups[group.id]
    ctx.store.changed()
    return {"success": "OK"}


def _group_show(ctx: Ctx, group: Group) -> JSON:
    names = [g.name for g in ctx.store.groups.values() if _can_see_group(ctx, g)]
    return {"group": ser.group(ctx.store, ctx.user, group, detailed=True), "extras": {"visible_group_names": names}}


@op("get_group")
async def get_group(ctx: Ctx) -> JSON:
    """GET /groups/{name}.json."""
    return _group_show(ctx, _group_by_name(ctx, ctx.path("name")))


@op("get_group_by_id")
async def get_group_by_id(ctx: Ctx) -> JSON:
    """GET /groups/by-id/{id}.json."""
    return _group_show(ctx, _group_by_id(ctx))


def _require_group_owner(ctx: Ctx, group: Group) -> User:
    user = ctx.require_user()
    membership = group.members.get(user.id)
    if not (user.admin or (membership is not None and membership.owner)) or (group.automatic and not user.admin):
        raise invalid_access()
    return user


@op("update_group")
async def update_group(ctx: Ctx) -> JSON:
    """PUT /groups/{id}.json: owners and admins."""
    group = _group_by_id(ctx)
    _require_group_owner(ctx, group)
    fields = ctx.param_dict("group")
    if fields.get("name") and str(fields["name"]) != group.name:
        if any(g.name.lower() == str(fields["name"]).lower() for g in ctx.store.groups.values()):
            raise record_invalid("Name has already been taken")
        group.name = str(fields["name"])
    _apply_group(ctx, group, fields)
    return {"success": "OK"}


@op("list_group_members")
async def list_group_members(ctx: Ctx) -> JSON:
    """GET /groups/{name}/members.json: owners first then by username; ``offset``/``limit`` and ``meta``."""
    group = _group_by_name(ctx, ctx.path("name"))
    limit = ctx.param_int("limit", 50) or 50
    offset = ctx.param_int("offset", 0) or 0
    if limit < 1 or limit > 1000 or offset < 0:
        raise invalid_parameters("limit must be 1 to 1000 and offset 0 or more")
    members = ctx.store.group_members(group)
    if ctx.has("filter"):
        needle = (ctx.param("filter") or "").lower()
        members = [(u, m) for u, m in members if needle in u.username.lower() or needle in (u.name or "").lower()]
    order = ctx.param("order")
    desc = not ctx.param_bool("asc")
    members.sort(key=lambda um: um[0].username.lower())
    if order == "added_at":
        members.sort(key=lambda um: um[1].added_at, reverse=desc)
    elif order in ("last_posted_at", "last_seen_at"):
        members.sort(key=lambda um: getattr(um[0], order) or 0, reverse=desc)
    members.sort(key=lambda um: not um[1].owner)
    owners = [ser.group_member(u, m.added_at) for u, m in members if m.owner]
    chunk = members[offset : offset + limit]
    return {
        "members": [ser.group_member(u, m.added_at) for u, m in chunk],
        "owners": owners,
        "meta": {"total": len(members), "limit": limit, "offset": offset},
    }


def _usernames(ctx: Ctx) -> list[str]:
    names = [str(n).strip() for n in ctx.param_list("usernames") if str(n).strip()]
    if not names and not ctx.has("emails"):
        raise invalid_parameters("param is missing or the value is empty: usernames")
    return names


@op("add_group_members")
async def add_group_members(ctx: Ctx) -> JSON:
    """PUT /groups/{id}/members.json: ``usernames`` comma-separated; all already in is a 422."""
    group = _group_by_id(ctx)
    _require_group_owner(ctx, group)
    if group.automatic:
        raise invalid_access("You can't add members to an automatic group.")
    users = []
    for name in _usernames(ctx):
        user = ctx.store.users_by_name.get(name.lower())
        if user is None:
            raise invalid_parameters(f"Could not find user(s): {name}")
        users.append(user)
    new = [u for u in users if u.id not in group.members]
    if users and not new:
        raise record_invalid(f"{', '.join(u.username for u in users)} is already a member of this group")
    for user in new:
        group.members[user.id] = Membership(added_at=ctx.store.now())
    ctx.store.changed()
    return {"success": "OK", "usernames": [u.username for u in new], "emails": []}


@op("remove_group_members")
async def remove_group_members(ctx: Ctx) -> JSON:
    """DELETE /groups/{id}/members.json."""
    group = _group_by_id(ctx)
    _require_group_owner(ctx, group)
    removed, skipped = [], []
    for name in _usernames(ctx):
        user = ctx.store.users_by_name.get(name.lower())
        if user is not None and user.id in group.members:
            del group.members[user.id]
            removed.append(user.username)
        else:
            skipped.append(name)
    ctx.store.changed()
    return {"success": "OK", "usernames": removed, "skipped_usernames": skipped}


@op("list_groups")
async def list_groups(ctx: Ctx) -> JSON:
    """GET /groups.json: 36 a page; ``load_more_groups`` is there even on the last page (a real quirk)."""
    groups = [g for g in ctx.store.groups.values() if _can_see_group(ctx, g) and g.id != 0]
    kind = ctx.param("type")
    viewer = ctx.user
    if kind == "automatic":
        groups = [g for g in groups if g.automatic]
    elif kind == "custom":
        groups = [g for g in groups if not g.automatic]
    elif kind in ("my", "owner"):
        groups = [
            g
            for g in groups
            if viewer is not None and viewer.id in g.members and (kind == "my" or g.members[viewer.id].owner)
        ]
    elif kind == "public":
        groups = [g for g in groups if g.public_admission]
    elif kind == "close":
        groups = [g for g in groups if not g.public_admission and not g.automatic]
    if ctx.has("filter"):
        needle = (ctx.param("filter") or "").lower()
        groups = [g for g in groups if needle in g.name.lower() or needle in (g.full_name or "").lower()]
    groups.sort(key=lambda g: g.name.lower())
    page = max(0, ctx.param_int("page", 0) or 0)
    chunk = groups[page * GROUPS_PER_PAGE : (page + 1) * GROUPS_PER_PAGE]
    query = {k: ctx.param(k) for k in ("type", "filter") if ctx.has(k)} | {"page": page + 1}
    return {
        "groups": [ser.group(ctx.store, viewer, g) for g in chunk],
        "extras": {
            "type_filters": ["my", "owner", "public", "close", "automatic"]
            if viewer
            else ["public", "close", "automatic"]
        },
        "total_rows_groups": len(groups),
        "load_more_groups": f"/groups?{urlencode(query)}",
    }


# ------------------------------------------------------------------------------------- badges


def _badge_lists(badges: list[Badge], *, admin: bool) -> JSON:
    return {"badges": [ser.badge(b, admin=admin) for b in badges], "badge_types": ser.BADGE_TYPES}


@op("admin_list_badges")
async def admin_list_badges(ctx: Ctx) -> JSON:
    """GET /admin/badges.json."""
    ctx.require_admin()
    body = _badge_lists(list(ctx.store.badges.values()), admin=True)
    body |= {
        "badge_groupings": ser.BADGE_GROUPINGS,
        "admin_badges": {
            "protected_system_fields": [
                "name",
                "badge_type_id",
                "multiple_grant",
                "target_posts",
                "show_posts",
                "query",
                "trigger",
                "auto_revoke",
                "listable",
            ],
            "triggers": {"user_change": 8, "none": 0, "post_revision": 2, "trust_level_change": 4, "post_action": 1},
            "badge_ids": list(ctx.store.badges),
            "badge_grouping_ids": [1, 2, 3, 4, 5],
            "badge_type_ids": [1, 2, 3],
        },
    }
    return body


def _apply_badge(ctx: Ctx, badge: Badge) -> None:
    name = ctx.require("name")
    if any(b.name.lower() == name.lower() and b is not badge for b in ctx.store.badges.values()):
        raise record_invalid("Name has already been taken")
    type_id = ctx.require_int("badge_type_id")
    if type_id not in (1, 2, 3):
        raise record_invalid("Badge type can't be blank")
    badge.name, badge.badge_type_id = name, type_id
    if ctx.has("description"):
        badge.description = ctx.param("description")
    for key in ("allow_title", "multiple_grant", "listable", "enabled"):
        if key in ctx.params:
            setattr(badge, key, ctx.param_bool(key))
    if ctx.has("icon"):
        badge.icon = ctx.param("icon") or "certificate"
    if ctx.has("badge_grouping_id"):
        badge.badge_grouping_id = ctx.param_int("badge_grouping_id") or 5
    ctx.store.changed()


@op("create_badge")
async def create_badge(ctx: Ctx) -> JSON:
    """POST /admin/badges.json."""
    ctx.require_admin()
    badge = Badge(id=ctx.store.next_id("badge"), name="", badge_type_id=3)
    _apply_badge(ctx, badge)
    ctx.store.badges[badge.id] = badge
    return {
        "badge_types": ser.BADGE_TYPES,
        "badge": ser.badge(badge, admin=True) | {"description": badge.description or ""},
    }


def _badge(ctx: Ctx) -> Badge:
    badge = ctx.store.badges.get(ctx.path_int("id"))
    if badge is None:
        raise not_found()
    return badge


@op("update_badge")
async def update_badge(ctx: Ctx) -> JSON:
    """PUT /admin/badges/{id}.json."""
    ctx.require_admin()
    badge = _badge(ctx)
    _apply_badge(ctx, badge)
    return {
        "badge_types": ser.BADGE_TYPES,
        "badge": ser.badge(badge, admin=True) | {"description": badge.description or ""},
    }


@op("delete_badge")
async def delete_badge(ctx: Ctx) -> None:
    """DELETE /admin/badges/{id}.json: system badges stay."""
    ctx.require_admin()
    badge = _badge(ctx)
    if badge.system:
        raise invalid_access("System badges can't be deleted.")
    del ctx.store.badges[badge.id]
    ctx.store.user_badges = [b for b in ctx.store.user_badges if b.badge_id != badge.id]
    ctx.store.changed()


@op("list_user_badges")
async def list_user_badges(ctx: Ctx) -> JSON:
    """GET /user-badges/{username}.json."""
    user = ctx.store.user(ctx.path("username"))
    granted = [b for b in ctx.store.user_badges if b.user_id == user.id and b.badge_id in ctx.store.badges]
    badges = {b.badge_id: ctx.store.badges[b.badge_id] for b in granted}
    granters = {
        b.granted_by_id: ctx.store.users[b.granted_by_id] for b in granted if b.granted_by_id in ctx.store.users
    }
    return {
        "badges": [ser.badge(b) for b in badges.values()],
        "badge_types": ser.BADGE_TYPES,
        "granted_bies": [ser.user_with_flair(u) for u in granters.values()],
        "user_badges": [
            {
                "id": b.id,
                "granted_at": iso(b.granted_at),
                "grouping_position": 1,
                "is_favorite": None,
                "can_favorite": False,
                "badge_id": b.badge_id,
                "granted_by_id": b.granted_by_id,
            }
            for b in granted
        ],
    }


# ------------------------------------------------------------------------------------- invites


def _invite_json(ctx: Ctx, invite: Invite, *, detailed: bool = True) -> JSON:
    data: JSON = {
        "id": invite.id,
        "link": f"{ctx.fake.base_url}/invites/{invite.invite_key}",
        "email": invite.email,
        "emailed": invite.emailed,
        "custom_message": invite.custom_message,
        "created_at": iso(invite.created_at),
        "updated_at": iso(invite.created_at),
        "expires_at": iso(invite.expires_at),
        "expired": invite.expires_at < ctx.store.now(),
    }
    if detailed:
        data |= {
            "invite_key": invite.invite_key,
            "description": None,
            "domain": None,
            "can_delete_invite": True,
            "grants_admin": False,
            "grants_moderator": False,
            "topics": [
                topic_event(ctx.store, ctx.store.topics[t])["topic"] for t in invite.topic_ids if t in ctx.store.topics
            ],
            "groups": [
                ser.group(ctx.store, ctx.user, ctx.store.groups[g]) for g in invite.group_ids if g in ctx.store.groups
            ],
        }
    return data


def _new_invite(ctx: Ctx, inviter: User, email: str | None) -> Invite:
    group_ids = [int(g) for g in ctx.param_list("group_ids")]
    for name in ctx.param_list("group_names"):
        group = next((g for g in ctx.store.groups.values() if g.name.lower() == str(name).lower()), None)
        if group is None:
            raise invalid_parameters(f"Unknown group: {name}")
        group_ids.append(group.id)
    expires = parse_time(ctx.require("expires_at")) if ctx.has("expires_at") else ctx.store.now() + 90 * 86400
    topic_id = ctx.param_int("topic_id")
    invite = Invite(
        id=ctx.store.next_id("invite"),
        invite_key=secrets.token_hex(5),
        invited_by_id=inviter.id,
        created_at=ctx.store.now(),
        expires_at=expires,
        email=email,
        custom_message=ctx.param("custom_message"),
        max_redemptions_allowed=ctx.param_int("max_redemptions_allowed", 1) or 1,
        topic_ids=[topic_id] if topic_id else [],
        group_ids=group_ids,
        emailed=bool(email) and not ctx.param_bool("skip_email"),
    )
    ctx.store.invites[invite.id] = invite
    if invite.emailed and email:
        ctx.store.emails.append(Email(to=email, kind="invite", token=invite.invite_key))
    ctx.store.changed()
    return invite


def _inviter(ctx: Ctx) -> User:
    user = ctx.require_user()
    if not (user.staff or user.trust_level >= 2):
        raise invalid_access("You are not permitted to invite users.")
    return user


@op("create_invite")
async def create_invite(ctx: Ctx) -> JSON:
    """POST /invites.json: an invite link, emailed unless ``skip_email``."""
    user = _inviter(ctx)
    email = ctx.param("email")
    if email and any(u.email.lower() == email.lower() for u in ctx.store.users.values()):
        raise record_invalid(f"{email} has already been invited or is a member.")
    return _invite_json(ctx, _new_invite(ctx, user, email))


@op("create_multiple_invites")
async def create_multiple_invites(ctx: Ctx) -> JSON:
    """POST /invites/create-multiple.json: one invite per address in ``email`` (at most 50)."""
    user = _inviter(ctx)
    emails = [str(e) for e in ctx.param_list("email")]
    if not emails:
        raise invalid_parameters("param is missing or the value is empty: email")
    if len(emails) > 50:
        raise invalid_parameters("You can create at most 50 invites at once.")
    made, failed = [], []
    for email in emails:
        if any(u.email.lower() == email.lower() for u in ctx.store.users.values()):
            failed.append({"email": email, "error_message": f"{email} is already a member."})
            continue
        made.append(_invite_json(ctx, _new_invite(ctx, user, email), detailed=False))
    return {
        "num_successfully_created_invitations": len(made),
        "num_failed_invitations": len(failed),
        "failed_invitations": failed,
        "successful_invitations": made,
    }


# ------------------------------------------------------------------------------------- backups


@op("get_backups")
async def get_backups(ctx: Ctx) -> list[JSON]:
    """GET /admin/backups.json."""
    ctx.require_admin()
    return [
        {"filename": name, "size": size, "last_modified": iso(at)} for name, (size, at) in ctx.store.backups.items()
    ]


@op("create_backup")
async def create_backup(ctx: Ctx) -> JSON:
    """POST /admin/backups.json: the archive appears at once (no Sidekiq here)."""
    ctx.require_admin()
    now = ctx.store.now()
    stamp = iso(now) or ""
    name = f"forum-{stamp[:10]}-{stamp[11:19].replace(':', '')}-v20250801000000.tar.gz"
    ctx.store.backups[name] = (1024 + 512 * len(ctx.store.posts), now)
    return {"success": "OK"}


@op("send_download_backup_email")
async def send_download_backup_email(ctx: Ctx) -> None:
    """PUT /admin/backups/{filename}: emails the acting admin a download token (see ``fake.emails``)."""
    admin = ctx.require_admin()
    if ctx.path("filename") not in ctx.store.backups:
        raise not_found()
    token = secrets.token_hex(16)
    ctx.store.backup_tokens[token] = admin.id
    ctx.store.emails.append(
        Email(to=admin.email, kind="download_backup", token=token, data={"filename": ctx.path("filename")})
    )


@op("download_backup")
async def download_backup(ctx: Ctx) -> Response:
    """GET /admin/backups/{filename}?token=...: the archive, for a token from the email."""
    admin = ctx.require_admin()
    name = ctx.path("filename")
    if name not in ctx.store.backups:
        raise not_found()
    if ctx.store.backup_tokens.get(ctx.require("token")) != admin.id:
        raise DiscourseHTTPError(422, "The download link has expired or is not yours.", "invalid_access")
    size = ctx.store.backups[name][0]
    return Response(
        b"\x1f\x8b" + b"\0" * (size - 2),
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ------------------------------------------------------------------------------------- User API keys


def _encrypt_payload(public_key_pem: str, payload: bytes, padding_name: str) -> str:
    """RSA-encrypt with the app's public key and base64 it the way Ruby's Base64.encode64 does."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # pragma: no cover - the testing extra installs it
        raise DiscourseHTTPError(500, "install 'cryptography' for the User API key flow", "server_error") from None
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        raise invalid_parameters("public_key is not a valid PEM RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise invalid_parameters("public_key must be an RSA key")
    if padding_name == "oaep":
        scheme: padding.AsymmetricPadding = padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - OAEP-SHA1 is what Discourse uses
            algorithm=hashes.SHA1(),  # noqa: S303
            label=None,
        )
    else:
        scheme = padding.PKCS1v15()
    encoded = base64.b64encode(key.encrypt(payload, scheme)).decode()
    # Base64.encode64 breaks lines every 60 characters and ends with a newline; clients must cope.
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


@route("GET", "/user-api-key/new")
async def user_api_key_new(ctx: Ctx) -> Response:
    """The User API key authorization: approves at once for the configured user and redirects with the payload.

    With no browser login here, the approving user is ``fake.user_api_key_approver`` or, failing
    that, the user the request's own credentials act as.
    """
    for name in ("application_name", "client_id", "scopes", "nonce", "public_key"):
        ctx.require(name)
    scopes = [s for s in (ctx.param("scopes") or "").split(",") if s]
    unknown = [s for s in scopes if s not in USER_API_SCOPES]
    if unknown:
        raise invalid_parameters(f"invalid scopes: {', '.join(unknown)}")
    padding_name = ctx.param("padding") or "pkcs1"
    if padding_name not in ("pkcs1", "oaep"):
        raise invalid_parameters("padding must be pkcs1 or oaep")
    approver_name = ctx.fake.user_api_key_approver
    approver = ctx.store.users_by_name.get(approver_name.lower()) if approver_name else ctx.user
    if approver is None:
        raise not_logged_in()
    key = ctx.store.create_user_api_key(
        approver, scopes=scopes, client_id=ctx.require("client_id"), application_name=ctx.require("application_name")
    )
    payload = json.dumps({"key": key.key, "nonce": ctx.require("nonce"), "push": False, "api": 4}).encode()
    encrypted = _encrypt_payload(ctx.require("public_key"), payload, padding_name)
    redirect = ctx.param("auth_redirect")
    if not redirect:
        return HTMLResponse(f"<html><body><p>Your key:</p><textarea id='payload'>{encrypted}</textarea></body></html>")
    parts = urlsplit(redirect)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("payload", encrypted)])
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


@route("POST", "/user-api-key/revoke")
async def user_api_key_revoke(ctx: Ctx) -> JSON:
    """Revoke the calling User API key (or, with ``id``, one of the caller's keys)."""
    user = ctx.require_user()
    key = ctx.user_api_key
    if ctx.has("id"):
        wanted = ctx.param_int("id")
        key = next((k for k in ctx.store.user_api_keys.values() if k.id == wanted), None)
        if key is None or (key.user_id != user.id and not user.admin):
            raise not_found()
    if key is None:
        raise invalid_access()
    key.revoked = True
    return {"success": "OK"}


@route("GET", "/session/current.json")
async def session_current(ctx: Ctx) -> JSON:
    """The acting user (what the ``session_info`` scope is for)."""
    user = ctx.require_user()
    return {
        "current_user": ser.basic_user(user)
        | {"admin": user.admin, "moderator": user.moderator, "trust_level": user.trust_level}
    }


@route("GET", "/srv/status")
async def status(ctx: Ctx) -> Response:
    """Discourse's health check."""
    return Response("ok", media_type="text/plain")


# ------------------------------------------------------------------------------------- routes clients call
# Routes that clients written for real Discourse call and our document leaves out.


@route("GET", "/session/hp.json")
async def honeypot(ctx: Ctx) -> JSON:
    """GET /session/hp.json: the signup form's honeypot challenge, which some clients fetch before ``POST /users``."""
    return {"value": secrets.token_hex(16), "challenge": secrets.token_hex(16)}


@route("GET", "/groups/search.json")
async def search_groups(ctx: Ctx) -> list[JSON]:
    """GET /groups/search.json: visible groups whose name contains ``term``, as a bare array."""
    needle = (ctx.param("term") or "").lower()
    groups = [g for g in ctx.store.groups.values() if g.id != 0 and _can_see_group(ctx, g) and needle in g.name.lower()]
    return [ser.group(ctx.store, ctx.user, g) for g in sorted(groups, key=lambda g: g.name.lower())]


@route("POST", "/admin/users/{id}/groups.json")
async def admin_add_user_to_group(ctx: Ctx) -> JSON:
    """POST /admin/users/{id}/groups.json: put a user in a custom group by ids."""
    user = _admin_target(ctx)
    group = ctx.store.groups.get(ctx.require_int("group_id"))
    if group is None:
        raise not_found()
    if group.automatic:
        raise invalid_access("You can't add members to an automatic group.")
    group.members.setdefault(user.id, Membership(added_at=ctx.store.now()))
    ctx.store.changed()
    return {"success": "OK"}


@route("DELETE", "/admin/users/{id}/groups/{group_id}.json")
async def admin_remove_user_from_group(ctx: Ctx) -> JSON:
    """DELETE /admin/users/{id}/groups/{group_id}.json."""
    user = _admin_target(ctx)
    group = ctx.store.groups.get(ctx.path_int("group_id"))
    if group is None or group.automatic:
        raise not_found()
    group.members.pop(user.id, None)
    ctx.store.changed()
    return {"success": "OK"}


@route("PUT", "/admin/users/{id}/unsuspend.json")
async def unsuspend_user(ctx: Ctx) -> JSON:
    """PUT /admin/users/{id}/unsuspend.json."""
    user = _admin_target(ctx)
    user.suspended_till = user.suspended_at = None
    ctx.store.changed()
    return {"suspension": {"suspended_till": None, "suspended_at": None}}


def _suggest_username(ctx: Ctx, seed: str) -> str:
    """Discourse's UserNameSuggester, in short: allowed characters, padded with 1s to 3, a number if taken."""
    base = re.sub(r"[^\w.-]", "_", seed).strip("_.-")[:15].ljust(3, "1")
    candidates = [base, *(f"{base}{n}" for n in range(1, 1000))]
    return next(name for name in candidates if not ctx.store.validate_username(name))


@route("POST", "/admin/users/sync_sso")
async def sync_sso(ctx: Ctx) -> JSON:
    """POST /admin/users/sync_sso: create or update a user from a signed DiscourseConnect payload.

    Needs ``fake.discourse_connect_secret`` (Discourse's ``discourse_connect_secret``); without it the
    route does not exist, as on a site without DiscourseConnect.
    """
    from discourse_async.connect import ConnectError, decode_payload

    ctx.require_admin()
    secret = ctx.fake.discourse_connect_secret
    if secret is None:
        raise not_found()
    try:
        fields = decode_payload(ctx.require("sso"), ctx.param("sig"), secret)
    except ConnectError:
        raise DiscourseHTTPError(422, [], body={"failed": "FAILED", "message": "Login Error"}) from None
    external_id, email = fields.get("external_id"), fields.get("email")
    if not external_id or not email:
        raise DiscourseHTTPError(422, [], body={"failed": "FAILED", "message": "Login Error"})
    store = ctx.store
    user = next((u for u in store.users.values() if u.external_ids.get("discourse_connect") == external_id), None)
    user = user or next((u for u in store.users.values() if u.email.lower() == email.lower()), None)
    username = fields.get("username") or _suggest_username(ctx, email.split("@")[0])
    if user is None:
        if store.validate_username(username):
            raise DiscourseHTTPError(403, [], body={"failed": "FAILED", "message": "Username is invalid"})
        user = store.create_user(username, email=email, name=fields.get("name"))
        ctx.events.append(("user", "user_created", user_event(user)))
    else:
        user.email = email
        if fields.get("username") and fields["username"].lower() != user.username.lower():
            store.rename_user(user, fields["username"])
        user.name = fields.get("name") or user.name
    user.external_ids["discourse_connect"] = external_id
    for flag in ("admin", "moderator"):
        if flag in fields:
            setattr(user, flag, fields[flag] == "true")
    store.changed()
    return ser.admin_user(store, user, detailed=True)
