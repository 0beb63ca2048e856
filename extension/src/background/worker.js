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
  // Reports name the reader by a random id made here, kept in storage.local, and replaced
  // every INSTALL_DAYS: the service counts one reader's repeated reports on a card once, and
  // cannot link reports further apart than that.
  const INSTALL = "feedbackInstall";
  const INSTALL_DAYS = 30;
  const DAY_MS = 86_400_000;
  const VERDICTS = ["not-helpful", "wrong-match"];
  const REASONS = ["wrong-person-or-place", "outdated", "off-topic", "other"];
  const MAX_SENTENCE_CHARS = 1000;

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
    const service = await serviceFor(url);
    if (!service.ok) return service;
    const { settings } = service;
    const key = `${url}#${page.hash}`;
    const hit = await cached(key);
    if (hit) {
      await updateTab(tabId, { notices: hit.notices || [] });
      return { ok: true, answer: hit, cached: true };
    }
    // What leaves the browser, as the popup shows it: the title, the language and the blocks'
    // text (api.js sends exactly these, with the block ids).
    const request = { at: Date.now(), url, title: page.title || "", lang: page.lang || "", texts: page.blocks.map((b) => b.text) };
    await recordSent(tabId, request, { status: "asking", service: settings.serviceUrl });
    const result = await Api.fetchContext(await withKey(settings), page);
    if (result.ok) {
      await remember(key, result.answer);
      // The popup shows the answer's notices (e.g. a language the service cannot read).
      await updateTab(tabId, { notices: result.answer.notices || [] });
    }
    return result;
  }

  function randomId() {
    const bytes = root.crypto.getRandomValues(new Uint8Array(16));
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /** This install's anonymous id for reports, made anew when missing or INSTALL_DAYS old. */
  function installId(now = Date.now()) {
    return Settings.serial(async () => {
      const area = api.storage.local;
      const held = (await area.get(INSTALL))[INSTALL];
      if (held && typeof held.id === "string" && now - held.created < INSTALL_DAYS * DAY_MS && now >= held.created) {
        return held.id;
      }
      const id = randomId();
      await area.set({ [INSTALL]: { id, created: now } });
      return id;
    });
  }

  const text = (value, max) => typeof value === "string" && value.length > 0 && value.length <= max;

  /**
   * The report as it is sent: the card's ids, the index build, the sentence's hash (and its
   * vector, which is not text), the verdict and reason, the time, this install's id; the
   * sentence's text only when the reader ticked "include the sentence". Null if malformed.
   */
  function reportBody(report, install, now = new Date()) {
    if (!report || !VERDICTS.includes(report.verdict)) return null;
    if (report.reason !== null && report.reason !== undefined && !REASONS.includes(report.reason)) return null;
    const card = report.card || {};
    const sentence = report.sentence || {};
    if (!text(String(card.id ?? ""), 64) || !text(card.doc_id, 2048) || !/^[0-9a-f]{32}$/.test(card.passage_hash || "")) return null;
    if (!text(report.build, 128) || !/^[0-9a-f]{64}$/.test(sentence.hash || "")) return null;
    const body = {
      verdict: report.verdict,
      reason: report.reason || null,
      passage_id: String(card.id),
      doc_id: card.doc_id,
      passage_hash: card.passage_hash,
      build: report.build,
      sentence_hash: sentence.hash,
      install,
      reported: now.toISOString(),
    };
    if (text(sentence.vector, 4096)) body.vector = sentence.vector;
    if (report.includeSentence && text(sentence.text, MAX_SENTENCE_CHARS)) body.sentence = sentence.text;
    return body;
  }

  /** Forget every cached answer: after a report, the next load of a page asks the service. */
  function forgetAnswers() {
    return Settings.serial(async () => {
      const keys = (await Settings.sessionGet(CACHE_KEYS)) || [];
      if (keys.length) await Settings.sessionRemove(keys.map((key) => `ctx:${key}`));
      await Settings.sessionSet(CACHE_KEYS, []);
    });
  }

  /** What left the browser, for the popup's list (newest first), with other state changes. */
  function recordSent(tabId, entry, change = {}) {
    return updateTab(tabId, (state) => ({ ...change, sent: [entry, ...(state.sent || [])].slice(0, SENT_HISTORY) }));
  }

  /** The settings to call the service with for a page: {ok: true, settings} or {ok: false, error}. */
  async function serviceFor(url) {
    const settings = await Settings.load();
    if (!Settings.allowedOn(settings, url)) return { ok: false, error: "Aside is off for this site" };
    const service = Settings.checkServiceUrl(settings.serviceUrl);
    if (!service.ok) return { ok: false, error: service.error };
    return { ok: true, settings };
  }

  /** The settings with this service's API key (a key synced by an older version moved first). */
  async function withKey(settings) {
    await Settings.serial(() => ApiKey.migrate(settings.serviceUrl));
    return { ...settings, apiKey: await ApiKey.forService(settings.serviceUrl) };
  }

  /** The reader's report on a card: sent, recorded for the popup; {ok, id, install} or {ok: false, error}. */
  async function sendReport(report, tabId, url) {
    const service = await serviceFor(url);
    if (!service.ok) return service;
    const install = await installId();
    const body = reportBody(report, install);
    if (!body) return { ok: false, error: "the report is malformed" };
    await recordSent(tabId, { at: Date.now(), kind: "report", url, body });
    const result = await Api.sendReport(await withKey(service.settings), body);
    if (!result.ok) return result;
    await forgetAnswers();
    return { ok: true, id: result.json.id, duplicate: Boolean(result.json.duplicate), install };
  }

  /** The card's "Undo": withdraw the report it sent. */
  async function withdrawReport(message, tabId, url) {
    const service = await serviceFor(url);
    if (!service.ok) return service;
    if (!Number.isSafeInteger(message.id) || message.id < 1 || !text(message.install, 64)) {
      return { ok: false, error: "no such report" };
    }
    await recordSent(tabId, { at: Date.now(), kind: "withdrawal", url, body: { id: message.id, install: message.install } });
    const result = await Api.withdrawReport(await withKey(service.settings), message.id, message.install);
    return result.ok ? { ok: true } : result;
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
      case MSG.CS_BG_FEEDBACK:
        return sendReport(message.report, sender.tab.id, sender.url);
      case MSG.CS_BG_FEEDBACK_UNDO:
        return withdrawReport(message, sender.tab.id, sender.url);
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
