// When the extension is reloaded, updated or removed, the content script on an open page is
// orphaned: it must take its highlights, card, listeners and observer with it, whether the
// port to the worker tells it so or the reader's next event does.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CONTENT_SCRIPTS } from "../scripts/layout.mjs";
import { newsPage, page } from "./helpers.mjs";

const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check, ms = 8000) {
  for (const deadline = Date.now() + ms; !check(); await settle(20)) {
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms: ${check}`);
  }
}

/** Sentences about Mexico, each with a card, as the service would answer. */
function answerFor(blocks) {
  const sentences = [];
  for (const block of blocks) {
    for (const match of block.text.matchAll(/\S[^.!?]*[.!?]/g)) {
      if (!/Mexico/.test(match[0])) continue;
      const start = match.index;
      const end = start + match[0].length;
      sentences.push({
        block: block.id, start, end, start_utf16: start, end_utf16: end, exact: match[0],
        prefix: block.text.slice(Math.max(0, start - 32), start), suffix: block.text.slice(end, end + 32),
        cards: [{ id: "c", text: "Passage.", title: "T", url: null, publisher: "P", published: null, kind: "document", license: null, score: 0.8 }],
      });
    }
  }
  return { sentences, index: { build_id: "test" } };
}

/** The news page with the content scripts on a fake runtime; records every listener added. */
function extensionOn({ highlightApi }) {
  const win = page(newsPage(), { url: "https://news.example/story" });
  const listening = new Set();
  const { addEventListener: add, removeEventListener: remove } = win.EventTarget.prototype;
  const keyOf = (target, type, listener, options) => [target, type, listener, Boolean(typeof options === "object" ? options.capture : options)];
  const same = (a, b) => a.every((v, i) => v === b[i]);
  win.EventTarget.prototype.addEventListener = function (type, listener, options) {
    // jsdom's selector engine listens for :hover itself; those are not ours.
    if (!new Error().stack.includes("nwsapi")) listening.add(keyOf(this, type, listener, options));
    return add.call(this, type, listener, options);
  };
  win.EventTarget.prototype.removeEventListener = function (type, listener, options) {
    const key = keyOf(this, type, listener, options);
    for (const entry of listening) if (same(entry, key)) listening.delete(entry);
    return remove.call(this, type, listener, options);
  };
  const port = { disconnectListeners: [], onDisconnect: { addListener: (f) => port.disconnectListeners.push(f) }, disconnect() {} };
  const messageListeners = new Set();
  const requests = [];
  const states = [];
  win.chrome = {
    runtime: {
      id: "aside-test",
      lastError: undefined,
      connect: () => port,
      onMessage: { addListener: (f) => messageListeners.add(f), removeListener: (f) => messageListeners.delete(f) },
      sendMessage(message, reply) {
        if (message.type === "CS_BG_GET_CONTEXT") {
          requests.push(message.page.blocks.length);
          setTimeout(() => reply({ ok: true, answer: answerFor(message.page.blocks) }), 5);
        } else {
          states.push(message.state.status);
          setTimeout(() => reply({}), 0);
        }
      },
    },
  };
  if (highlightApi) {
    win.Highlight = class extends Set {
      constructor(...ranges) {
        super(ranges);
      }
    };
    win.CSS = { highlights: new Map() };
  }
  for (const script of CONTENT_SCRIPTS) {
    const path = script.startsWith("vendor/")
      ? new URL(`../node_modules/@mozilla/readability/${script.slice(7)}`, import.meta.url)
      : new URL(`../src/${script}`, import.meta.url);
    win.eval(readFileSync(path, "utf8"));
  }
  const onPage = () => [...listening].filter(([target]) => target === win || target === win.document);
  const highlighted = () => (highlightApi ? (win.CSS.highlights.get("aside-context") || new Set()).size : win.document.querySelectorAll("aside-mark").length);
  return { win, port, messageListeners, requests, states, onPage, highlighted };
}

/** The extension goes away: its runtime loses its id, as Chrome's and Firefox's do. */
function unload(ext) {
  delete ext.win.chrome.runtime.id;
}

async function assertGone(ext) {
  const { win } = ext;
  assert.equal(ext.highlighted(), 0, "no highlight left");
  assert.equal(win.document.querySelector("aside-card"), null, "no card host left");
  assert.deepEqual(ext.onPage().map(([, type]) => type), [], "no listener left on the window or document");
  assert.equal(ext.messageListeners.size, 0, "no runtime listener left");
  // The observer is gone too: a change to the article is not read (nor sent) again.
  const [requests, states] = [ext.requests.length, ext.states.length];
  const p = win.document.createElement("p");
  p.textContent = "Mexico announced new inspection hours at the border crossings on Tuesday, officials said.";
  win.document.querySelector("article").append(p);
  await settle(1700); // past main.js's re-read delay
  assert.equal(ext.requests.length, requests);
  assert.equal(ext.states.length, states);
  assert.equal(ext.highlighted(), 0);
}

for (const highlightApi of [false, true]) {
  const mode = highlightApi ? "Custom Highlight API" : "<aside-mark> fallback";

  test(`${mode}: the port's disconnect with the extension gone tears everything down`, async () => {
    const ext = extensionOn({ highlightApi });
    await until(() => ext.states.includes("ok"));
    assert.ok(ext.highlighted() > 0);
    assert.ok(ext.onPage().length > 0);
    if (!highlightApi) {
      ext.win.document.querySelector("aside-mark").focus(); // keyboard focus opens the card
      assert.ok(ext.win.document.querySelector("aside-card"), "a card is open");
    }
    unload(ext);
    for (const listener of ext.port.disconnectListeners) listener();
    await assertGone(ext);
  });
}

test("Chrome's order: the port closes a moment before the runtime loses its id", async () => {
  const ext = extensionOn({ highlightApi: true });
  await until(() => ext.states.includes("ok"));
  for (const listener of ext.port.disconnectListeners) listener();
  await settle(50);
  unload(ext);
  await until(() => ext.highlighted() === 0, 3000); // no event from the reader needed
  await assertGone(ext);
});

test("the worker going to sleep is not the extension going away; the reader's next event tells", async () => {
  const ext = extensionOn({ highlightApi: false });
  await until(() => ext.states.includes("ok"));
  for (const listener of ext.port.disconnectListeners) listener(); // idle worker stopped
  await settle(3300); // past every recheck after the disconnect
  assert.ok(ext.highlighted() > 0, "the highlights stay while the extension is there");
  unload(ext); // later, with no port open, the extension is reloaded
  ext.win.document.dispatchEvent(new ext.win.MouseEvent("mousemove", { bubbles: true }));
  await assertGone(ext);
});
