/* Content-script entry: 1 read settings, 2 extract the article's blocks, 3 ask the
 * background for context (new blocks only), 4 anchor, 5 highlight and wire cards,
 * 6 watch for changes and repeat. Never throws into the page. */
(function asideMain(root) {
  "use strict";

  const { AsideMessages: MSG, AsideSettings: Settings, AsideBlocks: Blocks } = root;
  const api = root.chrome || root.browser;
  const REREAD_MS = 1200;

  // Block text -> the sentences the service found in it (offsets relative to the text), so a
  // text is sent once per page however often it appears (a "key fact" box repeats a paragraph).
  const known = new Map();
  const ids = Blocks.createIds(); // block ids stay unique for the page, across reads
  let controller = null;
  let observer = null;
  let rereadTimer = 0;
  let lastHash = "";
  let lastUrl = location.href;
  let running = false;

  function alive() {
    try {
      return Boolean(api && api.runtime && api.runtime.id);
    } catch (_error) {
      return false;
    }
  }

  function send(message) {
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

  function report(state) {
    return send({ type: MSG.CS_BG_REPORT_STATE, state: { url: location.href, ...state } });
  }

  function teardown() {
    if (controller) controller.destroy();
    controller = null;
  }

  function cleanupIfInvalidated() {
    if (alive()) return false;
    // The extension was reloaded or removed: leave the page as we found it.
    teardown();
    if (observer) observer.disconnect();
    clearTimeout(rereadTimer);
    return true;
  }

  async function run(trigger) {
    if (cleanupIfInvalidated()) return;
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
      if (settings.clickToSend && trigger !== "click") {
        await report({ status: "waiting-for-click" });
        return;
      }
      // 2. The article's blocks; a page that is not an article sends nothing.
      const article = Blocks.extract(document, { ids });
      if (!article) {
        teardown();
        lastHash = "";
        await report({ status: "not-an-article" });
        return;
      }
      if (article.hash === lastHash && controller && trigger !== "click") return;
      // 3. Ask only about texts not seen before on this page, each text once.
      const asked = new Set();
      const fresh = article.blocks.filter((b) => !known.has(b.text) && !asked.has(b.text) && asked.add(b.text));
      let answer = null;
      if (fresh.length) {
        const reply = await send({
          type: MSG.CS_BG_GET_CONTEXT,
          page: {
            url: location.href,
            title: article.title,
            published: article.published,
            lang: article.lang,
            blocks: fresh,
            // Ids are part of the key: a cached answer names the blocks it was asked about.
            hash: Blocks.hash(fresh.map((b) => `${b.id}\u241f${b.text}`).join("\n")),
          },
        });
        if (!reply || !reply.ok) {
          await report({ status: "service-unavailable", error: (reply && reply.error) || "no answer" });
          return; // quiet: the popup says what happened, the page shows nothing
        }
        answer = reply.answer;
        const byId = new Map(fresh.map((b) => [b.id, b.text]));
        for (const block of fresh) known.set(block.text, []);
        for (const sentence of answer.sentences) {
          const text = byId.get(sentence.block);
          if (text !== undefined) known.get(text).push(sentence);
        }
      }
      // 4. Anchor every known sentence in each current block, repeated texts included. Fallback
      // marks go first: they split the page's text nodes, and ranges must be taken after.
      if (observer) observer.disconnect();
      teardown();
      const items = [];
      for (const block of article.blocks) {
        for (const sentence of known.get(block.text) || []) {
          const range = root.AsideAnchor.anchor({ ...sentence, block: block.id }, article.elements);
          if (range) items.push({ range, sentence });
        }
      }
      // 5. Highlight and wire the cards (the observer is paused: fallback marks touch the DOM).
      controller = root.AsideController.attach(document, items, { articleDate: article.published });
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

  function ours(node) {
    return node && node.nodeType === 1 && /^(ASIDE-MARK|ASIDE-CARD)$/.test(node.nodeName);
  }

  // 6. Dynamic pages: re-read after a quiet moment when the article or the URL changes.
  function watch() {
    if (!observer) {
      observer = new MutationObserver((records) => {
        const relevant = records.some((r) => !ours(r.target) && ![...r.addedNodes, ...r.removedNodes].every(ours));
        if (relevant || location.href !== lastUrl) schedule();
      });
    }
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  }

  function schedule() {
    clearTimeout(rereadTimer);
    rereadTimer = setTimeout(() => {
      if (location.href !== lastUrl) {
        lastUrl = location.href;
        known.clear();
      }
      run("change");
    }, REREAD_MS);
  }

  api.runtime.onMessage.addListener((message) => {
    if (message && message.type === MSG.BG_CS_RUN_NOW) run("click");
  });

  watch();
  run("load");
})(typeof self !== "undefined" ? self : globalThis);
