// The browser suite's user-visible behaviours, written once over the driver's handle (driver.mjs)
// and run in every browser (run.mjs). A scenario throws (assert) when the behaviour is wrong.
//
// Each is async ({ browser, page, site, service, artifacts }) => detail, where browser is the
// driver's handle, page a fresh tab, site and service URLs, and detail a short JSON-able note
// for the report. What the service received is asked of it at GET /_test/posts, a route the
// test suite's middleware answers (tests/browser/conftest.py, Counting), not the product.
//
// All scenarios of a run share one browser, so its session cache of answers: a scenario that
// counts requests loads a page address no other scenario loads.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./driver.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const DIST = { chromium: join(here, "..", "..", "dist", "chrome"), firefox: join(here, "..", "..", "dist", "firefox") };
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
// axe-core's impacts that fail the check: "serious" and "critical" (the bar).
const BLOCKING = ["serious", "critical"];

// Functions run in the page (page.evaluate sends their source): each stands alone.

// What the page sees: the document's Custom Highlight registry (the extension's highlights
// when the browser has the API), else the fallback <aside-mark> elements, one entry per
// sentence in page order (a sentence's marks share a data-index). name "aside-context-active"
// gives the active one. With min, null until at least min are shown (for page.waitFor).
export function highlighted(name = "aside-context", min = 0) {
  let list;
  if (globalThis.CSS && CSS.highlights && CSS.highlights.get("aside-context")) {
    const set = CSS.highlights.get(name);
    list = set ? [...set].map((r) => r.toString()) : [];
  } else {
    const selector = name === "aside-context" ? "aside-mark" : "aside-mark[data-active]";
    const texts = new Map();
    for (const mark of document.querySelectorAll(selector)) {
      texts.set(mark.dataset.index, (texts.get(mark.dataset.index) || "") + mark.textContent);
    }
    list = [...texts.values()];
  }
  return list.length >= min ? list : null;
}

// Whether this browser has the Custom Highlight API (the extension's own test, highlight.js).
function hasHighlightApi() {
  return Boolean(globalThis.CSS && CSS.highlights && typeof Highlight === "function");
}

// A point over the start of the highlighted sentence beginning with text.
function pointOver(text) {
  let range = null;
  if (globalThis.CSS && CSS.highlights && CSS.highlights.get("aside-context")) {
    range = [...CSS.highlights.get("aside-context")].find((r) => r.toString().startsWith(text));
  } else {
    const mark = [...document.querySelectorAll("aside-mark")].find((m) => m.textContent.startsWith(text));
    if (mark) {
      range = document.createRange();
      range.selectNodeContents(mark);
    }
  }
  if (!range) return null;
  const rect = range.getClientRects()[0];
  return { x: rect.left + Math.min(20, rect.width / 2), y: rect.top + rect.height / 2 };
}

// Anything of the extension's in the page: highlights, marks, a card host.
function traces() {
  const highlights = globalThis.CSS && CSS.highlights ? CSS.highlights.size : 0;
  return highlights + document.querySelectorAll("aside-mark, aside-card").length;
}

// The article's paragraphs as the page holds them, whether the extension can read them or
// not: in the document, in a custom element's open shadow root (host) or in a same-origin
// frame (frame). {text, shown}: shown when the page renders it.
function articleParagraphs(selector, { host = null, frame = null } = {}) {
  let root = document;
  if (host) root = document.querySelector(host).shadowRoot;
  if (frame) root = document.querySelector(frame).contentDocument;
  return [...root.querySelectorAll(selector)].map((p) => ({
    text: p.textContent.replace(/\s+/g, " ").trim(),
    shown: p.getClientRects().length > 0,
  }));
}

/** The page's highlighted sentences, once at least min are shown. */
function waitForHighlights(page, min, options = {}) {
  return page.waitFor(highlighted, { ...options, args: ["aside-context", min] });
}

async function openNews(page, site, query = "") {
  await page.goto(`${site}/news.html${query}`);
  return waitForHighlights(page, 3);
}

/** Rest the pointer on the sentence starting with text; the card that opens. */
async function hover(page, text) {
  const point = await page.evaluate(pointOver, text);
  assert.ok(point, `no highlight starts with ${JSON.stringify(text)}`);
  // From elsewhere: a pointer already resting there (a reload, a closed card) makes no move.
  await page.mouse(1, 1);
  await page.mouse(point.x, point.y);
  return page.waitForCard({ open: true, timeout: 5_000 });
}

/** What the suite's service received (GET /_test/posts, answered by its test middleware in
 * tests/browser/conftest.py): {posts, bodies: [{title, lang, texts}]}. */
async function received(service) {
  const response = await fetch(`${service}/_test/posts`);
  assert.equal(response.status, 200,
    `${service}/_test/posts: these scenarios need the test suite's service (tests/browser/conftest.py)`);
  return response.json();
}

/** Poll check (async) until it returns something truthy; that value. */
async function until(check, { timeout = 20_000, interval = 100, what = "the condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not met in ${timeout} ms`);
    await sleep(interval);
  }
}

/** The worker's state for the page's tab (storage.session `tab:<id>`, what the popup shows),
 * once it has the given status (and passes where). The tab is found by its page's address. */
