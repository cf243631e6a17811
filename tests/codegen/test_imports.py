"""codegen/imports.py: a generated module imports exactly the names its code reads."""

from __future__ import annotations

import pytest

from codegen.imports import MARKER, UnknownNameError, import_block

TABLE = {"Post": "..models.post", "PostParam": "..params"}


def test_runtime_and_annotation_names_are_split() -> None:
    source = f"""from __future__ import annotations
{MARKER}
_GET: Result[Post] = Result(ref("Post"))

class Posts(Namespace):
    def get(self, post: Post | PostParam, when: datetime.datetime) -> Any:
        from discourse_async.pagination import page_numbers
        return page_numbers
"""
    block = import_block(source, TABLE, 3, "api/posts/__init__.py")
    # The params, typing and the generated types cost nothing to import: imported for real, so that
    # readers of annotations at run time (the command line) find them; models wait for TYPE_CHECKING.
    assert block.splitlines() == [
        "from ...params import PostParam",
        "from discourse_async._resource import Namespace",
        "from discourse_async._runtime import Result, ref",
        "from typing import Any, TYPE_CHECKING",
        "",
        "if TYPE_CHECKING:",
        "    import datetime",
        "    from ...models.post import Post",
    ]


def test_nothing_unused_and_nothing_unknown() -> None:
    assert import_block("x = 1\nprint(x)\n", TABLE, 2, "models/x.py") == ""
    with pytest.raises(UnknownNameError, match=r"models/x\.py uses names nothing defines: Pots"):
        import_block("def f(p: Pots) -> None: ...\n", TABLE, 2, "models/x.py")


def test_the_generated_package_imports_nothing_unused_or_undefined() -> None:
    """pyflakes' checks (ruff's F rules, not ours) find no unused, undefined or shadowed name."""
    import subprocess
    from pathlib import Path

    from ruff.__main__ import find_ruff_bin

    package = Path(__file__).resolve().parents[2] / "discourse_async" / "_generated"
    proc = subprocess.run(
        [find_ruff_bin(), "check", "--isolated", "--no-cache", "--select", "F", str(package)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
