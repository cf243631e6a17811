"""Walk a parsed answer against its spec and report every misfit (strict mode stops at the first),
and which documented fields each model object carried: the evidence for "always sent"."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from discourse_async import _runtime as rt


@dataclass
class Audit:
    """Every misfit found (path, expected, value), and per (model, field) how many objects had it."""

    misfits: list[tuple[str, str, Any]] = field(default_factory=list)
    present: Counter[tuple[str, str]] = field(default_factory=Counter)
    absent: Counter[tuple[str, str]] = field(default_factory=Counter)
    absent_at: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def walk(self, spec: rt.Spec, value: Any, path: str = "$") -> None:
        """Record the misfits of ``value`` and the fields of every model object in it."""
        kind = type(spec)
        if kind is rt._Ref:
            if not isinstance(value, dict):
                self.misfits.append((path, spec.name, value))
                return
            self.model(spec.cls, value, path)
        elif kind is rt._Nullable:
            if value is not None:
                self.walk(spec.inner, value, path)  # type: ignore[attr-defined]
        elif kind is rt._List:
            if not isinstance(value, list):
                self.misfits.append((path, spec.name, value))
                return
            for i, item in enumerate(value):
                self.walk(spec.item, item, f"{path}[{i}]")  # type: ignore[attr-defined]
        elif kind is rt._Mapping:
            if not isinstance(value, dict):
                self.misfits.append((path, spec.name, value))
                return
            for key, item in value.items():
                self.walk(spec.item, item, f"{path}.{key}")  # type: ignore[attr-defined]
        elif kind is rt._Union:
            options = spec.options  # type: ignore[attr-defined]
            if any(o.walk(value, path) is None for o in options):
                fitting = next(o for o in options if o.walk(value, path) is None)
                self.walk(fitting, value, path)  # still count the fields of the models inside
                return
            chosen = next((o for o in options if value is not None and o.fits(value)), None)
            if chosen is None:
                self.misfits.append((path, spec.name, value))
            else:
                self.walk(chosen, value, path)
        else:
            found = spec.walk(value, path)
            if found:
                self.misfits.append(found)

    def model(self, cls: type[rt.Model], data: dict[str, Any], path: str) -> None:
        for f in cls._fields.values():
            where = (cls.__name__, f.key)
            if f.key not in data:
                self.absent[where] += 1
                self.absent_at.setdefault(where, []).append(path)
                if f.required:
                    self.misfits.append((f"{path}.{f.key}", f"{f.spec.name} (required)", rt._ABSENT))
                continue
            self.present[where] += 1
            self.walk(f.spec, data[f.key], f"{path}.{f.key}")
