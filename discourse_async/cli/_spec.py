"""What the command line knows about each command, read from the generated code at run time.

Nothing here is written per operation: the operation table (``OPERATIONS``) lists the operations,
``METHOD_NAMES`` names their commands, ``INPUTS`` says where each input goes, the generated methods
give the inputs' types, and the namespace classes give the iterators. ``openapi.yaml`` is not
needed (it is not in the wheel).
"""

from __future__ import annotations

import datetime
import inspect
import re
import sys
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from discourse_async._generated.api import INPUTS, METHOD_NAMES, OPERATIONS
from discourse_async._generated.types import File, Unset

Where = Literal["path", "query", "body", "argument", "option"]
#: Inputs that name what a command acts on, typed as arguments (see ``Param.identifying``).
IDENTIFYING = frozenset({"username", "q"})


@dataclass(frozen=True)
class Param:
    """One input of a command.

    ``name`` is the Python keyword the call takes (``filter_``); ``key`` the name Discourse uses,
    which the option is named after (``--filter``) and, for body fields, the JSON key.
    """

    name: str
    key: str
    where: Where
    type: Any  # the annotation, with Unset and None taken out
    required: bool
    default: Any = None
    help: str = ""  # its line of the method's ``Args:`` section

    @property
    def identifying(self) -> bool:
        """An input a user types as an argument: ``username`` or the search terms ``q`` (else an option).

        Such an input, a query parameter or a keyword of an iterator, is both an optional argument
        and its ``--option`` (the option was its only form before, so scripts that use it still work).
        """
        return self.key in IDENTIFYING and self.where in ("query", "option")

    @property
    def positional(self) -> bool:
        """Path parameters and an iterator's positional parameters are arguments, not options."""
        return self.where in ("path", "argument")


@dataclass(frozen=True)
class Operation:
    """One operation of the table, with the inputs of its generated method."""

    name: str  # the operation (snake_case operationId), as in the operation table
    method_name: str  # the method of the namespace that calls it
    namespace: str
    method: str
    path: str
    params: tuple[Param, ...]
    has_body: bool
    multipart: bool  # whether the body goes as multipart/form-data (file uploads) rather than JSON
    body_fields: tuple[Param, ...]


class _Models(dict[str, Any]):
    """``eval`` locals for annotations: a name not found otherwise is one of the generated models.

    The generated modules import model classes only under ``TYPE_CHECKING``; the models package
    imports them lazily by name, so they are looked up there on demand.
    """

    def __missing__(self, name: str) -> Any:
        from discourse_async._generated import models

        if name in ("datetime", "Any", "File"):  # imported only under TYPE_CHECKING too
            return {"datetime": datetime, "Any": Any, "File": File}[name]
        try:
            return getattr(models, name)
        except AttributeError:
            raise KeyError(name) from None


def resolve(annotation: Any, module: str) -> Any:
    """The type an annotation names (``from __future__ import annotations`` makes them strings)."""
    if not isinstance(annotation, str):
        return annotation
    # Our own generated and hand-written annotations, never user input.
    return eval(annotation, vars(sys.modules[module]), _Models())  # noqa: S307


def strip_optional(tp: Any) -> tuple[Any, bool]:
    """``X | Unset | None`` -> (X, True); a union of several real types stays a union."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return tp, False
    args = typing.get_args(tp)
    rest = tuple(a for a in args if a not in (Unset, type(None)))
    if len(rest) == 1:
        return rest[0], len(rest) < len(args)
    return typing.Union[rest], len(rest) < len(args)  # noqa: UP007 - built from a tuple at run time


def split_doc(doc: str) -> tuple[str, dict[str, str]]:
    """A Google-style docstring as (its text without the ``Args:`` section, {argument: description})."""
    text: list[str] = []
    args: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in doc.splitlines():
        if line.strip() == "Args:" and not line.startswith(" "):
            in_args = True
            continue
        if in_args and line and not line.startswith(" "):
            in_args = False  # the next section (Returns:, Raises:...) is text again
        if not in_args:
            text.append(line)
            continue
        entry = re.match(r"^ {4}(\*{0,2}\w+)(?: \([^)]*\))?:\s*(.*)$", line)
        if entry:
            current = entry.group(1).lstrip("*")
            args[current] = entry.group(2).strip()
        elif current and line.strip():
            args[current] += " " + line.strip()
    return "\n".join(text).strip(), args


def summary(obj: Any) -> str:
    """The first line of a docstring: our one-line summary of an operation or iterator."""
    return (inspect.getdoc(obj) or "").strip().split("\n", 1)[0]


def namespaces() -> list[str]:
    """The namespace attributes of ``Discourse`` (``topics``, ``private_messages``...), sorted."""
    return sorted({namespace for namespace, _method, _path in OPERATIONS.values()})


@cache
def namespace_class(namespace: str) -> type:
    """The class ``Discourse`` really uses for a namespace: generated, or extended with iterators.

    Reading the attribute of a bare instance runs the namespace's ``cached_property``, which only
    imports the class and wraps the instance: no connection is made.
    """
    from discourse_async import Discourse

    return type(getattr(object.__new__(Discourse), namespace))


def operations(namespace: str) -> list[str]:
    """The operations of one namespace, in the table's order (operation names, not method names)."""
    return [name for name, (ns, _m, _p) in OPERATIONS.items() if ns == namespace]


def iterators(namespace: str) -> list[str]:
    """The ``iter*`` methods a namespace adds to its operations."""
    cls = namespace_class(namespace)
    return [name for name in dir(cls) if name.startswith("iter") and inspect.isfunction(getattr(cls, name))]


@cache
def operation(name: str) -> Operation:
    """The parameters and body fields of one operation, from its generated method and the inputs table."""
    namespace, method, path = OPERATIONS[name]
    function = getattr(namespace_class(namespace), METHOD_NAMES[name])
    signature = inspect.signature(function)  # through the decorators, to the generated method
    module = sys.modules[function.__module__]
    params: list[Param] = []
    body_fields: list[Param] = []
    multipart = False
    docs = split_doc(inspect.getdoc(function) or "")[1]
    for keyword, key, where in INPUTS[name]:
        p = signature.parameters[keyword]
        tp, optional = strip_optional(resolve(p.annotation, module.__name__))
        required = p.default is inspect.Parameter.empty and not optional
        text = docs.get(keyword, "")
        if where in ("json", "form"):
            multipart = multipart or where == "form"
            body_fields.append(Param(keyword, key, "body", tp, required, help=text))
        else:
            params.append(Param(keyword, key, "path" if where == "path" else "query", tp, required, help=text))
    has_body = bool(body_fields) or "extra_body" in signature.parameters
    return Operation(
        name, METHOD_NAMES[name], namespace, method, path, tuple(params), has_body, multipart, tuple(body_fields)
    )


@cache
def iterator(namespace: str, name: str) -> tuple[Param, ...]:
    """The parameters of an ``iter*`` method: positional ones become arguments, the rest options."""
    method = getattr(namespace_class(namespace), name)
    docs = split_doc(inspect.getdoc(method) or "")[1]
    params = []
    for p in list(inspect.signature(method).parameters.values())[1:]:  # after self
        tp, _ = strip_optional(resolve(p.annotation, method.__module__))
        has_default = p.default is not inspect.Parameter.empty
        default = p.default if has_default and not isinstance(p.default, Unset) else None
        where: Where = "argument" if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD else "option"
        params.append(Param(p.name, p.name, where, tp, not has_default, default, docs.get(p.name, "")))
    return tuple(params)
