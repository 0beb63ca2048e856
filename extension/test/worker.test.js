// The background worker: its one dispatcher, the answer cache in storage.session, tab states.
// It runs on a fake `chrome` (storage, runtime, tabs) and a fake API module, so no network.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { page } from "./helpers.mjs";

const WORKER = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "src", "background", "worker.js"), "utf8");
const plain = (value) => JSON.parse(JSON.stringify(value)); // objects from the page realm

function storageArea(data = new Map()) {
  return {
    data,
    async get(keys) {
      const wanted = keys === null || keys === undefined ? [...data.keys()] : [].concat(keys);
      return Object.fromEntries(wanted.filter((k) => data.has(k)).map((k) => [k, structuredClone(data.get(k))]));
    },
    async set(items) {
      for (const [k, v] of Object.entries(items)) data.set(k, structuredClone(v));
    },
    async remove(keys) {
      for (const k of [].concat(keys)) data.delete(k);
    },
  };
}

/** A worker loaded as the browser loads it, on the given storage (kept across "evictions"). */
function startWorker({ sync = new Map(), session = new Map(), answer = () => ({ ok: true, answer: { sentences: [] } }) } = {}) {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/messages.js", "shared/settings.js"] });
  const listeners = { message: [], removed: [] };
  const asked = [];
  const forwarded = [];
  win.chrome = {
    storage: { sync: storageArea(sync), session: storageArea(session) },
    runtime: { onMessage: { addListener: (f) => listeners.message.push(f) } },
    tabs: {
      async sendMessage(tabId, message) {
        if (tabId === 404) throw new Error("Could not establish connection. Receiving end does not exist.");
        forwarded.push({ tabId, message: plain(message) });
      },
      onRemoved: { addListener: (f) => listeners.removed.push(f) },
    },
  };
  win.AsideApi = {
    async fetchContext(settings, pageToAsk) {
      asked.push({ serviceUrl: settings.serviceUrl, page: plain(pageToAsk) });
      return answer(pageToAsk);
    },
  };
  win.eval(WORKER);
  assert.equal(listeners.message.length, 1, "one onMessage listener: the dispatcher");

  /** Send a message as runtime.sendMessage would, and wait for the reply. */
  function send(message, sender = {}) {
    return new Promise((resolve) => {
      const async = listeners.message[0](message, sender, (reply) => resolve(plain(reply)));
      assert.equal(async, true, "the listener keeps the channel open for its reply");
    });
  }
  return { send, asked, forwarded, listeners, sync, session };
}

const article = (url, text = "Mexico is the largest trading partner of the United States.") => ({
  url,
  title: "Trade",
  blocks: [{ id: "b0", text }],
  hash: `h:${url}`,
});
const fromTab = (id) => ({ tab: { id } });

test("context is asked once per page: a repeat is answered from the cache", async () => {
  const answer = { sentences: [{ block: "b0", exact: "Mexico…", cards: [] }], notices: ["lang"] };
  const worker = startWorker({ answer: () => ({ ok: true, answer }) });
  const first = await worker.send({ type: "CS_BG_GET_CONTEXT", page: article("https://news.example/a") }, fromTab(7));
  assert.deepEqual(first, { ok: true, answer });
  const again = await worker.send({ type: "CS_BG_GET_CONTEXT", page: article("https://news.example/a") }, fromTab(7));
  assert.deepEqual(again, { ok: true, answer, cached: true });
  assert.equal(worker.asked.length, 1, "the service was asked once");
  assert.equal(worker.asked[0].serviceUrl, "http://127.0.0.1:8080");
  // What left the browser is kept for the popup: the blocks' text, and the answer's notices.
  const state = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 7 });
  assert.equal(state.status, "asking");
  assert.deepEqual(state.sent.map((s) => s.texts), [["Mexico is the largest trading partner of the United States."]]);
  assert.deepEqual(state.notices, ["lang"]);
});

test("a failed answer is not cached: the next read asks again", async () => {
  let up = false;
  const worker = startWorker({ answer: () => (up ? { ok: true, answer: { sentences: [] } } : { ok: false, error: "service unreachable" }) });
  const ask = () => worker.send({ type: "CS_BG_GET_CONTEXT", page: article("https://news.example/b") }, fromTab(1));
  assert.deepEqual(await ask(), { ok: false, error: "service unreachable" });
  up = true;
  assert.deepEqual(await ask(), { ok: true, answer: { sentences: [] } });
  assert.equal(worker.asked.length, 2);
});

