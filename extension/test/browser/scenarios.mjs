// The browser suite's user-visible behaviours, written once over the driver's handle (driver.mjs)
// and run in every browser (run.mjs). A scenario throws (assert) when the behaviour is wrong.
//
// Each is async ({ browser, page, site, service, artifacts }) => detail, where browser is the
// driver's handle, page a fresh tab, and detail a short JSON-able note for the report.
import assert from "node:assert/strict";
import { join } from "node:path";

// What the page sees: the document's Custom Highlight registry (the extension's highlights
// when the browser has the API), else the fallback <aside-mark> elements.
export function highlighted() {
  if (globalThis.CSS && CSS.highlights && CSS.highlights.get("aside-context")) {
    return [...CSS.highlights.get("aside-context")].map((r) => r.toString());
  }
  return [...document.querySelectorAll("aside-mark")].map((m) => m.textContent);
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

async function openNews(page, site) {
  await page.goto(`${site}/news.html`);
  return page.waitFor(() => {
    const list = (globalThis.CSS && CSS.highlights && CSS.highlights.get("aside-context"))
      ? [...CSS.highlights.get("aside-context")].map((r) => r.toString())
      : [...document.querySelectorAll("aside-mark")].map((m) => m.textContent);
    return list.length >= 3 && list;
  });
}

/** Rest the pointer on the sentence starting with text; the card that opens. */
async function hover(page, text) {
  const point = await page.evaluate(pointOver, text);
  assert.ok(point, `no highlight starts with ${JSON.stringify(text)}`);
  await page.mouse(point.x, point.y);
  return page.waitForCard({ open: true, timeout: 5_000 });
}

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
];
