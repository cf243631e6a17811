"""The TypedDicts of nested request-body objects, for code that builds them before the call.

``dc.posts.update_post(id=7, post={"raw": ..., "edit_reason": ...})`` needs no import (a dict literal
is checked against ``UpdatePostBodyPostParam`` where it is written); a dict built elsewhere is
annotated with the TypedDict: ``post: UpdatePostBodyPostParam = {"raw": ...}``. Each ``<Model>Param``
has the keys of the model ``<Model>`` (``discourse_async.models``), ``Required`` as the document says.
"""

from discourse_async._generated import params as _params
from discourse_async._generated.params import *  # noqa: F403

__all__ = [*_params.__all__]  # noqa: PLE0604 - the generated list
