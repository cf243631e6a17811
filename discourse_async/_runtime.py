"""What the generated models and operations are built on: lenient, lossless models over decoded JSON.

A model holds the JSON object it was built from, untouched, and reads its fields from it on access:

- parsing costs one object per answer, however big (nested models are made when first read, then
  kept; timestamps are parsed on each read), and ``to_dict()`` is a copy of what the server sent:
  same keys, same values, same absent-vs-null;
- a value that does not fit its declared type is returned as received (a ``null`` where an object
  was documented, a number where a string was, a list where an object was, a timestamp that does
  not parse): a real site running plugins or another version never makes a parse fail;
- an absent field reads as ``None``; :attr:`Model.fields_set` says which fields were present;
- ``strict=True`` (see :func:`check`) reports the first value that does not fit, with its JSON path.

A large answer (``LAZY_FROM`` bytes and up, simdjson installed, not strict) is not decoded at all:
the model reads its fields from the simdjson document, each made into a Python value when read,
and decodes the object only when it is used as a whole (``to_dict()``, a change, ``fields_set``).
Reading the posts of a 1,000-post topic then costs a fraction of decoding it, and leaves the cyclic
garbage collector nothing to walk. A document costs about four times its answer, so only those of
the answers parsed last are kept (``KEEP_LAZY_BYTES``): the models of an older answer keep its body
alone, and parse it again if read again (see ``_Answer``).
Where an object gives a key twice, such a model keeps the first value (decoded JSON, the last).

Generated code declares each field as ``name: Field[T] = field("key", SPEC)``, where ``SPEC`` says
what the document promises (used to wrap nested models, parse timestamps and check strict mode).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import importlib
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import MethodType
from typing import Any, ClassVar, Generic, ParamSpec, Self, TypeVar, cast, overload
from urllib.parse import quote

from discourse_async._engines._codec import LazyArray, LazyObject, gc_paused, lazy_document, lazy_loads

T = TypeVar("T")
M = TypeVar("M", bound="Model")
P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "Field",
    "Model",
    "PathParameterError",
    "Result",
    "Spec",
    "check",
    "decoded",
    "deprecated_alias",
    "field",
    "parse",
    "path_param",
    "renamed_parameters",
    "with_body_dict",
]


# --------------------------------------------------------------------------------------------
# What the document promises about a value (used for wrapping and for strict checks)


class Spec:
    """The documented type of one JSON value."""

    __slots__ = ("lazy", "name")

    def __init__(self, name: str, lazy: bool = False) -> None:
        self.name = name
        # Whether reading a value of this type builds something (a model, a datetime).
        self.lazy = lazy

    def fits(self, value: Any) -> bool:
        """Whether ``value`` (not None) has this type; nested values are checked by :meth:`walk`."""
        raise NotImplementedError

    def read(self, value: Any) -> Any:
        """The value as a field returns it: built when it fits, as received otherwise."""
        return value

    def walk(self, value: Any, path: str) -> tuple[str, str, Any] | None:
        """The first mismatch inside ``value``: (JSON path, expected type, value found)."""
        if value is None and self.name != "null":
            return path, self.name, value
        return None if self.fits(value) else (path, self.name, value)

    def __repr__(self) -> str:
        return self.name


class _Scalar(Spec):
    __slots__ = ("types",)

    def __init__(self, name: str, types: tuple[type, ...]) -> None:
        super().__init__(name)
        self.types = types

    def fits(self, value: Any) -> bool:
        # JSON true/false are Python bools, which are ints too: an integer field holding true does not fit.
        return isinstance(value, self.types) and (bool in self.types or not isinstance(value, bool))


class _Any(Spec):
    __slots__ = ()

    def fits(self, value: Any) -> bool:
        return True

    def walk(self, value: Any, path: str) -> tuple[str, str, Any] | None:
        return None


class _Null(Spec):
    __slots__ = ()

    def fits(self, value: Any) -> bool:
        return value is None


_fromisoformat = _dt.datetime.fromisoformat


def _parse_datetime(text: str) -> _dt.datetime | None:
    try:
        value = _fromisoformat(text)
    except ValueError:
        return None
    # Discourse sends UTC ("...Z"); a value without an offset is read as UTC too, so every
    # timestamp compares with every other.
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)


class _DateTime(Spec):
    __slots__ = ()

    def fits(self, value: Any) -> bool:
        return isinstance(value, str) and _parse_datetime(value) is not None

    def read(self, value: Any) -> Any:
        if isinstance(value, str):
            parsed = _parse_datetime(value)
            if parsed is not None:
                return parsed
        return value


class _Date(Spec):
    __slots__ = ()

    def fits(self, value: Any) -> bool:
        return self.read(value) is not value

    def read(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return _dt.date.fromisoformat(value)
            except ValueError:
                return value
        return value


class _Enum(Spec):
    __slots__ = ("values",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        super().__init__(" | ".join(repr(v) for v in values))
        self.values = values

    def fits(self, value: Any) -> bool:
        return value in self.values and type(value) in {type(v) for v in self.values}


#: Lists of models from this length up are built with the cyclic garbage collector paused.
_PAUSE_GC_ITEMS = 256


class _List(Spec):
    __slots__ = ("item",)

    def __init__(self, item: Spec) -> None:
        super().__init__(f"list[{item.name}]", item.lazy)
        self.item = item

    def fits(self, value: Any) -> bool:
        return isinstance(value, list | LazyArray)

    def read(self, value: Any) -> Any:
        kind = type(value)
        if kind is not list and kind is not LazyArray:
            return value
        item = self.item
        if type(item) is _Ref:
            # The common case (a topic's posts, a list's topics): each model built here rather than
            # through a call per item, a fifth of the cost of building them (bench/run.py). A long
            # list is built with the collector paused, as a large answer is decoded (_codec.loads):
            # the new models make no cycles for it to find.
            cls = item._cls or item.cls
            build = _build_models if kind is list else _build_lazy_models
            if len(value) < _PAUSE_GC_ITEMS:  # the usual page: no context manager on this hot path
                return build(cls, value)
            with gc_paused():
                return build(cls, value)
        read = item.read
        return [read(v) for v in value]

    def walk(self, value: Any, path: str) -> tuple[str, str, Any] | None:
        if not isinstance(value, list):
            return path, self.name, value
        for i, item in enumerate(value):
            found = self.item.walk(item, f"{path}[{i}]")
            if found:
                return found
        return None


def _build_models(cls: type[Model], value: list[Any]) -> list[Any]:
    built = []
    for data in value:
        if type(data) is dict:
            obj = _new(cls)
            _set_data(obj, data)
            built.append(obj)
        else:
            built.append(data)
    return built


def _build_lazy_models(cls: type[Model], value: LazyArray) -> list[Any]:
    # _lazy_model, inline as _build_models is: no call per item on a long list.
    built: list[Any] = []
    for data in value:
        if type(data) is LazyObject:
            obj = _new(cls)
            lazy = _Lazy()
            lazy.document = data
            _set_data(obj, lazy)
            built.append(obj)
        else:
            built.append(data)
    return built


class _Mapping(Spec):
    __slots__ = ("item",)

    def __init__(self, item: Spec) -> None:
        super().__init__(f"dict[str, {item.name}]", item.lazy)
        self.item = item

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict | LazyObject)

    def read(self, value: Any) -> Any:
        if type(value) is not dict and type(value) is not LazyObject:
            return value
        read = self.item.read
        return {key: read(item) for key, item in value.items()}

    def walk(self, value: Any, path: str) -> tuple[str, str, Any] | None:
        if not isinstance(value, dict):
            return path, self.name, value
        for key, item in value.items():
            found = self.item.walk(item, _child(path, key))
            if found:
                return found
        return None


class _Ref(Spec):
    """A model, named: resolved on first use, so models that refer to each other load lazily."""

    __slots__ = ("_cls",)

    def __init__(self, name: str) -> None:
        super().__init__(name, lazy=True)
        self._cls: type[Model] | None = None

    @property
    def cls(self) -> type[Model]:
        """The model class."""
        if self._cls is None:
            models = importlib.import_module("discourse_async._generated.models")
            self._cls = getattr(models, self.name)
        return self._cls

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict | LazyObject)

    def read(self, value: Any) -> Any:
        if type(value) is dict:
            obj = _new(self._cls or self.cls)
            _set_data(obj, value)
            return obj
        if type(value) is LazyObject:
            return _lazy_model(self._cls or self.cls, value)
        return value

    def walk(self, value: Any, path: str) -> tuple[str, str, Any] | None:
        if not isinstance(value, dict):
            return path, self.name, value
        return self.cls._walk(value, path)


class _Union(Spec):
    __slots__ = ("options",)

    def __init__(self, options: tuple[Spec, ...]) -> None:
        super().__init__(" | ".join(o.name for o in options), any(o.lazy for o in options))
        self.options = options

    def fits(self, value: Any) -> bool:
        return any(o.walk(value, "") is None for o in self.options)

    def read(self, value: Any) -> Any:
        # The first option the value fits at its top level decides (a dict -> the first model).
        for option in self.options:
            if value is None or option.fits(value):
                return option.read(value) if value is not None else None
        return value

    def walk(self, value: Any, path: str) -> tuple[str, str, Any] | None:
        if any(o.walk(value, path) is None for o in self.options):
            return None
        # Report from inside the option the value fits at its top level, when there is one.
        for option in self.options:
            if value is not None and option.fits(value):
                return option.walk(value, path)
        return path, self.name, value


class _Nullable(Spec):
    """``inner`` or null."""

    __slots__ = ("inner", "read")

    def __init__(self, inner: Spec) -> None:
        super().__init__(f"{inner.name} | null", inner.lazy)
        self.inner = inner
        # Reading never sees None (a field returns it before reading), and every read passes
        # through what does not fit: the inner type's read is this type's read.
        self.read = inner.read  # type: ignore[method-assign] # a slot of this class, see __slots__

    def fits(self, value: Any) -> bool:
        return value is None or self.inner.fits(value)

    def walk(self, value: Any, path: str) -> tuple[str, str, Any] | None:
        return None if value is None else self.inner.walk(value, path)


STR: Spec = _Scalar("string", (str,))
INT: Spec = _Scalar("integer", (int,))
FLOAT: Spec = _Scalar("number", (int, float))
BOOL: Spec = _Scalar("boolean", (bool,))
ANY: Spec = _Any("any")
NULL: Spec = _Null("null")
DATETIME: Spec = _DateTime("date-time", lazy=True)
DATE: Spec = _Date("date", lazy=True)
FILE: Spec = _Any("file")


def nullable(spec: Spec) -> Spec:
    """``spec`` or null."""
    return _Nullable(spec)


def lst(item: Spec) -> Spec:
    """A list of ``item``."""
    return _List(item)


def mapping(item: Spec) -> Spec:
    """An object whose values are all ``item`` (keys are data, not field names)."""
    return _Mapping(item)


def ref(name: str) -> Spec:
    """The model named ``name`` (looked up in the generated models on first use)."""
    return _Ref(name)


def one_of(*options: Spec) -> Spec:
    """Any of ``options``."""
    return _Union(options)


def enum(*values: Any) -> Spec:
    """One of ``values``."""
    return _Enum(values)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


# --------------------------------------------------------------------------------------------
# Fields and models


class Field(Generic[T]):
    """One field of a model: reads ``key`` from the model's JSON object.

    Absent reads as None. A value is returned as received unless the field's type builds something
    from it: a nested model (kept for later reads) or a datetime (parsed on each read).

    The model's ``__dict__`` *is* its JSON object, so a plain field whose name is its JSON key is
    read by Python itself, as fast as a dict lookup: this non-data descriptor is only reached when
    the key is absent (or named otherwise in JSON), and answers from the object by key.
    """

    __slots__ = ("key", "name", "required", "spec")

    def __init__(self, key: str, spec: Spec, required: bool = False) -> None:
        self.key = key
        self.spec = spec
        self.required = required
        self.name = key

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        data = obj.__dict__
        if type(data) is not _Lazy:
            return data.get(self.key)
        # _lazy_get, inline: this is how every field of a large answer is read.
        value = data.document.get(self.key)
        if type(value) is LazyObject or type(value) is LazyArray:
            kept = data.get(self.key, _UNREAD)
            value = data[self.key] = _unlazy(value) if kept is _UNREAD else kept
        return value


class _BuiltField(Field[T]):
    """A field whose value is built from the JSON one.

    A data descriptor, so the JSON value of the same name in the model's ``__dict__`` does not
    hide it. (Assignments go through Model.__setattr__.)
    """

    __slots__ = ()

    def __set__(self, obj: object, value: Any) -> None:  # pragma: no cover - Model.__setattr__ comes first
        raise AttributeError(self.name)


class _LazyField(_BuiltField[T]):
    """A nested model (or a list or map of them): built on first read and kept for later reads."""

    __slots__ = ()

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            cache: dict[str, Any] | None = obj._cache  # type: ignore[attr-defined]
        except AttributeError:
            cache = None
        else:
            if self.name in cache:  # type: ignore[operator]
                return cache[self.name]  # type: ignore[index]
        data = obj.__dict__
        if type(data) is _Lazy:
            value = data.document.get(self.key)
            if value is not None:
                value = _unlazy(self.spec.read(value))
        else:
            value = data.get(self.key)
            if value is not None:
                value = self.spec.read(value)
        if value is not None:
            if cache is None:
                cache = {}
                _set_cache(obj, cache)
            cache[self.name] = value
        return value


class _DateTimeField(_BuiltField[T]):
    """A timestamp field (``date-time``, nullable or not): parsed on every read, never kept.

    A datetime is immutable and parsing one is about as cheap as keeping it, and keeping it would
    give each model a second object for the garbage collector to walk while a topic's posts are
    read (bench/run.py: a 1,000-post topic). Same result as ``DATETIME.read``.
    """

    __slots__ = ()

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        data = obj.__dict__
        if type(data) is _Lazy:
            value = data.document.get(self.key)
            if type(value) is LazyObject or type(value) is LazyArray:  # not a timestamp at all
                return _lazy_get(data, self.key)
        else:
            value = data.get(self.key)
        if type(value) is str:
            try:
                parsed = _fromisoformat(value)
            except ValueError:
                return value
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_dt.UTC)
        return value


def field(key: str, spec: Spec, required: bool = False) -> Any:
    """Declare a field of a generated model (the annotation beside it gives its type)."""
    if spec is DATETIME or (type(spec) is _Nullable and spec.inner is DATETIME):
        return _DateTimeField(key, spec, required)
    return (_LazyField if spec.lazy else Field)(key, spec, required)


class _Lazy(dict[str, Any]):
    """Stands for a model's JSON object while it is still in its lazy document (see lazy_loads).

    Fields are read from ``document``; it holds only the lists and objects already read from it
    as plain fields (decoded once, so a change made to one stays). The first use of the model's
    data as a whole (``to_dict()``, a change, ``fields_set``...) replaces it with the decoded object.
    An answer's top model's holds its :class:`_Answer` in ``answer`` (the others leave it unset).
    """

    __slots__ = ("answer", "document")

    document: LazyObject | _Reparse  # a _Reparse once the answer's document was let go
    answer: _Answer


#: Bytes of answers whose simdjson documents are kept; the documents of older answers are let go.
KEEP_LAZY_BYTES = 16 * 1024 * 1024

_Path = tuple[str | int, ...]


class _Answer:
    """One answer read lazily: its body, its simdjson document while kept, and its top model.

    A simdjson document keeps a whole parser (a copy of the body, the index, the strings): about
    four times the body, more than the decoded dicts would take. So only the documents of the
    answers parsed last are kept (``KEEP_LAZY_BYTES`` of them); an older answer's document is let
    go: the top model and the nested models built from it (found through their caches, so nothing
    is recorded per model while answers are read) each hold where their object is in the body, and
    parse the body again when next read (:class:`_Reparse`). What models already read stays
    theirs, so reads, changes and ``to_dict()`` are the same before and after. A nested model kept
    after its top model has gone keeps the document while it lives, as before.
    """

    __slots__ = ("__weakref__", "body", "document", "model", "size")

    def __init__(self, body: bytes | bytearray, document: LazyObject, model: Model) -> None:
        self.body = body
        self.size = len(body)
        self.document: LazyObject | None = document
        self.model = weakref.ref(model)
        _keep(self)

    def release(self) -> None:
        """Let the document go: the models over it parse the body again when next read."""
        self.document = None
        model = self.model()
        if model is not None:
            _let_go(model, (), self)

    def revive(self) -> LazyObject:
        """The answer's document, parsed again if it was let go."""
        document = self.document
        if document is None:
            document = lazy_document(self.body)
            if document is None:  # pragma: no cover - it parsed the first time
                raise RuntimeError("the answer no longer parses")
            self.document = document
            _keep(self)
        return document


