"""The extension in a real browser against the real service: highlights, cards, keys, safety."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import ARTIFACTS, wait_for

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
CARD = "aside-card .card"


def hover(page, text):
    """Rest the pointer on the highlighted sentence starting with text; return the card."""
    point = page.evaluate(RECT_OF, text)
    page.mouse.move(point["x"], point["y"])
    card = page.locator(CARD)
    card.wait_for(state="visible", timeout=5000)
    return card


def reported(browser, page, status):
    """Wait until the page's content script reports status to the worker; return that state.

    A test that nothing was sent first proves the content script ran and chose not to send,
    so that it cannot pass on a page where the extension never ran at all.
    """
    worker = browser.service_workers[0]
    return wait_for(lambda: worker.evaluate("""async ([url, status]) => Object.values(
        await chrome.storage.session.get(null)).find((v) => v && v.url === url && v.status === status)""",
        [page.url, status]))


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
    assert "CIA World Factbook — Mexico — Exports - partners" in card.inner_text()
    assert card.get_attribute("role") == "dialog"
    assert card.get_attribute("aria-label").startswith("Context for: Mexico is the largest")
    link = page.locator("aside-card a", has_text="Exports - partners").first
    assert link.get_attribute("href") == "https://www.cia.gov/the-world-factbook/countries/mexico/"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "card-hover.png"))
    page.keyboard.press("Escape")
    card.wait_for(state="detached", timeout=3000)
    assert page.errors == []


def test_hover_needs_a_dwell(page, site):
    open_news(page, site)
    point = page.evaluate(RECT_OF, "The administration says")
    page.mouse.move(point["x"], point["y"])
    time.sleep(0.1)
    assert page.locator(CARD).count() == 0, "no card before the dwell"
    page.locator(CARD).wait_for(state="visible", timeout=3000)


def test_hotkeys_move_between_highlights_and_focus_the_card(page, site):
    highlighted = open_news(page, site)
    page.keyboard.press("Alt+Shift+KeyJ")
    page.locator(CARD).wait_for(state="visible")
    assert page.evaluate(ACTIVE) == [highlighted[0]]
    assert page.evaluate("document.activeElement.tagName") == "ASIDE-CARD", "the card has focus"
    page.keyboard.press("Alt+Shift+KeyJ")
    assert page.evaluate(ACTIVE) == [highlighted[1]]
    page.keyboard.press("Alt+Shift+KeyK")
    assert page.evaluate(ACTIVE) == [highlighted[0]]
    page.keyboard.press("Alt+Shift+KeyK")
    assert page.evaluate(ACTIVE) == [highlighted[-1]], "wraps around"
    page.keyboard.press("Escape")
    page.locator(CARD).wait_for(state="detached")
    assert page.evaluate(ACTIVE) == []
    assert page.errors == []


def test_hostile_passage_renders_as_text(page, site):
    open_news(page, site)
    card = hover(page, "The Golden Gate Bridge opened")
    text = card.inner_text()
    assert "<img src=x onerror=" in text
    assert "Untrusted <script>Feed</script> — <b>Golden Gate</b> Bridge" in text
    assert page.locator("aside-card img").count() == 0
    assert page.locator("aside-card script").count() == 0
    assert page.locator("aside-card a").count() == 0, "a javascript: URL is not a link"
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
    worker = browser.service_workers[0]
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
    assert "CIA World Factbook" in card.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-card.png"))
    assert page.errors == []


def test_click_to_send_mode_sends_nothing_until_asked(page, site, service, browser):
    _base, app = service
    worker = browser.service_workers[0]
    worker.evaluate("chrome.storage.sync.set({clickToSend: true})")
    try:
        before = app.context_posts
        page.goto(f"{site}/news.html?click-mode")
        reported(browser, page, "waiting-for-click")
        time.sleep(2.5)
        assert app.context_posts == before and page.evaluate(HIGHLIGHTED) == []
        # The toolbar click, as the popup sends it: the worker asks the tab's content script.
        worker.evaluate("""async () => {
            const [tab] = await chrome.tabs.query({url: '*://127.0.0.1/*click-mode*'});
            await chrome.tabs.sendMessage(tab.id, {type: 'BG_CS_RUN_NOW'});
        }""")
        wait_for(lambda: len(page.evaluate(HIGHLIGHTED)) >= 3)
    finally:
        worker.evaluate("chrome.storage.sync.set({clickToSend: false})")
    assert page.errors == []
