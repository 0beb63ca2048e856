/* Content-script entry: 1 read settings, 2 extract the article's blocks, 3 ask the
 * background for context (new blocks only), 4 anchor, 5 highlight and wire cards,
 * 6 watch for changes and repeat. Never throws into the page. When the extension goes away
 * (reloaded, updated, removed), it takes its highlights, card and listeners with it. */
(function asideMain(root) {
  "use strict";

  const { AsideMessages: MSG, AsideSettings: Settings, AsideBlocks: Blocks } = root;
  const api = root.chrome || root.browser;
  const REREAD_MS = 1200;
  // Events that show the reader is back on the page: each checks that the extension is still
  // there (a reload in another tab leaves this script orphaned, with nothing to tell it).
  const LIVENESS_EVENTS = ["mousemove", "keydown", "focusin", "scroll", "visibilitychange", "pageshow"];
  const RECHECK_MS = [200, 1000, 3000];
  // Alt+Shift+H: hide (or show again) every highlight, on every page, until pressed again.
  const HIDE = "KeyH";
  // Settings whose change redraws the page at once (in this tab and every other).
  const REDRAW_ON = ["enabled", "denySites", "allowSites", "highlightsHidden"];

  // Block text -> the sentences the service found in it (offsets relative to the text), so a
  // text is sent once per page however often it appears (a "key fact" box repeats a paragraph).
  const known = new Map();
  // Cards the reader reported on this page, hidden until undone: key -> {id, install}.
  const reportedCards = new Map();
  let redrawAfterClose = false;
  const ids = Blocks.createIds(); // block ids stay unique for the page, across reads
  let controller = null;
  let observer = null;
  let port = null;
  let rereadTimer = 0;
  let lastHash = "";
  let lastUrl = location.href;
  let running = false;
  let dead = false;

  function alive() {
    try {
      return Boolean(api && api.runtime && api.runtime.id);
    } catch (_error) {
      return false;
    }
  }

  /**
   * A port to the worker, only to hear when the extension goes away: its disconnect with the
   * extension gone means tear down. The worker's going to sleep also disconnects it (the
   * extension is still there then); the next message connects again, so an idle page does not
   * keep waking the worker.
   */
  function connect() {
    if (port || dead) return;
    try {
      port = api.runtime.connect({ name: "aside-liveness" });
      port.onDisconnect.addListener(() => {
        void api.runtime.lastError;
        port = null;
        // Chrome closes the port a moment before the orphaned script's runtime loses its id:
        // look again shortly after (a worker that only went to sleep passes every look).
        if (checkAlive()) for (const ms of RECHECK_MS) setTimeout(checkAlive, ms);
      });
    } catch (_error) {
      port = null;
      checkAlive();
    }
  }

  function send(message) {
    connect();
    return new Promise((resolve) => {
      try {
        api.runtime.sendMessage(message, (reply) => {
          void api.runtime.lastError; // a missing receiver is not the page's problem
          resolve(reply);
        });
      } catch (_error) {
        resolve(undefined);
      }
    });
  }

  // The worker files the report under this tab and page as the browser names them.
  function report(state) {
    return send({ type: MSG.CS_BG_REPORT_STATE, state });
  }

  function teardown() {
    if (controller) controller.destroy();
    controller = null;
  }

  /** The extension is gone: leave the page as we found it, and stop listening to anything. */
  function shutDown() {
    if (dead) return;
    dead = true;
    teardown();
    if (observer) observer.disconnect();
    observer = null;
    clearTimeout(rereadTimer);
    for (const type of LIVENESS_EVENTS) root.removeEventListener(type, checkAlive, true);
    root.removeEventListener("keydown", onHideKey, true);
    try {
      api.runtime.onMessage.removeListener(onMessage);
      api.storage.onChanged.removeListener(onSettingsChanged);
    } catch (_error) {
      // the API went with the extension
    }
    try {
      if (port) port.disconnect();
    } catch (_error) {
      // already gone
    }
    port = null;
    known.clear();
  }

  /** Tear down if the extension went away; true if it did. */
  function checkAlive() {
    if (dead) return false;
    if (alive()) return true;
    shutDown();
    return false;
  }

  async function run(trigger) {
    if (!checkAlive()) return;
    if (running) {
      schedule(); // a change arrived mid-run: look again afterwards
      return;
    }
    running = true;
    try {
      // 1. Settings: on/off and the site lists decide whether anything is read at all.
      const settings = await Settings.load();
      if (!Settings.allowedOn(settings, location.href)) {
        teardown();
        await report({ status: "off" });
        return;
      }
      if (settings.highlightsHidden) {
        teardown();
        lastHash = "";
        await report({ status: "hidden" });
        return;
      }
      if (settings.clickToSend && trigger !== "click") {
        await report({ status: "waiting-for-click" });
        return;
      }
      // 2. The article's blocks; a page that is not an article sends nothing.
      const article = Blocks.extract(document, { ids });
      if (!article) {
        teardown();
        lastHash = "";
        await report({ status: "not-an-article", reason: Blocks.whyNotRead(document) || undefined });
        return;
      }
      if (article.hash === lastHash && controller && trigger !== "click" && trigger !== "redraw") return;
      // 3. Ask only about texts not seen before on this page, each text once.
      const asked = new Set();
      const fresh = article.blocks.filter((b) => !known.has(b.text) && !asked.has(b.text) && asked.add(b.text));
      let answer = null;
      if (fresh.length) {
        // The worker takes the page's address from the browser, not from this message.
        const reply = await send({
          type: MSG.CS_BG_GET_CONTEXT,
          page: {
            title: article.title,
            lang: article.lang,
            blocks: fresh,
            // Ids are part of the key: a cached answer names the blocks it was asked about.
            hash: Blocks.hash(fresh.map((b) => `${b.id}\u241f${b.text}`).join("\n")),
          },
        });
        if (dead) return;
        if (!reply || !reply.ok) {
          await report({ status: "service-unavailable", error: (reply && reply.error) || "no answer" });
          return; // quiet: the popup says what happened, the page shows nothing
        }
        answer = reply.answer;
        const byId = new Map(fresh.map((b) => [b.id, b.text]));
        const build = answer.index && answer.index.build_id;
        for (const block of fresh) known.set(block.text, []);
        for (const sentence of answer.sentences) {
          const text = byId.get(sentence.block);
          // A report names the build its card came from.
          if (text !== undefined) known.get(text).push({ ...sentence, build });
        }
      }
      if (dead) return;
      // 4. Anchor every known sentence in each current block, repeated texts included. Fallback
      // marks go first: they split the page's text nodes, and ranges must be taken after.
      if (observer) observer.disconnect();
      teardown();
      const items = [];
      const shown = new Map(); // a sentence as answered -> as shown (reported cards left out)
      for (const block of article.blocks) {
        for (const answered of known.get(block.text) || []) {
          if (!shown.has(answered)) shown.set(answered, withoutReported(answered));
          const sentence = shown.get(answered);
          if (!sentence) continue;
          const range = root.AsideAnchor.anchor({ ...sentence, block: block.id }, article.elements);
          if (range) items.push({ range, sentence });
        }
      }
      // 5. Highlight and wire the cards (the observer is paused: fallback marks touch the DOM).
      controller = root.AsideController.attach(document, items, {
        articleDate: article.published, site: location.hostname, onSiteOff: turnOffSite,
        feedback: { send: sendReport, undo: undoReport }, onClosed: afterClose,
      });
      watch();
      lastHash = article.hash;
      // A repeated paragraph shows its sentences twice but they are one answer: count once.
      const answered = new Set(items.map((item) => item.sentence));
      const found = [...answered].reduce((n, sentence) => n + sentence.cards.length, 0);
      await report({
        status: "ok",
        blocks: article.blocks.length,
        sentBlocks: fresh.length,
        sentences: answered.size,
        highlights: items.length,
        cards: found,
        build: answer ? answer.index && answer.index.build_id : undefined,
      });
    } catch (error) {
      // Never an error in the page: log for the extension's own console only.
      console.debug("Aside:", error);
    } finally {
      running = false;
    }
  }

  function reportKey(sentence, card) {
    return `${sentence.sentence_hash}\u241f${card.doc_id}\u241f${card.passage_hash}`;
  }

  /** The sentence without the cards reported on this page; null when none is left. */
  function withoutReported(sentence) {
    const cards = sentence.cards.filter((card) => !reportedCards.has(reportKey(sentence, card)));
    if (!cards.length) return null;
    return cards.length === sentence.cards.length ? sentence : { ...sentence, cards };
  }

  /** The card's report: through the worker (which sends it and lists it in the popup). */
  async function sendReport(sentence, card, { verdict, reason, includeSentence }) {
    const reply = await send({
      type: MSG.CS_BG_FEEDBACK,
      report: {
        verdict, reason, includeSentence, build: sentence.build,
        card: { id: card.id, doc_id: card.doc_id, passage_hash: card.passage_hash },
        sentence: { hash: sentence.sentence_hash, vector: sentence.vector, text: sentence.exact },
      },
    });
    if (!reply || !reply.ok) return { ok: false, error: (reply && reply.error) || "no answer" };
    reportedCards.set(reportKey(sentence, card), { id: reply.id, install: reply.install });
    redrawAfterClose = true; // the card goes from the page when its dialog closes
    return { ok: true };
  }

  async function undoReport(sentence, card) {
    const key = reportKey(sentence, card);
    const held = reportedCards.get(key);
    if (!held) return { ok: true };
    const reply = await send({ type: MSG.CS_BG_FEEDBACK_UNDO, id: held.id, install: held.install });
    if (!reply || !reply.ok) return { ok: false, error: (reply && reply.error) || "no answer" };
    reportedCards.delete(key);
    return { ok: true };
  }

  function afterClose() {
    if (!redrawAfterClose) return;
    redrawAfterClose = false;
    run("redraw");
  }

  /** The card's "Turn Aside off on <site>": onto the deny list; the storage change tears down. */
  async function turnOffSite() {
    const site = location.hostname;
    if (!(await Settings.denySite(site))) return;
    teardown();
    root.AsideCard.toast(document, `Aside is off on ${site}. Its settings page can turn it back on.`);
  }

  function editable(target) {
    return Boolean(target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName || "")));
  }

  /** Alt+Shift+H, the reader's own key press only (a page cannot hide or show them). */
  async function onHideKey(event) {
    if (event.isTrusted !== true || !event.altKey || !event.shiftKey || event.code !== HIDE) return;
    if (editable(event.target) || !checkAlive()) return;
    event.preventDefault();
    const hidden = !(await Settings.load()).highlightsHidden;
    await Settings.save({ highlightsHidden: hidden });
    root.AsideCard.toast(document, hidden ? "Aside highlights hidden. Alt+Shift+H shows them again."
      : "Aside highlights shown.");
    // The storage change redraws every tab; this one at once.
    run("settings");
  }

  function onSettingsChanged(changes, area) {
    if (area !== "sync" || !REDRAW_ON.some((key) => key in changes) || !checkAlive()) return;
    run("settings");
  }

  function ours(node) {
    return node && node.nodeType === 1 && /^(ASIDE-MARK|ASIDE-CARD|ASIDE-TOAST)$/.test(node.nodeName);
  }

  // 6. Dynamic pages: re-read after a quiet moment when the article or the URL changes.
  function watch() {
    if (dead) return;
    if (!observer) {
      observer = new MutationObserver((records) => {
        if (!checkAlive()) return;
        const relevant = records.some((r) => !ours(r.target) && ![...r.addedNodes, ...r.removedNodes].every(ours));
        if (relevant || location.href !== lastUrl) schedule();
      });
    }
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  }

  function schedule() {
    clearTimeout(rereadTimer);
    if (dead) return;
    rereadTimer = setTimeout(() => {
      if (location.href !== lastUrl) {
        lastUrl = location.href;
        known.clear();
        reportedCards.clear();
      }
      run("change");
    }, REREAD_MS);
  }

  function onMessage(message) {
    if (message && message.type === MSG.BG_CS_RUN_NOW) run("click");
  }

  api.runtime.onMessage.addListener(onMessage);
  try {
    api.storage.onChanged.addListener(onSettingsChanged);
  } catch (_error) {
    // no storage events: settings apply on the next read
  }
  for (const type of LIVENESS_EVENTS) root.addEventListener(type, checkAlive, true);
  root.addEventListener("keydown", onHideKey, true);
  watch();
  run("load");
})(globalThis);
