// The background worker: its one dispatcher, the answer cache in storage.session, tab states,
// who may send what, and the API key. It runs on a fake `chrome` (storage, runtime, tabs) and
// a fake API module, so no network.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { page } from "./helpers.mjs";

const WORKER = readFileSync(
  process.env.ASIDE_WORKER || join(dirname(fileURLToPath(import.meta.url)), "..", "src", "background", "worker.js"),
  "utf8",
);
const EXTENSION = "chrome-extension://aside-test/";
const plain = (value) => JSON.parse(JSON.stringify(value)); // objects from the page realm

/** A storage area; with slow, each call takes a few random milliseconds, as a real one may. */
function storageArea(data = new Map(), { slow = false } = {}) {
  const pause = () => (slow ? new Promise((resolve) => setTimeout(resolve, Math.random() * 4)) : undefined);
  return {
    data,
    async get(keys) {
      await pause();
      const wanted = keys === null || keys === undefined ? [...data.keys()] : [].concat(keys);
      return Object.fromEntries(wanted.filter((k) => data.has(k)).map((k) => [k, structuredClone(data.get(k))]));
    },
    async set(items) {
      await pause();
      for (const [k, v] of Object.entries(items)) data.set(k, structuredClone(v));
    },
    async remove(keys) {
      await pause();
      for (const k of [].concat(keys)) data.delete(k);
    },
  };
}

/** A worker loaded as the browser loads it, on the given storage (kept across "evictions"). */
function startWorker({
  sync = new Map(), local = new Map(), session = new Map(), slow = false,
  answer = () => ({ ok: true, answer: { sentences: [] } }),
  feedback = () => ({ ok: true, json: { ok: true, id: 5, duplicate: false } }),
} = {}) {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/messages.js", "shared/settings.js", "shared/apikey.js"] });
  const listeners = { message: [], removed: [], connect: [], installed: [] };
  const asked = [];
  const forwarded = [];
  const reports = [];
  win.chrome = {
    storage: { sync: storageArea(sync, { slow }), local: storageArea(local, { slow }), session: storageArea(session, { slow }) },
    runtime: {
      id: "aside-test",
      getURL: (path) => EXTENSION + path,
      onMessage: { addListener: (f) => listeners.message.push(f) },
      onConnect: { addListener: (f) => listeners.connect.push(f) },
      onInstalled: { addListener: (f) => listeners.installed.push(f) },
    },
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
      asked.push({ serviceUrl: settings.serviceUrl, apiKey: settings.apiKey, page: plain(pageToAsk) });
      return answer(pageToAsk);
    },
    async sendReport(settings, body) {
      reports.push({ method: "POST", apiKey: settings.apiKey, body: plain(body) });
      return feedback(body);
    },
    async withdrawReport(settings, id, install) {
      reports.push({ method: "DELETE", id, install });
      return { ok: true, json: { ok: true, id, withdrawn: true } };
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
  return { send, asked, forwarded, listeners, sync, local, session, reports };
}

// What a content script sends: the page's address is not in it; the browser names the sender.
const article = (url, text = "Mexico is the largest trading partner of the United States.") => ({
  title: "Trade",
  lang: "en",
  blocks: [{ id: "b0", text }],
  hash: `h:${url}`,
});
const fromTab = (id, url = "https://news.example/") => ({ tab: { id }, url });
const fromPopup = { url: `${EXTENSION}popup/popup.html` };
/** A content script in tab `tab` on page `url` asks for context. */
const ask = (worker, url, tab = 1) => worker.send({ type: "CS_BG_GET_CONTEXT", page: article(url) }, fromTab(tab, url));

test("context is asked once per page: a repeat is answered from the cache", async () => {
  const answer = { sentences: [{ block: "b0", exact: "Mexico…", cards: [] }], notices: ["lang"] };
  const worker = startWorker({ answer: () => ({ ok: true, answer }) });
  const first = await ask(worker, "https://news.example/a", 7);
  assert.deepEqual(first, { ok: true, answer });
  const again = await ask(worker, "https://news.example/a", 7);
  assert.deepEqual(again, { ok: true, answer, cached: true });
  assert.equal(worker.asked.length, 1, "the service was asked once");
  assert.equal(worker.asked[0].serviceUrl, "http://127.0.0.1:8080");
  // What left the browser is kept for the popup: the blocks' text, and the answer's notices.
  const state = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 7 }, fromPopup);
  assert.equal(state.status, "asking");
  assert.deepEqual(state.sent.map((s) => s.texts), [["Mexico is the largest trading partner of the United States."]]);
  assert.deepEqual(state.notices, ["lang"]);
});

