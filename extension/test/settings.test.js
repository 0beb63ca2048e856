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
  const typed = "Bank.Example.\nbank.example:8443\n*.Mail.Example\nbücher.example\nhttps://user@intra.example:8080/x";
  assert.deepEqual(JSON.parse(JSON.stringify(S.checkSites(typed))), {
    sites: ["bank.example", "*.mail.example", "xn--bcher-kva.example", "intra.example"], invalid: [],
  });
  assert.deepEqual(JSON.parse(JSON.stringify(S.checkSites("mail.*.example\n*\nexa<mple\nok.example"))), {
    sites: ["ok.example"], invalid: ["mail.*.example", "*", "exa<mple"],
  });
});

test("the deny list holds whatever way a host is written", () => {
  const deny = (sites, url) => S.allowedOn({ ...S.DEFAULTS, denySites: sites }, url);
  // A trailing dot, a port, capitals: the same host.
  assert.equal(deny(["bank.example"], "https://bank.example./login"), false);
  assert.equal(deny(["bank.example"], "https://bank.example:8443/login"), false);
  assert.equal(deny(["bank.example"], "https://BANK.example/login"), false);
  // Entries kept by an earlier version as typed, with a port or a trailing dot, still hold.
  assert.equal(deny(["bank.example:8443"], "https://bank.example/"), false);
  assert.equal(deny(["bank.example."], "https://www.bank.example/"), false);
  // A wildcard means the site and its subdomains, as a plain name does (as in match patterns).
  assert.equal(deny(["*.mail.example"], "https://inbox.mail.example/"), false);
  assert.equal(deny(["*.mail.example"], "https://mail.example/"), false);
  assert.equal(deny(["*.mail.example"], "https://notmail.example/"), true);
  // Internationalised names, typed either way, match the browser's (punycode) host.
  assert.equal(deny(["bücher.example"], "https://bücher.example/"), false);
  assert.equal(deny(["bücher.example"], "https://www.xn--bcher-kva.example/"), false);
  assert.equal(deny(["xn--bcher-kva.example"], "https://BÜCHER.example/"), false);
  assert.equal(deny(["bücher.example"], "https://bucher.example/"), true);
  // Only web pages are ever read.
  assert.equal(S.allowedOn(S.DEFAULTS, "file:///home/me/notes.html"), false);
});

test("service URLs: https anywhere, plain http only on this computer", () => {
  const check = (text) => JSON.parse(JSON.stringify(S.checkServiceUrl(text)));
  assert.deepEqual(check("https://aside.example/some/path"), { ok: true, origin: "https://aside.example" });
  assert.deepEqual(check(" http://127.0.0.1:8080 "), { ok: true, origin: "http://127.0.0.1:8080" });
  assert.deepEqual(check("http://localhost:5000/"), { ok: true, origin: "http://localhost:5000" });
  assert.deepEqual(check("http://[::1]:8080"), { ok: true, origin: "http://[::1]:8080" });
  assert.deepEqual(check("http://127.1:8080"), { ok: true, origin: "http://127.0.0.1:8080" }, "the URL parser's form");
  for (const bad of ["http://aside.example", "http://192.168.1.5:8080", "http://localhost.evil.example", "http://127.0.0.1.evil.example"]) {
    assert.equal(check(bad).ok, false, bad);
    assert.match(check(bad).error, /only for a service on this computer/);
  }
  assert.equal(check("ftp://aside.example").ok, false);
  assert.equal(check("not a url").ok, false);
  assert.match(check("https://me:secret@aside.example").error, /user name or password/);
});

test("the card's 'turn off on this site' adds the site to the deny list once, as the lists keep it", async () => {
  let stored = { denySites: ["other.example"] };
  win.chrome = { storage: { sync: {
    get: async () => ({ ...stored }),
    set: async (values) => { stored = { ...stored, ...values }; },
  } } };
  assert.equal(await S.denySite("News.Example."), true);
  assert.equal(await S.denySite("news.example"), true);
  assert.deepEqual([...stored.denySites], ["other.example", "news.example"]);
  assert.equal(S.allowedOn(await S.load(), "https://www.news.example/a"), false, "and its subdomains");
  assert.equal(await S.denySite(""), false);
  delete win.chrome;
});

test("storage failures fall back to defaults instead of throwing", async () => {
  win.chrome = { storage: { sync: { get: () => Promise.reject(new Error("gone")), set: () => Promise.reject(new Error("gone")) } } };
  const loaded = await S.load();
  assert.equal(loaded.serviceUrl, "http://127.0.0.1:8080");
  assert.equal(await S.save({ enabled: false }), false);
  delete win.chrome;
});
