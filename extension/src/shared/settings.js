/* Settings in chrome.storage.sync behind helpers that never throw: the service
 * worker may be evicted at any moment and must keep no state of its own. */
(function asideSettings(root) {
  "use strict";

  const DEFAULTS = Object.freeze({
    serviceUrl: "http://127.0.0.1:8080",
    apiKey: "",
    enabled: true,
    clickToSend: false, // send only when the toolbar button is clicked
    allowSites: [], // when non-empty, only these hosts
    denySites: [], // never these hosts
    timeoutMs: 8000,
  });

  function storageArea(name) {
    const api = root.chrome || root.browser;
    return api && api.storage && api.storage[name];
  }

  async function load() {
    try {
      const area = storageArea("sync");
      const stored = area ? await area.get(Object.keys(DEFAULTS)) : {};
      return { ...DEFAULTS, ...stored };
    } catch (_error) {
      return { ...DEFAULTS };
    }
  }

  async function save(values) {
    try {
      const area = storageArea("sync");
      if (area) await area.set(values);
      return true;
    } catch (_error) {
      return false;
    }
  }

  async function sessionGet(key) {
    try {
      const area = storageArea("session") || storageArea("local");
      const found = area ? await area.get(key) : {};
      return found[key];
    } catch (_error) {
      return undefined;
    }
  }

  async function sessionSet(key, value) {
    try {
      const area = storageArea("session") || storageArea("local");
      if (area) await area.set({ [key]: value });
      return true;
    } catch (_error) {
      return false;
    }
  }

  /** Normalise a list of hosts typed by the reader: one per line or comma, lower case. */
  function parseSites(text) {
    return String(text || "")
      .split(/[\s,]+/)
      .map((s) => s.trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/.*$/, ""))
      .filter(Boolean);
  }

  function hostMatches(host, site) {
    return host === site || host.endsWith("." + site);
  }

  /** Whether the extension may read and send this page, by the on/off switch and site lists. */
  function allowedOn(settings, url) {
    let host;
    try {
      host = new URL(url).hostname.toLowerCase();
    } catch (_error) {
      return false;
    }
    if (!settings.enabled) return false;
    if (settings.denySites.some((site) => hostMatches(host, site))) return false;
    if (settings.allowSites.length) return settings.allowSites.some((site) => hostMatches(host, site));
    return true;
  }

  root.AsideSettings = Object.freeze({ DEFAULTS, load, save, sessionGet, sessionSet, parseSites, allowedOn });
})(typeof self !== "undefined" ? self : globalThis);