test("nothing is sent from a site the reader turned Aside off for", async () => {
  const worker = startWorker({ sync: new Map([["denySites", ["news.example"]]]) });
  const reply = await worker.send({ type: "CS_BG_GET_CONTEXT", page: article("https://www.news.example/a") }, fromTab(2));
  assert.deepEqual(reply, { ok: false, error: "Aside is off for this site" });
  assert.equal(worker.asked.length, 0);
});

test("the answer cache is bounded: the oldest pages are evicted, recent ones stay", async () => {
  const worker = startWorker();
  const pages = Array.from({ length: 120 }, (_, n) => article(`https://news.example/${n}`));
  for (const p of pages) await worker.send({ type: "CS_BG_GET_CONTEXT", page: p }, fromTab(1));
  const stored = [...worker.session.keys()].filter((k) => k.startsWith("ctx:"));
  assert.ok(stored.length > 1 && stored.length < pages.length, `${stored.length} answers kept of ${pages.length}`);
  assert.deepEqual(worker.session.get("cacheKeys").map((k) => `ctx:${k}`).sort(), stored.sort(), "the index lists what is kept");
  const last = await worker.send({ type: "CS_BG_GET_CONTEXT", page: pages.at(-1) }, fromTab(1));
  assert.equal(last.cached, true, "the most recent page is still cached");
  const first = await worker.send({ type: "CS_BG_GET_CONTEXT", page: pages[0] }, fromTab(1));
  assert.equal(first.cached, undefined, "the oldest was evicted and is asked again");
  assert.equal(worker.asked.length, pages.length + 1);
});

test("the worker keeps nothing in globals: a restarted worker answers from the same storage", async () => {
  const first = startWorker();
  await first.send({ type: "CS_BG_GET_CONTEXT", page: article("https://news.example/c") }, fromTab(5));
  await first.send({ type: "CS_BG_REPORT_STATE", state: { status: "ok", cards: 2 } }, fromTab(5));
  const restarted = startWorker({ sync: first.sync, session: first.session });
  const reply = await restarted.send({ type: "CS_BG_GET_CONTEXT", page: article("https://news.example/c") }, fromTab(5));
  assert.equal(reply.cached, true);
  assert.equal(restarted.asked.length, 0);
  assert.equal((await restarted.send({ type: "PU_BG_GET_TAB_STATE", tabId: 5 })).cards, 2);
});

test("tab states: reports merge per tab, other tabs are idle, a closed tab is forgotten", async () => {
  const worker = startWorker();
  await worker.send({ type: "CS_BG_REPORT_STATE", state: { url: "https://news.example/a", status: "waiting-for-click" } }, fromTab(3));
  await worker.send({ type: "CS_BG_REPORT_STATE", state: { status: "ok", cards: 4 } }, fromTab(3));
  const state = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 3 });
  assert.equal(state.url, "https://news.example/a", "earlier fields are kept");
  assert.equal(state.status, "ok");
  assert.equal(state.cards, 4);
  assert.equal(typeof state.updated, "number");
  assert.deepEqual(await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 4 }), { status: "idle" });
  worker.listeners.removed[0](3);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 3 }), { status: "idle" });
});

test("the toolbar's run-now reaches the tab's content script, or says why it cannot", async () => {
  const worker = startWorker();
  assert.deepEqual(await worker.send({ type: "PU_CS_RUN_NOW", tabId: 8 }), { ok: true });
  assert.deepEqual(worker.forwarded, [{ tabId: 8, message: { type: "BG_CS_RUN_NOW" } }]);
  const refused = await worker.send({ type: "PU_CS_RUN_NOW", tabId: 404 });
  assert.equal(refused.ok, false);
  assert.match(refused.error, /cannot be read/);
});

test("an unknown message or a failing handler still gets a reply", async () => {
  const worker = startWorker({ answer: () => { throw new Error("boom"); } });
  assert.deepEqual(await worker.send({ type: "NOT_A_TYPE" }), { ok: false, error: "unknown message" });
  assert.deepEqual(await worker.send(undefined), { ok: false, error: "unknown message" });
  const failed = await worker.send({ type: "CS_BG_GET_CONTEXT", page: article("https://news.example/d") }, fromTab(1));
  assert.deepEqual(failed, { ok: false, error: "Error: boom" });
});
