import assert from "node:assert/strict";
import { test } from "node:test";
import { page } from "./helpers.mjs";

const win = page("<!doctype html><body></body>", { scripts: ["shared/settings.js"] });
const S = win.AsideSettings;

test("site lists: deny wins, allow restricts, subdomains count", () => {
  const base = { ...S.DEFAULTS };
  assert.equal(S.allowedOn(base, "https://news.example/a"), true);
  assert.equal(S.allowedOn({ ...base, enabled: false }, "https://news.example/a"), false);
  assert.equal(S.allowedOn({ ...base, denySites: ["ample", "news.example.org"] }, "https://news.example/a"), true);
  assert.equal(S.allowedOn({ ...base, denySites: ["news.example"] }, "https://www.news.example/a"), false);
  assert.equal(S.allowedOn({ ...base, allowSites: ["paper.org"] }, "https://news.example/a"), false);
  assert.equal(S.allowedOn({ ...base, allowSites: ["paper.org"] }, "https://paper.org/x"), true);
  assert.equal(S.allowedOn(base, "not a url"), false);
});

test("typed site lists are normalised", () => {
  assert.deepEqual(JSON.parse(JSON.stringify(S.parseSites("https://News.Example/path\n paper.org, ,x.com "))), ["news.example", "paper.org", "x.com"]);
});

test("storage failures fall back to defaults instead of throwing", async () => {
  win.chrome = { storage: { sync: { get: () => Promise.reject(new Error("gone")), set: () => Promise.reject(new Error("gone")) } } };
  const loaded = await S.load();
  assert.equal(loaded.serviceUrl, "http://127.0.0.1:8080");
  assert.equal(await S.save({ enabled: false }), false);
  delete win.chrome;
});