def _let_go(value: Any, path: _Path, answer: _Answer) -> None:
    """Point the lazy models in ``value`` (at ``path`` in the answer) at the body rather than the document."""
    if isinstance(value, Model):
        data = value.__dict__
        if type(data) is _Lazy:
            document = data.document
            if type(document) is _Reparse:
                document.node = None
            else:
                data.document = _Reparse(answer, path)
        cache: dict[str, Any] | None = getattr(value, "_cache", None)
        if cache:
            fields = type(value)._fields
            for name, item in cache.items():
                _let_go(item, (*path, fields[name].key), answer)
    elif type(value) is list:
        for i, item in enumerate(value):
            _let_go(item, (*path, i), answer)
    elif type(value) is dict:
        for key, item in value.items():
            _let_go(item, (*path, key), answer)


class _Reparse:
    """Stands for a lazy object whose answer's document was let go: found again in the body when read."""

    __slots__ = ("answer", "node", "path")

    def __init__(self, answer: _Answer, path: _Path) -> None:
        self.answer = answer
        self.path = path
        self.node: LazyObject | None = None

    def _object(self) -> LazyObject:
        node: Any = self.node
        if node is None:
            node = self.answer.revive()
            for step in self.path:
                node = node[step] if type(step) is int else node.get(step)
            self.node = node
        return node  # type: ignore[no-any-return]

    def get(self, key: str, default: Any = None) -> Any:
        return self._object().get(key, default)

    def as_dict(self) -> dict[str, Any]:
        return self._object().as_dict()

    def items(self) -> Any:
        return self._object().items()

    def __len__(self) -> int:
        return len(self._object())


