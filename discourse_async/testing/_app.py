"""``FakeDiscourse``: the ASGI application, its test controls, and helpers to seed and inspect it."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import gc
import hashlib
import hmac
import inspect
import json
import logging
import random
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# Importing the route modules registers their handlers.
from discourse_async.testing import _people, _topics, _uploads  # noqa: F401
from discourse_async.testing._context import Ctx, Result, Route, Router, read_params
from discourse_async.testing._control import (
    Fault,
    RateLimit,
    RequestRecord,
    Shape,
    make_rate_limit,
    proxy_error_page,
    rate_limited_response,
)
from discourse_async.testing._control import Scope as LimitScope
from discourse_async.testing._registry import EXTRA_ROUTES, OPERATION_HANDLERS
from discourse_async.testing._s3 import S3Server, S3Store
from discourse_async.testing._store import (
    ApiKey,
    Category,
    DiscourseHTTPError,
    Event,
    Group,
    Membership,
    Notification,
    Post,
    Store,
    Topic,
    User,
    UserApiKey,
    invalid_access,
    not_found,
)

if TYPE_CHECKING:
    from discourse_async import Discourse

log = logging.getLogger("discourse_async.testing")

_BAD_KEY = "You are not permitted to view the requested resource. The API username or key is invalid."


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised from the app in-process (``httpx.ASGITransport``) where a real server would close the socket."""


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


@dataclass
class _Auth:
    user: User | None = None
    credential: str = "anonymous"
    key: str | None = None
    api_key: ApiKey | None = None
    user_api_key: UserApiKey | None = None


_SCOPED_ROUTES = {  # what the narrow User API key scopes allow, beyond read (GET) and write (all)
    "notifications": {("GET", "/notifications.json"), ("PUT", "/notifications/mark-read.json")},
    "session_info": {("GET", "/session/current.json")},
}


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def _error_response(error: DiscourseHTTPError) -> Response:
    if error.body is not None:
        return _json_response(error.body, error.status)
    body: dict[str, Any] = {"errors": error.errors}
    if error.error_type:
        body["error_type"] = error.error_type
    if error.extras is not None:
        body["extras"] = error.extras
    return _json_response(body, error.status)


def _to_response(result: Result) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(b"", status_code=200)
    return _json_response(result)