async function tabState(browser, page, status, { where = () => true, timeout = 20_000 } = {}) {
  let seen = [];
  try {
    return await until(async () => {
      const states = Object.entries(await browser.sessionStorage())
        .filter(([key, value]) => key.startsWith("tab:") && value && value.url === page.url())
        .map(([, value]) => value);
      seen = states.map((value) => value.status);
      return states.find((value) => value.status === status && where(value));
    }, { timeout, interval: 200, what: `the tab's state ${status}` });
  } catch (error) {
    throw new Error(`${error.message} (reported: ${seen.join(", ") || "nothing"})`);
  }
}

/** The texts sent since `before` (an earlier received()), request by request. */
async function sentSince(service, before) {
  const now = await received(service);
  return now.bodies.slice(before.bodies.length).map((body) => body.texts.map((t) => t.replace(/\s+/g, " ").trim()));
}

/** Each highlight is one of the expected sentences (given by their starts), and each is there. */
function assertHighlights(list, starts) {
  for (const text of list) {
    assert.ok(starts.some((start) => text.startsWith(start)), `an unexpected highlight: ${text}`);
  }
  for (const start of starts) {
    assert.equal(list.filter((t) => t.startsWith(start)).length, 1, `${start}…: ${list.join(" | ")}`);
  }
}

/** A page the extension cannot read sends nothing, shows nothing, and says why (the popup's
 * status, from the tab's state); what is recorded for the report. */
async function sendsNothing({ browser, page, service, before, inArticle, frameTraces = null, reason = null }) {
  const state = await tabState(browser, page, "not-an-article");
  if (reason) assert.match(state.reason || "", reason, "the popup says why");
  await sleep(QUIET_MS);
  assert.equal((await received(service)).posts, before.posts, "no context request");
  assert.equal(await page.evaluate(traces), 0, "nothing shown on the page");
  if (frameTraces) assert.equal(await page.evaluate(frameTraces), 0, "nothing shown in the frame");
  assert.equal(state.sent, undefined, "the popup lists nothing sent");
  assert.deepEqual(page.errors, []);
  return { inArticle, sent: 0, highlighted: 0, status: state.status, reason: state.reason || null };
}

// Sentences of the test pages that the suite's index has context for (news.html).
const MEXICO = "Mexico is the largest trading partner";
const CARTELS = "The administration says Mexican cartels";
const BRIDGE = "The Golden Gate Bridge opened";

// late.html's paragraph added after load.
const UPDATE = "Update: The administration says Mexican cartels are trafficking fentanyl and other synthetic "
  + "opioids into the United States on an industrial scale.";

// Long enough for a re-read (REREAD_MS in content/main.js, 1200) to have sent, had it sent.
const QUIET_MS = 2_500;


// A sentence with a fact-check, a statistic and a long reference, as the service answers it,
// for rendering the real card in a page of the test's own (the accessibility check).
const AXE_SENTENCE = {
  exact: "Mexico is the largest trading partner of the United States.",
  cards: [
    { id: "1", text: "Mexico is now the top trading partner of the United States.", title: "Is Mexico the top partner?",
      url: "https://factcheck.example/mexico", publisher: "Example Fact Check", published: "2024-05-01",
      kind: "fact-check", category: "fact-check", license: null, score: 0.86, claimant: "A senator", rating: "Mostly true",
      matched: ["Mexico", "trading", "partner", "United", "States"], sources: [], snippet: "" },
    { id: "2", text: "exports partners: US 76%, Canada 5% (2019); imports partners: US 45%, China 18% (2019)",
      title: "Mexico — Economy - exports - partners", url: "https://www.cia.gov/the-world-factbook/countries/mexico/",
      publisher: "CIA World Factbook", published: "2019", kind: "factbook", category: "statistic", license: "Public domain",
      score: 0.64, matched: ["partners"], section: "Economy - exports - partners", sources: [], snippet: "" },
    { id: "3", text: "Mexico–United States relations. " + "The two countries share a long border and deep trade ties. ".repeat(8),
      snippet: "Mexico–United States relations. The two countries share a long border …", title: "Mexico–United States relations",
      url: "https://en.wikipedia.org/wiki/Mexico%E2%80%93United_States_relations", publisher: "Wikipedia",
      published: "2015", kind: "wikipedia", category: "reference", license: "CC BY-SA 3.0", score: 0.61,
      matched: ["Mexico", "United", "States"], sources: [] },
  ],
};

/** In the page: the real card (render.js, card.js from the build), open on AXE_SENTENCE. Its
 * shadow root is open here only, so that axe-core can read it; the extension's is closed. */
function renderCardForAxe(sentence) {
  const view = globalThis.AsideCard.create(document, { mode: "open" });
  view.show(sentence, { top: 80, bottom: 100, left: 40, right: 400 },
    { articleDate: "2025-03-03", site: "news.example", onSiteOff() {} });
  return Boolean(document.querySelector("aside-card").shadowRoot.querySelector(".card"));
}

/** In the page (with axe-core loaded): the violations in context, as {id, impact, nodes}. */
async function axeViolations(context) {
  const target = context ? document.querySelector(context) : document;
  const results = await globalThis.axe.run(target, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help,
    targets: v.nodes.slice(0, 3).map((n) => String(n.target)) }));
}

/** The popup as the browser shows it (popup.html, its CSS and scripts from the build), over a
 * stand-in for the extension API that answers with a tab state: for a browser whose protocol
 * cannot open extension pages (Firefox), and the same markup everywhere. */
