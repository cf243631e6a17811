"""The documentation site: it builds with warnings as errors, and works in a real browser.

The build runs wherever the ``docs`` extra is installed. The browser check drives the system's
Chromium (Debian's package ``chromium``) with Playwright, and is skipped, saying why, without them:
every page renders without a console error, every internal link resolves (its page, and its
anchor on that page), the search box finds "like a post" and "rate limit", and screenshots of two
pages are written to build/site-check/ (the test prints where).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "site-check"
SEARCHES = ("like a post", "rate limit")
#: Chromium as root in a container, with nothing reaching out to the network (see CI's machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str | None:
    """The system's Chromium: $CHROMIUM, else chromium or chromium-browser on PATH."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as `make docs` builds it (strict: any warning fails the build)."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def pages(site: Path) -> list[str]:
    """Every page of the site, as its path under the root (``cli/``)."""
    return sorted(
        p.parent.relative_to(site).as_posix() + "/" if p.parent != site else ""
        for p in site.rglob("index.html")
        if "assets" not in p.parts
    )


def test_the_site_builds_with_warnings_as_errors_and_has_every_page(site: Path) -> None:
    built = set(pages(site))
    guides = {f"{p.stem}/" for p in (ROOT / "docs").glob("*.md")}
    reference = {f"reference/{n}/" for n in ("client", "namespaces", "errors", "iterators", "testing", "toolkit")}
    assert guides | reference | {"", "benchmarks/", "changes/"} <= built
    namespaces = (site / "reference" / "namespaces" / "index.html").read_text(encoding="utf-8")
    for method in ("create_post", "iter_latest", "get_user", "upload"):
        assert f".{method}" in namespaces
    errors = (site / "reference" / "errors" / "index.html").read_text(encoding="utf-8")
    for name in ("RateLimitError", "PermissionDeniedError", "APITimeoutError", "WebhookSignatureError"):
        assert name in errors


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site over HTTP on 127.0.0.1 (the search index is fetched, which file:// refuses)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium()
    if executable is None:
        pytest.skip("no Chromium (apt-get install chromium): the browser check needs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser extra (playwright) is not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def anchors_of(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def test_every_page_renders_without_console_errors_and_every_link_resolves(
    browser: object, served: str, site: Path
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"{page.url}: console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{page.url}: error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"{page.url}: failed to load {r.url}"))
    links: set[tuple[str, str]] = set()
    for path in pages(site):
        response = page.goto(served + path, wait_until="networkidle")
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        assert page.locator("article h1").count() >= 1, f"{path}: no title rendered"
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        links |= {(path, href) for href in hrefs}
    page.close()
    assert problems == []

    broken = []
    for path, href in sorted(links):
        target = urljoin(served + path, href)
        if not target.startswith(served):
            continue  # another site: not ours to check offline
        parts = urlsplit(target)
        file = site / unquote(parts.path.removeprefix(urlsplit(served).path))
        file = file / "index.html" if parts.path.endswith("/") else file
        if not file.is_file():
            broken.append(f"{path}: {href} (no such page)")
        elif parts.fragment and unquote(parts.fragment) not in anchors_of(file.read_text(encoding="utf-8")):
            broken.append(f"{path}: {href} (no such anchor)")
    assert broken == []
    assert len(links) > 100  # the check looked at the site's links, not at an empty page


@pytest.mark.parametrize("phrase", SEARCHES)
def test_the_search_finds(browser: object, served: str, phrase: str) -> None:
    playwright_timeout = pytest.importorskip("playwright.sync_api").TimeoutError
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(served, wait_until="networkidle")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    # Material says "Initializing search" until its worker has the index; typed before that, a query is lost.
    page.wait_for_function(
        "document.querySelector('.md-search-result__meta').innerText.trim() == 'Type to start searching'",
        timeout=60_000,
    )
    page.locator("input.md-search__input").press_sequentially(phrase, delay=20)  # keys, as a person types
    # Each key sends a query to the worker and its results render when it answers: wait until the results
    # hold the phrase (those of a partial query may come first), or fail saying what they showed. Material
    # folds a page's other matching sections under "N more on this page": a section there is found too
    # (a reader opens the fold), so the text is read whole, folded sections included.
    found = """(phrase) => {
        const list = document.querySelector('.md-search-result__list');
        return list !== null && list.textContent.toLowerCase().replace(/\\s+/g, ' ').includes(phrase);
    }"""
    try:
        page.wait_for_function(found, arg=phrase, timeout=60_000)
    except playwright_timeout:  # say what the search did show
        shown = page.locator(".md-search-result").inner_text()
        pytest.fail(f"the search for {phrase!r} did not show it; it showed: {shown[:500]!r}")
    meta = page.locator(".md-search-result__meta").inner_text()
    assert re.match(r"\d+ matching documents?", meta), meta
    page.close()


def test_screenshots_of_two_pages(browser: object, served: str, capsys: pytest.CaptureFixture[str]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    written = []
    for path, name in (("", "home.png"), ("reference/namespaces/", "namespaces.png")):
        page.goto(served + path, wait_until="networkidle")
        page.screenshot(path=str(SCREENSHOTS / name))
        written.append(SCREENSHOTS / name)
    page.close()
    for file in written:
        assert file.stat().st_size > 10_000  # a page, not a blank
    with capsys.disabled():
        print(f"\nscreenshots of the site: {', '.join(str(f) for f in written)}")
