"""Request plumbing of the fake: Rails-style parameters, the caller, where handlers register, and a router."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from discourse_async.testing import _backend as backend
from discourse_async.testing._rules import RULES, Facts

if TYPE_CHECKING:
    from discourse_async.testing._app import FakeDiscourse

JSON = dict[str, Any]
#: What a handler returns: a JSON body, None for an empty 200, or a whole response.
Result = dict[str, Any] | list[Any] | Response | None
Handler = Callable[["Ctx"], Awaitable[Result]]


def _put(params: dict[str, Any], key: str, value: Any) -> None:
    """Store one Rails-style parameter: ``a[]`` appends, ``a[b]`` nests one level."""
    match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
    if not match or not match.group(2):
        params[key] = value
        return
    parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    target: Any = params
    for part, nxt in itertools.pairwise(parts):  # walk down, making the containers the keys need
        container: Any = [] if nxt == "" else {}
        if isinstance(target, list):
            target.append(container)
        elif isinstance(target.get(part), type(container)):
            container = target[part]
        else:
            target[part] = container
        target = container
    if isinstance(target, list):
        target.append(value)
    else:
        target[parts[-1]] = value


def rails_params(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Query or form pairs as Rails reads them (``post_ids[]=1&post_ids[]=2`` is a list)."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        _put(params, key, value)
    return params


async def read_params(request: Request) -> dict[str, Any]:
    """The query string and the body (JSON, form or multipart), merged as Rails' ``params``."""
    params = rails_params(parse_qsl(request.url.query, keep_blank_values=True))
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method in ("GET", "HEAD"):
        return params
    if ctype == "application/json":
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                raise backend.invalid_parameters("The request body could not be parsed as JSON.") from None
            if not isinstance(body, dict):
                raise backend.invalid_parameters("The JSON body must be an object.")
            params.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        params.update(rails_params(list(form.multi_items())))
    return params


@dataclass
class Ctx:
    """One request as a handler sees it: parameters, the acting user, and what to announce."""

    fake: FakeDiscourse
    request: Request
    path_params: dict[str, str]
    params: dict[str, Any]
    user: backend.User | None = None
    user_api_key: backend.UserApiKey | None = None
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # webhook deliveries

    @property
    def store(self) -> backend.Store:
        """The fake's records."""
        return self.fake.store

    # ---------------------------------------------------------------- who may do this

    def guard(self, rule: str, **facts: Any) -> None:
        """Consult one of Discourse's rules (``_rules.RULES``) about this call; raise its refusal if it says no."""
        RULES[rule].enforce(Facts(store=self.store, user=self.user, **facts))

    def require_user(self) -> backend.User:
        """The acting user; anonymous callers get Discourse's ``not_logged_in``."""
        self.guard("logged_in")
        assert self.user is not None
        return self.user

    def require_staff(self) -> backend.User:
        """The acting user, who must be an admin or moderator."""
        user = self.require_user()
        self.guard("staff")
        return user

    def require_admin(self) -> backend.User:
        """The acting user, who must be an admin."""
        user = self.require_user()
        self.guard("admin")
        return user

    def require_poster(self) -> backend.User:
        """The acting user, who must be allowed to post (not silenced)."""
        user = self.require_user()
        self.guard("not_silenced")
        return user

    # ---------------------------------------------------------------- parameters

    def path(self, name: str) -> str:
        """A path parameter."""
        return self.path_params[name]

    def path_int(self, name: str) -> int:
        """A numeric path parameter; anything else is a 404, as Rails' routes make it."""
        try:
            return int(self.path_params[name])
        except ValueError:
            raise backend.not_found() from None

    def has(self, name: str) -> bool:
        """Whether a parameter was given (and is not empty)."""
        value = self.params.get(name)
        return value is not None and value != ""

    def param(self, name: str, default: str | None = None) -> str | None:
        """A string parameter."""
        value = self.params.get(name)
        if value is None or isinstance(value, dict | list | UploadFile):
            return default
        return str(value)

    def require(self, name: str) -> str:
        """A required string parameter (Rails' ``params.require``)."""
        value = self.param(name)
        if value is None or value == "":
            raise backend.invalid_parameters(f"param is missing or the value is empty: {name}")
        return value

    def param_int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; a non-number is a 400."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise backend.invalid_parameters(f"{name} must be an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise backend.invalid_parameters(f"{name} must be an integer") from None

    def require_int(self, name: str) -> int:
        """A required integer parameter."""
        value = self.param_int(name)
        if value is None:
            raise backend.invalid_parameters(f"param is missing or the value is empty: {name}")
        return value

    def param_bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter as Rails casts it ("true", "1", true...)."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "t", "yes", "on")

    def param_list(self, name: str) -> list[Any]:
        """A list parameter (``a[]=1&a[]=2``, a JSON array, or a comma-separated string)."""
        value = self.params.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return list(value.values())
        return [part.strip() for part in str(value).split(",") if part.strip()]

    def param_dict(self, name: str) -> dict[str, Any]:
        """A nested parameter (``group[name]=x`` or a JSON object)."""
        value = self.params.get(name)
        return value if isinstance(value, dict) else {}

    def file(self, name: str) -> UploadFile | None:
        """An uploaded file of a multipart body."""
        value = self.params.get(name)
        return value if isinstance(value, UploadFile) else None


