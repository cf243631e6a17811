"""Discourse's published history, replayed: every earlier document previews or is refused in one line,
and a sample of them is adopted and generated in a temporary copy of the repository, as a maintainer would.

The documents are the ``history/`` folder of ``$DISCOURSE_ASYNC_SPEC_CACHE`` (CI sets it; without it these
tests skip). Previews run two at a time in worker processes that build the pinned document once; adoption
runs the same commands as ``make spec SPEC=...`` and ``make generate``, each sample in its own copy and two
at a time. ``DISCOURSE_ASYNC_REPLAY=all`` adopts every document instead of the sample.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from codegen import build_spec, check, preview
from codegen.build_spec import SPEC_CACHE_ENV, UNREADABLE

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ[SPEC_CACHE_ENV]) if os.environ.get(SPEC_CACHE_ENV) else None
HISTORY = sorted((CACHE / "history").glob("*.json")) if CACHE and (CACHE / "history").is_dir() else []
WORKERS = max(1, min(2, os.cpu_count() or 1))
# What a copy of the repository needs to build, generate and import (not the tests, the docs' text, .git).
COPIED = ("codegen", "discourse_async", "docs", "openapi.yaml", "CHANGES-API.md", "pyproject.toml")

pytestmark = pytest.mark.skipif(not HISTORY, reason=f"no history/ of upstream documents in ${SPEC_CACHE_ENV}")


def _operation_ids(path: Path) -> list[str] | None:
    """The operationIds of a document read as plain JSON (None: some operation has none)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    ops = [op for item in doc["paths"].values() for m, op in item.items() if m in build_spec.HTTP_METHODS]
    ids = [op.get("operationId") for op in ops if isinstance(op, dict)]
    return None if len(ids) != len(ops) or not all(ids) else ids


ADOPTABLE = [p for p in HISTORY if _operation_ids(p) is not None]


# --------------------------------------------------------------------------------------------
# Preview every document


def _worker_start() -> None:
    """Build each document once per worker: the pin is the base of every preview (the build is pure)."""
    built: dict[str, build_spec.BuildResult] = {}
    build_from = build_spec.build_from

    def cached(raw: bytes, origin: dict[str, str]) -> build_spec.BuildResult:
        key = build_spec.sha256(raw)
        if key not in built:
            built[key] = build_from(raw, origin)
        return built[key]

    preview.build_from = cached  # type: ignore[assignment]


def _preview(document: str) -> tuple[int, str, str]:
    """``python -m codegen.preview DOCUMENT`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = preview.main([document])
    except BaseException:  # the test reports whatever escaped main
        return -1, out.getvalue(), traceback.format_exc()
    return code, out.getvalue(), err.getvalue()


def test_every_document_previews_or_is_refused_in_one_line() -> None:
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or loops of pytest's
    with concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context, initializer=_worker_start) as pool:
        results = dict(zip(HISTORY, pool.map(_preview, [str(p) for p in HISTORY]), strict=True))
    problems: list[str] = []
    for path, (code, out, err) in results.items():
        if code == UNREADABLE:
            lines = err.strip().splitlines()
            if len(lines) != 1 or path in ADOPTABLE:
                problems.append(f"{path.name}: refused as {err!r}")
            elif "operationId" not in lines[0]:
                problems.append(f"{path.name}: refused for another reason than its missing operationIds: {lines[0]}")
        elif code not in (0, 1, 2) or "Traceback" in out + err or not out.startswith("Compared "):
            problems.append(f"{path.name}: exit {code}\n{err[-2000:]}")
    assert not problems, "\n".join(problems)
    assert ADOPTABLE, "no document of the history has operationIds"


# --------------------------------------------------------------------------------------------
# Adopt and generate a sample, each in a copy of the repository


def _sample() -> list[Path]:
    """The oldest and newest documents that can be adopted and one between (all with DISCOURSE_ASYNC_REPLAY=all)."""
    if os.environ.get("DISCOURSE_ASYNC_REPLAY") == "all" or len(ADOPTABLE) <= 3:
        return ADOPTABLE
    return [ADOPTABLE[0], ADOPTABLE[len(ADOPTABLE) // 2], ADOPTABLE[-1]]


_IMPORT_CHECK = """
import json, sys
import discourse_async
from discourse_async import Discourse
from discourse_async._generated.api import METHOD_NAMES, OPERATIONS
from openapi_python_client.strings import snake_case

dc = Discourse("http://forum.test", api_key="k", api_username="system")
ids = json.loads(sys.argv[1])
methods = {}
for op_id in ids:
    namespace = OPERATIONS[snake_case(op_id)][0]
    method = getattr(getattr(dc, namespace), METHOD_NAMES[snake_case(op_id)], None)
    methods[op_id] = f"{namespace}.{method.__name__}" if callable(method) else None
