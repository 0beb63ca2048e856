import assert from "node:assert/strict";
import { test } from "node:test";
import { page } from "./helpers.mjs";

const plain = (value) => JSON.parse(JSON.stringify(value)); // objects from the page realm
const win = page("<!doctype html><body></body>", { scripts: ["background/api.js"] });
const settings = { serviceUrl: "http://127.0.0.1:8080", apiKey: "k1", timeoutMs: 50 };
const article = {
  url: "https://news.example/a", published: "2025-01-01", title: "T", lang: "en", hash: "h",
  blocks: [{ id: "b0", text: "Text.", extra: "dropped" }],
};

function respond(status, body) {
  return async () => ({ ok: status < 400, status, json: async () => body });
}

test("posts only the title, the language and the blocks, with the key header, and returns the answer", async () => {
  let seen;
  const fetchImpl = async (url, init) => {
    seen = { url, init };
    return { ok: true, status: 200, json: async () => ({ ok: true, sentences: [] }) };
  };
  const result = await win.AsideApi.fetchContext(settings, article, { fetchImpl });
  assert.equal(result.ok, true);
  assert.equal(seen.url, "http://127.0.0.1:8080/v1/context");
  assert.equal(seen.init.headers["X-API-Key"], "k1");
  // Not the page's address nor its date, even when given them: the service does not use them.
  assert.deepEqual(JSON.parse(seen.init.body), { title: "T", lang: "en", blocks: [{ id: "b0", text: "Text." }] });
  assert.equal(seen.init.credentials, "omit");
  const keyless = await win.AsideApi.fetchContext({ ...settings, apiKey: "" }, article, { fetchImpl });
  assert.equal(keyless.ok, true);
  assert.equal("X-API-Key" in seen.init.headers, false);
});

test("errors, outages and timeouts become quiet results", async () => {
  const refused = await win.AsideApi.fetchContext(settings, article, { fetchImpl: async () => { throw new TypeError("Failed to fetch"); } });
  assert.deepEqual(plain(refused), { ok: false, error: "service unreachable" });
  const error = await win.AsideApi.fetchContext(settings, article, {
    fetchImpl: respond(413, { ok: false, error: { code: "payload_too_large", message: "too many blocks" } }),
  });
  assert.deepEqual(plain(error), { ok: false, status: 413, error: "too many blocks" });
  const slow = (_url, init) => new Promise((_resolve, reject) => {
    init.signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })));
  });
  const timedOut = await win.AsideApi.fetchContext(settings, article, { fetchImpl: slow });
  assert.equal(timedOut.ok, false);
  assert.match(timedOut.error, /no answer within/);
});
