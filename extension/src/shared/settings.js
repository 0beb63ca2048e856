/* Settings in chrome.storage.sync behind helpers that never throw: the service
 * worker may be evicted at any moment and must keep no state of its own. The API key is not
 * a setting here: it lives in storage.local and only the worker and the options page touch
 * it (shared/apikey.js). */
(function asideSettings(root) {
  "use strict";

  const DEFAULTS = Object.freeze({
    serviceUrl: "http://127.0.0.1:8080",
    enabled: true,
    clickToSend: false, // send only when the toolbar button is clicked
    allowSites: [], // when non-empty, only these hosts
    denySites: [], // never these hosts
    timeoutMs: 8000,
    highlightsHidden: false, // Alt+Shift+H: no highlights or cards on any page until pressed again
  });

  function storageArea(name) {
    const api = root.chrome || root.browser;
    return api && api.storage && api.storage[name];
  }

  // Read-modify-write of storage is serialised through one promise chain per context (two
  // tabs answered at once must not lose each other's cache key). The chain is the only state
  // kept: a task that fails does not stop the ones queued after it.
  let chain = Promise.resolve();

  /** Run task() after every task queued before it has settled; resolves with its result. */
  function serial(task) {
    const run = chain.then(task, task);
    chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
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

  function sessionArea() {
    return storageArea("session") || storageArea("local");
  }

  async function sessionGet(key) {
    try {
      const area = sessionArea();
      const found = area ? await area.get(key) : {};
      return found[key];
    } catch (_error) {
      return undefined;
    }
  }

  async function sessionSet(key, value) {
    try {
      const area = sessionArea();
      if (area) await area.set({ [key]: value });
      return true;
    } catch (_error) {
      return false;
    }
  }

  async function sessionRemove(keys) {
    try {
      const area = sessionArea();
      if (area) await area.remove(keys);
      return true;
    } catch (_error) {
      return false;
    }
  }

  /** Read a session value, change it with change(old) and write it back, serialised. */
  function sessionUpdate(key, change) {
    return serial(async () => {
      const next = await change(await sessionGet(key));
      await sessionSet(key, next);
      return next;
    });
  }

  /**
   * One site as the lists keep it: lower case, no scheme, path, port or trailing dot, an
   * internationalised name in its ASCII (punycode) form, as the browser's URL parser gives
   * it. A leading "*." is kept: it means the same as the plain name (the site and every
   * subdomain), as in the browsers' match patterns. Returns null for what is not a host name.
   */
  function normaliseSite(text) {
    let site = String(text || "").trim().toLowerCase();
    site = site.replace(/^[a-z][a-z0-9+.-]*:\/\//, "").replace(/[/?#].*$/, "");
    site = site.replace(/^[^@]*@/, ""); // user:password@
    if (!site) return null;
    const wildcard = site.startsWith("*.");
    if (wildcard) site = site.slice(2);
    if (!site || site.includes("*")) return null;
    let host;
    try {
      host = new URL(`http://${site}`).hostname;
    } catch (_error) {
      return null;
    }
    host = host.replace(/\.+$/, "");
    if (!host || host.startsWith(".") || host.includes("..")) return null;
    return wildcard ? `*.${host}` : host;
  }

  /** A list of sites typed by the reader (one per line or comma): {sites, invalid}. */
  function checkSites(text) {
    const sites = [];
    const invalid = [];
    for (const entry of String(text || "").split(/[\s,]+/).filter(Boolean)) {
      const site = normaliseSite(entry);
      if (site === null) invalid.push(entry);
      else if (!sites.includes(site)) sites.push(site);
    }
    return { sites, invalid };
  }

  /** The sites of a typed list that are host names, normalised (see checkSites for the rest). */
  function parseSites(text) {
    return checkSites(text).sites;
  }

  function hostOf(url) {
    try {
      const { protocol, hostname } = new URL(url);
      if (protocol !== "http:" && protocol !== "https:") return null;
      return hostname.replace(/\.+$/, "");
    } catch (_error) {
      return null;
    }
  }

  function hostMatches(host, entry) {
    const site = normaliseSite(entry);
    if (!site) return false;
    const name = site.startsWith("*.") ? site.slice(2) : site;
    return host === name || host.endsWith("." + name);
  }

  /** Whether the extension may read and send this page, by the on/off switch and site lists. */
  function allowedOn(settings, url) {
    const host = hostOf(url);
    if (!host || !settings.enabled) return false;
    if ((settings.denySites || []).some((site) => hostMatches(host, site))) return false;
    const allow = settings.allowSites || [];
    if (allow.length) return allow.some((site) => hostMatches(host, site));
    return true;
  }

  /**
   * Add a site to the deny list (the card's "Turn Aside off on …"), serialised with other
   * settings writes. Resolves true when the list holds it (it may already have), false when
   * the name is not a site or the write failed.
   */
  function denySite(host) {
    const site = normaliseSite(host);
    if (!site) return Promise.resolve(false);
    return serial(async () => {
      const { denySites } = await load();
      const list = denySites || [];
      if (list.some((entry) => normaliseSite(entry) === site)) return true;
      return save({ denySites: [...list, site] });
    });
  }

  /**
   * Whether a URL's host is this computer, by a name the manifest's optional host permissions
   * can grant: localhost, 127.0.0.1 or [::1] (match patterns cannot name the rest of 127/8).
   */
  function isLoopback(url) {
    return ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  }

  /**
   * Check a service URL typed by the reader: https anywhere, plain http only on this
   * computer (the text and the API key would cross the network readable by anyone on the
   * way). Returns {ok: true, origin} or {ok: false, error}.
   */
  function checkServiceUrl(text) {
    let url;
    try {
      url = new URL(String(text || "").trim());
    } catch (_error) {
      return { ok: false, error: "The service URL is not a web address (https://…)." };
    }
    if (url.username || url.password) {
      return { ok: false, error: "The service URL must not hold a user name or password; use the API key field." };
    }
    if (url.protocol === "https:") return { ok: true, origin: url.origin };
    if (url.protocol === "http:" && isLoopback(url)) return { ok: true, origin: url.origin };
    if (url.protocol === "http:") {
      return {
        ok: false,
        error: "Plain http:// is allowed only for a service on this computer (localhost, 127.0.0.1, [::1]); use https://.",
      };
    }
    return { ok: false, error: "The service URL must be an https:// address (or http:// on this computer)." };
  }

  root.AsideSettings = Object.freeze({
    DEFAULTS, load, save, serial, sessionGet, sessionSet, sessionRemove, sessionUpdate,
    normaliseSite, checkSites, parseSites, allowedOn, checkServiceUrl, denySite,
  });
})(globalThis);
