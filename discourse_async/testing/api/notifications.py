"""Notifications: the acting user's list and marking them read."""

from __future__ import annotations

import dataclasses

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op


def notification(n: backend.Notification) -> JSON:
    """NotificationSerializer (the record holds its fields)."""
    return dataclasses.asdict(n) | {"created_at": backend.iso(n.created_at)}


@op("get_notifications")
async def get_notifications(ctx: Ctx) -> JSON:
    """GET /notifications.json: newest first, ``offset``/``limit`` (default 60), read/unread filter."""
    user = ctx.require_user()
    if ctx.user_api_key is not None and not {"read", "write", "notifications"} & set(ctx.user_api_key.scopes):
        raise backend.invalid_access()
    notes = list(reversed(user.notifications))
    wanted = ctx.param("filter")
    if wanted in ("read", "unread"):
        notes = [n for n in notes if n.read == (wanted == "read")]
    offset = max(0, ctx.param_int("offset", 0) or 0)
    limit = max(1, min(ctx.param_int("limit", 60) or 60, 60))
    chunk = notes[offset : offset + limit]
    body: JSON = {
        "notifications": [notification(n) for n in chunk],
        "total_rows_notifications": len(notes),
        "seen_notification_id": user.seen_notification_id,
    }
    if offset + limit < len(notes):
        body["load_more_notifications"] = f"/notifications?offset={offset + limit}&username={user.username}"
    if user.notifications:
        user.seen_notification_id = user.notifications[-1].id
    return body


@op("mark_notifications_as_read")
async def mark_notifications_as_read(ctx: Ctx) -> JSON:
    """PUT /notifications/mark-read.json: one notification (``id``) or all of them."""
    user = ctx.require_user()
    wanted = ctx.param_int("id")
    for note in user.notifications:
        if wanted is None or note.id == wanted:
            note.read = True
    ctx.store.changed()
    return {"success": "OK"}
