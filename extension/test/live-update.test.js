// Repeated paragraphs and live updates, through the real content-script entry (main.js) with a
// fake worker that answers as the service does: both offsets, a card on some sentences.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CONTENT_SCRIPTS } from "../scripts/layout.mjs";
import { page } from "./helpers.mjs";

const pages = new URL("../../tests/fixtures/pages/", import.meta.url);
const REREAD_WAIT_MS = 1700; // main.js waits 1200 ms after a change before reading again

/** Sentences of a block as the service returns them, with a card where `carded` matches. */
function answerFor(blocks, carded) {
  const sentences = [];
  for (const block of blocks) {
    for (const match of block.text.matchAll(/\S[^.!?]*[.!?]/g)) {
      if (!carded.test(match[0])) continue;
      const start = match.index;
      const end = start + match[0].length;
      sentences.push({
        block: block.id, start: [...block.text.slice(0, start)].length, end: [...block.text.slice(0, end)].length,
        start_utf16: start, end_utf16: end, exact: match[0],
        prefix: block.text.slice(Math.max(0, start - 32), start), suffix: block.text.slice(end, end + 32),
        cards: [{ id: `c${sentences.length}`, text: "Passage.", title: "Mexico — Exports", url: null, publisher: "Factbook",
          published: null, kind: "factbook", license: null, score: 0.8 }],
      });
    }
  }
  return { sentences, index: { build_id: "test" } };
}

/** A page running the extension's content scripts against a fake worker; returns what it sent. */
function extensionOn(file, { highlightApi = false, carded = /Mexico|Update/ } = {}) {
  const html = readFileSync(new URL(file, pages), "utf8");
  const requests = [];
  const states = [];
  const win = page(html, { url: "https://wire.example/live/talks" });
  win.chrome = {
    runtime: {
      id: "aside-test",
      lastError: undefined,
      onMessage: { addListener() {} },
      sendMessage(message, reply) {
        if (message.type === "CS_BG_GET_CONTEXT") {
          requests.push(JSON.parse(JSON.stringify(message.page.blocks))); // into this realm
          setTimeout(() => reply({ ok: true, answer: answerFor(message.page.blocks, carded) }), 5);
        } else {
          states.push(message.state);
          setTimeout(() => reply({}), 0);
        }
      },
    },
  };
  if (highlightApi) fakeHighlightApi(win);
  for (const script of CONTENT_SCRIPTS) {
    const path = script.startsWith("vendor/")
      ? new URL(`../node_modules/@mozilla/readability/${script.slice(7)}`, import.meta.url)
      : new URL(`../src/${script}`, import.meta.url);
    win.eval(readFileSync(path, "utf8"));
  }
  return { win, requests, states };
}

/** The CSS Custom Highlight API's shape, which jsdom lacks: enough for highlight.js. */
function fakeHighlightApi(win) {
  win.Highlight = class extends Set {
    constructor(...ranges) {
      super(ranges);
    }
  };
  win.CSS = { highlights: new Map() };
}

/** Highlighted text of each paragraph (by id), in either mode. */
function highlighted(win, highlightApi) {
  const out = {};
  if (highlightApi) {
    for (const range of win.CSS.highlights.get("aside-context") || []) {
      const p = range.startContainer.parentElement.closest("p");
      (out[p.id || p.textContent.slice(0, 12)] ||= []).push(range.toString());
    }
  } else {
    for (const mark of win.document.querySelectorAll("aside-mark")) {
      const p = mark.closest("p");
      (out[p.id || p.textContent.slice(0, 12)] ||= []).push(mark.textContent);
    }
  }
  return out;
}

const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until check() holds (the machine may be slow), failing after a generous time. */
async function until(check, ms = 8000) {
  for (const deadline = Date.now() + ms; !check(); await settle(50)) {
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms: ${check}`);
  }
}
const EXPORTS = "Mexico is the largest trading partner of the United States, and about three quarters of Mexican exports are sold north of the border.";

for (const highlightApi of [false, true]) {
  const mode = highlightApi ? "Custom Highlight API" : "<aside-mark> fallback";

  test(`${mode}: a repeated paragraph is sent once and highlighted once in each place`, async () => {
    const { win, requests, states } = extensionOn("repeated-live.html", { highlightApi });
    await until(() => states.some((state) => state.status === "ok"));
    assert.equal(requests.length, 1);
    const texts = requests[0].map((b) => b.text);
    assert.equal(texts.filter((t) => t.startsWith("Mexico is the largest")).length, 1, "the repeated text is sent once");
    assert.equal(texts.length, 5);
    const shown = highlighted(win, highlightApi);
    assert.deepEqual(shown["body-copy"], [EXPORTS]);
    assert.deepEqual(shown["box-copy"], [EXPORTS]);
    if (!highlightApi) {
      assert.equal(win.document.querySelectorAll("#box-copy aside-mark").length, 1, "one mark, not four");
    }
    const ok = states.filter((s) => s.status === "ok").at(-1);
    assert.equal(ok.cards, 1, "the card is counted once");
    assert.equal(ok.highlights, 2);
  });

  test(`${mode}: a live update keeps earlier highlights and is sent alone with a new id`, async () => {
    const { win, requests, states } = extensionOn("repeated-live.html", { highlightApi });
    await until(() => states.some((state) => state.status === "ok"));
    const firstIds = requests[0].map((b) => b.id);
    const update = win.document.createElement("p");
    update.id = "update";
    update.textContent = "Update 11:40: Mexico sent a revised proposal on inspection hours, officials from both delegations said.";
    win.document.getElementById("updates").prepend(update);
    await until(() => states.filter((state) => state.status === "ok").length === 2);
    assert.equal(requests.length, 2, "the update was read");
    assert.deepEqual(requests[1].map((b) => b.text), [update.textContent], "only the new text is sent");
    assert.ok(!firstIds.includes(requests[1][0].id), `a new block id, not one of ${firstIds}`);
    const shown = highlighted(win, highlightApi);
    assert.deepEqual(shown["body-copy"], [EXPORTS], "earlier highlights survive");
    assert.deepEqual(shown["box-copy"], [EXPORTS]);
    assert.deepEqual(shown.update, [update.textContent]);
    // A second, unrelated change sends nothing again and keeps every highlight.
    win.document.querySelector("nav").append(" ");
    await settle(REREAD_WAIT_MS);
    assert.equal(requests.length, 2);
    assert.equal(Object.values(highlighted(win, highlightApi)).flat().length, 3);
  });
}
