"""Every annotation in the generated package names something that exists, and nested request bodies
accept their TypedDicts.

Each generated module's ``TYPE_CHECKING`` imports are run for real, then ``typing.get_type_hints``
resolves every annotation of every namespace method and model class: a name that is not imported
raises ``NameError`` here (mypy would have read it as ``Any``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from discourse_async._generated import params
from discourse_async._runtime import Model

PACKAGE = Path(importlib.import_module("discourse_async._generated").__file__ or "").parent
MODULES = sorted(
    "discourse_async._generated." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py")
)


def type_checking_names(module: types.ModuleType) -> dict[str, Any]:
    """What the module's ``if TYPE_CHECKING:`` imports bind, imported for real."""
    tree = ast.parse(inspect.getsource(module))
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            code = compile(ast.Module(body=node.body, type_ignores=[]), module.__name__, "exec")
            scope: dict[str, Any] = {"__name__": module.__name__, "__package__": module.__package__}
            exec(code, scope)
            found.update({k: v for k, v in scope.items() if not k.startswith("__")})
    return found


def annotated(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    """Every class and function the module defines, and the methods of its classes."""
    for name, value in list(vars(module).items()):
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            yield name, value
            for attr, member in list(vars(value).items()):
                if inspect.isfunction(member):
                    yield f"{name}.{attr}", member
        elif inspect.isfunction(value):
            yield name, value


def hints(module: types.ModuleType, obj: Any) -> dict[str, Any]:
    localns = type_checking_names(module)
    # A class's bases (Model) resolve in their own modules: no globalns for classes.
    globalns = None if inspect.isclass(obj) else vars(module)
    return typing.get_type_hints(inspect.unwrap(obj), globalns=globalns, localns=localns, include_extras=True)


@pytest.mark.parametrize("name", MODULES)
def test_every_annotation_resolves(name: str) -> None:
    module = importlib.import_module(name)
    for qualname, obj in annotated(module):
        try:
            hints(module, obj)
        except NameError as exc:  # pragma: no cover - the failure this test exists for
            pytest.fail(f"{name}.{qualname}: {exc}")


def test_modules_were_found() -> None:
    assert len(MODULES) > 200
    assert "discourse_async._generated.api.posts" in MODULES
    assert "discourse_async._generated.params" in MODULES


def _members(tp: Any) -> Iterator[Any]:
    """The classes an annotation accepts, through unions and Sequence/list."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType, list, Sequence):
        for arg in typing.get_args(tp):
            yield from _members(arg)
    else:
        yield tp


def body_parameters() -> Iterator[tuple[str, str, set[Any]]]:
    """(operation, keyword, the classes it accepts) for every namespace method parameter."""
    for name in MODULES:
        if ".api." not in name:
            continue
        module = importlib.import_module(name)
        for qualname, obj in annotated(module):
            if "." not in qualname or qualname.endswith("WithRawResponse.__init__"):
                continue
            for keyword, tp in hints(module, obj).items():
                if keyword != "return":
                    yield qualname, keyword, set(_members(tp))


def test_every_nested_body_object_accepts_its_typeddict() -> None:
    by_model = {getattr(params, n).__name__.removesuffix("Param"): getattr(params, n) for n in params.__all__}
    used: set[str] = set()
    checked = 0
    for qualname, keyword, accepted in body_parameters():
        for cls in accepted:
            if isinstance(cls, type) and issubclass(cls, Model) and cls.__name__ in by_model:
                assert by_model[cls.__name__] in accepted, f"{qualname}({keyword}=) takes {cls.__name__} only"
                used.add(cls.__name__)
                checked += 1
    # update_post(post=), create/update_group(group=), create/update_category(permissions=,
    # category_localizations=), update_topic(topic=), the upload metadata, complete_multipart(parts=), ...
    assert checked >= 10
    assert used == set(by_model), f"TypedDicts no operation takes: {set(by_model) - used}"


def test_typeddicts_follow_the_document() -> None:
    post = hints(params, params.UpdatePostBodyPostParam)
    assert post["raw"] == typing.Required[str]
    assert post["edit_reason"] is str
    group = hints(params, params.GroupInputGroupParam)
    assert typing.get_args(group["visibility_level"]) == (0, 1, 2, 3, 4)


def test_public_types_module() -> None:
    from discourse_async import types as public

    assert public.__all__ == params.__all__
    assert public.UpdatePostBodyPostParam is params.UpdatePostBodyPostParam
