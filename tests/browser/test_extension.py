"""The extension in Chromium (Playwright) against the real service: the demo page, the
manifest's permissions, what a hostile page script can and cannot do with it, and a reload.

The behaviours every browser must show (highlights, the card, its dwell, hotkeys, hostile
passages, pages not sent, late content, click-to-send, the popup's record of what was sent)
are the shared scenarios, run in Chromium and in Firefox: extension/test/browser/scenarios.mjs,
through tests/browser/test_shared_scenarios.py."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import ARTIFACTS, card_in, service_worker, wait_for

pytestmark = [pytest.mark.model, pytest.mark.browser]

HIGHLIGHTED = """() => {
  const h = CSS.highlights.get("aside-context");
  return h ? [...h].map((r) => r.toString()) : [];
}"""
ACTIVE = """() => {
  const h = CSS.highlights.get("aside-context-active");
  return h ? [...h].map((r) => r.toString()) : [];
}"""
RECT_OF = """(text) => {
  const range = [...CSS.highlights.get("aside-context")].find((r) => r.toString().startsWith(text));
  const rect = range.getClientRects()[0];
  return {x: rect.left + Math.min(20, rect.width / 2), y: rect.top + rect.height / 2};
}"""
# The card's host is in the page; the card itself is in a closed shadow root (read with card_in).
HOST = "aside-card"


def hover(page, text):
    """Rest the pointer on the highlighted sentence starting with text; return the card."""
    point = page.evaluate(RECT_OF, text)
    page.mouse.move(point["x"], point["y"])
    page.locator(HOST).wait_for(state="visible", timeout=5000)
    return wait_for(lambda: card_in(page), timeout=5)


def open_news(page, site):
    page.goto(f"{site}/news.html")
    return wait_for(lambda: len(page.evaluate(HIGHLIGHTED)) >= 3 and page.evaluate(HIGHLIGHTED))


def test_demo_page_uses_the_same_highlights_and_cards(page, service):
    base, _app = service
    page.goto(base + "/")
    page.click("#go")
    wait_for(lambda: len(page.evaluate(HIGHLIGHTED)) >= 2)
    assert "sentences have context" in page.inner_text("#status")
    card = hover(page, "Mexico is the largest trading partner")
    assert "CIA World Factbook" in card["text"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-card.png"))
    assert page.errors == []


def test_the_manifest_asks_only_for_what_the_code_uses(browser):
    worker = service_worker(browser)
    manifest = worker.evaluate("chrome.runtime.getManifest()")
    assert manifest["permissions"] == ["storage"], "no `tabs`: the popup needs only the tab's id"
    assert manifest["host_permissions"] == ["http://127.0.0.1:8080/*"]
    # Every other service the options page may ask for is a pattern this browser accepts.
    for origin in manifest["optional_host_permissions"]:
        assert worker.evaluate("o => chrome.permissions.contains({origins: [o]})", origin) is False, origin


def test_a_page_script_cannot_drive_or_read_the_cards(page, site):
    highlighted = open_news(page, site)
    # Hotkeys and hover dispatched by the page itself are ignored: they are not the reader's.
    point = page.evaluate(RECT_OF, "Mexico is the largest trading partner")
    page.evaluate("""(point) => {
        const key = {key: "J", code: "KeyJ", altKey: true, shiftKey: true, bubbles: true, cancelable: true};
        document.body.dispatchEvent(new KeyboardEvent("keydown", key));
        for (let i = 0; i < 5; i++) {
            document.elementFromPoint(point.x, point.y).dispatchEvent(new MouseEvent("mousemove",
                {clientX: point.x, clientY: point.y, bubbles: true}));
        }
    }""", point)
    time.sleep(1.0)  # past the hover dwell
    assert card_in(page) is None and page.evaluate(ACTIVE) == [], "nothing opened"
    # The reader's own hover opens it; the page still sees only an empty host.
    card = hover(page, "Mexico is the largest trading partner")
    assert "CIA World Factbook" in card["text"]
    assert page.evaluate("document.querySelector('aside-card').shadowRoot") is None
    assert page.evaluate("document.querySelector('aside-card').textContent") == ""
    # What the page can see: which of its sentences are underlined (the Custom Highlight
    # registry is the document's; see docs/extension.md, "What a page can learn").
    assert page.evaluate(HIGHLIGHTED) == highlighted
    assert page.errors == []


def test_a_reloaded_extension_leaves_the_page_as_it_was(own_browser, site):
    page = own_browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_news(page, site)
    hover(page, "Mexico is the largest trading partner")
    try:
        service_worker(own_browser).evaluate("chrome.runtime.reload()")
    except PlaywrightError:
        pass  # the worker may go before it answers
    # The orphaned content script hears its port close and takes everything with it, with no
    # event from the reader.
    wait_for(lambda: page.evaluate("CSS.highlights.size") == 0, timeout=10)
    assert page.evaluate("document.querySelector('aside-card')") is None
    page.mouse.move(5, 5)
    page.keyboard.press("Alt+Shift+KeyJ")
    time.sleep(0.5)
    assert page.evaluate("document.querySelector('aside-card')") is None, "no listener left"
    assert errors == []
