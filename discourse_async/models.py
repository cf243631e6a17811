"""Every model of the Discourse API, by its name: ``from discourse_async.models import Post, Topic``.

Models are typed views of the JSON Discourse sends, kept as received:

- fields read as attributes; a field that was absent reads as ``None`` (``fields_set`` tells absent
  from ``null``); timestamps read as timezone-aware ``datetime``;
- a value that does not fit its documented type is returned as it came, so an answer from a site
  running plugins or another version never fails to parse (``Discourse(..., strict=True)`` reports
  such values instead);
- ``to_dict()`` gives back exactly what was received; ``additional_properties`` holds the fields
  the document does not describe (plugin fields).

Each model is imported on first use, so this module costs nothing until a name is touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated import models as _models
from discourse_async._runtime import Model

if TYPE_CHECKING:
    from discourse_async._generated.models import *  # noqa: F403

__all__ = ["Model", *_models.__all__]  # noqa: PLE0604 - the generated list, read at import


def __getattr__(name: str) -> Any:
    return getattr(_models, name)


def __dir__() -> list[str]:
    return sorted(__all__)
