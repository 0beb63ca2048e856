/* Popup: the state of this tab, what was sent, and the toolbar-click trigger. */
(function asidePopup(root) {
  "use strict";

  const { AsideMessages: MSG, AsideSettings: Settings } = root;
  const api = root.chrome || root.browser;
  const STATUS = {
    idle: "Not run on this page yet.",
    off: "Aside is off for this site.",
    hidden: "Highlights are hidden on every page (Alt+Shift+H shows them); nothing was sent.",
    "waiting-for-click": "Click “Find context on this page” to send it.",
    "not-an-article": "This page does not look like an article; nothing was sent.",
    asking: "Asking the service…",
    "service-unavailable": "The Aside service did not answer. Nothing is shown on the page.",
    ok: "Done.",
  };

  function $(id) {
    return document.getElementById(id);
  }

  function send(message) {
    return new Promise((resolve) => {
      try {
        api.runtime.sendMessage(message, (reply) => {
          void api.runtime.lastError;
          resolve(reply);
        });
      } catch (_error) {
        resolve(undefined);
      }
    });
  }

  /** The tab the popup was opened over. Its id needs no `tabs` permission (its URL would). */
  async function activeTab() {
    const [tab] = await api.tabs.query({ active: true, currentWindow: true });
    return tab;
  }

  function isolated(text) {
    const bdi = document.createElement("bdi");
    bdi.dir = "auto";
    bdi.textContent = String(text);
    return bdi;
  }

  /**
   * A report (or its withdrawal) as it left the browser: every field sent, by name. The
   * sentence vector is numbers, not text; its length is shown rather than 512 characters of
   * base64. The sentence's text appears only when the reader chose to send it.
   */
  function reportLines(request) {
    const body = request.body || {};
    if (request.kind === "withdrawal") return [`withdrew report ${body.id} (install id ${body.install})`];
    const lines = [`report “${body.verdict}”${body.reason ? ` (${body.reason})` : ""} on a card:`];
    for (const [name, value] of Object.entries(body)) {
      if (name === "verdict" || name === "reason") continue;
      if (name === "vector") {
        lines.push("\n", `vector: the sentence's vector, ${atobLength(value)} numbers (not its text)`);
      } else if (name === "sentence") {
        lines.push("\n", "sentence (you chose to send it): ", isolated(value));
      } else {
        lines.push("\n", `${name}: `, isolated(value));
      }
    }
    if (!("sentence" in body)) lines.push("\n", "the sentence's text was not sent");
    return lines;
  }

  function atobLength(base64) {
    try {
      return atob(String(base64)).length;
    } catch (_error) {
      return "?";
    }
  }

  function show(state, settings) {
    const detail = state.status === "service-unavailable" && state.error ? ` (${state.error})` : "";
    // A page not read as an article may say why (its story is in a frame or a shadow root).
    const said = state.status === "not-an-article" && state.reason ? state.reason : STATUS[state.status];
    $("status").textContent = (said || state.status || STATUS.idle) + detail;
    // What the service said about the whole answer, e.g. that it cannot read the page's language.
    const notices = (state.notices || []).map((notice) => notice.message).filter(Boolean);
    $("notices").textContent = notices.join(" ");
    $("notices").hidden = !notices.length;
    $("paragraphs").textContent =
      state.blocks === undefined ? "–" : `${state.sentBlocks} new of ${state.blocks} in the article`;
    $("sentences").textContent = state.sentences ?? "–";
    $("cards").textContent = state.cards ?? "–";
    $("build").textContent = state.build || "–";
    $("service").textContent = settings.serviceUrl;
    const list = $("sent");
    list.replaceChildren();
    for (const request of state.sent || []) {
      const item = document.createElement("li");
      const when = new Date(request.at).toLocaleTimeString();
      if (request.kind === "report" || request.kind === "withdrawal") {
        item.append(`${when}: `, ...reportLines(request));
        list.appendChild(item);
        continue;
      }
      // The page's text, each piece isolated: a right-to-left override in it cannot reorder ours.
      const title = request.title ? ["title “", isolated(request.title), "”, "] : [];
      const lang = request.lang ? [`language ${request.lang}, `] : [];
      item.append(`${when}: `, ...title, ...lang, `${request.texts.length} paragraphs:`);
      for (const text of request.texts) item.append("\n\n", isolated(text));
      list.appendChild(item);
    }
    $("sent-count").textContent = String((state.sent || []).length);
  }

  async function refresh() {
    const [tab, settings] = await Promise.all([activeTab(), Settings.load()]);
    if (!tab) return;
    const state = (await send({ type: MSG.PU_BG_GET_TAB_STATE, tabId: tab.id })) || {};
    show(state, settings);
  }

  async function runNow() {
    const tab = await activeTab();
    if (!tab) return;
    const reply = await send({ type: MSG.PU_BG_RUN_NOW, tabId: tab.id });
    if (reply && !reply.ok) $("status").textContent = reply.error;
    setTimeout(refresh, 600);
  }

  $("run").addEventListener("click", runNow);
  $("options").addEventListener("click", (event) => {
    event.preventDefault();
    api.runtime.openOptionsPage();
  });

  (async () => {
    const settings = await Settings.load();
    // In "send only when I click" mode, opening the popup from the toolbar is the click.
    if (settings.clickToSend) await runNow();
    await refresh();
  })();
})(globalThis);