test("a failed answer is not cached: the next read asks again", async () => {
  let up = false;
  const worker = startWorker({ answer: () => (up ? { ok: true, answer: { sentences: [] } } : { ok: false, error: "service unreachable" }) });
  const again = () => ask(worker, "https://news.example/b", 1);
  assert.deepEqual(await again(), { ok: false, error: "service unreachable" });
  up = true;
  assert.deepEqual(await again(), { ok: true, answer: { sentences: [] } });
  assert.equal(worker.asked.length, 2);
});

test("nothing is sent from a site the reader turned Aside off for", async () => {
  const worker = startWorker({ sync: new Map([["denySites", ["news.example"]]]) });
  const reply = await ask(worker, "https://www.news.example/a", 2);
  assert.deepEqual(reply, { ok: false, error: "Aside is off for this site" });
  assert.equal(worker.asked.length, 0);
});

test("the answer cache is bounded: the oldest pages are evicted, recent ones stay", async () => {
  const worker = startWorker();
  const pages = Array.from({ length: 120 }, (_, n) => `https://news.example/${n}`);
  for (const url of pages) await ask(worker, url, 1);
  const stored = [...worker.session.keys()].filter((k) => k.startsWith("ctx:"));
  assert.ok(stored.length > 1 && stored.length < pages.length, `${stored.length} answers kept of ${pages.length}`);
  assert.deepEqual(worker.session.get("cacheKeys").map((k) => `ctx:${k}`).sort(), stored.sort(), "the index lists what is kept");
  const last = await ask(worker, pages.at(-1), 1);
  assert.equal(last.cached, true, "the most recent page is still cached");
  const first = await ask(worker, pages[0], 1);
  assert.equal(first.cached, undefined, "the oldest was evicted and is asked again");
  assert.equal(worker.asked.length, pages.length + 1);
});

test("the worker keeps nothing in globals: a restarted worker answers from the same storage", async () => {
  const first = startWorker();
  await ask(first, "https://news.example/c", 5);
  await first.send({ type: "CS_BG_REPORT_STATE", state: { status: "ok", cards: 2 } }, fromTab(5));
  const restarted = startWorker({ sync: first.sync, local: first.local, session: first.session });
  const reply = await ask(restarted, "https://news.example/c", 5);
  assert.equal(reply.cached, true);
  assert.equal(restarted.asked.length, 0);
  assert.equal((await restarted.send({ type: "PU_BG_GET_TAB_STATE", tabId: 5 }, fromPopup)).cards, 2);
});

test("tab states: reports merge per tab, other tabs are idle, a closed tab is forgotten", async () => {
  const worker = startWorker();
  await worker.send({ type: "CS_BG_REPORT_STATE", state: { status: "waiting-for-click", early: true } }, fromTab(3, "https://news.example/a"));
  await worker.send({ type: "CS_BG_REPORT_STATE", state: { status: "ok", cards: 4 } }, fromTab(3, "https://news.example/a"));
  const state = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 3 }, fromPopup);
  assert.equal(state.url, "https://news.example/a", "the page's address, as the browser gives it");
  assert.equal(state.early, true, "earlier fields are kept");
  assert.equal(state.status, "ok");
  assert.equal(state.cards, 4);
  assert.equal(typeof state.updated, "number");
  assert.deepEqual(await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 4 }, fromPopup), { status: "idle" });
  worker.listeners.removed[0](3);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 3 }, fromPopup), { status: "idle" });
});

