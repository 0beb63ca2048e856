import assert from "node:assert/strict";
import { test } from "node:test";
import { CONTENT, page } from "./helpers.mjs";

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

test("the controller opens a card on keyboard focus of a mark and closes it on Escape", () => {
  const html = '<!doctype html><body><p id="p">Mexico exports cars to the US. End.</p></body>';
  const win = page(html, { scripts: CONTENT });
  const p = win.document.getElementById("p");
  const range = win.AsideAnchor.rangeFromOffsets(p, 0, 30);
  const sentence = { exact: "Mexico exports cars to the US.", cards: [
    { id: "1", text: "USA 76%", title: "Mexico — Exports - partners", url: "https://example.org/", publisher: "CIA World Factbook", published: "2023", kind: "factbook", license: null, score: 0.79 },
  ] };
  const controller = win.AsideController.attach(win.document, [{ range, sentence }]);
  win.document.querySelector("aside-mark").focus();
  const host = win.document.querySelector("aside-card");
  assert.ok(host && host.shadowRoot.querySelector(".card"), "focus opened the card");
  assert.match(host.shadowRoot.querySelector(".source").textContent, /CIA World Factbook/);
  win.document.dispatchEvent(new win.KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
  assert.equal(host.shadowRoot.querySelector(".card"), null, "Escape closed it");
  controller.destroy();
  assert.equal(win.document.querySelector("aside-card"), null);
  assert.equal(p.innerHTML, "Mexico exports cars to the US. End.");
});