#: Path parameters that Discourse's routes constrain to numbers (``topic_id: /\d+/``...): they tell
#: ``/t/{slug}/{id}`` from ``/t/{id}/{post_number}``. System users have negative ids.
_NUMERIC_PARAMS = {"id", "post_number", "topic_id", "group_id"}


def canonical_path(path: str, *, json_route: bool = True) -> str:
    """A path as Discourse routes it: ``/users/...`` as ``/u/...``, and without a JSON route's ``.json``.

    A file's own ``.json`` name (an upload's URL) is not a format suffix, so other routes keep it.
    """
    path = path.removesuffix(".json") if json_route else path
    if path == "/users" or path.startswith("/users/"):
        path = "/u" + path[len("/users") :]
    return path


@dataclass
class Route:
    """A method and a path template (``/t/{id}.json``) bound to a handler.

    A template matches with or without its ``.json`` suffix, and under ``/users`` as under ``/u``.
    """

    method: str
    template: str
    handler: Handler
    name: str
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = ""
        for literal, param in re.findall(r"([^{]*)(?:\{(\w+)\})?", canonical_path(self.template)):
            pattern += re.escape(literal)
            if param:
                pattern += f"(?P<{param}>-?\\d+)" if param in _NUMERIC_PARAMS else f"(?P<{param}>[^/]+)"
        self.regex = re.compile(f"^{pattern}$")

    @property
    def json_only(self) -> bool:
        """Whether the route answers JSON alone (so a bare path needs an ``Accept`` that takes JSON)."""
        return self.template.endswith(".json")

    @property
    def specificity(self) -> tuple[int, int]:
        """Sort key: fewer parameters first, so ``/c/{id}/show.json`` wins over ``/c/{slug}/{id}.json``."""
        return (self.template.count("{"), -len(self.template))


class Router:
    """Finds the route for a method and path; Rails answers 404 for a known path with another method."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: r.specificity)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route and its path parameters, or None."""
        method = "GET" if method == "HEAD" else method
        paths = {True: canonical_path(path), False: canonical_path(path, json_route=False)}
        for route in self.routes:
            if route.method != method:
                continue
            found = route.regex.match(paths[route.json_only])
            if found:
                return route, found.groupdict()
        return None


def for_viewer(viewer: backend.User | None, data: JSON) -> JSON:
    """Anonymous views leave out the ``can_*`` permission flags and reviewable counts, as real sites do."""
    if viewer is None:
        for key in [k for k in data if k.startswith(("can_", "reviewable_"))]:
            del data[key]
    return data


# Where route handlers register: by operation name (paths come from openapi.yaml) or by path.
#: operation name (as in discourse_async._generated.api.OPERATIONS) -> handler
OPERATION_HANDLERS: dict[str, Handler] = {}
#: routes Discourse has that our document does not describe: (method, path template, name, handler)
EXTRA_ROUTES: list[tuple[str, str, str, Handler]] = []


def op(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of a documented operation."""

    def register(handler: Handler) -> Handler:
        OPERATION_HANDLERS[name] = handler
        return handler

    return register


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register the handler of an undocumented route."""

    def register(handler: Handler) -> Handler:
        EXTRA_ROUTES.append((method, path, handler.__name__, handler))
        return handler

    return register
