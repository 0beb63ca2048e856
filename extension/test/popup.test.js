// The popup: it names the tab it was opened over (tabs.query, no `tabs` permission needed for
// the id), and shows what left the browser with the page's text isolated from its own words.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { page } from "./helpers.mjs";

const html = readFileSync(new URL("../src/popup/popup.html", import.meta.url), "utf8");
const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

async function popup({ clickToSend = false, state = {} } = {}) {
  const win = page(html.replace(/<script[^>]*><\/script>/g, ""), { url: "chrome-extension://aside-test/popup/popup.html" });
  const sent = [];
  const queries = [];
  win.chrome = {
    storage: { sync: { get: async () => ({ clickToSend }) } },
    tabs: {
      async query(info) {
        queries.push(JSON.parse(JSON.stringify(info)));
        return [{ id: 42 }]; // no url or title: the popup must not need them
      },
    },
    runtime: {
      lastError: undefined,
      openOptionsPage() {},
      sendMessage(message, reply) {
        sent.push(JSON.parse(JSON.stringify(message)));
        setTimeout(() => reply(message.type === "PU_BG_GET_TAB_STATE" ? state : { ok: true }), 0);
      },
    },
  };
  for (const script of ["shared/messages.js", "shared/settings.js", "popup/popup.js"]) {
    win.eval(readFileSync(new URL(`../src/${script}`, import.meta.url), "utf8"));
  }
  await settle();
  return { win, sent, queries };
}

test("in click mode, opening the popup runs its own tab, by the id tabs.query gives", async () => {
  const { sent, queries } = await popup({ clickToSend: true });
  assert.deepEqual(queries[0], { active: true, currentWindow: true });
  assert.deepEqual(sent[0], { type: "PU_BG_RUN_NOW", tabId: 42 });
  assert.deepEqual(sent[1], { type: "PU_BG_GET_TAB_STATE", tabId: 42 });
});

test("what left the browser: title, language and paragraphs, each piece of page text isolated", async () => {
  const RLO = "\u202e";
  const { win } = await popup({
    state: { status: "ok", sent: [{ at: 0, title: `Title${RLO}`, lang: "en", texts: [`One${RLO}.`, "Two."] }] },
  });
  const item = win.document.querySelector("#sent li");
  assert.match(item.textContent, /: title “Title\u202e”, language en, 2 paragraphs:\n\nOne\u202e\.\n\nTwo\.$/);
  assert.deepEqual([...item.querySelectorAll("bdi")].map((b) => b.textContent), [`Title${RLO}`, `One${RLO}.`, "Two."]);
  assert.ok([...item.querySelectorAll("bdi")].every((b) => b.getAttribute("dir") === "auto"));
});

test("a report in 'what was sent' lists every field that left, and says the sentence's text did not", async () => {
  const body = { verdict: "wrong-match", reason: "off-topic", passage_id: "17", doc_id: "factbook:mx",
    passage_hash: "0".repeat(32), build: "b1", sentence_hash: "a".repeat(64), install: "abc_DEF-123",
    reported: "2026-11-29T12:00:00.000Z", vector: btoa("x".repeat(384)) };
  const { win } = await popup({ state: { status: "ok", sent: [{ at: 0, kind: "report", body }] } });
  const text = win.document.querySelector("#sent li").textContent;
  assert.match(text, /report “wrong-match” \(off-topic\) on a card:/);
  for (const field of ["passage_id: 17", "doc_id: factbook:mx", "build: b1", `sentence_hash: ${"a".repeat(64)}`,
    "install: abc_DEF-123", "reported: 2026-11-29T12:00:00.000Z"]) assert.ok(text.includes(field), field);
  assert.match(text, /vector: the sentence's vector, 384 numbers \(not its text\)/);
  assert.match(text, /the sentence's text was not sent/);
  const withText = await popup({ state: { status: "ok", sent: [{ at: 0, kind: "report", body: { ...body, sentence: "Mexico exports cars." } }] } });
  assert.match(withText.win.document.querySelector("#sent li").textContent, /sentence \(you chose to send it\): Mexico exports cars\./);
});
