"""Webhooks of the fake: deliveries signed as Discourse signs them, sent before the request is answered."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Webhook:
    """A webhook the fake delivers to, as Discourse's admin > API > webhooks sets them up."""

    id: int
    url: str
    secret: str
    events: frozenset[str] | None  # event names ("post_created") or types ("post"); None for all
    transport: httpx.AsyncBaseTransport | None = None

    def wants(self, event_type: str, event: str) -> bool:
        """Whether this webhook is for an event."""
        return self.events is None or event in self.events or event_type in self.events


@dataclass
class WebhookDelivery:
    """One delivery attempt and its outcome."""

    webhook_id: int
    event_id: int
    event_type: str
    event: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    error: str | None = None


class Webhooks:
    """The webhook half of :class:`FakeDiscourse`."""

    base_url: str
    webhooks: list[Webhook]
    webhook_deliveries: list[WebhookDelivery]

    def add_webhook(
        self,
        url: str,
        secret: str = "",
        events: Iterable[str] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Webhook:
        """Deliver events to ``url``, signed with ``secret`` like Discourse (``X-Discourse-Event-Signature``).

        ``events`` holds event names (``topic_created``, ``post_created``, ``user_created``...) or
        types (``topic``, ``post``, ``user``); None means all. Deliveries happen before the
        triggering request is answered, so a test sees them as soon as its call returns; give
        ``transport`` (e.g. ``httpx.ASGITransport(app=bot)``) to deliver in-process.
        """
        hook = Webhook(
            id=len(self.webhooks) + 1,
            url=url,
            secret=secret,
            events=None if events is None else frozenset(events),
            transport=transport,
        )
        self.webhooks.append(hook)
        return hook

    async def ping_webhook(self, hook: Webhook) -> WebhookDelivery:
        """Send the ``ping`` event Discourse sends from its webhook page."""
        await self._deliver([("ping", "ping", {"ping": "OK"})], only=hook)
        return self.webhook_deliveries[-1]

    async def _deliver(self, events: list[tuple[str, str, dict[str, Any]]], only: Webhook | None = None) -> None:
        for event_type, event, payload in events:
            for hook in [only] if only else self.webhooks:
                if only is None and not hook.wants(event_type, event):
                    continue
                body = json.dumps(payload, separators=(",", ":")).encode()
                event_id = len(self.webhook_deliveries) + 1
                signature = hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "Discourse/3.5.0-fake",
                    "X-Discourse-Instance": self.base_url,
                    "X-Discourse-Event-Id": str(event_id),
                    "X-Discourse-Event-Type": event_type,
                    "X-Discourse-Event": event,
                    "X-Discourse-Event-Signature": f"sha256={signature}",
                }
                delivery = WebhookDelivery(
                    webhook_id=hook.id,
                    event_id=event_id,
                    event_type=event_type,
                    event=event,
                    headers=headers,
                    body=body,
                )
                self.webhook_deliveries.append(delivery)
                try:
                    async with httpx.AsyncClient(transport=hook.transport, timeout=5.0, trust_env=False) as client:
                        answer = await client.post(hook.url, content=body, headers=headers)
                    delivery.status = answer.status_code
                except httpx.HTTPError as exc:
                    delivery.error = f"{type(exc).__name__}: {exc}"