class _Kept:
    """The answers whose documents are kept, oldest first, and their bytes."""

    def __init__(self) -> None:
        self.answers: dict[int, weakref.ref[_Answer]] = {}
        self.size = 0

    def gone(self, key: int, ref: weakref.ref[_Answer], size: int) -> None:
        if self.answers.get(key) is ref:
            del self.answers[key]
            self.size -= size


_kept = _Kept()


def _keep(answer: _Answer) -> None:
    """Count ``answer``'s document as kept; let the oldest others go past ``KEEP_LAZY_BYTES``."""
    key, size = id(answer), answer.size
    _kept.answers[key] = weakref.ref(answer, lambda ref: _kept.gone(key, ref, size))
    _kept.size += size
    while _kept.size > KEEP_LAZY_BYTES and len(_kept.answers) > 1:  # the newest is always kept
        ref = _kept.answers.pop(next(iter(_kept.answers)), None)  # None: gone meanwhile (another thread)
        old = ref() if ref is not None else None
        if old is not None:
            _kept.size -= old.size
            old.release()


_UNREAD: Any = object()


def _lazy_get(data: _Lazy, key: str) -> Any:
    """A plain field's JSON value from a lazy document (None when absent)."""
    value = data.document.get(key)
    if type(value) is LazyObject or type(value) is LazyArray:
        # A list, or an object where the document promised none: the one decoded copy is kept,
        # so what is read is what to_dict() gives and what a change to it changes.
        kept = data.get(key, _UNREAD)
        value = data[key] = _unlazy(value) if kept is _UNREAD else kept
    return value


