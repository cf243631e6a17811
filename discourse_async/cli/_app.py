"""The ``discourse-async`` command tree, built at run time from the operation table.

``discourse-async NAMESPACE COMMAND [ARGS] [OPTIONS]``: one group per namespace of ``Discourse``,
one command per operation (path parameters are arguments, query parameters and body fields are
options), plus the namespace's ``iter*`` iterators and ``uploads upload``. Groups build their
commands on first use, so a command imports only the generated module of its own operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import inspect
import json
import mimetypes
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click
import httpx

from discourse_async import Discourse, DiscourseError, PathParameterError
from discourse_async._generated.api import METHOD_NAMES
from discourse_async._generated.types import UNSET, File
from discourse_async._version import __version__
from discourse_async.cli import _aliases, _config, _output, _spec
from discourse_async.cli._spec import Operation, Param

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
FORMATS = ("json", "jsonl", "table")


@dataclass
class State:
    """Shared by the commands of one run.

    Tests pass one as ``CliRunner().invoke(cli, args, obj=State(transport=httpx.ASGITransport(app=fake)))``
    to talk to an in-process site; ``client_options`` go to ``Discourse(...)`` as they are.
    """

    transport: httpx.AsyncBaseTransport | None = None
    client_options: dict[str, Any] = field(default_factory=dict)
    root: dict[str, Any] = field(default_factory=dict)  # the global options given before the namespace


def _text(doc: str) -> str:
    """Docstring markup (``code``, :meth:`name`) as plain help text."""
    return re.sub(r":\w+:`~?([^`]+)`|``([^`]+)``", lambda m: m.group(1) or m.group(2), doc)


def _dashed(name: str) -> str:
    # post_ids[] (a repeated query key) is the option --post-ids.
    return name.removesuffix("[]").replace("_", "-")


# ---------------------------------------------------------------------------- parameter types

if TYPE_CHECKING:  # generic in recent Click only: subscripted for the type checker alone
    _ParamType = click.ParamType[Any]
    _ChoiceType = click.Choice[str]
else:
    _ParamType = click.ParamType
    _ChoiceType = click.Choice


class _Choice(_ChoiceType):
    """An enum: also takes dashes for underscores (``likes-received`` for ``likes_received``)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value not in self.choices and value.replace("-", "_") in self.choices:
            value = value.replace("-", "_")
        return super().convert(value, param, ctx)


class _Items(_ParamType):
    """A repeatable list option whose values may also be comma-separated (``--post-ids 1,2,3``)."""

    def __init__(self, inner: _ParamType) -> None:
        self.inner = inner
        self.name = f"{inner.name}[,...]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        parts = value.split(",") if isinstance(value, str) else [value]
        return [self.inner.convert(part.strip() if isinstance(part, str) else part, param, ctx) for part in parts]


class _JSON(_ParamType):
    """A structured value (a nested object or list) given as JSON text."""

    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            self.fail(f"not JSON ({exc})", param, ctx)


class _DateTime(_ParamType):
    """An ISO 8601 date-time (``2025-05-01T12:00:00Z``)."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime.datetime):
            return value
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date-time such as 2025-05-01T12:00:00Z", param, ctx)


_SCALARS: dict[Any, _ParamType | None] = {
    bool: None,  # a --name/--no-name flag
    str: click.STRING,
    int: click.INT,
    float: click.FLOAT,
    datetime.datetime: _DateTime(),
    File: click.Path(exists=True, dir_okay=False, path_type=Path),
}


def _click_type(tp: Any) -> tuple[_ParamType | None, bool]:
    """(click type, repeatable) for an annotation; None for a boolean flag."""
    if tp in _SCALARS:
        return _SCALARS[tp], False
    if typing.get_origin(tp) is Literal:
        return _Choice([str(v) for v in typing.get_args(tp)]), False
    if typing.get_origin(tp) is list:
        inner, _ = _click_type(next(iter(typing.get_args(tp)), Any))
        if inner is None or isinstance(inner, _JSON | click.Path):
            return _JSON(), False
        return _Items(inner), True
    # A nested body object, typed as its model or its TypedDict (post=), is given as JSON like a model.
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and any(map(typing.is_typeddict, typing.get_args(tp))):
        return _JSON(), False
    # A union (int | str) is passed on as text; nested models, dicts and Any are given as JSON.
    return (click.STRING if typing.get_origin(tp) in (typing.Union, types.UnionType) else _JSON()), False


_WHERE = {"query": "", "body": "body field", "option": "", "path": "", "argument": ""}


def _inputs(inputs: tuple[Param, ...], flag_of: Callable[[Param], str]) -> list[click.Parameter]:
    """The click parameters of a command's inputs: an identifying one is an argument and an option."""
    params = [_parameter(p, p.name, flag_of(p)) for p in inputs]
    for p in inputs:
        if p.identifying:
            params.append(click.Argument(["_arg_" + p.name], required=False, metavar=_metavar(p)))
    return params


