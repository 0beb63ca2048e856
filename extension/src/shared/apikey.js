/* The reader's API key for the Aside service. It is kept in storage.local (never synced to
 * other machines), bound to the service origin it was saved for, and read only by the worker
 * (to send it) and the options page (to edit it); no content script loads this file, and no
 * message carries the key. Helpers never throw. */
(function asideApiKey(root) {
  "use strict";

  const KEY = "apiKey"; // storage.local: {key, origin}; storage.sync held a bare string before

  function area(name) {
    const api = root.chrome || root.browser;
    return api && api.storage && api.storage[name];
  }

  /** Move a key synced by an earlier version into storage.local, once; a key there wins. */
  async function migrate(serviceUrl) {
    try {
      const sync = area("sync");
      const local = area("local");
      if (!sync || !local) return;
      const synced = (await sync.get(KEY))[KEY];
      if (synced === undefined) return;
      const kept = (await local.get(KEY))[KEY];
      if (kept === undefined && typeof synced === "string" && synced) {
        await local.set({ [KEY]: { key: synced, origin: originOf(serviceUrl) } });
      }
      await sync.remove(KEY);
    } catch (_error) {
      // storage gone: try again next time
    }
  }

  function originOf(url) {
    try {
      return new URL(url).origin;
    } catch (_error) {
      return null;
    }
  }

  /** The stored {key, origin}, or null. */
  async function load() {
    try {
      const local = area("local");
      const stored = local ? (await local.get(KEY))[KEY] : undefined;
      return stored && typeof stored.key === "string" && stored.key ? stored : null;
    } catch (_error) {
      return null;
    }
  }

  /** The key to send to serviceUrl: only to the origin it was saved for, else "". */
  async function forService(serviceUrl) {
    const stored = await load();
    return stored && stored.origin === originOf(serviceUrl) ? stored.key : "";
  }

  /** Keep key for the service at serviceUrl (an empty key removes it). */
  async function save(key, serviceUrl) {
    try {
      const local = area("local");
      if (!local) return false;
      if (key) await local.set({ [KEY]: { key, origin: originOf(serviceUrl) } });
      else await local.remove(KEY);
      const sync = area("sync");
      if (sync) await sync.remove(KEY);
      return true;
    } catch (_error) {
      return false;
    }
  }

  root.AsideApiKey = Object.freeze({ load, save, forService, migrate });
})(globalThis);
