"""Backups: listing, creating, and downloading with an emailed token."""

from __future__ import annotations

import secrets

from starlette.responses import Response

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op


@op("get_backups")
async def get_backups(ctx: Ctx) -> list[JSON]:
    """GET /admin/backups.json."""
    ctx.require_admin()
    return [
        {"filename": name, "size": size, "last_modified": backend.iso(at)}
        for name, (size, at) in ctx.store.backups.items()
    ]


@op("create_backup")
async def create_backup(ctx: Ctx) -> JSON:
    """POST /admin/backups.json: the archive appears at once (no Sidekiq here)."""
    ctx.require_admin()
    now = ctx.store.now()
    stamp = backend.iso(now) or ""
    name = f"forum-{stamp[:10]}-{stamp[11:19].replace(':', '')}-v20250801000000.tar.gz"
    ctx.store.backups[name] = (1024 + 512 * len(ctx.store.posts), now)
    return {"success": "OK"}


@op("send_download_backup_email")
async def send_download_backup_email(ctx: Ctx) -> None:
    """PUT /admin/backups/{filename}: emails the acting admin a download token (see ``fake.emails``)."""
    admin = ctx.require_admin()
    backend.found(ctx.store.backups, ctx.path("filename"))
    token = secrets.token_hex(16)
    ctx.store.backup_tokens[token] = admin.id
    ctx.store.emails.append(
        backend.Email(to=admin.email, kind="download_backup", token=token, data={"filename": ctx.path("filename")})
    )


@op("download_backup")
async def download_backup(ctx: Ctx) -> Response:
    """GET /admin/backups/{filename}?token=...: the archive, for a token from the email."""
    admin = ctx.require_admin()
    name = ctx.path("filename")
    size, _ = backend.found(ctx.store.backups, name)
    if ctx.store.backup_tokens.get(ctx.require("token")) != admin.id:
        raise backend.DiscourseHTTPError(422, "The download link has expired or is not yours.", "invalid_access")
    return Response(
        b"\x1f\x8b" + b"\0" * (size - 2),
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