def _identified(inputs: tuple[Param, ...], values: dict[str, Any]) -> None:
    """An identifying input from its argument or its option (one of the two), checked if required."""
    for p in inputs:
        if not p.identifying:
            continue
        argument, option = values.pop("_arg_" + p.name), values[p.name]
        if argument is not None and option is not None and argument != option:
            raise click.UsageError(f"{_metavar(p)} is given twice, as the argument and as --{_dashed(p.key)}")
        values[p.name] = option if option is not None else argument
        if p.required and values[p.name] is None:
            raise click.UsageError(f"missing the argument {_metavar(p)} (or --{_dashed(p.key)})")


def _help(description: str, inputs: tuple[Param, ...]) -> str:
    """A command's --help text: its description, then its arguments as a list (their ``Args:`` lines)."""
    arguments = [p for p in inputs if p.positional or p.identifying]
    if not arguments:
        return description
    width = max(len(_metavar(p)) for p in arguments)
    listed = [f"  {_metavar(p):<{width}}  {_text(p.help) or p.key}" for p in arguments]
    return description + "\n\n\b\nArguments:\n" + "\n".join(listed)


def _metavar(p: Param) -> str:
    return p.key.upper() if p.required else f"[{p.key.upper()}]"


def _parameter(p: Param, name: str, flag: str) -> click.Parameter:
    """The click argument or option for one input; ``name`` is the callback keyword."""
    ptype, multiple = _click_type(p.type)
    # Recent Click takes an explicit default=None as a value that satisfies required=True.
    default: dict[str, Any] = {} if p.default is None else {"default": p.default}
    if p.positional:
        return click.Argument([name], type=ptype or click.BOOL, required=p.required, metavar=_metavar(p), **default)
    default["show_default"] = p.default is not None
    # Body fields are checked after --body is merged in, and an identifying input may come as its
    # argument instead: neither is required for click.
    required = p.required and p.where != "body" and not p.identifying
    where = f"or the argument {_metavar(p)}" if p.identifying else _WHERE[p.where]
    help_text = " ".join(
        part
        for part in (_text(p.help), f"({where})" if where else "", "[required]" if p.required and not required else "")
        if part
    )
    if ptype is None:
        # default=None: a flag not given is left out of the request (Click would make it False).
        return click.Option([f"--{flag}/--no-{flag}", name], default=p.default, required=required, help=help_text)
    return click.Option(
        [f"--{flag}", name], type=ptype, multiple=multiple, required=required, help=help_text, **default
    )


# ---------------------------------------------------------------------------- global options

_CONNECTION: tuple[tuple[str, str], ...] = (
    ("url", "the site's base URL [env DISCOURSE_URL]"),
    ("api-key", "an admin API key [env DISCOURSE_API_KEY]; prefer the environment or a profile (options show in ps)"),
    ("api-username", "the user an admin key acts as [env DISCOURSE_API_USERNAME]"),
    ("user-api-key", "a User API key, to act as its user [env DISCOURSE_USER_API_KEY]"),
    ("user-api-client-id", "the client id of the User API key [env DISCOURSE_USER_API_CLIENT_ID]"),
    ("profile", "a [profiles.NAME] table of the config file [env DISCOURSE_PROFILE]"),
)