print(json.dumps({"package": discourse_async.__file__, "operations": len(OPERATIONS), "methods": methods}))
"""


def _copy_repository(into: Path) -> Path:
    repo = into / "repo"
    repo.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=ignore)
        else:
            shutil.copy2(source, repo / name)
    return repo


def _adopt(document: Path, into: Path, restore: bool = False) -> dict[str, Any]:
    """Adopt ``document`` in a fresh copy, generate, and import the result; what each step said.

    With ``restore``, the pinned document is adopted back afterwards (as `make spec SPEC=<pin> URL=<its url>`).
    """
    repo = _copy_repository(into)
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}

    def step(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, check=False)

    outcome: dict[str, Any] = {"repo": repo, "document": document}
    for name, args in (("spec", ("-m", "codegen.build_spec", str(document))), ("generate", ("-m", "codegen.generate"))):
        done = step(*args)
        outcome[name] = done
        if done.returncode != 0:
            return outcome
    outcome["import"] = step("-c", _IMPORT_CHECK, json.dumps(_operation_ids(document)))
    pin = build_spec.read_pin()
    pinned = build_spec.cached_copy(pin["sha256"])
    if restore and pinned is not None:
        outcome["restore"] = step("-m", "codegen.build_spec", str(pinned), "--url", pin["url"])
    return outcome


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The sample, adopted two at a time; the first one is then restored to the pin."""
    sample = _sample()
    tmp = tmp_path_factory.mktemp("replay")
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:  # each works in subprocesses
        return list(pool.map(lambda p: _adopt(p, tmp / p.stem, restore=p == sample[0]), sample))


def test_a_sample_adopts_generates_and_has_one_method_per_operation(adopted: list[dict[str, Any]]) -> None:
    problems = [f"{outcome['document'].name}: {problem}" for outcome in adopted if (problem := _problem(outcome))]
    assert not problems, "\n\n".join(problems)


def _problem(outcome: dict[str, Any]) -> str | None:
    """What went wrong in one adoption (None: nothing)."""
    for name in ("spec", "generate"):
        done = outcome[name]
        if done.returncode != 0 or "Traceback" in done.stderr:
            return f"{name}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    if "pinned " not in outcome["spec"].stdout or "CHANGES-API.md: operations:" not in outcome["spec"].stdout:
        return f"no adoption report:\n{outcome['spec'].stdout}"
    done = outcome["import"]
    if done.returncode != 0:
        return f"import failed\n{done.stderr}"
    result = json.loads(done.stdout)
    ids = _operation_ids(outcome["document"]) or []
    methods = result["methods"]
    if not Path(result["package"]).is_relative_to(outcome["repo"]):
        return f"imported {result['package']}, not the copy's package"
    if result["operations"] != len(ids) or None in methods.values() or len(set(methods.values())) != len(ids):
        return f"{result['operations']} operations for {len(ids)} operationIds; methods: {methods}"
    return None


def test_restoring_the_pin_gives_back_the_committed_document(adopted: list[dict[str, Any]]) -> None:
    outcome = adopted[0]
    if "restore" not in outcome:
        pytest.skip(f"no copy of the pinned document in ${SPEC_CACHE_ENV}")
    assert outcome["restore"].returncode == 0, outcome["restore"].stderr
    repo = outcome["repo"]
    for name in ("openapi.yaml", "codegen/pin.yaml"):
        assert (repo / name).read_bytes() == (ROOT / name).read_bytes(), name


def test_placeholders_of_an_adoption_are_listed_and_refused_by_the_check(adopted: list[dict[str, Any]]) -> None:
    """Adoption builds with placeholders, listed by both steps; the generated-code check refuses them."""
    marker = "parameters need a description"
    outcome = next((o for o in adopted if marker in o["spec"].stdout and "generate" in o), None)
    if outcome is None:
        pytest.skip("no document of the sample brings a parameter without a description")
    listed = outcome["spec"].stdout.split(marker, 1)[1].splitlines()[1:]
    names = [line.strip() for line in listed if line.startswith("    ")]
    assert names and all(name in outcome["generate"].stdout for name in names), outcome["generate"].stdout
    repo = outcome["repo"]
    package = repo / "discourse_async" / "_generated"
    unwritten = check.placeholders([repo / "openapi.yaml", *sorted(package.rglob("*.py"))])
    assert unwritten and all(line.startswith(str(package)) or "openapi.yaml" in line for line in unwritten)
