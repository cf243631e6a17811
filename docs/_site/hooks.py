"""MkDocs hooks: the pages of the site that are written from the code and from files outside docs/.

- the home page is README.md, the benchmarks page bench/results.md, the API changes CHANGES-API.md,
  their links to docs/ rewritten to the site's pages;
- the common-tasks page is the README's table of tasks, a section each;
- the method index (UNSEARCHED) stays out of the search, which finds each method on the namespaces page;
- the namespaces page has one mkdocstrings entry per namespace of ``Discourse``, the errors page
  the exception tree, the iterators page every ``iter*`` method and the item it yields: each read
  from the package, so a new namespace, error or iterator is on the site with no edit here;
- a nav entry for a page that other work adds (OPTIONAL_PAGES) is left out until the page exists.
"""

from __future__ import annotations

import inspect
import logging
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.discourse_async")

ROOT = Path(__file__).resolve().parents[2]
#: Pages listed in the nav that other work adds; left out while absent.
OPTIONAL_PAGES = {"models.md", "production.md"}
#: Site page -> the file it is made of, with how its links are rewritten.
INCLUDED = {"index.md": "README.md", "benchmarks.md": "bench/results.md", "changes.md": "CHANGES-API.md"}
ASSETS = {"results.png": "bench/results.png"}
#: A link (as written in one of the INCLUDED files, relative to the repository) -> the site's page.
LINKS = {"README.md": "index.md", "bench/results.md": "benchmarks.md", "bench/results.png": "results.png"}
LINKS |= {"CHANGES-API.md": "changes.md"}
#: Pages kept out of the search: the method index repeats the namespaces page (where each method has
#: its docstring), and its headings, whole signatures, match any short word of a query ("a", "post")
#: and outrank the page a reader is after.
UNSEARCHED = {"api.md"}
#: Pages ranked higher in the search: the page of everyday tasks, one section a task, is what a query
#: such as "like a post" is after, before the models whose names share its words.
SEARCH_BOOST = {"reference/tasks.md": 3}


def _prune(nav: list[Any], present: set[str]) -> list[Any]:
    kept: list[Any] = []
    for entry in nav:
        (title, target), *_ = entry.items() if isinstance(entry, dict) else [(None, entry)]
        if isinstance(target, list):
            kept.append({title: _prune(target, present)})
        elif target in OPTIONAL_PAGES and target not in present:
            log.info("nav: %s is not there yet; left out", target)
        else:
            kept.append(entry)
    return kept


def on_config(config: Any) -> Any:
    """Leave out nav entries of optional pages that are not there yet."""
    docs = Path(config["docs_dir"])
    present = {p for p in OPTIONAL_PAGES if (docs / p).is_file()}
    config["nav"] = _prune(config["nav"], present)
    return config


def _rewrite_links(text: str, source: str) -> str:
    """Links of a file outside docs/ as links between the site's pages."""
    base = Path(source).parent

    def target(match: re.Match[str]) -> str:
        link, anchor = match.group(2).partition("#")[::2]
        if re.match(r"^[a-z]+:|^#|^$", link):
            return match.group(0)
        path = (base / link).as_posix().removeprefix("./")
        while "/../" in f"/{path}":  # bench/../docs/x.md -> docs/x.md
            path = re.sub(r"(^|/)[^/]+/\.\./", r"\1", path, count=1)
        page = LINKS.get(path) or (path.removeprefix("docs/") if path.startswith("docs/") else None)
        if page is None:
            return match.group(0)  # left as is: the strict build names it
        return f"{match.group(1)}({page}{'#' + anchor if anchor else ''})"

    return re.sub(r"(\]|\]\s?)\(([^)\s]+)\)", target, text)


def _namespaces() -> list[tuple[str, type]]:
    from discourse_async import Discourse
    from discourse_async._generated.api import OPERATIONS

    names = sorted({namespace for namespace, _method, _path in OPERATIONS.values()})
    bare = object.__new__(Discourse)  # the namespace properties only import and wrap: nothing is sent
    return [(name, type(getattr(bare, name))) for name in names]


def _namespaces_page() -> str:
    lines = [
        "# Namespaces and methods",
        "",
        "Every operation of the API is a method of a namespace of `Discourse`, named after its tag:",
        "`dc.topics.get_topic(...)`. Each entry below is read from the method itself: its parameters,",
        "its docstring and what it returns. Every method also takes `extra_query=`, `extra_headers=`",
        "and, with a request body, `extra_body=`: sent as given, for what no document describes. Each",
        "namespace has `with_raw_response`, the same methods returning the raw response.",
        "[The method index](../api.md) lists them all on one page.",
        "",
    ]
    for name, cls in _namespaces():
        lines += [
            f"## `dc.{name}`",
            "",
            f"::: {cls.__module__}.{cls.__qualname__}",
            "    options:",
            "      show_root_heading: false",
            "      show_root_toc_entry: false",
            "      heading_level: 3",
            "      show_bases: false",
            "",
        ]
    return "\n".join(lines)


