"""``FakeDiscourse``: the ASGI app (routing, auth, limits, faults) with its controls, seeding and webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from discourse_async._asgi import lifespan
from discourse_async.testing import _backend as backend
from discourse_async.testing._context import (
    EXTRA_ROUTES,
    OPERATION_HANDLERS,
    Ctx,
    Result,
    Route,
    Router,
    canonical_path,
    read_params,
)
from discourse_async.testing._control import (
    Controls,
    Fault,
    RateLimit,
    RequestRecord,
    proxy_error_page,
    rate_limited_response,
)
from discourse_async.testing._rules import RULES, Facts
from discourse_async.testing._s3 import S3Server, S3Store
from discourse_async.testing._seeding import Seeding
from discourse_async.testing._settings import SiteSettings
from discourse_async.testing._webhooks import Webhook, WebhookDelivery, Webhooks
from discourse_async.testing.api import topics  # importing the package registers every route

if TYPE_CHECKING:
    from discourse_async import Discourse

log = logging.getLogger("discourse_async.testing")

_BAD_KEY = "You are not permitted to view the requested resource. The API username or key is invalid."


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised from the app in-process (``httpx.ASGITransport``) where a real server would close the socket."""


@dataclass
class _Auth:
    user: backend.User | None = None
    credential: str = "anonymous"
    key: str | None = None
    user_api_key: backend.UserApiKey | None = None


_SCOPED_ROUTES = {  # what the narrow User API key scopes allow, beyond read (GET) and write (all)
    "notifications": {("GET", "/notifications"), ("PUT", "/notifications/mark-read")},
    "session_info": {("GET", "/session/current")},
}


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def _error_response(error: backend.DiscourseHTTPError) -> Response:
    if error.body is not None:
        return _json_response(error.body, error.status)
    body: dict[str, Any] = {"errors": error.errors}
    if error.error_type:
        body["error_type"] = error.error_type
    return _json_response(body, error.status)


def _takes_json(request: Request) -> bool:
    """Whether the ``Accept`` header takes JSON: Discourse picks the format from it when the path has no suffix."""
    accept = request.headers.get("accept", "*/*")
    return not accept.strip() or "json" in accept or "*/*" in accept


async def _close_files(params: Any) -> None:
    """Close a multipart body's files (spooled to disk past 1 MiB) once the handler has read them."""
    if isinstance(params, UploadFile):
        await params.close()
    elif isinstance(params, dict | list):
        for value in params.values() if isinstance(params, dict) else params:
            await _close_files(value)


def _to_response(result: Result) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(b"", status_code=200)
    return _json_response(result)


class FakeDiscourse(Seeding, Controls, Webhooks):
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
        self.store = backend.Store(clock or time.time)
        self.base_url = base_url.rstrip("/")
        self.title = title
        self.s3: S3Store | None = self._s3_store(s3)
        self.max_upload_bytes = max_upload_bytes
        self.presigned_expires = 600  # Discourse's presigned URLs live ten minutes
        #: Discourse as identity provider (``/session/sso_provider``): return URL host -> secret
        self.discourse_connect_provider_secrets: dict[str, str] = {}
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

    @property
    def site_settings(self) -> SiteSettings:
        """The site settings the fake's rules read, with Discourse's defaults (``fake.site_settings.<name> = ...``)."""
        return self.store.settings

    @property
    def discourse_connect_secret(self) -> str | None:
        """DiscourseConnect's shared secret; setting it turns DiscourseConnect on (None turns it off)."""
        return self.site_settings.discourse_connect_secret or None

    @discourse_connect_secret.setter
    def discourse_connect_secret(self, secret: str | None) -> None:
        self.site_settings.discourse_connect_secret = secret or ""
        self.site_settings.enable_discourse_connect = bool(secret)

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
            await lifespan(receive, send)
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
            topics.run_due_timers(self.store)
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
                # Say what is missing: a client written for real Discourse may call routes the fake lacks.
                log.warning("fake Discourse has no route for %s %s", request.method, request.url.path)
                raise backend.not_found()
            route, path_params = found
            record.route = route.name
            if route.json_only and not request.url.path.endswith(".json") and not _takes_json(request):
                raise backend.DiscourseHTTPError(
                    406, "The fake Discourse answers JSON only (it has no HTML views).", None
                )
            facts = Facts(store=self.store, user=auth.user)
            if request.url.path.startswith("/admin/"):
                RULES["admin_routes"].enforce(facts)  # Discourse's admin routes exist only for admins
            if auth.user_api_key is not None:
                facts.extra["scope_allows"] = self._scope_allows(auth.user_api_key.scopes, request)
                RULES["user_api_key_scope"].enforce(facts)
            ctx = Ctx(
                fake=self,
                request=request,
                path_params=path_params,
                params=await read_params(request),
                user=auth.user,
                user_api_key=auth.user_api_key,
            )
            if auth.user is not None:
                auth.user.last_seen_at = self.store.now()
            try:
                result = await route.handler(ctx)
            finally:
                record.processed = True
                record.wrote = self.store.version != version
                await _close_files(ctx.params)
            await self._deliver(ctx.events)
            return _to_response(result)
        except backend.DiscourseHTTPError as error:
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
    def _scope_allows(scopes: tuple[str, ...], request: Request) -> bool:
        path = canonical_path(request.url.path)
        if "write" in scopes or path == "/user-api-key/revoke":
            return True
        if "read" in scopes and request.method in ("GET", "HEAD"):
            return True
        return any((request.method, path) in _SCOPED_ROUTES.get(s, set()) for s in scopes)

    def _authenticate(self, request: Request) -> _Auth:
        """Discourse's header auth: an admin key with a user, or a User API key; nothing else counts."""
        headers = request.headers
        store = self.store
        now = store.now()
        if "api-key" in headers:
            api_key = store.api_keys.get(headers["api-key"])
            if api_key is None or api_key.revoked:
                raise backend.invalid_access(_BAD_KEY)
            user = self._acting_user(api_key, headers)
            if user is None or user.suspended(now) or not user.active:
                raise backend.invalid_access(_BAD_KEY)
            return _Auth(user=user, credential="admin_api_key", key=api_key.key)
        if "user-api-key" in headers:
            user_key = store.user_api_keys.get(headers["user-api-key"])
            if user_key is None or user_key.revoked:
                raise backend.invalid_access(_BAD_KEY)
            client_id = headers.get("user-api-client-id")
            if client_id is not None and client_id != user_key.client_id:
                raise backend.invalid_access(_BAD_KEY)
            user = store.users.get(user_key.user_id)
            if user is None or user.suspended(now):
                raise backend.invalid_access(_BAD_KEY)
            return _Auth(user=user, credential="user_api_key", key=user_key.key, user_api_key=user_key)
        return _Auth()

    def _acting_user(self, api_key: backend.ApiKey, headers: Headers) -> backend.User | None:
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


def _operations() -> dict[str, tuple[str, str]]:
    """Map each operation to (method, path), from the client's operation table (built from openapi.yaml)."""
    from discourse_async._generated.api import OPERATIONS

    return {name: (method, path) for name, (_tag, method, path) in OPERATIONS.items()}


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
