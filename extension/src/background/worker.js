/* Background: one message dispatcher. It keeps no state in globals (the service worker
 * can be evicted at any time); tab states and the answer cache live in storage.session, and
 * every read-modify-write of them goes through Settings.serial. */
if (typeof importScripts === "function" && !self.AsideMessages) {
  importScripts("/shared/messages.js", "/shared/settings.js", "/shared/apikey.js", "/background/api.js");
}

(function asideWorker(root) {
  "use strict";

  const { AsideMessages: MSG, AsideSettings: Settings, AsideApiKey: ApiKey, AsideApi: Api } = root;
  const api = root.chrome || root.browser;
  const CACHE_KEYS = "cacheKeys";
  const CACHE_LIMIT = 40;
  const SENT_HISTORY = 5;

  function tabKey(tabId) {
    return `tab:${tabId}`;
  }

  /** Merge change (an object, or a function of the old state) into a tab's state. */
  function updateTab(tabId, change) {
    return Settings.sessionUpdate(tabKey(tabId), (state = {}) => ({
      ...state,
      ...(typeof change === "function" ? change(state) : change),
      updated: Date.now(),
    }));
  }

  async function cached(key) {
    return Settings.sessionGet(`ctx:${key}`);
  }

  /** Keep an answer, and its key in the cache's index; the oldest answers past the limit go. */
  function remember(key, answer) {
    return Settings.serial(async () => {
      const keys = ((await Settings.sessionGet(CACHE_KEYS)) || []).filter((k) => k !== key);
      keys.push(key);
      const evicted = keys.splice(0, Math.max(0, keys.length - CACHE_LIMIT));
      if (evicted.length) await Settings.sessionRemove(evicted.map((old) => `ctx:${old}`));
      await Settings.sessionSet(`ctx:${key}`, answer);
      await Settings.sessionSet(CACHE_KEYS, keys);
    });
  }

  async function getContext(page, tabId, url) {
    const settings = await Settings.load();
    if (!Settings.allowedOn(settings, url)) return { ok: false, error: "Aside is off for this site" };
    const service = Settings.checkServiceUrl(settings.serviceUrl);
    if (!service.ok) return { ok: false, error: service.error };
    const key = `${url}#${page.hash}`;
    const hit = await cached(key);
    if (hit) {
      await updateTab(tabId, { notices: hit.notices || [] });
      return { ok: true, answer: hit, cached: true };
    }
    // What leaves the browser, as the popup shows it: the title, the language and the blocks'
    // text (api.js sends exactly these, with the block ids).
    const request = { at: Date.now(), url, title: page.title || "", lang: page.lang || "", texts: page.blocks.map((b) => b.text) };
    await updateTab(tabId, (state) => ({
      status: "asking",
      sent: [request, ...(state.sent || [])].slice(0, SENT_HISTORY),
      service: settings.serviceUrl,
    }));
    await Settings.serial(() => ApiKey.migrate(settings.serviceUrl));
    const apiKey = await ApiKey.forService(settings.serviceUrl);
    const result = await Api.fetchContext({ ...settings, apiKey }, page);
    if (result.ok) {
      await remember(key, result.answer);
      // The popup shows the answer's notices (e.g. a language the service cannot read).
      await updateTab(tabId, { notices: result.answer.notices || [] });
    }
    return result;
  }

  /** An extension page (the popup), not a content script in a web page. */
  function fromExtensionPage(sender) {
    const own = api.runtime.getURL("");
    return Boolean(sender && typeof sender.url === "string" && sender.url.startsWith(own));
  }

  /** A content script: the browser names its tab and page; neither is taken from the message. */
  function fromContentScript(sender) {
    return Boolean(sender && sender.tab && typeof sender.tab.id === "number" && !fromExtensionPage(sender));
  }

  async function dispatch(message, sender) {
    const type = message && message.type;
    // Each message may come only from the side its name says: a content script cannot name
    // another tab, nor ask for what the popup may.
    if (typeof type === "string" && type.startsWith("CS_") && !fromContentScript(sender)) {
      return { ok: false, error: "not from a content script" };
    }
    if (typeof type === "string" && type.startsWith("PU_") && !fromExtensionPage(sender)) {
      return { ok: false, error: "not from the popup" };
    }
    switch (type) {
      case MSG.CS_BG_GET_CONTEXT:
        return getContext(message.page, sender.tab.id, sender.url);
      case MSG.CS_BG_REPORT_STATE:
        return updateTab(sender.tab.id, { ...message.state, url: sender.url });
      case MSG.PU_BG_GET_TAB_STATE:
        return (await Settings.sessionGet(tabKey(message.tabId))) || { status: "idle" };
      case MSG.PU_BG_RUN_NOW:
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

  // Content scripts hold a port only to hear when the extension goes away (content/main.js):
  // nothing is said on it, and nothing about it is kept.
  if (api.runtime.onConnect) api.runtime.onConnect.addListener(() => {});

  if (api.tabs && api.tabs.onRemoved) {
    api.tabs.onRemoved.addListener((tabId) => {
      Settings.serial(() => Settings.sessionRemove(tabKey(tabId)));
    });
  }

  // A key synced by an earlier version moves to storage.local when the extension is updated.
  if (api.runtime.onInstalled) {
    api.runtime.onInstalled.addListener(async () => {
      const settings = await Settings.load();
      await Settings.serial(() => ApiKey.migrate(settings.serviceUrl));
    });
  }
})(globalThis);
