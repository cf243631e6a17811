"""Invites: one, or many at once."""

from __future__ import annotations

import secrets

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op
from discourse_async.testing.api import groups as _groups
from discourse_async.testing.api import topics as _topics


def _invite_json(ctx: Ctx, invite: backend.Invite, *, detailed: bool = True) -> JSON:
    data: JSON = {
        "id": invite.id,
        "link": f"{ctx.fake.base_url}/invites/{invite.invite_key}",
        "email": invite.email,
        "emailed": invite.emailed,
        "custom_message": invite.custom_message,
        "created_at": backend.iso(invite.created_at),
        "updated_at": backend.iso(invite.created_at),
        "expires_at": backend.iso(invite.expires_at),
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
                _topics.topic_event(ctx.store, ctx.store.topics[t])["topic"]
                for t in invite.topic_ids
                if t in ctx.store.topics
            ],
            "groups": [
                _groups.group_json(ctx.store, ctx.user, ctx.store.groups[g])
                for g in invite.group_ids
                if g in ctx.store.groups
            ],
        }
    return data


def _new_invite(ctx: Ctx, inviter: backend.User, email: str | None) -> backend.Invite:
    group_ids = [int(g) for g in ctx.param_list("group_ids")]
    for name in ctx.param_list("group_names"):
        group = next((g for g in ctx.store.groups.values() if g.name.lower() == str(name).lower()), None)
        if group is None:
            raise backend.invalid_parameters(f"Unknown group: {name}")
        group_ids.append(group.id)
    expires = backend.parse_time(ctx.require("expires_at")) if ctx.has("expires_at") else ctx.store.now() + 90 * 86400
    topic_id = ctx.param_int("topic_id")
    invite = backend.Invite(
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
        ctx.store.emails.append(backend.Email(to=email, kind="invite", token=invite.invite_key))
    ctx.store.changed()
    return invite


def _inviter(ctx: Ctx) -> backend.User:
    user = ctx.require_user()
    ctx.guard("invite_users")
    return user


@op("create_invite")
async def create_invite(ctx: Ctx) -> JSON:
    """POST /invites.json: an invite link, emailed unless ``skip_email``.

    Not modelled: redeeming an invite (the email lands in ``fake.emails`` only).
    """
    user = _inviter(ctx)
    email = ctx.param("email")
    if email and any(u.email.lower() == email.lower() for u in ctx.store.users.values()):
        raise backend.record_invalid(f"{email} has already been invited or is a member.")
    return _invite_json(ctx, _new_invite(ctx, user, email))


@op("create_multiple_invites")
async def create_multiple_invites(ctx: Ctx) -> JSON:
    """POST /invites/create-multiple.json: one invite per address in ``email`` (at most 50)."""
    user = _inviter(ctx)
    emails = [str(e) for e in ctx.param_list("email")]
    if not emails:
        raise backend.invalid_parameters("param is missing or the value is empty: email")
    if len(emails) > 50:
        raise backend.invalid_parameters("You can create at most 50 invites at once.")
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