def _global_options(prefix: str, taken: set[str] | None = None) -> list[click.Option]:
    """The site, credential and output options: of the root, or (``taken`` given) of a command.

    On a command the site and credential options are hidden from --help, and its own parameters'
    names (``taken``) come first.
    """
    options = [
        click.Option(
            [f"--{flag}", prefix + flag.replace("-", "_")], metavar="TEXT", help=text, hidden=taken is not None
        )
        for flag, text in _CONNECTION
    ]
    options += [
        click.Option(
            ["--format", prefix + "format"],
            type=click.Choice(FORMATS),
            help="json (pretty on a terminal), jsonl (one item a line: iterators' default) or table",
        ),
        click.Option(["--columns", prefix + "columns"], metavar="A,B,..", help="the columns of --format table"),
    ]
    return [o for o in options if o.opts[0][2:] not in (taken or ())]


def _common(ctx: click.Context, values: dict[str, Any]) -> tuple[State, dict[str, Any]]:
    """The global options of a command: given on the command itself, else before the namespace."""
    state = ctx.find_object(State) or State()
    merged = {}
    for key in [*(f.replace("-", "_") for f, _ in _CONNECTION), "format", "columns", "dry_run"]:
        value = values.pop("_" + key, None)
        merged[key] = value if value not in (None, False) else state.root.get(key)
    return state, merged


def _settings(options: dict[str, Any]) -> _config.Settings:
    return _config.resolve({k: options.get(k) for k in (*_config.FIELDS, "profile")}, os.environ)


def _client(settings: _config.Settings, state: State) -> Discourse:
    if not settings.url:
        raise click.UsageError(
            "which site? Give --url, set DISCOURSE_URL, or use a profile (see discourse-async --help)"
        )
    options = dict(state.client_options)
    if state.transport is not None:
        options["transport"] = state.transport
    return Discourse(
        settings.url,
        api_key=settings.api_key,
        # A companion without its key (a username from the environment, a key from an option) is dropped.
        api_username=settings.api_username if settings.api_key else None,
        user_api_key=settings.user_api_key,
        user_api_client_id=settings.user_api_client_id if settings.user_api_key else None,
        **options,
    )


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run one command's work; print an error Discourse (or the network) gave and exit with its code."""
    try:
        asyncio.run(coroutine)
    except PathParameterError as exc:  # "..", "." or "" as a path argument: refused before sending
        raise click.UsageError(str(exc)) from None
    except BrokenPipeError:
        # `... | head`: the reader left. Point stdout at devnull so the interpreter's last flush is quiet.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (DiscourseError, OSError) as exc:
        lines = _output.error_lines(exc)
        click.secho(lines[0], err=True, fg="red")
        for line in lines[1:]:
            click.echo(line, err=True)
        click.get_current_context().exit(_output.exit_code(exc))


# ---------------------------------------------------------------------------- operations


def _given(value: Any) -> bool:
    return value is not None and value != ()


def _value(p: Param, value: Any, files: contextlib.ExitStack) -> Any:
    """A parsed option value as the call takes it: lists flattened, files opened."""
    if isinstance(value, tuple):  # a repeatable option: one list per use
        return [item for part in value for item in part]
    if isinstance(value, Path) and p.type is File:
        return File(
            payload=files.enter_context(value.open("rb")),
            file_name=value.name,
            mime_type=mimetypes.guess_type(value.name)[0] or "application/octet-stream",
        )
    return value


def _load_body(source: str) -> dict[str, Any]:
    """``--body``: ``@file.json``, ``-`` (stdin) or the JSON itself."""
    try:
        if source == "-":
            text = sys.stdin.read()
        elif source.startswith("@"):
            text = Path(source[1:]).expanduser().read_text(encoding="utf-8")
        else:
            text = source
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--body") from None
    if not isinstance(body, dict):
        raise click.BadParameter("the body must be a JSON object", param_hint="--body")
    return body


def _request_body(
    op: Operation, ctx: click.Context, values: dict[str, Any], files: contextlib.ExitStack
) -> dict[str, Any]:
    """The body fields as keyword arguments, from --body and the field options (which win).

    Keys of --body that are not documented fields go as ``extra_body``.
    """
    source = values.pop("_body", None)
    body = _load_body(source) if source else {}
    for f in op.body_fields:
        value = values.pop("_b_" + f.name)
        if _given(value):
            body[f.key] = _value(f, value, files)
    flags = {p.name: p.opts[0] for p in ctx.command.params if isinstance(p, click.Option)}
    missing = [flags["_b_" + f.name] for f in op.body_fields if f.required and f.key not in body]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (an option, or a key of --body)")
    kwargs = {f.name: body.pop(f.key) for f in op.body_fields if f.key in body}
    if body:
        kwargs["extra_body"] = body
    return kwargs