def _lazy_model(cls: type[M], document: LazyObject) -> M:
    obj = _new(cls)
    data = _Lazy()
    data.document = document
    _set_data(obj, data)
    return obj


def _unlazy(value: Any) -> Any:
    """A field's value as returned from a lazy document: JSON data as Python values, models kept."""
    kind = type(value)
    if kind is LazyObject:
        return value.as_dict()
    if kind is LazyArray:
        return value.as_list()
    if kind is list:
        for i, item in enumerate(value):
            if type(item) in _CONTAINERS:
                value[i] = _unlazy(item)
    elif kind is dict:
        for key, item in value.items():
            if type(item) in _CONTAINERS:
                value[key] = _unlazy(item)
    return value


_CONTAINERS = frozenset({LazyObject, LazyArray, list, dict})


def _linked(value: Any) -> Any:
    """What a model's decoded object holds for a field already read (see Model._decode)."""
    if isinstance(value, Model):
        return value._data
    if type(value) is list:
        items = [_linked(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if type(value) is dict:
        linked = {key: _linked(item) for key, item in value.items()}
        return value if all(linked[key] is item for key, item in value.items()) else linked
    return value


class _Received(dict[str, Any]):
    """Stands for an answer that is not a JSON object where a model was documented: no fields."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


def _dump(value: Any) -> Any:
    """A value as JSON data, for building a model or setting a field."""
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _dump(v) for k, v in value.items()}
    return value


def form_part(value: Any) -> Any:
    """One multipart/form-data field as httpx takes it.

    A file goes as a file; the rest as its text, booleans lowercase as Discourse reads them.
    """
    if hasattr(value, "to_tuple"):  # a File
        return value.to_tuple()
    if isinstance(value, bool):
        return (None, b"true" if value else b"false", "text/plain")
    return (None, str(value).encode(), "text/plain")


def _copy(value: Any) -> Any:
    # JSON data is dicts, lists and immutable scalars: this is a deep copy, without deepcopy's memo.
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


class Model:
    """Base of every generated model: a typed view of one JSON object, which it keeps as received.

    Build one from keyword arguments (``Post(raw="...")``; fields left out are absent) or from a
    mapping (``Post.from_dict(data)``). Read fields as attributes; ``to_dict()`` gives the JSON
    object back; ``fields_set`` tells absent from ``null``; ``additional_properties`` holds what the
    document does not describe (plugin fields, newer versions).
    """

    # __dict__ is the JSON object itself (see Field); _cache holds the nested models built from it.
    __slots__ = ("__dict__", "_cache")
    _fields: ClassVar[dict[str, Field[Any]]] = {}

    @property
    def _data(self) -> dict[str, Any]:
        data = self.__dict__
        return _decode(self, data) if type(data) is _Lazy else data

    def __reduce__(self) -> tuple[Any, ...]:
        # Copies and pickles carry the JSON object, never a lazy document.
        return _rebuild, (type(self), self.to_dict())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict(cls._fields)
        fields.update({name: f for name, f in vars(cls).items() if isinstance(f, Field)})
        cls._fields = fields

    def __init__(self, **fields: Any) -> None:
        data: dict[str, Any] = {}
        for name, value in fields.items():
            f = self._fields.get(name)
            if f is None:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
            data[f.key] = _dump(value)
        _set_data(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build the model from a JSON object (copied: the mapping given is left as it is)."""
        obj = _new(cls)
        _set_data(obj, _copy(dict(data)) if isinstance(data, Mapping) else _Received(data))
        return obj

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, exactly as received (or as built), as a new dict."""
        data = self._data
        if type(data) is _Received:
            return data.value  # type: ignore[no-any-return] # what was received, whatever it was
        return _copy(data)  # type: ignore[no-any-return]

    def to_multipart(self) -> list[tuple[str, Any]]:
        """The object as multipart/form-data fields (files as files, the rest as text), for httpx."""
        return [(key, form_part(value)) for key, value in self._data.items() if value is not None]

    @property
    def fields_set(self) -> frozenset[str]:
        """The names of the fields present in the object (present with ``null`` included)."""
        data = self._data
        return frozenset(name for name, f in self._fields.items() if f.key in data)

    @property
    def additional_properties(self) -> dict[str, Any]:
        """The keys the document does not describe for this model, with their values."""
        known = {f.key for f in self._fields.values()}
        return {k: v for k, v in self._data.items() if k not in known}

    def __setattr__(self, name: str, value: Any) -> None:
        f = self._fields.get(name)
        if f is None:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        self._data[f.key] = _dump(value)
        self._forget(name)

    def __delattr__(self, name: str) -> None:
        f = self._fields.get(name)
        if f is None:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        self._data.pop(f.key, None)
        self._forget(name)

    def _forget(self, name: str) -> None:
        with contextlib.suppress(AttributeError):  # nothing built yet
            cache: dict[str, Any] = self._cache  # type: ignore[attr-defined]
            cache.pop(name, None)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment] # mutable, like the dict it holds

    def __repr__(self) -> str:
        data = self._data
        parts = [f"{name}={_short(data[f.key])}" for name, f in self._fields.items() if f.key in data][:6]
        more = ", ..." if len(data) > len(parts) else ""
        return f"{type(self).__name__}({', '.join(parts)}{more})"

    def __rich_repr__(self) -> Iterator[tuple[str, Any]]:
        data = self._data
        for name, f in self._fields.items():
            if f.key in data:
                yield name, getattr(self, name)

    @classmethod
    def _walk(cls, data: dict[str, Any], path: str) -> tuple[str, str, Any] | None:
        for f in cls._fields.values():
            if f.key not in data:
                if f.required:
                    return _child(path, f.key), f"{f.spec.name} (required)", _ABSENT
                continue
            found = f.spec.walk(data[f.key], _child(path, f.key))
            if found:
                return found
        return None


def _decode(model: Model, lazy: _Lazy) -> dict[str, Any]:
    """Replace a model's lazy document with its decoded object (on first use of the data as a whole)."""
    # What was already read from it stays its own: the decoded object holds the values handed
    # out and the objects of the models built from its fields, so a change made through one shows
    # in to_dict() here, as it does for a model built from decoded JSON (which shares its objects).
    document = lazy.document
    data: dict[str, Any] = document.as_dict()
    if len(data) != len(document):
        # A key given twice (which RFC 8259 leaves to the reader): the fields read from the
        # document had its first value, so the decoded object keeps that one too.
        data = {}
        for key, value in document.items():
            data.setdefault(key, value)
    data.update(lazy)  # keys already in data: their places stay
    cache: dict[str, Any] | None = getattr(model, "_cache", None)
    if cache:
        fields = model._fields
        for name, value in cache.items():
            data[fields[name].key] = _linked(value)
    _set_data(model, data)
    return data


def _rebuild(cls: type[M], data: Any) -> M:
    obj = _new(cls)
    _set_data(obj, data if type(data) is dict else _Received(data))
    return obj


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_new = object.__new__
# The slots' own setters: Model.__setattr__ is for fields, and building a model is the hot path.
_set_data = Model.__dict__["__dict__"].__set__
_set_cache = Model.__dict__["_cache"].__set__


class _Method:
    """A method no JSON key can hide.

    A data descriptor is found before the instance's ``__dict__`` (which is the JSON object), so
    ``{"to_dict": 1}`` from a server leaves ``to_dict()`` working.
    """

    __slots__ = ("function",)

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        return self.function if obj is None else MethodType(self.function, obj)

    def __set__(self, obj: object, value: Any) -> None:
        raise AttributeError(self.function.__name__)


for _name in ("to_dict", "to_multipart", "_forget", "__reduce__"):
    setattr(Model, _name, _Method(Model.__dict__[_name]))
del _name
_ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "absent"})()


