"""One message for every optional extra imported without being installed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class MissingExtraError(ModuleNotFoundError):
    """A module of an optional extra is not installed; the message names the extra to install.

    A ``ModuleNotFoundError`` (so an ``ImportError``): code that already catches those still does.
    """

    def __init__(self, feature: str, extra: str, missing: str | None) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra ({missing or 'a module'} is not installed): "
            f"pip install 'discourse-async[{extra}]'",
            name=missing,
        )
        self.extra = extra


@contextlib.contextmanager
def requires_extra(extra: str, feature: str) -> Iterator[None]:
    """Around the imports of an extra: a missing module becomes a :class:`MissingExtraError`.

    ``with requires_extra("testing", "discourse_async.testing"): import starlette``
    """
    try:
        yield
    except MissingExtraError:
        raise
    except ModuleNotFoundError as exc:
        # Only a module outside the package is an extra's; a missing module of our own is a real bug.
        if (exc.name or "").partition(".")[0] == "discourse_async":
            raise
        raise MissingExtraError(feature, extra, exc.name) from exc