class FakeDiscourse:
    """An in-memory Discourse that speaks Discourse's HTTP API, for tests and demos.

    It is an ASGI application: use it in-process with ``httpx.ASGITransport``, or serve it on a
    socket with :meth:`serve` / :meth:`run_in_thread`. A new fake has the ``system`` admin, three
    categories (Uncategorized, Site Feedback, a staff-only Staff), the automatic groups, some system
    badges, and an all-users admin API key in :attr:`admin_api_key`.

    Args:
        base_url: the URL the site believes it has (links, webhooks' ``X-Discourse-Instance``).
        title: the site title.
        clock: seconds since the epoch; pass a :class:`ManualClock` to move time in tests
            (rate-limit windows, timers, "top" periods).
        s3: enable direct S3 uploads: an :class:`S3Server` (started if needed), an
            :class:`S3Store`, or the endpoint URL of any S3-compatible server.
        seed: seeds the randomness of probabilistic faults.
        max_upload_bytes: refuse larger uploads with Discourse's 422 (None: no limit).
    """

    def __init__(
        self,
        *,
        base_url: str = "http://forum.test",
        title: str = "Fake Discourse",
        clock: Callable[[], float] | None = None,
        s3: S3Server | S3Store | str | None = None,
        seed: int = 0,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.store = Store(clock or time.time)
        self.base_url = base_url.rstrip("/")
        self.title = title
        self.s3: S3Store | None = self._s3_store(s3)
        self.max_upload_bytes = max_upload_bytes
        self.presigned_expires = 600
        #: the user who approves ``/user-api-key/new`` (None: the user the request's credentials act as)
        self.user_api_key_approver: str | None = None
        self.rate_limits: list[RateLimit] = []
        self.faults: list[Fault] = []
        #: every request received, in order (see :meth:`count_requests`)
        self.requests: list[RequestRecord] = []
        #: calls to the upload routes: (operation, details), so tests can tell abort from complete
        self.upload_calls: list[tuple[str, dict[str, Any]]] = []
        self.webhooks: list[Webhook] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._random = random.Random(seed)  # noqa: S311 - reproducible fault injection, not cryptography
        routes = [
            Route(method, path, OPERATION_HANDLERS[name], name)
            for name, (method, path) in _operations().items()
            if name in OPERATION_HANDLERS
        ]
        routes += [Route(method, path, handler, name) for method, path, name, handler in EXTRA_ROUTES]
        self._router = Router(routes)
        #: an admin API key for all users (send ``Api-Username`` with it)
        self.admin_api_key = self.create_api_key()

    @staticmethod
    def _s3_store(s3: S3Server | S3Store | str | None) -> S3Store | None:
        if s3 is None or isinstance(s3, S3Store):
            return s3
        if isinstance(s3, S3Server):
            return S3Store(s3.start().endpoint_url)
        return S3Store(s3)

    # ================================================================== ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        method, path = request.method, request.url.path
        record = RequestRecord(method=method, path=path, query=request.url.query, at=self.store.now())
        self.requests.append(record)
        fault = self._fault_for(method, path)
        if fault is not None:
            record.fault = (
                "delay"
                if fault.drop is None and fault.status is None
                else (f"drop_{fault.drop}" if fault.drop else "status")
            )
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop == "before":
                await self._drop(send)
                return
            if fault.status is not None and not fault.after:
                await self._proxy_error(fault.status, record, scope, receive, send)
                return
        response = await self._respond(request, record)
        if fault is not None and fault.drop == "after":
            await self._drop(send)
            return
        if fault is not None and fault.status is not None:
            await self._proxy_error(fault.status, record, scope, receive, send)
            return
        record.status = response.status_code
        await response(scope, receive, send)

    async def _proxy_error(
        self,
        status: int,
        record: RequestRecord,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        record.status = status
        await Response(proxy_error_page(status), status_code=status, media_type="text/html")(scope, receive, send)

    async def _drop(self, send: Send) -> None:
        """Close the connection without an answer (uvicorn), or raise where there is no socket (in-process)."""
        # uvicorn's ``send`` is a method of its per-request cycle, which holds the connection's transport.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None or not hasattr(transport, "close"):
            raise DroppedConnection("Server disconnected without sending a response.")
        transport.close()
        for _ in range(3):  # let uvicorn see the connection is gone, so it does not try to answer
            await asyncio.sleep(0)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path) and (fault.probability >= 1 or self._random.random() < fault.probability):
                fault.fired += 1
                return fault
        return None

    async def _respond(self, request: Request, record: RequestRecord) -> Response:
        try:
            _topics.run_due_timers(self.store)
            version = self.store.version
            limited = self._limit(record, request, _Auth(), phase="before_auth")
            if limited is not None:
                return limited
            auth = self._authenticate(request)
            record.username = auth.user.username if auth.user else None
            record.credential = auth.credential
            limited = self._limit(record, request, auth, phase="after_auth")
            if limited is not None:
                return limited
            found = self._router.match(request.method, request.url.path)
            if found is None:
                raise not_found()
            route, path_params = found
            if request.url.path.startswith("/admin/") and not (auth.user and auth.user.admin):
                raise not_found()  # Discourse's admin routes exist only for admins (a routing constraint)
            if auth.user_api_key is not None and not self._scope_allows(auth.user_api_key.scopes, request):
                raise invalid_access()
            ctx = Ctx(
                fake=self,
                request=request,
                path_params=path_params,
                params=await read_params(request),
                user=auth.user,
                credential=auth.credential,
                api_key=auth.api_key,
                user_api_key=auth.user_api_key,
            )
            if auth.user is not None:
                auth.user.last_seen_at = self.store.now()
            try:
                result = await route.handler(ctx)
            finally:
                record.processed = True
                record.wrote = self.store.version != version
            await self._deliver(ctx.events)
            return _to_response(result)
        except DiscourseHTTPError as error:
            return _error_response(error)
        except Exception as exc:  # a bug in the fake: say so loudly, in Discourse's error shape
            log.exception("fake Discourse failed on %s %s", request.method, request.url.path)
            return _json_response(
                {
                    "errors": [f"{type(exc).__name__}: {exc}", traceback.format_exc()[-2000:]],
                    "error_type": "server_error",
                },
                500,
            )

    @staticmethod
    def _scope_allows(scopes: Iterable[str], request: Request) -> bool:
        granted = set(scopes)
        method = request.method
        if "write" in granted or request.url.path == "/user-api-key/revoke":
            return True
        if "read" in granted and method in ("GET", "HEAD"):
            return True
        return any((method, request.url.path) in _SCOPED_ROUTES.get(s, set()) for s in granted)

    def _authenticate(self, request: Request) -> _Auth:
        """Discourse's header auth: an admin key with a user, or a User API key; nothing else counts."""
        headers = request.headers
        store = self.store
        now = store.now()
        if "api-key" in headers:
            api_key = store.api_keys.get(headers["api-key"])
            if api_key is None or api_key.revoked:
                raise invalid_access(_BAD_KEY)
            user = self._acting_user(api_key, headers)
            if user is None or user.suspended(now) or not user.active:
                raise invalid_access(_BAD_KEY)
            return _Auth(user=user, credential="admin_api_key", key=api_key.key, api_key=api_key)
        if "user-api-key" in headers:
            user_key = store.user_api_keys.get(headers["user-api-key"])
            if user_key is None or user_key.revoked:
                raise invalid_access(_BAD_KEY)
            client_id = headers.get("user-api-client-id")
            if client_id is not None and client_id != user_key.client_id:
                raise invalid_access(_BAD_KEY)
            user = store.users.get(user_key.user_id)
            if user is None or user.suspended(now):
                raise invalid_access(_BAD_KEY)
            return _Auth(user=user, credential="user_api_key", key=user_key.key, user_api_key=user_key)
        return _Auth()

    def _acting_user(self, api_key: ApiKey, headers: Headers) -> User | None:
        """The user an admin key acts as: its own user, or the one Api-Username/-User-Id/-External-Id names."""
        store = self.store
        name, user_id, external = (headers.get(h) for h in ("api-username", "api-user-id", "api-user-external-id"))
        if api_key.user_id is not None:
            user = store.users.get(api_key.user_id)
            return None if user is None or (name and name.lower() != user.username.lower()) else user
        if name:
            return store.users_by_name.get(name.lower())
        if user_id:
            return store.users.get(int(user_id)) if user_id.lstrip("-").isdigit() else None
        if external:
            return next((u for u in store.users.values() if u.external_ids.get("discourse_connect") == external), None)
        return None

    def _limit(self, record: RequestRecord, request: Request, auth: _Auth, *, phase: str) -> Response | None:
        """Apply the rate limits of a phase: IP and global ones before auth, key ones after (as Discourse does)."""
        now = self.store.now()
        ip = request.client.host if request.client else "127.0.0.1"
        early = ("global", "ip", "proxy")
        rules = [r for r in self.rate_limits if (r.scope in early) == (phase == "before_auth")]
        buckets = [(rule, rule.bucket(auth.credential, auth.key, ip)) for rule in rules]
        buckets = [(rule, bucket) for rule, bucket in buckets if bucket is not None]
        for rule, bucket in buckets:
            wait = rule.wait(bucket or "", now)
            if wait is not None:
                rule.refused += 1
                record.rate_limited = True
                record.status = 429
                media, headers, body = rate_limited_response(rule, wait)
                return Response(body, status_code=429, headers=dict(headers), media_type=media)
        for rule, bucket in buckets:
            rule.hit(bucket or "", now)
        return None

    # ================================================================== webhooks

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

    # ================================================================== test controls

    def set_rate_limit(
        self,
        limit: int | None = None,
        window: float = 60.0,
        *,
        per_minute: int | None = None,
        scope: LimitScope = "admin",
        shape: Shape | None = None,
        error_code: str | None = None,
        api_key: str | None = None,
    ) -> RateLimit:
        """Add a rate limit; returns it (its ``refused`` counts the 429s it sent).

        ``scope``: ``admin`` (all admin keys share one bucket, like Discourse's 60/min),
        ``user_api`` (per User API key), ``ip`` (per client address, answered as ``text/plain``),
        ``global`` (every request), ``proxy`` (every request, answered with an HTML page and no
        ``Retry-After``, as nginx does); or ``api_key=`` for one key. ``shape`` (``json``, ``text``,
        ``html``) and ``error_code`` override the scope's defaults. Windows use the fake's clock.
        """
        if per_minute is not None:
            limit, window = per_minute, 60.0
        if limit is None:
            raise ValueError("give limit (with window) or per_minute")
        rule = make_rate_limit(
            limit=limit, window=window, scope=scope, shape=shape, error_code=error_code, api_key=api_key
        )
        self.rate_limits.append(rule)
        return rule

    def use_discourse_rate_limits(self) -> None:
        """Discourse's default limits: admin API 60/min, User API keys 20/min and 2880/day, IP 50/10 s and 200/min."""
        self.set_rate_limit(60, 60, scope="admin")
        self.set_rate_limit(20, 60, scope="user_api")
        self.set_rate_limit(2880, 86400, scope="user_api")
        self.set_rate_limit(50, 10, scope="ip")
        self.set_rate_limit(200, 60, scope="ip")

    def clear_rate_limits(self) -> None:
        """Remove every rate limit."""
        self.rate_limits.clear()

    def add_fault(
        self,
        method: str = "*",
        path: str = "*",
        *,
        delay: float = 0.0,
        status: int | None = None,
        drop: Literal["before", "after"] | None = None,
        after: bool = False,
        times: int | None = None,
        probability: float = 1.0,
    ) -> Fault:
        """Inject a fault into matching requests (``*`` globs); returns it (``fired`` counts uses).

        ``delay`` adds latency; ``status`` (500/502/503/504) answers with a proxy's HTML page;
        ``drop="before"`` closes the connection before the request is processed, ``drop="after"``
        after it was (the write happened, the client sees a broken connection); ``after=True`` does
        the same for ``status``. The first matching fault applies; it stops after ``times`` uses.
        """
        if drop not in (None, "before", "after"):
            raise ValueError("drop must be 'before' or 'after'")
        if status is not None and drop is not None:
            raise ValueError("give status or drop, not both")
        fault = Fault(
            method=method,
            path=path,
            delay=delay,
            status=status,
            drop=drop,
            after=after,
            times=times,
            probability=probability,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def count_requests(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        status: int | None = None,
        wrote: bool | None = None,
    ) -> int:
        """How many logged requests match (``path`` may use ``*`` globs)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or fnmatch.fnmatchcase(r.path, path))
            and (status is None or r.status == status)
            and (wrote is None or r.wrote == wrote)
        )

    def max_requests_in_window(self, window: float, *, processed_only: bool = True) -> int:
        """The most requests (by default: that were not refused) seen in any ``window`` seconds of the clock."""
        times = sorted(r.at for r in self.requests if not processed_only or not r.rate_limited)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def clear_log(self) -> None:
        """Forget logged requests, webhook deliveries and upload calls."""
        self.requests.clear()
        self.webhook_deliveries.clear()
        self.upload_calls.clear()

    # ================================================================== seeding and inspection

    def create_api_key(self, username: str | None = None, description: str = "") -> str:
        """An admin API key: for one user, or for any user (``Api-Username`` picks) when None."""
        user = None if username is None else self.store.user(username)
        return self.store.create_api_key(user, description).key

    def revoke_api_key(self, key: str) -> None:
        """Revoke an admin or User API key."""
        found = self.store.api_keys.get(key) or self.store.user_api_keys.get(key)
        if found is None:
            raise KeyError("no such key")
        found.revoked = True

    def create_user_api_key(
        self,
        username: str,
        scopes: Iterable[str] = ("read", "write"),
        *,
        client_id: str | None = None,
        application_name: str = "test",
    ) -> str:
        """A User API key for a user (without the browser flow)."""
        user = self.store.user(username)
        key = self.store.create_user_api_key(
            user, scopes=scopes, client_id=client_id or f"client-{username}", application_name=application_name
        )
        return key.key

    def create_user(
        self,
        username: str,
        *,
        name: str | None = None,
        email: str | None = None,
        admin: bool = False,
        moderator: bool = False,
        trust_level: int = 1,
    ) -> User:
        """Add an active user (no validation)."""
        return self.store.create_user(
            username,
            name=name or username.capitalize(),
            email=email,
            admin=admin,
            moderator=moderator,
            trust_level=trust_level,
        )

    def user(self, username: str) -> User:
        """A user by username."""
        return self.store.user(username)

    def topic(self, topic_id: int) -> Topic:
        """A topic by id."""
        return self.store.topics[topic_id]

    def post(self, post_id: int) -> Post:
        """A post by id."""
        return self.store.posts[post_id]

    def create_category(self, name: str, *, staff_only: bool = False, parent: int | None = None) -> Category:
        """Add a category (``staff_only`` makes it read-restricted to staff)."""
        return self.store.create_category(
            self.store.users[-1], name, parent_category_id=parent, permissions={"staff": 1} if staff_only else None
        )

    def _category_id(self, category: int | str | None) -> int | None:
        if category is None or isinstance(category, int):
            return category
        found = next((c for c in self.store.categories.values() if c.name.lower() == category.lower()), None)
        return found.id if found else self.create_category(category).id

    def seed_users(self, n: int, prefix: str = "user") -> list[User]:
        """Add ``n`` users named ``<prefix>1``, ``<prefix>2``... (continuing after existing ones)."""
        start = sum(1 for name in self.store.users_by_name if name.startswith(prefix.lower())) + 1
        return [self.create_user(f"{prefix}{i}") for i in range(start, start + n)]

    def seed_topics(
        self,
        n: int,
        *,
        category: int | str | None = None,
        username: str = "system",
        tags: Iterable[str] = (),
        spacing: float = 1.0,
    ) -> list[Topic]:
        """Add ``n`` topics, oldest first, ``spacing`` seconds apart and ending now (cheap: no notifications)."""
        author = self.store.user(username)
        category_id = self._category_id(category)
        now = self.store.now()
        start = len(self.store.topics) + 1
        tags = list(tags)
        topics = []
        with _no_gc():
            for i in range(n):
                number = start + i
                topic, _ = self.store.create_topic(
                    author,
                    f"Seeded topic number {number:05d} for testing",
                    f"This is the first post of seeded topic {number}.",
                    category_id=category_id,
                    tags=tags,
                    created_at=now - (n - 1 - i) * spacing,
                )
                topics.append(topic)
        return topics

    def seed_posts(self, topic_id: int, n: int, *, username: str | None = None, spacing: float = 0.001) -> list[Post]:
        """Add ``n`` replies to a topic (a 1,234-post topic takes milliseconds)."""
        topic = self.store.topics[topic_id]
        author = self.store.user(username) if username else self.store.users[topic.user_id]
        start = topic.posts[-1].created_at if topic.posts else self.store.now()
        base = topic.highest_post_number
        with _no_gc():
            return [
                self.store.create_reply(
                    author,
                    topic,
                    f"Seeded reply number {base + i + 1} in this topic.",
                    created_at=start + (i + 1) * spacing,
                )
                for i in range(n)
            ]

    def seed_groups(self, n: int, prefix: str = "group", *, members: Iterable[str] = ()) -> list[Group]:
        """Add ``n`` custom groups named ``<prefix>-0001``..., each with the given members."""
        users = [self.store.user(name) for name in members]
        now = self.store.now()
        start = sum(1 for g in self.store.groups.values() if g.name.startswith(prefix)) + 1
        groups = []
        for i in range(start, start + n):
            group = Group(id=self.store.next_id("group"), name=f"{prefix}-{i:04d}", created_at=now)
            group.members = {u.id: Membership(added_at=now) for u in users}
            self.store.groups[group.id] = group
            groups.append(group)
        self.store.changed()
        return groups

    def add_group_members(self, group_name: str, usernames: Iterable[str], *, owner: bool = False) -> None:
        """Put users in a custom group."""
        group = next(g for g in self.store.groups.values() if g.name == group_name)
        for name in usernames:
            group.members[self.store.user(name).id] = Membership(added_at=self.store.now(), owner=owner)
        self.store.changed()

    def seed_notifications(self, username: str, n: int) -> list[Notification]:
        """Give a user ``n`` "custom" notifications."""
        user = self.store.user(username)
        return [self.store.notify(user, "custom", data={"message": f"seeded notification {i + 1}"}) for i in range(n)]

    def grant_badge(self, username: str, badge_name: str) -> None:
        """Grant a badge by name (as an admin would)."""
        badge = next(b for b in self.store.badges.values() if b.name == badge_name)
        self.store.grant_badge(self.store.user(username), badge, self.store.users[-1])

    def add_event(
        self, post_id: int, name: str, starts_at: float, ends_at: float | None = None, **fields: Any
    ) -> Event:
        """Attach a calendar event (discourse-post-event plugin) to a post."""
        if post_id not in self.store.posts:
            raise KeyError(f"no post {post_id}")
        event = Event(
            id=self.store.next_id("event"), post_id=post_id, name=name, starts_at=starts_at, ends_at=ends_at, **fields
        )
        self.store.events[event.id] = event
        return event

    def read_upload(self, upload_id: int) -> bytes:
        """The stored bytes of an upload (from memory or the S3 bucket)."""
        upload = self.store.uploads[upload_id]
        if upload.data is not None:
            return upload.data
        if self.s3 is None or upload.s3_key is None:
            raise KeyError(f"upload {upload_id} has no stored bytes")
        return self.s3.read(upload.s3_key)

    @property
    def emails(self) -> list[Any]:
        """Emails the site "sent" (password resets, invites, backup links) with their tokens."""
        return self.store.emails

    # ================================================================== ways in

    def client(
        self,
        username: str = "system",
        *,
        user_api_key: str | None = None,
        anonymous: bool = False,
        base_url: str | None = None,
        **options: Any,
    ) -> Discourse:
        """A ``Discourse`` client talking to this fake in-process (``httpx.ASGITransport``).

        By default it acts as ``username`` with the admin key; or as a User API key's user; or
        anonymously. With ``base_url`` (a served fake's URL) it talks over the socket instead.
        Client-side rate limiting is off unless ``rate_limits`` is given.
        """
        from discourse_async import Discourse

        # The fake enforces only the limits a test sets; a client-side budget would make tests wait.
        if "rate_limits" in inspect.signature(Discourse.__init__).parameters:
            options.setdefault("rate_limits", None)
        if base_url is None:
            options.setdefault("transport", _InProcess(self))
        url = base_url or self.base_url
        if anonymous:
            return Discourse(url, **options)
        if user_api_key is not None:
            return Discourse(url, user_api_key=user_api_key, **options)
        api_key = options.pop("api_key", self.admin_api_key)
        return Discourse(url, api_key=api_key, api_username=username, **options)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on a real socket (uvicorn) in this event loop; yields the base URL."""
        from discourse_async.testing._server import serve

        async with serve(self, host, port) as url:
            previous, self.base_url = self.base_url, url
            try:
                yield url
            finally:
                self.base_url = previous

    @contextlib.contextmanager
    def run_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on a real socket from a background thread; yields the base URL."""
        from discourse_async.testing._server import run_in_thread

        with run_in_thread(self, host, port) as url:
            previous, self.base_url = self.base_url, url
            try:
                yield url
            finally:
                self.base_url = previous


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while seeding: creating 100,000 records otherwise triggers it thousands of times."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _operations() -> dict[str, tuple[str, str]]:
    """Map each operation to (method, path), from the client's operation table (built from openapi.yaml)."""
    from discourse_async._generated.api import OPERATIONS

    return {name: (method, path) for name, (_tag, method, path) in OPERATIONS.items()}


@dataclass
class ManualClock:
    """A clock that moves only when told: ``FakeDiscourse(clock=clock)``, then ``clock.advance(60)``."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class _InProcess(httpx.AsyncBaseTransport):
    """The fake in-process; any other host (its S3 server, for presigned URLs) over the network."""

    def __init__(self, fake: FakeDiscourse) -> None:
        self._app = httpx.ASGITransport(app=fake)
        self._host = httpx.URL(fake.base_url).host
        self._network: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the fake, or to the network when it is for another host."""
        if request.url.host == self._host:
            return await self._app.handle_async_request(request)
        if self._network is None:
            self._network = httpx.AsyncHTTPTransport()
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the network transport, if one was opened."""
        if self._network is not None:
            await self._network.aclose()
        await self._app.aclose()