class ResponseShapeError(ValueError):
    """A strict-mode mismatch between an answer and the document (path, expected type, value)."""

    def __init__(self, path: str, expected: str, value: Any) -> None:
        self.path, self.expected, self.value = path, expected, value
        super().__init__(f"{path}: expected {expected}, got {_short(value)}")


def check(spec: Spec, data: Any) -> None:
    """Strict mode: raise :class:`ResponseShapeError` for the first value that does not fit ``spec``."""
    found = spec.walk(data, "$")
    if found:
        raise ResponseShapeError(*found)


def parse(spec: Spec, data: Any, strict: bool = False) -> Any:
    """An operation's result from its decoded JSON answer; never fails on shape unless ``strict``."""
    if strict:
        check(spec, data)
    if type(spec) is _Ref:
        cls = spec._cls or spec.cls
        if type(data) is LazyObject:
            return _lazy_model(cls, data)
        obj = _new(cls)
        _set_data(obj, data if type(data) is dict else _Received(data))
        return obj
    return spec.read(data)


# --------------------------------------------------------------------------------------------
# Helpers of the generated operations


def decoded(response: Any) -> Any:
    """An answer no schema describes: its JSON, or its text when it is not JSON, or None when empty."""
    content = response.content
    if not content:
        return None
    if "json" in response.headers.get("content-type", "") or content[:1] in (b"{", b"["):
        return response.json()
    return response.text