test("the toolbar's run-now reaches the tab's content script, or says why it cannot", async () => {
  const worker = startWorker();
  assert.deepEqual(await worker.send({ type: "PU_BG_RUN_NOW", tabId: 8 }, fromPopup), { ok: true });
  assert.deepEqual(worker.forwarded, [{ tabId: 8, message: { type: "BG_CS_RUN_NOW" } }]);
  const refused = await worker.send({ type: "PU_BG_RUN_NOW", tabId: 404 }, fromPopup);
  assert.equal(refused.ok, false);
  assert.match(refused.error, /cannot be read/);
});

test("an unknown message or a failing handler still gets a reply", async () => {
  const worker = startWorker({ answer: () => { throw new Error("boom"); } });
  assert.deepEqual(await worker.send({ type: "NOT_A_TYPE" }, fromPopup), { ok: false, error: "unknown message" });
  assert.deepEqual(await worker.send(undefined, fromPopup), { ok: false, error: "unknown message" });
  const failed = await ask(worker, "https://news.example/d", 1);
  assert.deepEqual(failed, { ok: false, error: "Error: boom" });
});

test("two tabs answered at once both keep their cache keys, and eviction still works", async () => {
  // Storage calls that take a few milliseconds each interleave the two answers' bookkeeping:
  // without serialising, one tab's read-modify-write of the key index loses the other's key.
  const worker = startWorker({ slow: true });
  const urls = Array.from({ length: 6 }, (_, n) => `https://news.example/pair-${n}`);
  await Promise.all(urls.map((url, n) => ask(worker, url, 10 + n)));
  assert.deepEqual([...worker.session.get("cacheKeys")].sort(), urls.map((url) => `${url}#h:${url}`).sort(), "every key kept");
  // Past the limit, concurrently: what is stored is exactly what the index lists, and no more.
  const many = Array.from({ length: 60 }, (_, n) => `https://news.example/many-${n}`);
  await Promise.all(many.map((url, n) => ask(worker, url, n)));
  const stored = [...worker.session.keys()].filter((k) => k.startsWith("ctx:")).sort();
  const listed = worker.session.get("cacheKeys").map((k) => `ctx:${k}`).sort();
  assert.deepEqual(stored, listed, "no answer escapes the index, so none escapes eviction");
  assert.equal(stored.length, 40, "bounded");
});

test("concurrent reports from one tab are merged, not lost", async () => {
  const worker = startWorker({ slow: true });
  const tab = fromTab(6, "https://news.example/m");
  await Promise.all([
    worker.send({ type: "CS_BG_REPORT_STATE", state: { a: 1 } }, tab),
    worker.send({ type: "CS_BG_REPORT_STATE", state: { b: 2 } }, tab),
    ask(worker, "https://news.example/m", 6),
  ]);
  const state = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 6 }, fromPopup);
  assert.equal(state.a, 1);
  assert.equal(state.b, 2);
  assert.equal(state.sent.length, 1);
});

