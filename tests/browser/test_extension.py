"""The extension in a real browser against the real service: highlights, cards, keys, safety,
and what a hostile page can and cannot do with it."""

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


def reported(browser, page, status):
    """Wait until the page's content script reports status to the worker; return its tab id and
    that state. The worker keeps each tab's state under `tab:<id>`, so this finds the tab without
    the `tabs` permission, which the extension does not ask for.

    A test that nothing was sent first proves the content script ran and chose not to send,
    so that it cannot pass on a page where the extension never ran at all.
    """
    worker = service_worker(browser)
    found = wait_for(lambda: worker.evaluate("""async ([url, status]) => Object.entries(
        await chrome.storage.session.get(null)).find(([k, v]) => k.startsWith("tab:") && v
            && v.url === url && v.status === status)""", [page.url, status]))
    key, state = found
    return int(key.removeprefix("tab:")), state


def open_news(page, site):
    page.goto(f"{site}/news.html")
    return wait_for(lambda: len(page.evaluate(HIGHLIGHTED)) >= 3 and page.evaluate(HIGHLIGHTED))


def test_sentences_with_context_are_highlighted_without_touching_the_page(page, site):
    highlighted = open_news(page, site)
    assert any(t.startswith("Mexico is the largest trading partner") for t in highlighted)
    assert any(t.startswith("The administration says Mexican cartels") for t in highlighted)
    assert any(t.startswith("The Golden Gate Bridge opened") for t in highlighted)
    assert not any("Reporters waited outside" in t for t in highlighted), "no weak matches"
    assert page.evaluate("window.siteMutations") == 0, "the article's DOM was not changed"
    assert page.evaluate("document.querySelectorAll('aside-mark').length") == 0
    assert page.errors == []


def test_hover_opens_the_card_with_its_source_and_escape_closes_it(page, site):
    open_news(page, site)
    card = hover(page, "Mexico is the largest trading partner")
    assert "CIA World Factbook — Mexico — Exports - partners" in card["text"]
    assert card["role"] == "dialog"
    assert card["label"].startswith("Context for: Mexico is the largest")
    (href,) = [href for text, href in card["links"] if "Exports - partners" in text][:1]
    assert href == "https://www.cia.gov/the-world-factbook/countries/mexico/"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "card-hover.png"))
    page.keyboard.press("Escape")
    page.locator(HOST).wait_for(state="hidden", timeout=3000)
    assert card_in(page) is None
    assert page.errors == []


def test_hover_needs_a_dwell(page, site):
    open_news(page, site)
    point = page.evaluate(RECT_OF, "The administration says")
    page.mouse.move(point["x"], point["y"])
    time.sleep(0.1)
    assert card_in(page) is None, "no card before the dwell"
    page.locator(HOST).wait_for(state="visible", timeout=3000)


def test_hotkeys_move_between_highlights_and_focus_the_card(page, site):
    highlighted = open_news(page, site)
    page.keyboard.press("Alt+Shift+KeyJ")
    page.locator(HOST).wait_for(state="visible")
    assert page.evaluate(ACTIVE) == [highlighted[0]]
    assert page.evaluate("document.activeElement.tagName") == "ASIDE-CARD", "the card has focus"
    page.keyboard.press("Alt+Shift+KeyJ")
    assert page.evaluate(ACTIVE) == [highlighted[1]]
    page.keyboard.press("Alt+Shift+KeyK")
    assert page.evaluate(ACTIVE) == [highlighted[0]]
    page.keyboard.press("Alt+Shift+KeyK")
    assert page.evaluate(ACTIVE) == [highlighted[-1]], "wraps around"
    page.keyboard.press("Escape")
    page.locator(HOST).wait_for(state="hidden")
    assert page.evaluate(ACTIVE) == []
    assert page.errors == []


def test_hostile_passage_renders_as_text(page, site):
    open_news(page, site)
    card = hover(page, "The Golden Gate Bridge opened")
    text = card["text"]
    assert "<img src=x onerror=" in text
    assert "Untrusted <script>Feed</script> — <b>Golden Gate</b> Bridge" in text
    assert not card["tags"] & {"img", "script", "b"}, card["tags"]
    assert card["links"] == [], "a javascript: URL is not a link"
    assert page.title() != "pwned"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "card-hostile.png"))
    assert page.errors == []


def test_a_page_that_is_not_an_article_sends_nothing(page, site, service, browser):
    _base, app = service
    before = app.context_posts
    page.goto(f"{site}/shop.html")
    reported(browser, page, "not-an-article")
    time.sleep(2.5)  # long enough for a re-read (REREAD_MS in content/main.js) to have sent
    assert app.context_posts == before
    assert page.evaluate("CSS.highlights.size") == 0
    assert page.errors == []


def test_content_loaded_late_is_read_again_and_only_new_text_is_sent(page, site, service, browser):
    _base, app = service
    before = app.context_posts
    page.goto(f"{site}/late.html")
    wait_for(lambda: any(t.startswith("Mexico is the largest") for t in page.evaluate(HIGHLIGHTED)))
    assert app.context_posts == before + 1
    assert not any("cartels" in t for t in page.evaluate(HIGHLIGHTED)), "the update is not there yet"
    wait_for(lambda: any("Mexican cartels are trafficking" in t for t in page.evaluate(HIGHLIGHTED)))
    assert any(t.startswith("Mexico is the largest") for t in page.evaluate(HIGHLIGHTED)), "kept"
    assert app.context_posts == before + 2
    # What left the browser is recorded for the popup: the second request held only the new block.
    worker = service_worker(browser)
    states = worker.evaluate("""async () => Object.values(await chrome.storage.session.get(null))
        .filter((v) => v && v.sent && v.url && v.url.endsWith('/late.html'))""")
    (state,) = states
    assert state["status"] == "ok" and state["cards"] >= 2
    assert state["sent"][0]["texts"] == [
        "Update: The administration says Mexican cartels are trafficking fentanyl and other synthetic "
        "opioids into the United States on an industrial scale."
    ]
    assert len(state["sent"][1]["texts"]) == 3
    assert page.errors == []


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


def test_click_to_send_mode_sends_nothing_until_asked(page, site, service, browser):
    _base, app = service
    worker = service_worker(browser)
    worker.evaluate("chrome.storage.sync.set({clickToSend: true})")
    extension_page = browser.new_page()
    try:
        before = app.context_posts
        page.goto(f"{site}/news.html?click-mode")
        tab_id, _state = reported(browser, page, "waiting-for-click")
        time.sleep(2.5)
        assert app.context_posts == before and page.evaluate(HIGHLIGHTED) == []
        # The toolbar click, as the popup sends it (from an extension page, naming the tab it
        # was opened over): the worker passes it to that tab's content script.
        extension_page.goto(f"chrome-extension://{browser.extension_id}/options/options.html")
        send = "message => new Promise((resolve) => chrome.runtime.sendMessage(message, resolve))"
        reply = extension_page.evaluate(send, {"type": "PU_BG_RUN_NOW", "tabId": tab_id})
        assert reply == {"ok": True}
        wait_for(lambda: len(page.evaluate(HIGHLIGHTED)) >= 3)
    finally:
        extension_page.close()
        worker.evaluate("chrome.storage.sync.set({clickToSend: false})")
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