class PathParameterError(ValueError):
    """A path parameter value that would move the request to another endpoint, or is not an id or a name."""


def path_param(name: str, value: object) -> str:
    """Encode one path segment, refusing values that change which endpoint is called.

    Every reserved character is percent-encoded ("a/b" -> "a%2Fb", "?" -> "%3F", "#" -> "%23").
    "", "." and ".." cannot be encoded into something a server keeps as one segment (URL
    normalisation removes dot segments), so they are refused. Only ``int`` and ``str`` are taken:
    ``None`` would call ``/t/None.json``, ``1.5`` ``/t/1.5.json`` and ``True`` ``/t/True.json``,
    each a request for something nobody meant (``bool`` is an ``int`` subclass, so it is named).
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PathParameterError(
            f"path parameter {name!r} must be an int or a str, not {type(value).__name__}: nothing was sent"
        )
    text = str(value)
    if text in ("", ".", ".."):
        raise PathParameterError(f"path parameter {name!r} may not be {text!r}: it would change the endpoint called")
    return quote(text, safe="")


def deprecated_alias(method: Callable[P, Awaitable[R]], old: str, since: str) -> Callable[P, Awaitable[R]]:
    """An operation's old name (codegen/deprecations.yaml): warns, then forwards to the new one."""
    message = f"{old}() is deprecated since {since}: use {method.__name__}()"

    @functools.wraps(method)
    async def alias(*args: P.args, **kwargs: P.kwargs) -> R:
        # stacklevel 2 is the caller's `await` line: the line to change.
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return await method(*args, **kwargs)

    alias.__name__ = old
    alias.__qualname__ = method.__qualname__.rsplit(".", 1)[0] + "." + old
    alias.__deprecated__ = message  # type: ignore[attr-defined] # as warnings.deprecated marks (PEP 702)
    return alias