def _operation_command(name: str) -> click.Command:
    op = _spec.operation(name)
    params = _inputs(op.params, lambda p: _dashed(p.key))
    taken = {o[2:] for p in params for o in p.opts if o.startswith("--")} | {"body", "dry-run", "format", "columns"}
    for f in op.body_fields:
        flag = _dashed(f.key)
        params.append(_parameter(f, "_b_" + f.name, flag if flag not in taken else f"body-{flag}"))
    body_help = ""
    if op.has_body:
        params.append(
            click.Option(
                ["--body", "_body"], metavar="@FILE|-|JSON", help="the whole body as JSON; options override its keys"
            )
        )
        kind = "multipart form (files by path)" if op.multipart else "JSON"
        body_help = f"\n\nThe request body is {kind}: give its fields as options, or the whole of it with --body."
    params.append(
        click.Option(["--dry-run", "_dry_run"], is_flag=True, help="print the request (keys masked); send nothing")
    )
    params += _global_options("_", taken - {"format", "columns"})
    doc = _spec.summary(getattr(_spec.namespace_class(op.namespace), op.method_name))
    return click.Command(
        _dashed(op.method_name),
        params=params,
        callback=functools.partial(_operation_callback, op),
        help=_help(f"{_text(doc)}\n\n{op.method} {op.path}{body_help}", op.params),
        short_help=doc,
        context_settings=CONTEXT,
    )


def _operation_callback(op: Operation, **values: Any) -> None:
    ctx = click.get_current_context()
    state, options = _common(ctx, values)
    _identified(op.params, values)
    with contextlib.ExitStack() as files:
        # Everything is checked (arguments, body, settings) before a request is made.
        kwargs = {p.name: _value(p, values[p.name], files) for p in op.params if _given(values[p.name])}
        if op.has_body:
            kwargs.update(_request_body(op, ctx, values, files))
        settings = _settings(options)
        _run(_call(op, kwargs, settings, state, options))


async def _call(
    op: Operation, kwargs: dict[str, Any], settings: _config.Settings, state: State, options: dict[str, Any]
) -> None:
    async with _client(settings, state) as dc:
        if options["dry_run"]:
            _output.emit(await _dry_run(dc, op, kwargs, settings), "json")
            return
        namespace = getattr(dc, op.namespace).with_raw_response
        response = await getattr(namespace, op.method_name)(**kwargs)
    if not response.content:
        return
    content_type = response.headers.get("content-type", "")
    if "json" in content_type or response.content[:1] in (b"{", b"["):
        # As Discourse sent it: the CLI is for looking at the site, fields the document lacks included.
        columns = options["columns"].split(",") if options["columns"] else None
        _output.emit(response.json(), options["format"], operation=op.name, columns=columns)
    else:
        _output.write_raw(response.content, content_type)


async def _dry_run(dc: Discourse, op: Operation, kwargs: dict[str, Any], settings: _config.Settings) -> dict[str, Any]:
    """The request an operation would send, built by its generated method; keys masked."""
    from discourse_async._resource import request_of

    request_kwargs = await request_of(getattr(getattr(dc, op.namespace), op.method_name)(**kwargs))
    method, url = request_kwargs.pop("method"), request_kwargs.pop("url")
    # The client's own request builder: the same URL, query encoding, default headers and body bytes.
    request = dc._path.prepare(method, url, **request_kwargs)
    headers = dict(request.headers)
    if settings.api_key:
        headers["Api-Key"] = "****"
        if settings.api_username:
            headers["Api-Username"] = settings.api_username
    elif settings.user_api_key:
        headers["User-Api-Key"] = "****"
        if settings.user_api_client_id:
            headers["User-Api-Client-Id"] = settings.user_api_client_id
    body: Any = None
    if isinstance(request.content, bytes | bytearray) and request.content:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        body = (
            json.loads(request.content) if "json" in content_type else f"<{len(request.content)} bytes, {content_type}>"
        )
    return {"method": request.method, "url": request.url, "headers": headers, "body": body}


# ---------------------------------------------------------------------------- iterators and uploads


