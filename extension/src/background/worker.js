/* Background: one message dispatcher. It keeps no state in globals (the service worker
 * can be evicted at any time); tab states and the answer cache live in storage.session. */
if (typeof importScripts === "function" && !self.AsideMessages) {
  importScripts("/shared/messages.js", "/shared/settings.js", "/background/api.js");
}

(function asideWorker(root) {
  "use strict";

  const { AsideMessages: MSG, AsideSettings: Settings, AsideApi: Api } = root;
  const api = root.chrome || root.browser;
  const CACHE_KEYS = "cacheKeys";
  const CACHE_LIMIT = 40;
  const SENT_HISTORY = 5;

  function tabKey(tabId) {
    return `tab:${tabId}`;
  }

  async function updateTab(tabId, change) {
    const state = (await Settings.sessionGet(tabKey(tabId))) || {};
    const next = { ...state, ...change, updated: Date.now() };
    await Settings.sessionSet(tabKey(tabId), next);
    return next;
  }

  async function cached(key) {
    return Settings.sessionGet(`ctx:${key}`);
  }

  async function remember(key, answer) {
    const keys = ((await Settings.sessionGet(CACHE_KEYS)) || []).filter((k) => k !== key);
    keys.push(key);
    while (keys.length > CACHE_LIMIT) {
      const old = keys.shift();
      try {
        await (api.storage.session || api.storage.local).remove(`ctx:${old}`);
      } catch (_error) {
        // storage gone: nothing to evict
      }
    }
    await Settings.sessionSet(CACHE_KEYS, keys);
    await Settings.sessionSet(`ctx:${key}`, answer);
  }

  async function getContext(page, tabId) {
    const settings = await Settings.load();
    if (!Settings.allowedOn(settings, page.url)) return { ok: false, error: "Aside is off for this site" };
    // What leaves the browser, as the popup shows it: the blocks' text, nothing else.
    const state = (await Settings.sessionGet(tabKey(tabId))) || {};
    const sent = [{ at: Date.now(), url: page.url, texts: page.blocks.map((b) => b.text) }, ...(state.sent || [])];
    const key = `${page.url}#${page.hash}`;
    const hit = await cached(key);
    if (hit) {
      await updateTab(tabId, { notices: hit.notices || [] });
      return { ok: true, answer: hit, cached: true };
    }
    await updateTab(tabId, { status: "asking", sent: sent.slice(0, SENT_HISTORY), service: settings.serviceUrl });
    const result = await Api.fetchContext(settings, page);
    if (result.ok) {
      await remember(key, result.answer);
      // The popup shows the answer's notices (e.g. a language the service cannot read).
      await updateTab(tabId, { notices: result.answer.notices || [] });
    }
    return result;
  }

  async function dispatch(message, sender) {
    const tabId = sender && sender.tab ? sender.tab.id : message && message.tabId;
    switch (message && message.type) {
      case MSG.CS_BG_GET_CONTEXT:
        return getContext(message.page, tabId);
      case MSG.CS_BG_REPORT_STATE:
        return updateTab(tabId, message.state);
      case MSG.PU_BG_GET_TAB_STATE:
        return (await Settings.sessionGet(tabKey(message.tabId))) || { status: "idle" };
      case MSG.PU_CS_RUN_NOW:
        try {
          await api.tabs.sendMessage(message.tabId, { type: MSG.BG_CS_RUN_NOW });
          return { ok: true };
        } catch (_error) {
          return { ok: false, error: "this page cannot be read (reload it, or it is a browser page)" };
        }
      default:
        return { ok: false, error: "unknown message" };
    }
  }

  api.runtime.onMessage.addListener((message, sender, reply) => {
    dispatch(message, sender).then(reply, (error) => reply({ ok: false, error: String(error) }));
    return true; // reply asynchronously
  });

  if (api.tabs && api.tabs.onRemoved) {
    api.tabs.onRemoved.addListener((tabId) => {
      const area = api.storage.session || api.storage.local;
      area.remove(tabKey(tabId)).catch(() => {});
    });
  }
})(typeof self !== "undefined" ? self : globalThis);
