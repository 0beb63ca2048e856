// Offsets in UTF-16 code units (what JavaScript indexes) beside code points, and the
// readable text that offsets count in: no script, hidden parts or controls; <br> as "\n".
import assert from "node:assert/strict";
import { test } from "node:test";
import { CONTENT, page } from "./helpers.mjs";

const FLAGS = "\u{1F1F2}\u{1F1FD}\u{1F1E8}\u{1F1E6}";
const FAMILY = "\u{1F469}\u200D\u{1F469}\u200D\u{1F466}";
const THUMB = "\u{1F44D}\u{1F3FE}";
const BOLD = "\u{1D40D}\u{1D404}\u{1D416}\u{1D412}";

function setup(html) {
  const win = page(`<!doctype html><body>${html}</body>`, { scripts: CONTENT });
  const blocks = new Map([...win.document.querySelectorAll("[data-b]")].map((el) => [el.dataset.b, el]));
  return { win, blocks };
}

/** A sentence as the service sends it: code points and UTF-16 units, 32 code points of context. */
function served(text, exact, block, occurrence = 0) {
  let at = -1;
  for (let i = 0; i <= occurrence; i += 1) at = text.indexOf(exact, at + 1);
  const cp = (units) => [...text.slice(0, units)].length;
  const chars = [...text];
  const start = cp(at);
  const end = cp(at + exact.length);
  return {
    block, start, end, start_utf16: at, end_utf16: at + exact.length, exact,
    prefix: chars.slice(Math.max(0, start - 32), start).join(""), suffix: chars.slice(end, end + 32).join(""),
  };
}

for (const [name, astral] of Object.entries({ FLAGS, FAMILY, THUMB, BOLD })) {
  test(`after ${name}, the UTF-16 offsets anchor the exact sentence by position`, () => {
    // The same sentence six times: the 3rd and 4th have the same 32 characters around them,
    // so only the position can tell them apart.
    const html = `<p data-b="b0">${astral} ${"Ferries run at dawn. ".repeat(6)}${astral}</p>`;
    const { win, blocks } = setup(html);
    const text = blocks.get("b0").textContent;
    const second = served(text, "Ferries run at dawn.", "b0", 3);
    assert.notEqual(second.start, second.start_utf16, "the two units differ here");
    const range = win.AsideAnchor.anchor(second, blocks);
    assert.equal(range.toString(), "Ferries run at dawn.");
    assert.equal(range.startOffset, second.start_utf16);
    // Code points used as JavaScript indices would cut into the sentence: never trusted blindly.
    const asIfUnits = { ...second, start_utf16: second.start, end_utf16: second.end };
    assert.equal(win.AsideAnchor.anchor(asIfUnits, blocks), null, "ambiguous quote, wrong span: no highlight");
  });
}

test("a service that sends only code points is converted, not sliced as UTF-16", () => {
  const { win, blocks } = setup(`<p data-b="b0">${FLAGS}${FAMILY} Tolls rise. Tolls rise. End ${BOLD}.</p>`);
  const text = blocks.get("b0").textContent;
  const { start_utf16: _s, end_utf16: _e, ...legacy } = served(text, "Tolls rise.", "b0", 1);
  const range = win.AsideAnchor.anchor(legacy, blocks);
  assert.equal(range.startOffset, text.lastIndexOf("Tolls rise."));
  assert.equal(win.AsideAnchor.unitIndex(text, [...text].length), text.length);
});

test("astral characters at the start and end of a sentence are highlighted whole", () => {
  const { win, blocks } = setup(`<p data-b="b0">Intro here. ${THUMB} Mexico buys <b>${BOLD}</b> goods ${FAMILY}</p>`);
  const text = blocks.get("b0").textContent;
  const exact = `${THUMB} Mexico buys ${BOLD} goods ${FAMILY}`;
  const range = win.AsideAnchor.anchor(served(text, exact, "b0"), blocks);
  assert.equal(range.toString(), exact);
  win.AsideHighlight.create(win.document, [{ range, sentence: { exact } }]);
  assert.equal([...win.document.querySelectorAll("aside-mark")].map((m) => m.textContent).join(""), exact);
});

test("offsets count the readable text: script, style, hidden and control text are skipped", () => {
  const html = `<style>.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0)}</style>
    <p data-b="b0">Lead. Mexico buys<script>ads.push(1)</script> cars <span aria-hidden="true">▸ </span>and<style>.x{}</style> parts<noscript>pixel</noscript> from <span class="vh">(link)</span>us.<button>Copy</button><span hidden>note</span> End.</p>`;
  const { win, blocks } = setup(html);
  const p = blocks.get("b0");
  const text = win.AsideAnchor.textOf(p);
  assert.equal(text, "Lead. Mexico buys cars and parts from us. End.");
  const range = win.AsideAnchor.anchor(served(text, "Mexico buys cars and parts from us.", "b0"), blocks);
  assert.ok(range, "found by position in the readable text");
  const styleBefore = win.document.querySelector("p style").textContent;
  win.AsideHighlight.create(win.document, [{ range, sentence: {} }]);
  const marked = [...p.querySelectorAll("aside-mark")].map((m) => m.textContent).join("");
  assert.equal(marked, "Mexico buys cars and parts from us.");
  assert.equal(p.querySelector("script aside-mark, style aside-mark, noscript aside-mark"), null);
  assert.equal(win.document.querySelector("p style").textContent, styleBefore, "the page's CSS is untouched");
});

test("a <br> is a line break in the text, and a sentence after it is highlighted exactly", () => {
  const { win, blocks } = setup('<p data-b="b0">Trucks wait a day.<br>Drivers sleep in cabs.<br></p>');
  const p = blocks.get("b0");
  const text = win.AsideAnchor.textOf(p);
  assert.equal(text, "Trucks wait a day.\nDrivers sleep in cabs.\n");
  const range = win.AsideAnchor.anchor(served(text, "Drivers sleep in cabs.", "b0"), blocks);
  assert.equal(range.toString(), "Drivers sleep in cabs.");
  const across = win.AsideAnchor.rangeFromOffsets(p, 6, text.length);
  assert.equal(across.endContainer, p, "a range may end after the last <br>");
});
