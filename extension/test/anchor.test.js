import assert from "node:assert/strict";
import { test } from "node:test";
import { page } from "./helpers.mjs";

function setup(html) {
  const win = page(`<!doctype html><body>${html}</body>`, { scripts: ["content/anchor.js"] });
  const blocks = new Map([...win.document.querySelectorAll("[data-b]")].map((el) => [el.dataset.b, el]));
  return { win, blocks };
}

function sentenceIn(text, exact, block, occurrence = 0) {
  let start = -1;
  for (let i = 0; i <= occurrence; i += 1) start = text.indexOf(exact, start + 1);
  const end = start + exact.length;
  return { block, start, end, exact, prefix: text.slice(Math.max(0, start - 32), start), suffix: text.slice(end, end + 32) };
}

test("anchors by offsets when the block is unchanged", () => {
  const { win, blocks } = setup('<p data-b="b0">First claim here. Mexico exports cars to the US. Last one.</p>');
  const text = blocks.get("b0").textContent;
  const range = win.AsideAnchor.anchor(sentenceIn(text, "Mexico exports cars to the US.", "b0"), blocks);
  assert.equal(range.toString(), "Mexico exports cars to the US.");
});

test("text split across inline elements is covered whole", () => {
  const { win, blocks } = setup('<p data-b="b0">Intro. <b>Mexico</b> exports <a href="#">cars</a> to the <em>US</em>. End.</p>');
  const text = blocks.get("b0").textContent;
  const range = win.AsideAnchor.anchor(sentenceIn(text, "Mexico exports cars to the US.", "b0"), blocks);
  assert.equal(range.toString(), "Mexico exports cars to the US.");
  assert.equal(range.startContainer.parentElement.tagName, "B");
  assert.equal(range.endContainer.parentElement.tagName, "P");
});

test("the same sentence twice: the right occurrence by offsets, and by context after an edit", () => {
  const html = '<p data-b="b0">Prices rose. Tariffs hurt farmers. Exports fell. Tariffs hurt farmers. Jobs went.</p>';
  const { win, blocks } = setup(html);
  const el = blocks.get("b0");
  const text = el.textContent;
  const second = sentenceIn(text, "Tariffs hurt farmers.", "b0", 1);
  const range = win.AsideAnchor.anchor(second, blocks);
  assert.equal(range.startOffset, text.lastIndexOf("Tariffs hurt farmers."));
  // The page changed: new text at the start shifts offsets; prefix/suffix still pick the second.
  el.firstChild.data = "Breaking: " + el.firstChild.data;
  const moved = win.AsideAnchor.anchor(second, blocks);
  assert.equal(moved.toString(), "Tariffs hurt farmers.");
  assert.equal(moved.startOffset, el.textContent.lastIndexOf("Tariffs hurt farmers."));
});

test("an ambiguous quote is not highlighted", () => {
  const { win, blocks } = setup('<p data-b="b0">Tariffs hurt farmers. Tariffs hurt farmers.</p>');
  const sentence = { block: "b0", start: 100, end: 121, exact: "Tariffs hurt farmers.", prefix: "zzz", suffix: "qqq" };
  assert.equal(win.AsideAnchor.anchor(sentence, blocks), null);
});

test("the page changed after the request: moved block found by quote, vanished text gives null", () => {
  const { win, blocks } = setup('<p data-b="b0">Old opening. Mexico exports cars to the US.</p><p data-b="b1">Other text.</p>');
  const text = blocks.get("b0").textContent;
  const sentence = sentenceIn(text, "Mexico exports cars to the US.", "b0");
  // The paragraph was replaced by a new element: the old block element is detached.
  const old = blocks.get("b0");
  const replacement = win.document.createElement("p");
  replacement.textContent = "Updated opening, longer now. Mexico exports cars to the US.";
  old.replaceWith(replacement);
  blocks.set("b2", replacement);
  const range = win.AsideAnchor.anchor(sentence, blocks);
  assert.equal(range.toString(), "Mexico exports cars to the US.");
  assert.equal(range.startContainer.parentElement, replacement);
  replacement.textContent = "Mexico now exports fewer cars.";
  assert.equal(win.AsideAnchor.anchor(sentence, blocks), null);
});

test("offsets that no longer match exact fall back instead of highlighting the wrong text", () => {
  const { win, blocks } = setup('<p data-b="b0">Something else entirely is written here now.</p>');
  const sentence = { block: "b0", start: 0, end: 9, exact: "Mexico ex", prefix: "", suffix: "ports" };
  assert.equal(win.AsideAnchor.anchor(sentence, blocks), null);
});