test("the tab and the page are the browser's word, not the message's", async () => {
  const worker = startWorker({ sync: new Map([["denySites", ["bank.example"]]]) });
  // A content script cannot name another tab: its report lands on its own tab.
  await worker.send({ type: "CS_BG_REPORT_STATE", tabId: 9, state: { status: "ok", tabId: 9 } }, fromTab(2, "https://news.example/x"));
  assert.deepEqual(await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 9 }, fromPopup), { status: "idle" });
  assert.equal((await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 2 }, fromPopup)).status, "ok");
  // Nor ask for what only the popup may: another tab's state, or a run in another tab.
  const peek = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 2 }, fromTab(3, "https://evil.example/"));
  assert.deepEqual(peek, { ok: false, error: "not from the popup" });
  const run = await worker.send({ type: "PU_BG_RUN_NOW", tabId: 2 }, fromTab(3, "https://evil.example/"));
  assert.deepEqual(run, { ok: false, error: "not from the popup" });
  assert.deepEqual(worker.forwarded, []);
  // A page address in the message counts for nothing: the deny list is held to the sender's.
  const page = { ...article("https://news.example/x"), url: "https://news.example/x" };
  const denied = await worker.send({ type: "CS_BG_GET_CONTEXT", page }, fromTab(4, "https://www.bank.example/statement"));
  assert.deepEqual(denied, { ok: false, error: "Aside is off for this site" });
  // Content-script messages come only from content scripts.
  const fake = await worker.send({ type: "CS_BG_GET_CONTEXT", page }, fromPopup);
  assert.deepEqual(fake, { ok: false, error: "not from a content script" });
  assert.equal(worker.asked.length, 0);
});

test("what is sent: the title, the language and the blocks, not the page's address", async () => {
  const worker = startWorker();
  await ask(worker, "https://news.example/private?token=abc", 1);
  assert.deepEqual(Object.keys(worker.asked[0].page).sort(), ["blocks", "hash", "lang", "title"]);
  const state = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 1 }, fromPopup);
  assert.equal(state.sent[0].title, "Trade");
  assert.equal(state.sent[0].lang, "en");
});

test("a remote service over plain http is refused; https and loopback http are used", async () => {
  const plainHttp = startWorker({ sync: new Map([["serviceUrl", "http://aside.example"]]) });
  const refused = await ask(plainHttp, "https://news.example/a");
  assert.equal(refused.ok, false);
  assert.match(refused.error, /http:\/\/ is allowed only for a service on this computer/);
  assert.equal(plainHttp.asked.length, 0);
  const secure = startWorker({ sync: new Map([["serviceUrl", "https://aside.example"]]) });
  assert.equal((await ask(secure, "https://news.example/a")).ok, true);
});

test("the API key lives in storage.local, goes only to its own service, and a synced key moves there once", async () => {
  // A key synced by an earlier version: moved to local on first use, removed from sync.
  const sync = new Map([["apiKey", "old-key"], ["serviceUrl", "https://aside.example"]]);
  const worker = startWorker({ sync });
  await ask(worker, "https://news.example/a");
  assert.equal(worker.asked[0].apiKey, "old-key");
  assert.equal(sync.has("apiKey"), false, "no longer synced");
  assert.deepEqual(worker.local.get("apiKey"), { key: "old-key", origin: "https://aside.example" });
  // Settings as content scripts read them have no key.
  const win = page("<!doctype html><body></body>", { scripts: ["shared/settings.js"] });
  win.chrome = { storage: { sync: storageArea(new Map([...sync, ["apiKey", "stray"]])) } };
  assert.equal("apiKey" in (await win.AsideSettings.load()), false);
  // Pointed at another service (by whatever wrote the setting), the key stays behind.
  sync.set("serviceUrl", "https://collector.example");
  const moved = startWorker({ sync, local: worker.local });
  await ask(moved, "https://news.example/b");
  assert.equal(moved.asked[0].serviceUrl, "https://collector.example");
  assert.equal(moved.asked[0].apiKey, "");
  // A key already in local wins over a stale synced one, which is removed.
  sync.set("apiKey", "stale");
  sync.set("serviceUrl", "https://aside.example");
  const again = startWorker({ sync, local: worker.local });
  await again.listeners.installed[0]({ reason: "update" });
  assert.equal(sync.has("apiKey"), false);
  assert.equal(again.local.get("apiKey").key, "old-key");
});

// A report as the content script sends it: the card's ids, the answer's build, the sentence.
const REPORT = {
  verdict: "wrong-match", reason: "off-topic", includeSentence: false, build: "20261129T120000Z-abc123",
  card: { id: "17", doc_id: "factbook:mx:exports", passage_hash: "0123456789abcdef0123456789abcdef" },
  sentence: { hash: "a".repeat(64), vector: "AAEC", text: "Mexico is the largest trading partner." },
};

