"""A real browser (Debian's Chromium via Playwright) with the unpacked Chrome build loaded,
the real service on loopback, and news pages served by a local web server."""

from __future__ import annotations

import functools
import http.server
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from server import create_app
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extension" / "dist" / "chrome"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


class Counting:
    """WSGI middleware counting context requests, to prove when nothing was sent, and keeping
    their bodies, to check what was sent (block ids and texts).

    The shared scenarios run in a Node process (extension/test/browser/run.mjs), which asks the
    same through ``GET /_test/posts``: answered here, never by the product app, and only in this
    suite's service."""

    POSTS_ROUTE = "/_test/posts"

    def __init__(self, app) -> None:
        self.app = app
        self.context_posts = 0
        self.bodies: list[dict] = []

    def posts(self) -> dict:
        """The count and, for each request, its title, language and blocks' texts."""
        return {"posts": self.context_posts,
                "bodies": [{"title": body.get("title"), "lang": body.get("lang"),
                            "texts": [block.get("text") for block in body.get("blocks", [])]}
                           for body in self.bodies]}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == self.POSTS_ROUTE:
            payload = json.dumps(self.posts()).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(payload)))])
            return [payload]
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == "/v1/context":
            self.context_posts += 1
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(raw)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            self.bodies.append(body if isinstance(body, dict) else {})
        return self.app(environ, start_response)


def _serve(server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="session")
def service(real_store, model) -> Iterator[tuple[str, Counting]]:
    """The Aside service, real model and index, on a loopback port."""
    # The extension is under test here, not the card policy: rescoring off and 0.5 keep the
    # paraphrased Factbook match on the cartel sentence (see tests/test_model.py).
    app = Counting(create_app({"INDEX_DIR": str(real_store), "EMBEDDER": model, "THRESHOLD": 0.5,
                               "RESCORE_MODEL": "off"}))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    _serve(server)
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """The test pages, served over HTTP (content scripts do not run on file:// here)."""
    handler = functools.partial(_QuietHandler, directory=str(FIXTURES / "pages"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    _serve(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the session's browsers."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `make test`, which installs it")
    if not (EXTENSION / "manifest.json").is_file():
        pytest.fail("extension/dist/chrome is missing: run `npm run build` in extension/ (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


def _launch(playwright, profile: Path, service_url: str):
    """Chromium with the extension on a fresh profile, pointed at the service."""
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--headless=new",
            f"--disable-extensions-except={EXTENSION}",
            f"--load-extension={EXTENSION}",
            "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
    )
    worker = context.service_workers[0] if context.service_workers else context.wait_for_event(
        "serviceworker", timeout=15_000)
    worker.evaluate("url => chrome.storage.sync.set({serviceUrl: url})", service_url)
    context.extension_id = worker.url.split("/")[2]
    return context


@pytest.fixture(scope="session")
def browser(playwright, tmp_path_factory, service):
    """Chromium with the extension, pointed at the test service."""
    base, _app = service
    context = _launch(playwright, tmp_path_factory.mktemp("profile"), base)
    yield context
    context.close()


@pytest.fixture
def own_browser(playwright, tmp_path_factory, service):
    """A browser of the test's own, for a test that reloads the extension: after a reload this
    headless Chromium injects no content scripts into new pages, which other tests need."""
    base, _app = service
    context = _launch(playwright, tmp_path_factory.mktemp("own-profile"), base)
    yield context
    context.close()


@pytest.fixture
def page(browser):
    """A fresh tab that records the page's errors."""
    tab = browser.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    yield tab
    tab.close()


def service_worker(browser):
    """The extension's running service worker (a new one after the extension reloads)."""
    own = f"chrome-extension://{browser.extension_id}/"
    workers = [w for w in browser.service_workers if w.url.startswith(own)]
    return workers[-1] if workers else browser.wait_for_event("serviceworker", timeout=15_000)


def _attributes(node: dict) -> dict[str, str]:
    flat = node.get("attributes", [])
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _find(node: dict, name: str) -> dict | None:
    if node.get("localName") == name:
        return node
    for child in node.get("children", []) + node.get("shadowRoots", []):
        found = _find(child, name)
        if found:
            return found
    return None


def card_in(page) -> dict | None:
    """The open card as the browser holds it, read through the DevTools protocol: the card's
    shadow root is closed, so neither page scripts nor Playwright's locators see inside it.
    Returns {role, label, text, links: [(text, href)], tags}, or None when no card is shown."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    finally:
        cdp.detach()
    host = _find(root, "aside-card")
    if not host or not host.get("shadowRoots"):
        return None
    (shadow,) = host["shadowRoots"]
    assert shadow["shadowRootType"] == "closed"
    card = next((n for n in shadow.get("children", [])
                 if "card" in _attributes(n).get("class", "").split()), None)
    if card is None:
        return None
    tags: set[str] = set()
    links: list[tuple[str, str]] = []

    def text_of(node: dict) -> str:
        if node.get("nodeType") == 3:
            return node.get("nodeValue", "")
        tags.add(node.get("localName", ""))
        inner = "".join(text_of(child) for child in node.get("children", []))
        if node.get("localName") == "a":
            links.append((inner, _attributes(node).get("href", "")))
        block = node.get("localName") in ("p", "li", "header", "footer", "ol", "div")
        return inner + ("\n" if block else "")

    attributes = _attributes(card)
    return {"role": attributes.get("role"), "label": attributes.get("aria-label", ""),
            "text": text_of(card), "links": links, "tags": tags}


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
