import assert from "node:assert/strict";
import { test } from "node:test";
import { CONTENT, captureShadowRoots, page } from "./helpers.mjs";

test("without the Custom Highlight API, marks wrap the text and clear() restores the page", () => {
  const html = '<!doctype html><body><p id="p">Intro. <b>Mexico</b> exports <a href="#">cars</a> to the US. End.</p></body>';
  const win = page(html, { scripts: CONTENT });
  assert.equal(win.AsideHighlight.supportsHighlights(win), false, "jsdom has no CSS.highlights");
  const p = win.document.getElementById("p");
  const before = p.innerHTML;
  const text = p.textContent;
  const start = text.indexOf("Mexico");
  const range = win.AsideAnchor.rangeFromOffsets(p, start, text.indexOf(" End."));
  const view = win.AsideHighlight.create(win.document, [{ range, sentence: { exact: "x", cards: [] } }]);
  assert.equal(view.mode, "wrapping");
  const marks = [...p.querySelectorAll("aside-mark")];
  assert.equal(marks.map((m) => m.textContent).join(""), "Mexico exports cars to the US.");
  assert.ok(marks.every((m) => m.tabIndex === 0), "marks are reachable by keyboard");
  assert.equal(p.textContent, text, "the text itself is unchanged");
  view.setActive(0);
  assert.ok(marks.every((m) => m.hasAttribute("data-active")));
  view.clear();
  assert.equal(p.innerHTML, before);
});

const SENTENCE = { exact: "Mexico exports cars to the US.", cards: [
  { id: "1", text: "USA 76%", title: "Mexico — Exports - partners", url: "https://example.org/", publisher: "CIA World Factbook", published: "2023", kind: "factbook", license: null, score: 0.79 },
] };

function markedPage() {
  const html = '<!doctype html><body><p id="p">Mexico exports cars to the US. End.</p></body>';
  const win = page(html, { scripts: CONTENT });
  const roots = captureShadowRoots(win);
  const p = win.document.getElementById("p");
  const range = win.AsideAnchor.rangeFromOffsets(p, 0, 30);
  return { win, roots, p, items: [{ range, sentence: SENTENCE }] };
}

const altShiftJ = (win) => new win.KeyboardEvent("keydown", { key: "J", code: "KeyJ", altKey: true, shiftKey: true, bubbles: true, cancelable: true });

test("the controller opens a card on keyboard focus of a mark and closes it on Escape", () => {
  const { win, roots, p, items } = markedPage();
  // jsdom's synthetic events stand for the reader's here; the next test holds the default.
  const controller = win.AsideController.attach(win.document, items, { trusted: () => true });
  win.document.querySelector("aside-mark").focus();
  const host = win.document.querySelector("aside-card");
  const shadow = roots.get(host);
  assert.ok(host && shadow.querySelector(".card"), "focus opened the card");
  assert.match(shadow.querySelector(".source").textContent, /CIA World Factbook/);
  // Focus stays on the sentence; a screen reader hears the card from the live region.
  assert.equal(win.document.activeElement.localName, "aside-mark");
  assert.equal(shadow.querySelector("[role=status]").textContent,
    "Context from CIA World Factbook, Mexico — Exports - partners, 2023: USA 76%");
  assert.equal(p.querySelector("aside-mark").getAttribute("role"), null, "a mark is not announced as a highlight");
  win.document.dispatchEvent(new win.KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
  assert.equal(shadow.querySelector(".card"), null, "Escape closed it");
  assert.equal(shadow.querySelector("[role=status]").textContent, "", "nothing left to announce");
  win.document.dispatchEvent(altShiftJ(win));
  assert.ok(shadow.querySelector(".card"), "Alt+Shift+J opened it");
  assert.equal(shadow.activeElement, shadow.querySelector(".card"), "and moved focus into it");
  controller.destroy();
  assert.equal(win.document.querySelector("aside-card"), null);
  assert.equal(p.innerHTML, "Mexico exports cars to the US. End.");
});

test("a page script can neither drive the cards nor read them", () => {
  const { win, roots, items } = markedPage();
  const controller = win.AsideController.attach(win.document, items);
  // Events a script dispatches are not the reader's (isTrusted is false): nothing opens.
  const key = altShiftJ(win);
  win.document.dispatchEvent(key);
  assert.equal(key.defaultPrevented, false, "the page's own event is left alone");
  win.document.dispatchEvent(new win.MouseEvent("mousemove", { clientX: 5, clientY: 5, bubbles: true }));
  assert.equal(win.document.querySelector("aside-card"), null, "no card opened");
  // Opened by the reader, the card is in a closed shadow root: the page sees only its host.
  controller.open(0);
  const host = win.document.querySelector("aside-card");
  assert.ok(roots.get(host).querySelector(".card"), "the card is shown");
  assert.equal(host.shadowRoot, null, "host.shadowRoot is null: the root is closed");
  assert.equal(host.textContent, "", "no card text in the page's DOM");
  controller.destroy();
});