async function stagePopup(page, dist, state) {
  const html = readFileSync(join(dist, "popup", "popup.html"), "utf8")
    .replace(/<script[^>]*><\/script>/g, "")
    .replace(/<link rel="stylesheet"[^>]*>/, `<style>${readFileSync(join(dist, "popup", "popup.css"), "utf8")}</style>`);
  await page.raw.setContent(html, { waitUntil: "load" });
  await page.raw.addScriptTag({ content: `globalThis.chrome = {
    runtime: { lastError: undefined, sendMessage(message, reply) { reply(${JSON.stringify(state)}); }, openOptionsPage() {} },
    tabs: { query: async () => [{ id: 1 }] },
    storage: { sync: { get: async () => ({}), set: async () => {} } },
  };` });
  for (const file of ["shared/messages.js", "shared/settings.js", "popup/popup.js"]) {
    await page.raw.addScriptTag({ content: readFileSync(join(dist, file), "utf8") });
  }
  return page.waitFor(() => document.querySelectorAll("#sent > li").length > 0);
}

/** Fail on serious or critical violations; the rest, for the report. */
function assertAccessible(violations, what) {
  const blocking = violations.filter((v) => BLOCKING.includes(v.impact));
  assert.deepEqual(blocking, [], `${what}: serious or critical accessibility violations`);
  return violations.map((v) => `${v.id} (${v.impact})`);
}

