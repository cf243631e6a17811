"""Build our ``openapi.yaml`` from the document Discourse publishes.

    python -m codegen.build_spec                 # the pinned document (codegen/pin.yaml)
    python -m codegen.build_spec path/or/URL     # adopt another upstream document (see below)
    python -m codegen.build_spec FILE --url URL  # the same, recording where FILE was downloaded from
    python -m codegen.build_spec --output FILE   # write somewhere else (then nothing is adopted)

Without network, the pinned document is read from the folder ``$DISCOURSE_ASYNC_SPEC_CACHE`` names,
where a copy is found by its sha256 (any file name). A document the build cannot read is a one-line
error and exit status 3.

Given a document other than the pin, the build adopts it: codegen/pin.yaml records it (source,
commit, URL or file name, sha256), CHANGES-API.md gets the preview report (old pin -> new document) as a
dated section, and codegen/deprecations.yaml gets the aliases that keep renamed names working.

Four steps, always in this order so the output is a pure function of the input:

1. apply ``codegen/corrections.yaml`` (an OpenAPI Overlay 1.0 document): the facts that make the
   published document true to what real Discourse sites send and accept;
2. drop every piece of upstream prose (descriptions, summaries, titles, examples) and put in our own
   one-line summaries from ``codegen/summaries.yaml``;
3. give the shapes of answers names (``codegen/models.yaml``, see ``codegen/models.py``): shared
   models in ``components/schemas``, the fields always sent, timestamps;
4. dump YAML with a fixed layout, so the same input gives byte-identical output.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
import os
import re
import sys
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonpath
import yaml

from codegen import schemas
from codegen.schemas import complete_arrays, normalize, walk

ROOT = Path(__file__).resolve().parent.parent
CODEGEN = ROOT / "codegen"
PIN_FILE = CODEGEN / "pin.yaml"
CORRECTIONS_FILE = CODEGEN / "corrections.yaml"
SUMMARIES_FILE = CODEGEN / "summaries.yaml"
DEPRECATIONS_FILE = CODEGEN / "deprecations.yaml"
CHANGES_FILE = ROOT / "CHANGES-API.md"
OUTPUT_FILE = ROOT / "openapi.yaml"
# Pin keys that describe the document itself (not where this checkout keeps a copy): openapi.yaml records them.
ORIGIN_KEYS = ("source", "file", "commit", "url", "sha256")
#: Names a folder of upstream documents; the pinned one is found there by its sha256, so builds need no network.
SPEC_CACHE_ENV = "DISCOURSE_ASYNC_SPEC_CACHE"
#: The exit status of a build or preview whose document cannot be read.
UNREADABLE = 3

HTTP_METHODS = schemas.HTTP_METHODS
# Schema keywords whose values are prose or sample data written by upstream authors.
PROSE_KEYS = ("description", "title", "summary", "example", "examples", "$comment", "x-logo")

RESPONSE_WORDS = {
    "200": "The request succeeded.",
    "201": "The resource was created.",
    "204": "The request succeeded with no body.",
    "301": "A permanent redirect to the resource's canonical URL.",
    "302": "A temporary redirect.",
}


class SpecError(Exception):
    """The upstream document could not be fetched, verified or corrected."""


# --------------------------------------------------------------------------------------------
# Loading


def load_yaml(path: Path) -> Any:
    # libyaml's loader when present: the same data, and openapi.yaml loads in a fifth of the time.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 (a safe loader)


def read_pin() -> dict[str, str]:
    pin: dict[str, str] = load_yaml(PIN_FILE)
    return pin


def pin_origin(pin: dict[str, str]) -> dict[str, str]:
    """What openapi.yaml records about its upstream document: the pin's origin keys."""
    return {k: pin[k] for k in ORIGIN_KEYS if pin.get(k)}


def pin_label(pin: dict[str, str]) -> str:
    """A short human name for a pinned document, for reports and the changelog."""
    if pin.get("source") and pin.get("commit"):
        return f"{pin['source']}@{pin['commit'][:12]} ({pin.get('file', '')})"
    name = pin.get("url") or pin.get("file") or "?"
    return f"{name} (sha256 {pin['sha256'][:12]})"