def renamed_parameters(
    renamed: dict[str, tuple[str, str]],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Accept the old keyword of each renamed parameter (old -> (new, since)): warn, then pass it as the new one."""

    def decorate(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for old, (new, since) in renamed.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{method.__name__}() got both {old}= (deprecated) and {new}=")
                message = f"{method.__name__}({old}=...) is deprecated since {since}: use {new}="
                warnings.warn(message, DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return await method(*args, **kwargs)

        return wrapper

    return decorate


class Result(Generic[T]):
    """How an operation's answer becomes its result: a model (by its spec), a file, or decoded JSON.

    Generated code annotates each one with the type it gives (``Result[Post]``), which is what makes
    an operation's return type checked rather than ``Any``: the spec and the annotation are written
    by the same template from the same property.
    """

    __slots__ = ("file", "spec")

    def __init__(self, spec: Spec | None = None, *, file: bool = False) -> None:
        self.spec = spec
        self.file = file

    def __call__(self, response: Any, strict: bool = False) -> T:
        spec = self.spec
        value: Any
        if spec is not None:
            data = None
            if type(spec) is _Ref and not strict:
                # A large answer to a model is read lazily (strict mode checks every value anyway).
                body = getattr(response, "_body", None)  # the built-in engines' RawResponse
                if body is None:
                    body = response.content
                data = lazy_loads(body)
                if data is not None:
                    value = parse(spec, data, strict)
                    lazy = value.__dict__
                    lazy.answer = _Answer(body, data, value)
                    return cast(T, value)
            value = parse(spec, response.json(), strict)
        elif self.file:
            from io import BytesIO

            from discourse_async._generated.types import File

            value = File(payload=BytesIO(response.content))
        else:
            value = decoded(response)
        # What T is, the generated annotation says (made from the same property as the spec).
        return cast(T, value)


def with_body_dict(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Accept the request body as one dict (``body={...}``), the way 0.1 took it, with a warning.

    The documented fields become the keyword arguments they now are; the rest go in ``extra_body``.
    """
    keyword: dict[str, str] = {}  # JSON key -> keyword argument, read from the signature on first use

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        body = kwargs.pop("body", None)
        if body is not None:
            warnings.warn(
                f"{method.__name__}(body={{...}}) is deprecated since 0.2.0: pass the fields as keyword arguments",
                DeprecationWarning,
                stacklevel=2,
            )
            if not keyword:
                import inspect

                for name, param in inspect.signature(method).parameters.items():
                    if param.kind is param.KEYWORD_ONLY:
                        keyword[name.rstrip("_")] = name
            given: Any = body
            data: dict[str, Any] = given.to_dict() if isinstance(given, Model) else dict(given)
            extra_given: Any = kwargs.pop("extra_body", None)
            extra: dict[str, Any] = dict(extra_given or {})
            for key, value in data.items():
                target = keyword.get(key)
                if target is None or target.startswith("extra_") or target == "self":
                    extra[key] = value
                else:
                    kwargs.setdefault(target, value)
            kwargs["extra_body"] = extra
        return await method(*args, **kwargs)

    return wrapper
