"""Fail when the committed openapi.yaml, discourse_async/_generated or docs/api.md differ from a fresh build,
or hold a placeholder text ("TODO: describe ...") that adopting a document put there.

    python -m codegen.check

The spec half needs a copy of the pinned upstream document in the folder $DISCOURSE_ASYNC_SPEC_CACHE
names (found by its sha256); without it (a user's fresh clone) that half is skipped with a note, and
the generation half still runs. Either way openapi.yaml must say it was built from the pinned sha256.
"""

from __future__ import annotations

import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

from codegen.build_spec import PLACEHOLDER, ROOT, SPEC_CACHE_ENV, build, cached_copy, load_yaml, read_pin
from codegen.generate import TARGET, GenerationError, generate_into


def diff_trees(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ, are missing or are extra between two directory trees."""
    problems: list[str] = []
    exp = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    act = {p.relative_to(actual) for p in actual.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    problems += [f"missing from the commit: {p}" for p in sorted(exp - act)]
    problems += [f"not produced by the generator: {p}" for p in sorted(act - exp)]
    problems += [f"differs: {p}" for p in sorted(exp & act) if not filecmp.cmp(expected / p, actual / p, shallow=False)]
    return problems


def placeholders(files: list[Path]) -> list[str]:
    """Files of the committed tree that still hold a placeholder text, with how many."""
    counts = {p: p.read_text(encoding="utf-8").count(PLACEHOLDER) for p in files if p.is_file()}
    return [f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}: {n}" for p, n in counts.items() if n]


def main() -> int:
    failed = False
    # Adopting a document writes placeholders so that it builds; a release needs our words instead.
    unwritten = placeholders([ROOT / "openapi.yaml", *sorted(TARGET.rglob("*.py"))])
    if unwritten:
        print(f"placeholders ({PLACEHOLDER} ...) in the committed tree: write codegen/summaries.yaml and")
        print("codegen/parameters.yaml entries for them (`make spec` and `make generate` list them):")
        print("\n".join(f"  {line}" for line in unwritten))
        failed = True
    pin = read_pin()
    built_from = (load_yaml(ROOT / "openapi.yaml").get("info") or {}).get("x-upstream", {}).get("sha256")
    if built_from != pin["sha256"]:
        print(f"openapi.yaml was built from sha256 {built_from}, the pin is {pin['sha256']}: run `make spec`")
        failed = True
    if cached_copy(pin["sha256"]) is not None:
        fresh = build().text
        if fresh != (ROOT / "openapi.yaml").read_text(encoding="utf-8"):
            print("openapi.yaml differs from `make spec` output: run `make spec` and commit the result")
            failed = True
        else:
            print("openapi.yaml: identical to a fresh spec build")
    else:
        print(
            f"openapi.yaml: not rebuilt (no copy of the pinned document in ${SPEC_CACHE_ENV}; "
            "the generated-code check still runs)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "_generated"
        try:
            count = generate_into(out)
        except GenerationError as exc:
            print(f"generation failed: {exc}")
            return 1
        problems = diff_trees(out, TARGET)
    if problems:
        print("discourse_async/_generated differs from `make generate` output:")
        print("\n".join(f"  {p}" for p in problems))
        failed = True
    else:
        print(f"discourse_async/_generated: identical to a fresh generation ({count} operations, 0 warnings)")
        # The committed package is the fresh one: docs/api.md must be what it gives.
        failed |= (
            subprocess.run([sys.executable, "-m", "codegen.api_docs", "--check"], cwd=ROOT, check=False).returncode != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