def fetch_bytes(source: str) -> bytes:
    """Read a local path or download an http(s) URL."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=60) as resp:
            data: bytes = resp.read()
            return data
    return Path(source).read_bytes()


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def cached_copy(digest: str) -> Path | None:
    """The file in ``$DISCOURSE_ASYNC_SPEC_CACHE`` whose sha256 is ``digest`` (None without one)."""
    value = os.environ.get(SPEC_CACHE_ENV)
    folder = Path(value) if value else None
    if folder is None or not folder.is_dir():
        return None
    # Its subfolders too: a maintainer keeps earlier documents there (history/), and may have adopted one.
    return next((p for p in sorted(folder.rglob("*")) if p.is_file() and sha256(p.read_bytes()) == digest), None)


def read_source(source: str | None, url: str | None = None) -> tuple[bytes, dict[str, str]]:
    """Return the upstream bytes and the pin that describes them.

    Without ``source`` the pin is used: its copy in the cache folder when there is one, otherwise the pinned URL.
    Either way the bytes must match the pinned sha256, so a tampered or truncated download fails.
    A ``source`` with the pin's bytes is the pin; any other gets a new pin (see ``pin_for``, also for ``url``).
    """
    pin = read_pin()
    if source is not None:
        raw = fetch_bytes(source)
        return raw, pin if sha256(raw) == pin["sha256"] else pin_for(source, raw, url)
    local = cached_copy(pin["sha256"])
    if local is not None:
        raw, where = local.read_bytes(), str(local)
    elif pin.get("url"):
        raw, where = fetch_bytes(pin["url"]), pin["url"]
    else:
        raise SpecError(
            f"no copy of the pinned document in ${SPEC_CACHE_ENV} and the pin has no url to download it from"
        )
    if sha256(raw) != pin["sha256"]:
        raise SpecError(f"sha256 of {where} is {sha256(raw)}, the pin says {pin['sha256']}")
    return raw, pin


# raw.githubusercontent.com/<owner>/<repo>/<ref>/<path>: the one URL shape whose repository and commit we can read.
_GITHUB_RAW = re.compile(r"https://raw\.githubusercontent\.com/(?P<repo>[^/]+/[^/]+)/(?P<ref>[^/]+)/(?P<file>.+)")


def pin_for(source: str, raw: bytes, url: str | None = None) -> dict[str, str]:
    """The pin of a newly adopted document: where it came from, its commit when known, and its sha256.

    ``url`` is where a local ``source`` was downloaded from (recorded, so the pin keeps its provenance
    and a checkout without the file can still build). A local file is recorded by name only: builds find
    it again by its sha256 in ``$DISCOURSE_ASYNC_SPEC_CACHE``.
    """
    pin: dict[str, str] = {}
    if source.startswith(("http://", "https://")):
        url = source
    else:
        pin["file"] = Path(source).name
    if url:
        match = _GITHUB_RAW.fullmatch(url)
        if match:
            pin["source"], pin["file"] = match["repo"], match["file"]
            if re.fullmatch(r"[0-9a-f]{40}", match["ref"]):
                pin["commit"] = match["ref"]
        pin["url"] = url
    pin["sha256"] = sha256(raw)
    return pin


def parse_document(raw: bytes) -> dict[str, Any]:
    """The upstream document, or a SpecError saying in one line why it cannot be used."""
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise SpecError(f"the upstream document is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"the upstream document is not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"the upstream document is neither JSON nor YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise SpecError("the upstream document has no 'paths' object")
    _check_structure(doc)
    operations = [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        if isinstance(item, dict)
        for method, op in item.items()
        if method in HTTP_METHODS
    ]
    unnamed = [
        f"{method} {path}"
        for method, path, op in operations
        if not (isinstance(op, dict) and isinstance(op.get("operationId"), str) and op["operationId"])
    ]
    if unnamed:
        raise SpecError(
            f"{len(unnamed)} of {len(operations)} operations have no operationId (first: {unnamed[0]}); "
            "the client's method names come from them"
        )
    seen: dict[str, str] = {}
    for method, path, op in operations:
        first = seen.setdefault(op["operationId"], f"{method} {path}")
        if first != f"{method} {path}":
            raise SpecError(f"operationId {op['operationId']!r} names two operations ({first} and {method} {path})")
    _check_references(doc)
    normalize(doc)
    return doc


def _check_references(doc: dict[str, Any]) -> None:
    """Refuse a ``$ref`` that points outside the document or nowhere in it: nothing could be built from it."""
    resolver = schemas.Resolver(doc)
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                if not isinstance(ref, str):
                    raise SpecError(f"a $ref is not a string but {json.dumps(ref)[:60]}")
                try:
                    resolver.pointer(ref)
                except KeyError as exc:
                    raise SpecError(f"a $ref cannot be followed: {exc.args[0]}") from None
            stack.extend(node.values())


def _check_structure(doc: dict[str, Any]) -> None:
    """Refuse, in one line, a document whose operations the build could not read (not a schema problem:
    schemas of any shape are read by codegen.schemas)."""
    for path, item in doc["paths"].items():
        if not isinstance(item, dict):
            raise SpecError(f"paths[{path!r}] is not an object")
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            if method == "parameters" or (method in HTTP_METHODS and isinstance(op, dict)):
                params = op if method == "parameters" else op.get("parameters", [])
                if not isinstance(params, list) or not all(
                    isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("in"), str)
                    for p in params
                ):
                    raise SpecError(f"{where}: parameters must be a list of objects with a name and an 'in'")
            if method in HTTP_METHODS and isinstance(op, dict):
                for key in ("requestBody", "responses"):
                    if not isinstance(op.get(key, {}), dict):
                        raise SpecError(f"{where}: {key} is not an object")
                if not all(isinstance(r, dict) for r in op.get("responses", {}).values()):
                    raise SpecError(f"{where}: a response is not an object")


def write_pin(pin: dict[str, str]) -> None:
    """Write codegen/pin.yaml in its fixed layout (the keys in order, with the comments people read)."""

    def line(key: str) -> str:
        return yaml.safe_dump({key: pin[key]}, width=1000) if pin.get(key) else ""

    text = "# The upstream document our openapi.yaml is built from. `make spec SPEC=...` rewrites this file.\n"
    text += "".join(line(k) for k in ORIGIN_KEYS)
    PIN_FILE.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Corrections (OpenAPI Overlay 1.0)


@dataclass
class ActionResult:
    """What one overlay action did to the document."""

    index: int
    target: str
    description: str
    matched: int = 0
    changed: int = 0


@dataclass
class OverlayReport:
    """Per-action results, so a new upstream document shows which corrections went stale."""

    results: list[ActionResult] = field(default_factory=list)

    @property
    def unmatched(self) -> list[ActionResult]:
        return [r for r in self.results if r.matched == 0]

    @property
    def unchanged(self) -> list[ActionResult]:
        return [r for r in self.results if r.matched and not r.changed]


def deep_merge(target: dict[str, Any], update: dict[str, Any]) -> bool:
    """Merge ``update`` into ``target`` as Overlay 1.0 describes; return whether anything changed.

    Objects merge key by key, recursively; any other value replaces what was there.
    """
    changed = False
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            changed |= deep_merge(target[key], value)
        elif key not in target or target[key] != value:
            target[key] = copy.deepcopy(value)
            changed = True
    return changed


def _remove(parent: object, key: object) -> bool:
    """Delete ``parent[key]`` if it is there; return whether it was."""
    if isinstance(parent, dict) and key in parent:
        del parent[key]
        return True
    if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
        del parent[key]
        return True
    return False


def apply_overlay(doc: dict[str, Any], overlay: dict[str, Any]) -> OverlayReport:
    """Apply every action of an overlay document to ``doc`` in place."""
    if str(overlay.get("overlay", "")).split(".")[0] != "1":
        raise SpecError("corrections must be an OpenAPI Overlay 1.x document")
    report = OverlayReport()
    for index, action in enumerate(overlay.get("actions", [])):
        target = action["target"]
        result = ActionResult(index, target, action.get("description", ""))
        report.results.append(result)
        matches = list(jsonpath.finditer(target, doc))
        result.matched = len(matches)
        if action.get("remove"):
            # Remove from the deepest/last position first so list indexes stay valid.
            for match in sorted(matches, key=lambda m: m.parts, reverse=True):
                parent = match.parent.obj if match.parent is not None else None
                result.changed += _remove(parent, match.parts[-1])
            continue
        update = action.get("update")
        for match in matches:
            node = match.obj
            if isinstance(node, dict) and isinstance(update, dict):
                result.changed += deep_merge(node, update)
            elif isinstance(node, list):
                additions = update if isinstance(update, list) else [update]
                for item in additions:
                    if item not in node:
                        node.append(copy.deepcopy(item))
                        result.changed += 1
            else:
                raise SpecError(f"action {index} ({target}) cannot update a {type(node).__name__}")
    return report


# --------------------------------------------------------------------------------------------
# Prose


def strip_schema(schema: Any) -> None:
    """Remove upstream prose from a schema and all of its sub-schemas."""
    for node in walk(schema):
        for key in PROSE_KEYS:
            node.pop(key, None)


def strip_content(content: dict[str, Any] | None) -> None:
    for media in (content or {}).values():
        media.pop("example", None)
        media.pop("examples", None)
        strip_schema(media.get("schema"))


#: How every placeholder text starts: `make check-generated` fails while the committed tree has one.
PLACEHOLDER = "TODO: describe"


def operation_id_words(operation_id: str) -> str:
    """Placeholder summary for an operation we have not described yet: camelCase -> words."""
    words: list[str] = []
    for ch in operation_id:
        if ch.isupper() and words:
            words.append(" ")
        words.append(ch.lower())
    text = "".join(words)
    return f"{PLACEHOLDER} {text}."


def parameter_placeholder(name: str) -> str:
    """Placeholder description of a parameter codegen/parameters.yaml does not describe yet."""
    return f"{PLACEHOLDER} ``{name}`` in codegen/parameters.yaml."


def rewrite_prose(doc: dict[str, Any], summaries: dict[str, str], origin: dict[str, str]) -> list[str]:
    """Replace upstream prose with ours; return operationIds that got a placeholder summary."""
    placeholders: list[str] = []
    doc["info"] = {
        "title": "Discourse API",
        "version": str(doc.get("info", {}).get("version", "latest")),
        "summary": "The Discourse forum HTTP API, as the discourse-async client understands it.",
        "license": doc.get("info", {}).get("license", {"name": "MIT"}),
        "x-upstream": origin,
    }
    doc.pop("tags", None)
    doc.pop("externalDocs", None)
    for item in doc["paths"].values():
        for param in item.get("parameters", []):
            strip_parameter(param)
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_id = op["operationId"]
            op.pop("description", None)
            op.pop("externalDocs", None)
            if op_id in summaries:
                op["summary"] = summaries[op_id]
            else:
                op["summary"] = operation_id_words(op_id)
                placeholders.append(op_id)
            for param in op.get("parameters", []):
                strip_parameter(param)
            body = op.get("requestBody")
            if body:
                body.pop("description", None)
                strip_content(body.get("content"))
            for status, response in op.get("responses", {}).items():
                response["description"] = RESPONSE_WORDS.get(str(status), "A response.")
                strip_content(response.get("content"))
                for header in (response.get("headers") or {}).values():
                    header.pop("description", None)
                    strip_schema(header.get("schema"))
    for scheme in doc.get("components", {}).get("securitySchemes", {}).values():
        scheme.pop("description", None)
    for schema in doc.get("components", {}).get("schemas", {}).values():
        strip_schema(schema)
    return placeholders


def strip_parameter(param: dict[str, Any]) -> None:
    for key in ("description", "example", "examples"):
        param.pop(key, None)
    strip_schema(param.get("schema"))


# --------------------------------------------------------------------------------------------
# Output


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Block style, no aliases: the output is read by people in diffs."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(doc: dict[str, Any]) -> str:
    header = (
        "# Built by `make spec` (python -m codegen.build_spec) from the document Discourse publishes,\n"
        "# with codegen/corrections.yaml applied and our own summaries. Do not edit by hand.\n"
    )
    body: str = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return header + body


@dataclass
class BuildResult:
    """The built document plus what the build noticed."""

    doc: dict[str, Any]
    report: OverlayReport
    placeholders: list[str]
    notes: list[str] = field(default_factory=list)

    @cached_property
    def text(self) -> str:
        # Lazy: dumping takes a second and a preview never needs it.
        return dump_yaml(self.doc)


def build_from(raw: bytes, origin: dict[str, str]) -> BuildResult:
    """Build our document from upstream bytes; ``origin`` is recorded in ``info.x-upstream``."""
    doc = parse_document(raw)
    report = apply_overlay(doc, load_yaml(CORRECTIONS_FILE))
    untyped = complete_arrays(doc)
    placeholders = rewrite_prose(doc, load_yaml(SUMMARIES_FILE) or {}, origin)
    from codegen.models import name_shapes  # it builds on this module

    notes = name_shapes(doc)
    if untyped:
        notes.append(f"{untyped} arrays say nothing of their items (read as lists of any value): correct what you know")
    return BuildResult(doc, report, placeholders, notes)


def build(source: str | None = None) -> BuildResult:
    """Build our document from ``source`` (default: the pin). Pure: no files are written."""
    raw, pin = read_source(source)
    return build_from(raw, pin_origin(pin))


def adopt(candidate: BuildResult, new_pin: dict[str, str], since: str | None = None) -> None:
    """Record ``new_pin`` and write what changed since the old pin (CHANGES-API.md, deprecations.yaml).

    The old pin is built first: its document is the base of the report.
    """
    from codegen import preview  # preview builds on this module

    old_pin = read_pin()
    try:
        base: BuildResult | None = build()
    except (SpecError, OSError) as exc:
        print(f"  no report: the old pin could not be built ({exc})")
        base = None
    write_pin(new_pin)
    print(f"  pinned {pin_label(new_pin)} in {PIN_FILE.name}")
    if base is None:
        # No report, but the aliases must still fit the new document, or `make generate` refuses them.
        empty = preview.Report(pin_label(old_pin), pin_label(new_pin))
        for line in preview.update_deprecations(empty, candidate.doc, DEPRECATIONS_FILE):
            print(f"  {DEPRECATIONS_FILE.name}: {line}")
        return
    report = preview.compare(base, candidate, pin_label(old_pin), pin_label(new_pin), since=since)
    preview.prepend_changes(report, CHANGES_FILE, dt.date.today())
    print(f"  {CHANGES_FILE.name}: {report.summary_line()}")
    for line in preview.update_deprecations(report, candidate.doc, DEPRECATIONS_FILE):
        print(f"  {DEPRECATIONS_FILE.name}: {line}")


def undescribed_parameters(doc: dict[str, Any]) -> list[str]:
    """``operation: name`` of each parameter and body field that codegen/parameters.yaml describes nowhere.

    ``make generate`` gives these a placeholder; listed at adoption so a maintainer sees them first.
    """
    from openapi_python_client.strings import snake_case

    from codegen.generate import Describer  # the generator's own lookup; it builds on this module
    from codegen.schemas import Resolver

    describe, resolver = Describer(doc), Resolver(doc)
    for item in doc["paths"].values():
        for method in HTTP_METHODS:
            if not isinstance(op := item.get(method), dict):
                continue
            name = snake_case(op["operationId"])
            for param in [*item.get("parameters", []), *op.get("parameters", [])]:
                describe(name, param["name"])
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                for field_name in resolver.properties(media.get("schema")):
                    describe(name, field_name)
    return sorted(set(describe.missing))


def count_operations(doc: dict[str, Any]) -> int:
    return sum(1 for item in doc["paths"].values() for m in HTTP_METHODS if m in item)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", help="upstream document (path or URL); default: the pin")
    parser.add_argument("--output", type=Path, default=OUTPUT_FILE)
    parser.add_argument("--url", help="where a local SPEC file was downloaded from (recorded in the pin)")
    args = parser.parse_args(argv)
    from codegen.models import ModelsTableError

    try:
        raw, pin = read_source(args.source, args.url)
        result = build_from(raw, pin_origin(pin))
        # Adopting rewrites the pin, so only a build of our own openapi.yaml does it (not --output elsewhere).
        if pin["sha256"] != read_pin()["sha256"] and args.output.resolve() == OUTPUT_FILE.resolve():
            adopt(result, pin)
    except (SpecError, ModelsTableError, OSError) as exc:
        print(f"spec build failed: {exc}", file=sys.stderr)
        return UNREADABLE
    args.output.write_text(result.text, encoding="utf-8")
    print(
        f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
        f"{count_operations(result.doc)} operations, {len(result.report.results)} corrections"
    )
    for r in result.report.unmatched:
        print(f"  correction {r.index} matches nothing (target gone?): {r.target}")
    for r in result.report.unchanged:
        print(f"  correction {r.index} changes nothing (fixed upstream?): {r.target}")
    for note in result.notes:
        print(f"  {note}")
    if result.placeholders:
        print(f"  {len(result.placeholders)} operations need a summary in codegen/summaries.yaml:")
        for op_id in result.placeholders:
            print(f"    {op_id}")
    undescribed = undescribed_parameters(result.doc)
    if undescribed:
        print(f"  {len(undescribed)} parameters need a description in codegen/parameters.yaml (placeholders for now):")
        for line in undescribed:
            print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