def _refuse_dry_run(options: dict[str, Any]) -> None:
    if options["dry_run"]:
        raise click.UsageError("--dry-run shows one request: it applies to operations, not to iterators or uploads")


def _iterator_command(namespace: str, name: str) -> click.Command:
    inputs = _spec.iterator(namespace, name)
    params = _inputs(inputs, lambda p: _dashed(p.name))
    params += _global_options("_", {o[2:] for p in params for o in p.opts if o.startswith("--")})
    method = getattr(_spec.namespace_class(namespace), name)
    doc = _text(_spec.summary(method))
    description = _text(_spec.split_doc(inspect.getdoc(method) or "")[0])
    return click.Command(
        _dashed(name),
        params=params,
        callback=functools.partial(_iterator_callback, namespace, name),
        help=_help(f"{description}\n\nStreams JSON Lines, one item a line (--format json: an array).", inputs),
        short_help=doc,
        context_settings=CONTEXT,
    )


def _iterator_callback(namespace: str, name: str, **values: Any) -> None:
    ctx = click.get_current_context()
    state, options = _common(ctx, values)
    _refuse_dry_run(options)
    _identified(_spec.iterator(namespace, name), values)
    kwargs = {key: value for key, value in values.items() if value is not None}
    settings = _settings(options)

    async def iterate() -> None:
        async with _client(settings, state) as dc:
            items = getattr(getattr(dc, namespace), name)(**kwargs)
            if options["format"] in (None, "jsonl"):
                out = sys.stdout
                async for item in items:
                    out.write(_output.dumps(_output.plain(item)) + "\n")
                    out.flush()  # a pipe sees each item as it arrives
                return
            collected = [item async for item in items]
        columns = options["columns"].split(",") if options["columns"] else None
        _output.emit(collected, options["format"], operation=name, columns=columns)

    _run(iterate())


