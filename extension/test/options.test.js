// The options page: the service URL is checked, the browser's permission to reach it is asked
// for, and nothing is saved unless it is granted; the API key goes to storage.local only.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { page } from "./helpers.mjs";

const html = readFileSync(new URL("../src/options/options.html", import.meta.url), "utf8");

function area(data = new Map()) {
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

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** The options page on fake storage; `grant` answers the permission request. */
async function optionsPage({ grant = true, sync = new Map() } = {}) {
  const win = page(html.replace(/<script[^>]*><\/script>/g, ""), { url: "chrome-extension://aside-test/options/options.html" });
  const requested = [];
  win.chrome = {
    storage: { sync: area(sync), local: area() },
    permissions: {
      async request(permissions) {
        requested.push(...permissions.origins);
        return grant;
      },
    },
  };
  for (const script of ["shared/settings.js", "shared/apikey.js", "options/options.js"]) {
    win.eval(readFileSync(new URL(`../src/${script}`, import.meta.url), "utf8"));
  }
  await settle();
  const $ = (id) => win.document.getElementById(id);
  async function save(values) {
    for (const [id, value] of Object.entries(values)) $(id).value = value;
    $("form").dispatchEvent(new win.Event("submit", { cancelable: true }));
    await settle();
    return $("saved").textContent;
  }
  return { win, save, requested, sync: win.chrome.storage.sync.data, local: win.chrome.storage.local.data };
}

test("a remote service over plain http is refused before anything is asked or saved", async () => {
  const options = await optionsPage();
  const said = await options.save({ serviceUrl: "http://aside.example:8080", apiKey: "k" });
  assert.match(said, /only for a service on this computer/);
  assert.deepEqual(options.requested, []);
  assert.equal(options.sync.size, 0);
  assert.equal(options.local.size, 0);
});

test("the settings are not saved when the browser refuses the permission", async () => {
  const options = await optionsPage({ grant: false });
  const said = await options.save({ serviceUrl: "https://aside.example/", apiKey: "k", denySites: "bank.example" });
  assert.deepEqual(options.requested, ["https://aside.example/*"]);
  assert.match(said, /did not allow Aside to reach https:\/\/aside\.example; nothing was saved/);
  assert.equal(options.sync.size, 0);
  assert.equal(options.local.size, 0);
});

test("granted, the settings are saved, the key in storage.local bound to its service", async () => {
  const options = await optionsPage({ sync: new Map([["apiKey", "old"]]) });
  const said = await options.save({ serviceUrl: "https://aside.example/x", apiKey: " new-key ", denySites: "Bank.Example.\n*.mail.example" });
  assert.equal(said, "Saved.");
  assert.equal(options.sync.get("serviceUrl"), "https://aside.example");
  assert.deepEqual(options.sync.get("denySites"), ["bank.example", "*.mail.example"]);
  assert.equal(options.sync.has("apiKey"), false, "the key is not synced");
  assert.deepEqual(options.local.get("apiKey"), { key: "new-key", origin: "https://aside.example" });
});

test("a site list entry that is not a host name is named, and nothing is saved", async () => {
  const options = await optionsPage();
  const said = await options.save({ serviceUrl: "https://aside.example", denySites: "bank.example\nmail.*.example" });
  assert.match(said, /Not a site name: mail\.\*\.example/);
  assert.equal(options.sync.size, 0);
});