test("a report carries ids, hashes and the reason, never the sentence's text unless the reader ticks it", async () => {
  const worker = startWorker();
  const reply = await worker.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(3));
  assert.equal(reply.ok, true);
  assert.equal(reply.id, 5);
  const [sent] = worker.reports;
  assert.deepEqual(Object.keys(sent.body).sort(), ["build", "doc_id", "install", "passage_hash", "passage_id",
    "reason", "reported", "sentence_hash", "vector", "verdict"]);
  assert.equal(sent.body.passage_id, "17");
  assert.equal(sent.body.install, reply.install);
  assert.ok(!JSON.stringify(sent.body).includes("trading partner"), "no page text");
  // Ticked: the sentence goes too.
  await worker.send({ type: "CS_BG_FEEDBACK", report: { ...REPORT, includeSentence: true } }, fromTab(3));
  assert.equal(worker.reports[1].body.sentence, "Mexico is the largest trading partner.");
  // The popup lists exactly what left, newest first.
  const state = await worker.send({ type: "PU_BG_GET_TAB_STATE", tabId: 3 }, fromPopup);
  assert.deepEqual(state.sent.map((s) => s.kind), ["report", "report"]);
  assert.deepEqual(state.sent[1].body, sent.body);
});

test("the install id is random, kept, and replaced after 30 days", async () => {
  const local = new Map();
  const worker = startWorker({ local });
  const first = (await worker.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(1))).install;
  assert.match(first, /^[A-Za-z0-9_-]{22}$/);
  assert.equal((await worker.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(1))).install, first, "kept");
  local.set("feedbackInstall", { id: first, created: Date.now() - 31 * 86_400_000 });
  const renewed = (await worker.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(1))).install;
  assert.notEqual(renewed, first, "a 31-day-old id is replaced");
  assert.equal(startWorker().listeners.message.length, 1);
});

test("a malformed report is refused in the worker; a failed one is said; a sent one clears cached answers", async () => {
  const worker = startWorker({ feedback: () => ({ ok: false, status: 503, error: "the feedback store is full" }) });
  const bad = await worker.send({ type: "CS_BG_FEEDBACK", report: { ...REPORT, verdict: "spam" } }, fromTab(1));
  assert.deepEqual(bad, { ok: false, error: "the report is malformed" });
  const badHash = await worker.send({ type: "CS_BG_FEEDBACK", report: { ...REPORT, card: { ...REPORT.card, passage_hash: "x" } } }, fromTab(1));
  assert.equal(badHash.ok, false);
  assert.equal(worker.reports.length, 0, "nothing sent");
  const failed = await worker.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(1));
  assert.deepEqual(failed, { ok: false, status: 503, error: "the feedback store is full" });
  // Sent: the next load of a page asks the service again (an operator may block the card).
  const ok = startWorker();
  await ask(ok, "https://news.example/c", 4);
  await ok.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(4));
  await ask(ok, "https://news.example/c", 4);
  assert.equal(ok.asked.length, 2, "asked again after the report");
});

test("undo withdraws the report with the install id that sent it; only a content script may report", async () => {
  const worker = startWorker();
  const reply = await worker.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(2));
  const undone = await worker.send({ type: "CS_BG_FEEDBACK_UNDO", id: reply.id, install: reply.install }, fromTab(2));
  assert.deepEqual(undone, { ok: true });
  assert.deepEqual(worker.reports.at(-1), { method: "DELETE", id: 5, install: reply.install });
  const fromPage = await worker.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromPopup);
  assert.deepEqual(fromPage, { ok: false, error: "not from a content script" });
  const off = startWorker({ sync: new Map([["denySites", ["news.example"]]]) });
  assert.deepEqual(await off.send({ type: "CS_BG_FEEDBACK", report: REPORT }, fromTab(1)), { ok: false, error: "Aside is off for this site" });
});
