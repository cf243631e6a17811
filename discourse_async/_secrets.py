"""Credentials that cannot leak through repr(), str(), f-strings or logging."""

from __future__ import annotations

import hmac


class Secret:
    """A credential value. Its text shows as ``'****'``; ``reveal()`` returns the real value.

    Keeping keys in this type means a ``print(client.__dict__)``, a traceback's locals or a log line
    never shows them.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str) or not value:
            raise TypeError("a credential must be a non-empty str")
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        # Constant-time, so comparing credentials does not leak their content through timing.
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values are not picklable")