const EXTRA_SCENARIOS = [
  {
    id: "card-states-source-age-kind-why",
    title: "the card states its source, the evidence's age by the article's date, its kind, and the shared words",
    async run({ browser, page, site, artifacts }) {
      await openNews(page, site, "?design");
      const card = await hover(page, MEXICO);
      assert.deepEqual(card.parts.slice(0, 3), ["source", "age", "kind"], `order: ${card.parts}`);
      assert.ok(card.parts.indexOf("why") > card.parts.indexOf("passage"), `order: ${card.parts}`);
      const lines = card.text.split("\n");
      const age = lines.find((line) => line.startsWith("Evidence"));
      assert.ok(age && age.includes("article from 2025-03-03"), `the article's date beside the evidence's: ${age}`);
      assert.ok(lines.some((line) => /^(Reference|Statistic|Fact-check)/.test(line)), card.text);
      const why = lines.find((line) => line.startsWith("Why it matched: shares"));
      assert.ok(why, card.text);
      assert.ok(card.shared.length > 0, "shared words are marked in the passages");
      const reasons = lines.filter((line) => line.startsWith("Why it matched")).join(" ").toLowerCase();
      for (const word of card.shared) assert.ok(reasons.includes(`“${word.toLowerCase()}”`), `${word} in ${reasons}`);
      assert.ok(!card.tags.includes("mark"), "no <mark>: a screen reader hears no 'highlight' at each word");
      let screenshot = null;
      if (artifacts) {
        screenshot = join(artifacts, `card-design-${browser.name}.png`);
        await page.screenshot(screenshot);
      }
      assert.deepEqual(page.errors, []);
      return { screenshot, parts: card.parts, age, why };
    },
  },
  {
    id: "screen-reader-gets-the-card",
    title: "a screen reader focused on a highlight's card gets its content, with no highlight noise",
    async run({ browser, page, site }) {
      await openNews(page, site, "?reader");
      await page.press("Alt+Shift+KeyJ");
      const card = await page.waitForCard({ open: true, timeout: 3_000 });
      assert.equal(card.role, "dialog");
      assert.ok(card.describedBy && card.describedBy.includes("Why it matched"),
        `the dialog is described by its cards: ${card.describedBy}`);
      assert.ok(!card.tags.includes("mark"));
      const roles = await page.evaluate(() => [...document.querySelectorAll("[role=mark], mark, aside-mark[role]")].length);
      assert.equal(roles, 0, "nothing in the page is exposed as a highlight (mark) role");
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.localName),
        "aside-card", "focus is in the card");
      const accessible = await page.cardAccessible();
      if (accessible) {
        assert.equal(accessible.role, "dialog");
        assert.ok(accessible.focused, "the dialog is the focused node");
        assert.ok(accessible.name.startsWith("Context for: "), accessible.name);
        assert.ok(accessible.description.includes("Why it matched"), accessible.description);
        assert.ok(!/highlight/i.test(accessible.name + accessible.description), "no 'highlight' announced");
      }
      await page.press("Escape");
      assert.deepEqual(page.errors, []);
      return accessible
        ? { focused: { role: accessible.role, name: accessible.name.slice(0, 60), description: accessible.description.slice(0, 80) } }
        : { checked: "the dialog's aria-describedby names its list of cards (read from the DOM): BiDi gives no accessibility tree" };
    },
  },
  {
    id: "alt-shift-h-hides-all-highlights",
    title: "Alt+Shift+H hides every highlight, on this page and the next, until pressed again",
    async run({ browser, page, site, service }) {
      try {
        const shown = await openNews(page, site, "?hide");
        await page.press("Alt+Shift+KeyH");
        await until(async () => (await page.evaluate(traces)) === 0, { timeout: 5_000, what: "highlights hidden" });
        await tabState(browser, page, "hidden");
        // The setting persists: a page opened next shows nothing and sends nothing.
        const before = (await received(service)).posts;
        const next = await browser.newPage();
        try {
          await next.goto(`${site}/news.html?hide-next`);
          await tabState(browser, next, "hidden");
          await sleep(QUIET_MS);
          assert.equal(await next.evaluate(traces), 0, "nothing shown on the next page");
          assert.equal((await received(service)).posts, before, "nothing sent while hidden");
          await next.press("Alt+Shift+KeyH");
          const back = await waitForHighlights(next, 3);
          assert.deepEqual(next.errors, []);
          assert.deepEqual(page.errors, []);
          return { before: shown.length, hidden: 0, shownAgain: back.length };
        } finally {
          await next.close().catch(() => {});
        }
      } finally {
        await browser.setSettings({ highlightsHidden: false });
      }
    },
  },
  {
    id: "turn-off-site-from-card",
    title: "the card's 'Turn Aside off on this site' clears the page and keeps the site off",
    async run({ browser, page, site, service }) {
      try {
        await openNews(page, site, "?site-off");
        await hover(page, MEXICO);
        await page.clickInCard("site-off");
        await until(async () => (await page.evaluate(traces)) === 0, { timeout: 5_000, what: "the page cleared" });
        const before = (await received(service)).posts;
        await page.goto(`${site}/news.html?site-off-reload`);
        await tabState(browser, page, "off");
        await sleep(QUIET_MS);
        assert.equal((await received(service)).posts, before, "nothing sent on the site once off");
        assert.equal(await page.evaluate(traces), 0);
        assert.deepEqual(page.errors, []);
        return { denied: new URL(site).hostname, afterReload: "off" };
      } finally {
        await browser.setSettings({ denySites: [] });
      }
    },
  },
  {
    id: "card-and-popup-pass-axe",
    title: "axe-core finds no serious accessibility violation in the card or the popup",
    async run({ browser, page, site }) {
      const dist = DIST[browser.name];
      // The card: the build's own render.js and card.js in a page the extension does not read.
      await page.goto(`${site}/shop.html`);
      for (const file of ["shared/render.js", "content/card.js"]) {
        await page.raw.addScriptTag({ content: readFileSync(join(dist, file), "utf8") });
      }
      assert.ok(await page.evaluate(renderCardForAxe, AXE_SENTENCE), "the card rendered");
      await page.raw.addScriptTag({ content: AXE });
      const card = assertAccessible(await page.evaluate(axeViolations, "aside-card"), "the card");
      // The popup, with a state that has a request in "what was sent".
      const state = { status: "ok", blocks: 4, sentBlocks: 4, sentences: 3, highlights: 3, cards: 5, build: "b1",
        sent: [{ at: Date.now(), title: "A title", lang: "en", texts: ["First paragraph.", "Second paragraph."] }] };
      const staged = await browser.newPage();
      let popup;
      try {
        await stagePopup(staged, dist, state);
        await staged.raw.addScriptTag({ content: AXE });
        popup = assertAccessible(await staged.evaluate(axeViolations, null), "the popup");
      } finally {
        await staged.close().catch(() => {});
      }
      let real = "not reachable: BiDi cannot script extension pages (bug 1755014)";
      if (browser.canScriptExtensionPages) {
        const opened = await browser.openPopupOver(page);
        try {
          await opened.page.evaluate(AXE);
          real = assertAccessible(await opened.page.evaluate(axeViolations, null), "the popup (extension page)");
        } finally {
          await opened.close().catch(() => {});
        }
      }
      assert.deepEqual(page.errors, []);
      return { card, popup, realPopup: real };
    },
  },
  {
    id: "report-wrong-card-then-operator-blocks",
    title: "a reader reports a card as wrong, it goes; the operator lists and blocks it; a fresh load shows the other cards only",
    async run({ page, site, service, operator }) {
      assert.ok(operator.aside && operator.feedbackDir,
        "this scenario needs --aside and --feedback-dir (tests/browser/test_shared_scenarios.py passes them)");
      const aside = (...args) => execFileSync(operator.aside, ["feedback", ...args, "--feedback-dir", operator.feedbackDir],
        { encoding: "utf8", timeout: 60_000 });
      const url = `${site}/news.html?feedback`;
      await page.goto(url);
      await waitForHighlights(page, 3);
      const before = await hover(page, MEXICO);
      const titles = before.links.map(([text]) => text);
      assert.ok(titles.length >= 2, `the Mexico sentence has several cards: ${titles}`);
      const reported = titles[1]; // the second card: the first stays for the other scenarios
      // Another browser's run may have reported it already (a reader each): count from here.
      const named = (entry) => entry.snapshot && [entry.snapshot.publisher, entry.snapshot.title]
        .filter(Boolean).join(" — ") === reported;
      let earlier = null;
      try {
        earlier = JSON.parse(aside("list", "--json")).find(named);
      } catch (error) {
        // No database yet: the first report makes it (aside says so and exits 1).
        assert.match(String(error.stderr || error.message), /no feedback database/);
      }
      const count = (entry, field, key) => (entry ? entry[field][key] || 0 : 0);
      // 1. The reader: "Wrong match" on the second card, reason "off topic", send.
      await page.clickInCard("wrong-match", 1);
      await page.press("ArrowDown");
      await page.press("ArrowDown"); // wrong person or place -> outdated -> off topic
      await page.clickInCard("send", 1);
      const after = await until(async () => {
        const card = await page.card();
        return card && card.text.includes("Reported as “wrong match”") && card;
      }, { timeout: 10_000, what: "the report acknowledged in the card" });
      assert.ok(!after.links.some(([text]) => text === reported), "2. the reported card is gone from the dialog");
      await page.press("Escape");
      await page.waitForCard({ open: false, timeout: 3_000 });
      const reopened = await hover(page, MEXICO);
      assert.ok(!reopened.links.some(([text]) => text === reported), "and from the sentence, once closed");
      assert.ok(reopened.links.some(([text]) => text === titles[0]), "the other cards stay");
      // 3. The operator: the report is listed, without the page's text; block the card.
      const listed = JSON.parse(aside("list", "--json"));
      const card = listed.find(named);
      assert.ok(card, `the reported card in aside feedback list: ${JSON.stringify(listed).slice(0, 400)}`);
      assert.equal(card.verdicts["wrong-match"], count(earlier, "verdicts", "wrong-match") + 1, "one more reader");
      assert.equal(card.reasons["off-topic"], count(earlier, "reasons", "off-topic") + 1);
      const shown = aside("show", String(card.id));
      assert.ok(!shown.includes("Mexico is the largest trading partner"), "no sentence text stored");
      const blocked = aside("block", String(card.id), "--note", "browser test");
      const blockId = /\(block (\d+)\)/.exec(blocked);
      assert.ok(blockId, blocked);
      try {
        // 4. A fresh load: the blocked card is not there; the sentence keeps its other cards.
        await page.goto(url);
        await waitForHighlights(page, 3);
        const fresh = await hover(page, MEXICO);
        assert.ok(!fresh.links.some(([text]) => text === reported), `blocked: ${fresh.links.map(([t]) => t)}`);
        assert.ok(fresh.links.some(([text]) => text === titles[0]), "the other cards stay");
        assert.deepEqual(page.errors, []);
        return { reported, cardId: card.id, block: Number(blockId[1]), before: titles.length, after: fresh.links.length };
      } finally {
        aside("unblock", blockId[1]);
      }
    },
  },
];

