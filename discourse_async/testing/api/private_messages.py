"""Private message lists (inbox and sent)."""

from __future__ import annotations

from collections.abc import Callable

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op
from discourse_async.testing.api import topics as _topics


def _pm_list(ctx: Ctx, keep: Callable[[backend.Topic, backend.User], bool], kind: str) -> JSON:
    ctx.require_user()
    owner = ctx.store.user(ctx.path("username"))
    ctx.guard("read_private_messages", target=owner)
    topics = _topics._sorted_topics(ctx, kind, lambda t: t.private and t.deleted_at is None and keep(t, owner))
    base = f"/topics/{'private-messages' if kind == 'inbox' else 'private-messages-sent'}/{owner.username}"
    return _topics._topic_list_page(ctx, topics, base)


@op("list_user_private_messages")
async def list_user_private_messages(ctx: Ctx) -> JSON:
    """GET /topics/private-messages/{username}.json: every message the user takes part in."""
    store = ctx.store
    return _pm_list(
        ctx, lambda t, u: u.id in t.allowed_user_ids or bool(set(t.allowed_group_ids) & store.group_ids_of(u)), "inbox"
    )


@op("get_user_sent_private_messages")
async def get_user_sent_private_messages(ctx: Ctx) -> JSON:
    """GET /topics/private-messages-sent/{username}.json: messages the user has posted in."""
    return _pm_list(ctx, lambda t, u: any(p.user_id == u.id for p in t.posts), "sent")