def _error_tree() -> list[str]:
    import discourse_async
    import discourse_async.connect
    import discourse_async.uploads
    import discourse_async.webhooks

    modules = ["discourse_async.connect", "discourse_async.uploads", "discourse_async.webhooks"]
    try:
        import discourse_async.user_api_keys

        modules.append("discourse_async.user_api_keys")
    except ImportError:  # pragma: no cover - the docs extra installs every extra
        pass

    def public(cls: type) -> str | None:
        if cls.__module__.startswith("discourse_async._") and hasattr(discourse_async, cls.__name__):
            return f"discourse_async.{cls.__name__}"
        if cls.__module__ in modules and not cls.__name__.startswith("_"):
            return f"{cls.__module__}.{cls.__name__}"
        return None

    entries: list[str] = []

    def walk(cls: type, depth: int) -> None:
        for sub in sorted(cls.__subclasses__(), key=lambda c: (c.__module__ != cls.__module__, c.__name__)):
            path = public(sub)
            if path is None:
                continue
            doc = (inspect.getdoc(sub) or "").split("\n", 1)[0]
            page = "" if path.count(".") == 1 else "toolkit.md"  # the toolkit's errors are with their module
            entries.append(f"{'    ' * depth}- [`{sub.__name__}`]({page}#{path}): {doc}")
            walk(sub, depth + 1)

    entries.append("- [`DiscourseError`](#discourse_async.DiscourseError): the base of every error of a call")
    walk(discourse_async.DiscourseError, 1)
    return entries


def _tasks_page() -> str:
    """The README's table of common tasks, a section per task, so the search finds each by its name."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("### Common tasks", 1)[1].split("\n\n", 2)[1]
    lines = [
        "# Common tasks",
        "",
        "The everyday calls of a bot, one per task (the same table is in the [home page](../index.md#common-tasks)).",
    ]
    for row in table.splitlines()[2:]:
        task, call = (cell.strip() for cell in row.strip("|").split("|", 1))
        lines += ["", f"## {task[0].upper()}{task[1:]}", "", "```python", call.strip("`"), "```"]
    return "\n".join(lines) + "\n"


def _errors_page() -> str:
    from discourse_async._exceptions import DiscourseError

    lines = [
        "# Errors",
        "",
        "Every failure of a call is one of these exceptions; none carries a credential. A non-2xx answer",
        "is an `APIStatusError` of its status, with Discourse's own `errors`, `error_type` and `extras`.",
        "",
        "## The tree",
        "",
        *_error_tree(),
        "",
        "Two more come from the arguments, before anything is sent: `PathParameterError` (also a",
        "`ValueError`), and `MissingExtraError` (a `ModuleNotFoundError`) when an optional extra is used",
        "without being installed, naming the extra to install.",
        "",
        "## Every error",
        "",
    ]
    seen: set[str] = set()
    for entry in _error_tree():
        path = re.search(r"\]\(#([\w.]+)\)", entry)
        if path and path.group(1) not in seen:
            seen.add(path.group(1))
            lines += [f"::: {path.group(1)}", "    options:", "      show_bases: true", ""]
    lines += ["::: discourse_async.PathParameterError", "", "::: discourse_async._extras.MissingExtraError", ""]
    assert DiscourseError  # the tree is walked from it
    return "\n".join(lines)


def _yields(method: Any) -> str:
    """The item type of an iterator, from its annotation ``Paginator[Item, Page]``."""
    hint = inspect.signature(method).return_annotation
    found = re.search(r"Paginator\[([\w.]+)", hint if isinstance(hint, str) else repr(hint))
    return found.group(1) if found else "Any"


def _has_page(name: str) -> bool:
    return (ROOT / "docs" / name).is_file()


def _iterators_page() -> str:
    lines = [
        "# Iterators",
        "",
        "An `iter*` method walks a whole list page by page, fetching the next page as you go, and yields",
        "its items one by one: `async for topic in dc.topics.iter_latest(max_items=500)`. Each takes",
        "`max_items=` (stop early) and `prefetch=` (pages fetched ahead while you work on one), and",
        "returns a `Paginator`, which also gives `.pages()` (whole pages, the answer models) and",
        "`.collect()`.",
        "",
        "| iterator | yields | what it walks |",
        "|---|---|---|",
    ]
    for name, cls in _namespaces():
        for attr in sorted(a for a in vars(cls) if a.startswith("iter")):
            method = getattr(cls, attr)
            doc = (inspect.getdoc(method) or "").split("\n", 1)[0]
            anchor = f"{cls.__module__}.{cls.__qualname__}.{attr}"
            lines.append(f"| [`dc.{name}.{attr}()`](namespaces.md#{anchor}) | `{_yields(method)}` | {doc} |")
    lines += [
        "",
        "The items are models of `discourse_async.models`"
        + (", each with its fields on [the models page](../models.md)." if _has_page("models.md") else "."),
        "",
        "::: discourse_async.pagination.Paginator",
        "",
        "::: discourse_async.pagination.Page",
        "",
    ]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Keep the UNSEARCHED pages out of the search and rank SEARCH_BOOST ones higher (Material's ``search`` meta)."""
    if page.file.src_uri in UNSEARCHED:
        page.meta.setdefault("search", {})["exclude"] = True
    if page.file.src_uri in SEARCH_BOOST:
        page.meta.setdefault("search", {})["boost"] = SEARCH_BOOST[page.file.src_uri]
    return markdown


def on_files(files: Files, config: Any) -> Files:
    """Add the pages made from files outside docs/ and from the code."""
    for page, source in INCLUDED.items():
        text = (ROOT / source).read_text(encoding="utf-8")
        files.append(File.generated(config, page, content=_rewrite_links(text, source)))
    for asset, source in ASSETS.items():
        if (ROOT / source).is_file():
            files.append(File.generated(config, asset, content=(ROOT / source).read_bytes()))
    generated = {
        "reference/namespaces.md": _namespaces_page,
        "reference/tasks.md": _tasks_page,
        "reference/errors.md": _errors_page,
        "reference/iterators.md": _iterators_page,
    }
    for page, make in generated.items():
        files.append(File.generated(config, page, content=make()))
    return files
