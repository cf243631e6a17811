"""Calendar events (the discourse-post-event plugin), as JSON and iCalendar."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op
from discourse_async.testing.api import users as _users


def _duration(event: Any) -> str:
    seconds = int((event.ends_at or event.starts_at) - event.starts_at)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _event_json(ctx: Ctx, event: Any) -> JSON | None:
    post = ctx.store.posts.get(event.post_id)
    if post is None or not ctx.store.can_see_topic(ctx.user, ctx.store.topics[post.topic_id]):
        return None
    topic = ctx.store.topics[post.topic_id]
    creator = ctx.store.users.get(post.user_id)
    category = ctx.store.categories.get(topic.category_id or 0)
    return {
        "id": event.id,
        "category_id": topic.category_id,
        "name": event.name,
        "recurrence": None,
        "recurrence_until": None,
        "starts_at": backend.iso(event.starts_at),
        "ends_at": backend.iso(event.ends_at),
        "rrule": "",
        "show_local_time": False,
        "timezone": event.timezone,
        "duration": _duration(event),
        "all_day": False,
        "custom_fields": {},
        "post": {
            "id": post.id,
            "post_number": post.post_number,
            "url": f"/t/{topic.slug}/{topic.id}/{post.post_number}",
            "category_slug": category.slug if category else "",
            "topic": {
                "id": topic.id,
                "title": topic.title,
                "tags": list(topic.tags),
                "tags_descriptions": {},
                "slug": topic.slug,
            },
        },
        "occurrences": [{"starts_at": backend.iso(event.starts_at), "ends_at": backend.iso(event.ends_at)}],
        "can_act_on_discourse_post_event": bool(ctx.user and ctx.user.staff),
        "can_update_attendance": ctx.user is not None,
        "creator": _users.basic_user(creator) if creator else None,
        "is_closed": False,
        "is_expired": (event.ends_at or event.starts_at) < ctx.store.now(),
        "is_ongoing": event.starts_at <= ctx.store.now() <= (event.ends_at or event.starts_at),
        "is_private": event.status == "private",
        "is_public": event.status == "public",
        "is_standalone": False,
        "minimal": None,
        "raw_invitees": None,
        "reminders": [],
        "sample_invitees": [],
        "should_display_invitees": False,
        "stats": {},
        "status": event.status,
        "url": event.url or "",
        "description": event.description,
        "description_html": event.description,
        "location": event.location,
        "url_restates_location": False,
        "watching_invitee": None,
        "chat_enabled": None,
        "channel": {},
        "livestream": False,
        "livestream_onebox": None,
        "is_zoom_livestream": False,
        "max_attendees": None,
        "at_capacity": False,
        "image_upload": None,
    }


def _events(ctx: Ctx) -> list[JSON]:
    events = sorted(ctx.store.events.values(), key=lambda e: e.starts_at, reverse=ctx.param("order") == "desc")
    category_id = ctx.param_int("category_id")
    before = backend.parse_time(ctx.require("before")) if ctx.has("before") else None
    after = backend.parse_time(ctx.require("after")) if ctx.has("after") else None
    out = []
    for event in events:
        data = _event_json(ctx, event)
        if data is None:
            continue
        if category_id is not None and data["category_id"] != category_id:
            continue
        if ctx.has("post_id") and event.post_id != ctx.param_int("post_id"):
            continue
        if before is not None and event.starts_at >= before:
            continue
        if after is not None and (event.ends_at or event.starts_at) < after:
            continue
        out.append(data)
    return out[: ctx.param_int("limit", 200) or 200]


@op("list_events")
async def list_events(ctx: Ctx) -> JSON:
    """GET /discourse-post-event/events.json (events are added with ``fake.add_event``).

    Not modelled: creating events from a post's ``[event]`` markup, invitees and recurrence.
    """
    return {"events": _events(ctx)}


@op("export_events_ics")
async def export_events_ics(ctx: Ctx) -> Response:
    """GET /discourse-post-event/events.ics: the same events as an iCalendar feed."""

    def stamp(value: str | None) -> str:
        return (value or "").replace("-", "").replace(":", "").split(".")[0] + "Z"

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Discourse//discourse_async fake//EN"]
    for event in _events(ctx):
        lines += [
            "BEGIN:VEVENT",
            f"UID:discourse-post-event-{event['id']}@forum.test",
            f"DTSTART:{stamp(event['starts_at'])}",
            f"DTEND:{stamp(event['ends_at'] or event['starts_at'])}",
            f"SUMMARY:{event['name'] or event['post']['topic']['title']}",
            f"URL:{ctx.fake.base_url}{event['post']['url']}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return Response("\r\n".join(lines) + "\r\n", media_type="text/calendar")