export const SCENARIOS = [
  {
    id: "highlights-without-touching-page",
    title: "sentences with context are highlighted without touching the page",
    async run({ page, site }) {
      const api = await page.evaluate(hasHighlightApi);
      const list = await openNews(page, site);
      assert.ok(list.some((t) => t.startsWith("Mexico is the largest trading partner")), list.join(" | "));
      assert.ok(list.some((t) => t.startsWith("The administration says Mexican cartels")), list.join(" | "));
      assert.ok(list.some((t) => t.startsWith("The Golden Gate Bridge opened")), list.join(" | "));
      assert.ok(!list.some((t) => t.includes("Reporters waited outside")), "no weak matches");
      const marks = await page.evaluate(() => document.querySelectorAll("aside-mark").length);
      if (api) {
        // Custom Highlight mode: the article's DOM is not changed at all.
        assert.equal(await page.evaluate(() => window.siteMutations), 0, "the article's DOM was not changed");
        assert.equal(marks, 0, "no <aside-mark> in Custom Highlight mode");
      } else {
        // The fallback wraps the sentences' text in <aside-mark> elements.
        assert.ok(marks >= 3, `fallback marks: ${marks}`);
      }
      assert.deepEqual(page.errors, []);
      return { mode: api ? "highlight-api" : "wrapping", highlights: list.length };
    },
  },
  {
    id: "hover-opens-card",
    title: "hover opens the card with its source and escape closes it",
    async run({ browser, page, site, artifacts }) {
      await openNews(page, site);
      const card = await hover(page, "Mexico is the largest trading partner");
      assert.equal(card.mode, "closed", "the card's shadow root is closed");
      assert.ok(card.text.includes("CIA World Factbook — Mexico — Exports - partners"), card.text);
      assert.equal(card.role, "dialog");
      assert.ok(card.label.startsWith("Context for: Mexico is the largest"), card.label);
      const hrefs = card.links.filter(([text]) => text.includes("Exports - partners")).map(([, href]) => href);
      assert.equal(hrefs[0], "https://www.cia.gov/the-world-factbook/countries/mexico/");
      // What a page script sees of it: an empty host, no shadow root.
      assert.deepEqual(await page.evaluate(() => {
        const host = document.querySelector("aside-card");
        return [Boolean(host), host && host.shadowRoot, host && host.textContent];
      }), [true, null, ""]);
      let screenshot = null;
      if (artifacts) {
        screenshot = join(artifacts, `card-${browser.name}.png`);
        await page.screenshot(screenshot);
      }
      await page.press("Escape");
      await page.waitForCard({ open: false, timeout: 3_000 });
      assert.deepEqual(page.errors, []);
      return { screenshot, card: card.text.split("\n")[0].slice(0, 80) };
    },
  },
  {
    id: "hover-needs-a-dwell",
    title: "hover opens the card only after the pointer rests (about 300 ms)",
    async run({ page, site }) {
      await openNews(page, site);
      const point = await page.evaluate(pointOver, "The administration says");
      assert.ok(point, "the cartel sentence is highlighted");
      // A look at the card about 100 ms after the move must find none. A look that ends past
      // 300 ms (a slow machine) proves nothing either way, so the pointer leaves and tries again.
      for (let attempt = 1; ; attempt += 1) {
        const t0 = Date.now();
        await page.mouse(point.x, point.y);
        await sleep(Math.max(0, 100 - (Date.now() - t0)));
        const early = await page.card();
        const lookedBy = Date.now() - t0;
        if (lookedBy < 280 || !early) {
          assert.equal(early, null, `a card ${lookedBy} ms after the pointer arrived`);
          await page.waitForCard({ open: true, timeout: 3_000 });
          const openedBy = Date.now() - t0;
          assert.ok(openedBy >= 280, `the card opened within ${openedBy} ms, before the dwell`);
          assert.deepEqual(page.errors, []);
          return { noCardAt: lookedBy, cardSeenAt: openedBy, attempt };
        }
        assert.ok(attempt < 3, `could not look within 280 ms of the move (${lookedBy} ms)`);
        await page.mouse(5, 5);
        await page.waitForCard({ open: false, timeout: 3_000 });
      }
    },
  },
  {
    id: "hotkeys-move-and-focus",
    title: "Alt+Shift+J/K move between highlights and focus the card; Escape closes it",
    async run({ page, site }) {
      const list = await openNews(page, site);
      const active = () => page.evaluate(highlighted, "aside-context-active");
      const pressTo = async (chord, expected, why) => {
        await page.press(chord);
        const want = JSON.stringify(expected);
        await until(async () => JSON.stringify(await active()) === want, { timeout: 3_000, what: why })
          .catch(() => {});
        assert.deepEqual(await active(), expected, why);
      };
      await page.press("Alt+Shift+KeyJ");
      await page.waitForCard({ open: true, timeout: 3_000 });
      assert.deepEqual(await active(), [list[0]], "J: the first sentence");
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.tagName),
        "ASIDE-CARD", "the card has focus");
      await pressTo("Alt+Shift+KeyJ", [list[1]], "J: the next sentence");
      await pressTo("Alt+Shift+KeyK", [list[0]], "K: back");
      await pressTo("Alt+Shift+KeyK", [list[list.length - 1]], "K: wraps around to the last");
      const card = await page.card();
      assert.ok(card && card.label.startsWith(`Context for: ${list[list.length - 1].slice(0, 20)}`),
        card && card.label);
      await page.press("Escape");
      await page.waitForCard({ open: false, timeout: 3_000 });
      assert.deepEqual(await active(), [], "no active sentence after Escape");
      assert.deepEqual(page.errors, []);
      return { highlights: list.length, last: list[list.length - 1].slice(0, 40) };
    },
  },
  {
    id: "hostile-passage-as-text",
    title: "a hostile passage's markup is shown as text: nothing injected, no script run",
    async run({ browser, page, site, artifacts }) {
      await openNews(page, site);
      const before = await page.evaluate(() => document.querySelectorAll("img, script, b").length);
      const card = await hover(page, "The Golden Gate Bridge opened");
      assert.ok(card.text.includes("<img src=x onerror="), card.text);
      assert.ok(card.text.includes("Untrusted <script>Feed</script> — <b>Golden Gate</b> Bridge"), card.text);
      const injected = card.tags.filter((tag) => ["img", "script", "b"].includes(tag));
      assert.deepEqual(injected, [], "no element made from the passage's markup");
      assert.deepEqual(card.links, [], "a javascript: URL is not a link");
      assert.equal(await page.evaluate(() => document.querySelectorAll("img, script, b").length), before,
        "nothing added to the page");
      await sleep(500); // an <img src=x> made from it would have failed to load by now
      assert.notEqual(await page.evaluate(() => document.title), "pwned", "the onerror did not run");
      let screenshot = null;
      if (artifacts) {
        screenshot = join(artifacts, `card-hostile-${browser.name}.png`);
        await page.screenshot(screenshot);
      }
      assert.deepEqual(page.errors, []);
      return { screenshot, tags: card.tags };
    },
  },
  {
    id: "not-an-article-sends-nothing",
    title: "a page that is not an article sends nothing",
    async run({ browser, page, site, service }) {
      const before = (await received(service)).posts;
      await page.goto(`${site}/shop.html`);
      // The content script ran and chose not to send: it says so to the worker first.
      const state = await tabState(browser, page, "not-an-article");
      assert.equal(state.reason, undefined, "a shop has no story hidden in a frame or shadow root");
      await sleep(QUIET_MS);
      assert.equal((await received(service)).posts, before, "no context request");
      assert.equal(await page.evaluate(traces), 0, "nothing shown on the page");
      assert.deepEqual(page.errors, []);
      return { status: "not-an-article", posts: 0 };
    },
  },
  {
    id: "late-content-sends-only-new-text",
    title: "content added after load is read again and only the new text is sent",
    async run({ browser, page, site, service }) {
      const before = (await received(service)).posts;
      await page.goto(`${site}/late.html`);
      const shown = () => page.evaluate(highlighted);
      await until(async () => (await shown()).some((t) => t.startsWith("Mexico is the largest")),
        { what: "the first read's highlight" });
      const first = await received(service);
      assert.equal(first.posts, before + 1, "one request for the page as loaded");
      assert.equal(first.bodies.at(-1).texts.length, 3, "its three paragraphs");
      assert.ok(!(await shown()).some((t) => t.includes("cartels")), "the update is not there yet");
      // The page adds a paragraph 4 s after load; the re-read follows 1.2 s after the change.
      await until(async () => (await shown()).some((t) => t.includes("Mexican cartels are trafficking")),
        { timeout: 15_000, what: "the late paragraph's highlight" });
      assert.ok((await shown()).some((t) => t.startsWith("Mexico is the largest")), "the first highlight is kept");
      const second = await received(service);
      assert.equal(second.posts, before + 2, "one more request");
      assert.deepEqual(second.bodies.at(-1).texts, [UPDATE], "only the new paragraph was sent");
      // What left the browser is recorded for the popup, newest first.
      const state = await tabState(browser, page, "ok", { where: (v) => (v.sent || []).length >= 2 });
      assert.deepEqual(state.sent[0].texts, [UPDATE]);
      assert.deepEqual(state.sent[1].texts, first.bodies.at(-1).texts);
      assert.ok(state.cards >= 2, `cards: ${state.cards}`);
      assert.deepEqual(page.errors, []);
      return { requests: 2, secondSent: second.bodies.at(-1).texts.length };
    },
  },
  {
    id: "click-to-send",
    title: "with 'send only when I click', nothing is sent until the toolbar popup is opened",
    async run({ browser, page, site, service }) {
      await browser.setSettings({ clickToSend: true });
      let popup = null;
      try {
        const before = (await received(service)).posts;
        await page.goto(`${site}/news.html?click-to-send`);
        await tabState(browser, page, "waiting-for-click");
        await sleep(QUIET_MS);
        assert.equal((await received(service)).posts, before, "nothing sent before the click");
        assert.equal(await page.evaluate(traces), 0, "nothing shown before the click");
        // The toolbar click: the popup opens over the tab, and in this mode its own script
        // (popup.js runNow) sends PU_BG_RUN_NOW for that tab, which the worker passes on.
        popup = await browser.openPopupOver(page);
        const list = await waitForHighlights(page, 3);
        assert.equal((await received(service)).posts, before + 1, "one request, after the click");
        assert.deepEqual(page.errors, []);
        return {
          highlights: list.length,
          click: browser.canScriptExtensionPages
            ? "popup.html loaded in a tab behind the article, over CDP"
            : "popup.html loaded in a background tab by privileged code (gBrowser.addTab): BiDi "
              + "cannot open or script extension pages (bug 1755014), the popup's own script ran",
        };
      } finally {
        if (popup) await popup.close().catch(() => {});
        await browser.setSettings({ clickToSend: false });
      }
    },
  },
  {
    id: "popup-shows-what-was-sent",
    title: "the popup lists exactly what left the browser",
    async run({ browser, page, site, service }) {
      const before = (await received(service)).posts;
      await openNews(page, site, "?popup");
      const after = await received(service);
      assert.equal(after.posts, before + 1, "one request for the page");
      const body = after.bodies.at(-1);
      // The tab's state in storage.session is what the popup renders.
      const state = await tabState(browser, page, "ok");
      assert.equal(state.sent.length, 1);
      assert.deepEqual(state.sent[0].texts, body.texts, "the recorded texts are the ones sent");
      assert.equal(state.sent[0].title, body.title);
      assert.equal(state.sent[0].lang, body.lang);
      if (!browser.canScriptExtensionPages) {
        assert.deepEqual(page.errors, []);
        return {
          checked: "the worker's storage.session state the popup renders (sent: title, lang, texts), "
            + "equal to the service's request; Firefox's BiDi cannot read the popup page (bug 1755014)",
          paragraphs: body.texts.length,
        };
      }
      const popup = await browser.openPopupOver(page);
      try {
        const shown = await popup.page.waitFor(() => {
          const items = [...document.querySelectorAll("#sent > li")];
          return items.length > 0 && {
            status: document.getElementById("status").textContent,
            count: document.getElementById("sent-count").textContent,
            paragraphs: document.getElementById("paragraphs").textContent,
            items: items.map((li) => ({
              text: li.textContent,
              isolated: [...li.querySelectorAll("bdi")].map((bdi) => bdi.textContent),
            })),
          };
        });
        assert.equal(shown.status, "Done.");
        assert.equal(shown.count, "1");
        assert.equal(shown.items.length, 1);
        assert.deepEqual(shown.items[0].isolated, [body.title, ...body.texts], "title and paragraphs as sent");
        assert.ok(shown.items[0].text.includes(`language ${body.lang}, ${body.texts.length} paragraphs:`),
          shown.items[0].text);
        assert.equal(shown.paragraphs, `${body.texts.length} new of ${body.texts.length} in the article`);
        assert.deepEqual(popup.page.errors, []);
      } finally {
        await popup.close();
      }
      assert.deepEqual(page.errors, []);
      return { checked: "popup.html over the tab, read over CDP", paragraphs: body.texts.length };
    },
  },
  // Issue 18: pages readers read. Each gets correct highlights or sends nothing, with the
  // reason in the popup; each reports paragraphs in the article, sent, and highlighted.
  {
    id: "paywall-sends-only-the-teaser",
    title: "a paywalled story: the two paragraphs shown are read, the hidden rest is not sent",
    async run({ browser, page, site, service }) {
      const before = await received(service);
      await page.goto(`${site}/paywall.html`);
      const list = await waitForHighlights(page, 2);
      const paragraphs = await page.evaluate(articleParagraphs, ".article-body p");
      const shown = paragraphs.filter((p) => p.shown).map((p) => p.text);
      assert.equal(paragraphs.length, 6);
      assert.equal(shown.length, 2, "the teaser");
      const state = await tabState(browser, page, "ok");
      const sent = await sentSince(service, before);
      assert.deepEqual(sent, [shown], "one request, with the teaser's paragraphs only");
      assertHighlights(list, [MEXICO, CARTELS]);
      assert.equal(state.blocks, 2, "the popup counts the teaser only");
      assert.deepEqual(page.errors, []);
      return { inArticle: paragraphs.length, shownInArticle: shown.length, sent: sent.flat().length,
        highlighted: list.length, status: state.status };
    },
  },
  {
    id: "live-blog-reads-new-entries",
    title: "a live blog: updates on top and earlier entries loaded on scroll are read, each text sent once",
    async run({ browser, page, site, service }) {
      const before = await received(service);
      await page.goto(`${site}/liveblog.html`);
      const shown = () => page.evaluate(highlighted);
      const showing = (start, what) => until(async () => (await shown()).some((t) => t.startsWith(start)),
        { timeout: 15_000, what });
      await showing(MEXICO, "the first read's highlight");
      // The page puts a new update on top 4 s after load.
      await showing(CARTELS, "the new update's highlight");
      const firstPosts = (await received(service)).posts;
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      await showing(BRIDGE, "the earlier entries' highlight, loaded on scroll");
      const state = await tabState(browser, page, "ok", { where: (v) => v.sentences >= 3 });
      const list = await shown();
      const paragraphs = (await page.evaluate(articleParagraphs, "#feed p")).map((p) => p.text);
      assert.equal(paragraphs.length, 7);
      const sent = await sentSince(service, before);
      const all = sent.flat();
      assert.equal(new Set(all).size, all.length, `a text was sent twice: ${JSON.stringify(sent)}`);
      assert.deepEqual([...all].sort(), [...paragraphs].sort(), "every entry's paragraphs, and nothing else");
      assert.ok(sent.length >= 2 && (await received(service)).posts > firstPosts, "a request per change");
      assert.deepEqual(sent.at(-1), paragraphs.slice(-2), "the last request: the two entries loaded on scroll");
      assertHighlights(list, [MEXICO, CARTELS, BRIDGE]);
      assert.deepEqual(page.errors, []);
      return { inArticle: paragraphs.length, sent: all.length, requests: sent.map((texts) => texts.length),
        highlighted: list.length, status: state.status };
    },
  },
  {
    id: "shadow-dom-article-sends-nothing",
    title: "an article inside a web component's shadow root is not read: nothing sent, the popup says so",
    async run({ browser, page, site, service }) {
      const before = await received(service);
      await page.goto(`${site}/shadow.html`);
      // The content script reads the document, which holds no text of the story: Readability and
      // querySelectorAll do not enter shadow roots, and the document's clone has none.
      const paragraphs = await page.evaluate(articleParagraphs, "article p", { host: "news-story" });
      assert.equal(paragraphs.length, 4, "the story is in the shadow root, and shown");
      assert.ok(paragraphs.every((p) => p.shown));
      return sendsNothing({ browser, page, service, before, inArticle: paragraphs.length,
        reason: /inside a web component \(shadow DOM\)/ });
    },
  },
  {
    id: "amp-page-highlights",
    title: "an AMP page (<html ⚡>, boilerplate) gets its highlights",
    async run({ browser, page, site, service }) {
      const before = await received(service);
      await page.goto(`${site}/amp.html`);
      assert.ok(await page.evaluate(() => document.documentElement.hasAttribute("⚡")), "an AMP document");
      const list = await waitForHighlights(page, 2);
      const state = await tabState(browser, page, "ok");
      const paragraphs = (await page.evaluate(articleParagraphs, "article p:not(.byline)")).map((p) => p.text);
      assert.equal(paragraphs.length, 4);
      const sent = await sentSince(service, before);
      assert.deepEqual(sent, [paragraphs], "one request, with the article's paragraphs");
      assertHighlights(list, [MEXICO, CARTELS]);
      assert.deepEqual(page.errors, []);
      return { inArticle: paragraphs.length, sent: sent.flat().length, highlighted: list.length, status: state.status };
    },
  },
  {
    id: "iframe-article-sends-nothing",
    title: "an article in a same-origin frame is not read (top frame only): nothing sent, the popup says so",
    async run({ browser, page, site, service }) {
      const before = await received(service);
      await page.goto(`${site}/iframe.html`);
      // Content scripts run in the top frame only (no all_frames in the manifest): every frame
      // would report its own state for the one tab, and ad and embed frames would be read too.
      const paragraphs = await page.evaluate(articleParagraphs, "article p", { frame: "#story" });
      assert.equal(paragraphs.length, 4, "the story is in the frame, and shown");
      const frameTraces = () => {
        const doc = document.getElementById("story").contentDocument;
        const win = doc.defaultView;
        return (win.CSS && win.CSS.highlights ? win.CSS.highlights.size : 0)
          + doc.querySelectorAll("aside-mark, aside-card").length;
      };
      return sendsNothing({ browser, page, service, before, inArticle: paragraphs.length, frameTraces,
        reason: /inside an embedded frame/ });
    },
  },
  ...EXTRA_SCENARIOS,
];