class _Progress:
    """Upload progress on stderr: a Rich bar on a terminal, else a plain line at every 10%."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None
        self.next_tenth = 0

    def __call__(self, sent: int, total: int) -> None:
        if self.tty:
            if self.bar is None:
                from rich.console import Console
                from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

                columns = (TextColumn(self.name), BarColumn(), DownloadColumn(), TransferSpeedColumn())
                self.bar = Progress(*columns, console=Console(stderr=True))
                self.bar.start()
                self.task = self.bar.add_task(self.name, total=total)
            self.bar.update(self.task, completed=sent)
            return
        tenth = 10 if total == 0 else sent * 10 // total
        if tenth >= self.next_tenth:
            click.echo(f"{self.name}: {sent}/{total} bytes ({tenth * 10}%)", err=True)
            self.next_tenth = tenth + 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _upload_command() -> click.Command:
    from discourse_async.uploads import MiB, Route

    upload_type = next(f.type for f in _spec.operation("create_upload").body_fields if f.key == "upload_type")
    params: list[click.Parameter] = [
        click.Argument(["source"], type=click.Path(exists=True, dir_okay=False, allow_dash=True), metavar="FILE"),
        click.Option(["--type", "type_"], type=_click_type(upload_type)[0], default="composer", show_default=True),
        click.Option(["--filename"], help="the name Discourse shows (default: the file's)"),
        click.Option(["--content-type"], help="the media type (default: guessed from the name)"),
        click.Option(["--route"], type=click.Choice(typing.get_args(Route)), default="auto", show_default=True),
        click.Option(["--user-id"], type=int, help="for admins: the user the upload is made for"),
        click.Option(
            ["--part-size"], type=click.IntRange(5), default=8, show_default=True, help="S3 multipart part size, MiB"
        ),
        click.Option(
            ["--concurrency"], type=click.IntRange(1), default=4, show_default=True, help="parts sent at once"
        ),
        click.Option(["--no-progress"], is_flag=True, help="no progress bar or progress lines on stderr"),
        *_global_options("_", set()),
    ]

    def callback(
        source: str, type_: str, no_progress: bool, part_size: int, user_id: int | None, **values: Any
    ) -> None:
        ctx = click.get_current_context()
        state, options = _common(ctx, values)
        _refuse_dry_run(options)
        settings = _settings(options)
        # A path is read by offset, part by part; stdin is read whole (it cannot seek).
        data: str | bytes = sys.stdin.buffer.read() if source == "-" else source
        name = values["filename"] or ("upload.bin" if source == "-" else Path(source).name)
        progress = None if no_progress else _Progress(name)

        async def upload() -> None:
            try:
                async with _client(settings, state) as dc:
                    record = await dc.uploads.upload(
                        data,
                        type=type_,
                        filename=name,
                        content_type=values["content_type"],
                        route=values["route"],
                        user_id=UNSET if user_id is None else user_id,
                        on_progress=progress,
                        part_size=part_size * MiB,
                        concurrency=values["concurrency"],
                    )
            finally:
                if progress is not None:
                    progress.close()
            _output.emit(record, options["format"])

        _run(upload())

    return click.Command(
        "upload",
        params=params,
        callback=callback,
        help="Upload a file (- for stdin) and print its upload record.\n\n"
        "Small files go to /uploads.json; on sites with direct S3 uploads, big ones go straight to S3 "
        "(presigned, or multipart in parts). Progress goes to stderr: a bar on a terminal, plain lines otherwise.",
        short_help="Upload a file, by the route its size and the site allow (S3 multipart included).",
        context_settings=CONTEXT,
    )


# ---------------------------------------------------------------------------- groups


class _Namespace(click.Group):
    """The commands of one namespace, built on first use."""

    def __init__(self, namespace: str) -> None:
        cls = _spec.namespace_class(namespace)
        operations, iterators = _spec.operations(namespace), _spec.iterators(namespace)
        extras = [f"{len(iterators)} iterator{'s' * (len(iterators) > 1)}"] if iterators else []
        extras += ["upload"] if callable(getattr(cls, "upload", None)) else []
        counted = ", ".join([f"{len(operations)} operation{'s' * (len(operations) > 1)}", *extras])
        super().__init__(
            _dashed(namespace), help=_text(_spec.summary(cls)), short_help=counted, context_settings=CONTEXT
        )
        self.namespace = namespace
        self.makers: dict[str, Callable[[], click.Command]] = {
            _dashed(METHOD_NAMES[op]): functools.partial(_operation_command, op) for op in operations
        }
        self.makers.update({_dashed(it): functools.partial(_iterator_command, namespace, it) for it in iterators})
        if "upload" in extras:
            self.makers["upload"] = _upload_command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.makers)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _aliases.command(self.makers, _dashed(cmd_name))  # old names too, hidden


class _Root(click.Group):
    """One group per namespace; names take dashes or underscores."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [_dashed(ns) for ns in _spec.namespaces()]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        namespace = cmd_name.replace("-", "_")
        return _Namespace(namespace) if namespace in _spec.namespaces() else None


_ROOT_HELP = """Every operation of the Discourse API from the shell: NAMESPACE COMMAND [ARGS] [OPTIONS].

For example: discourse-async topics get-topic 42, or discourse-async topics iter-latest --max-items 500.
Results are JSON (pretty on a terminal); iterators stream JSON Lines.

The site and credentials come from the options, else a profile named by --profile, else the
DISCOURSE_URL, DISCOURSE_API_KEY, DISCOURSE_API_USERNAME, DISCOURSE_USER_API_KEY and
DISCOURSE_USER_API_CLIENT_ID environment variables, else the profile "default" of the config file
($DISCOURSE_ASYNC_CONFIG or ~/.config/discourse-async/config.toml). Global options may also be
given after the command. Keys are never printed.

\b
Exit codes:
"""


def _root_help() -> str:
    return _ROOT_HELP + "\n".join(f"  {code}  {meaning}" for code, meaning in _output.EXIT_CODES)


def _root_callback(**options: Any) -> None:
    ctx = click.get_current_context()
    state = ctx.ensure_object(State)
    state.root = {key.removeprefix("g_"): value for key, value in options.items()}


def _build() -> click.Group:
    params: list[click.Parameter] = [
        *_global_options("g_"),
        click.Option(["--dry-run", "g_dry_run"], is_flag=True, help="print the request (keys masked); send nothing"),
    ]
    group = _Root(
        "discourse-async", params=params, callback=_root_callback, help=_root_help(), context_settings=CONTEXT
    )
    return click.version_option(__version__, "-V", "--version", prog_name="discourse-async")(group)


cli = _build()

__all__ = ["State", "cli"]
