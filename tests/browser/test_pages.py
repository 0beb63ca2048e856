"""Pages that differ from Readability's copy, astral text, repeated paragraphs and live updates,
in Chromium with the built extension against the real service."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.browser.conftest import wait_for

pytestmark = [pytest.mark.model, pytest.mark.browser]

# Each highlighted range: its paragraph's id, where it starts and ends in the paragraph's text
# (UTF-16 units, as the page counts), and the text it covers that a reader sees.
RANGES = """() => {
  const h = CSS.highlights.get("aside-context");
  const shown = (range) => {
    const walker = document.createTreeWalker(range.commonAncestorContainer.parentNode, NodeFilter.SHOW_TEXT);
    let out = "";
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const hidden = n.parentElement.closest("script, style, noscript, [aria-hidden=true]");
      if (!range.intersectsNode(n) || hidden) continue;
      const s = n === range.startContainer ? range.startOffset : 0;
      const e = n === range.endContainer ? range.endOffset : n.data.length;
      out += n.data.slice(s, e);
    }
    return out;
  };
  const offset = (p, node, at) => {
    const r = document.createRange();
    r.setStart(p, 0);
    r.setEnd(node, at);
    return r.toString().length;
  };
  return h ? [...h].map((r) => {
    const p = r.startContainer.parentElement.closest("p");
    return {id: p.id, start: offset(p, r.startContainer, r.startOffset),
            end: offset(p, r.endContainer, r.endOffset), text: shown(r)};
  }) : [];
}"""
EXPORTS = ("Mexico is the largest trading partner of the United States, and about three quarters of "
           "Mexican exports are sold north of the border.")
CARTELS = ("The administration says Mexican cartels are trafficking fentanyl and other synthetic "
           "opioids into the United States on an industrial scale.")
GATE = ("The Golden Gate Bridge opened to traffic in May 1937 and spans the strait at the mouth of "
        "San Francisco Bay.")


def highlights(page):
    return page.evaluate(RANGES)


def test_astral_text_highlights_exactly_the_right_characters(page, site, service):
    base, app = service
    page.goto(f"{site}/astral.html")
    found = wait_for(lambda: len(highlights(page)) >= 3 and highlights(page))
    for key, where in ((EXPORTS, "flags"), (CARTELS, "family"), (GATE, "maths")):
        assert any(key in h["text"] and h["id"] == where for h in found), (key, found)
    # Ask the service again what it answered, and hold each highlight to it: the sentence's
    # UTF-16 offsets are where the highlight starts and ends in the paragraph's own text.
    request = urllib.request.Request(f"{base}/v1/context", data=json.dumps(app.bodies[-1]).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
    ids = {b["id"]: page.evaluate("t => [...document.querySelectorAll('p')].find((p) => "
                                  "p.textContent === t).id", b["text"]) for b in app.bodies[-1]["blocks"]}
    expected = sorted((ids[s["block"]], s["start_utf16"], s["end_utf16"], s["exact"])
                      for s in answer["sentences"])
    got = sorted((h["id"], h["start"], h["end"], h["text"]) for h in found)
    assert got == expected
    assert any(s["start_utf16"] != s["start"] for s in answer["sentences"]), "the units differ here"
    assert page.errors == []


def test_paragraphs_with_script_and_hidden_parts_are_sent_clean_and_highlighted(page, site, service):
    _base, app = service
    before = app.context_posts
    page.goto(f"{site}/hidden-parts.html")
    found = wait_for(lambda: len(highlights(page)) >= 2 and highlights(page))
    assert app.context_posts == before + 1
    sent = [b["text"] for b in app.bodies[-1]["blocks"]]
    assert len(sent) == 9, sent
    for text in sent:
        assert not re.search(r"adSlots|beacon|opens a PDF|Copy link|Share on|Hidden editor|Template|▸", text)
    # The sentence around the ad script and the one around the hidden icon are highlighted.
    assert {EXPORTS, CARTELS} <= {h["text"] for h in found}
    assert page.evaluate("document.querySelectorAll('aside-mark').length") == 0
    assert page.errors == []


def test_repeated_paragraph_and_live_update(page, site, service):
    _base, app = service
    before = app.context_posts
    page.goto(f"{site}/repeated-live.html")
    wait_for(lambda: len([h for h in highlights(page) if h["text"] == EXPORTS]) >= 2)
    first = app.bodies[-1]["blocks"]
    assert app.context_posts == before + 1
    assert [b["text"] for b in first].count(EXPORTS + " Customs officers on both sides are preparing "
                                            "for longer queues.") == 1, "the repeated text is sent once"
    places = sorted(h["id"] for h in highlights(page) if h["text"] == EXPORTS)
    assert places == ["body-copy", "box-copy"], "each occurrence, once, in its own place"
    # A live-blog update at the top, after the page was read.
    page.evaluate("""text => {
        const p = document.createElement("p");
        p.id = "update";
        p.textContent = text;
        document.getElementById("updates").prepend(p);
    }""", "Update 12:05: " + CARTELS)
    wait_for(lambda: any(h["id"] == "update" for h in highlights(page)))
    assert app.context_posts == before + 2
    (update,) = app.bodies[-1]["blocks"]
    assert update["text"] == "Update 12:05: " + CARTELS, "only the new text is sent"
    assert update["id"] not in {b["id"] for b in first}, "a block id not used before on the page"
    after = highlights(page)
    assert sorted(h["id"] for h in after if h["text"] == EXPORTS) == ["body-copy", "box-copy"], "kept"
    (new,) = [h["text"] for h in after if h["id"] == "update"]
    assert new.endswith(CARTELS)
    assert page.errors == []
