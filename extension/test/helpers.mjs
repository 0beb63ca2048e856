// Load the extension's plain scripts into a jsdom window, as the browser would.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { JSDOM } from "jsdom";
import { CONTENT_SCRIPTS } from "../scripts/layout.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "..", "src");
const require = createRequire(import.meta.url);
const readability = dirname(require.resolve("@mozilla/readability/package.json"));

export function page(html, { url = "https://news.example/story", scripts = [] } = {}) {
  const dom = new JSDOM(html, { url, runScripts: "outside-only", pretendToBeVisual: true });
  for (const script of scripts) {
    const path = script.startsWith("vendor/") ? join(readability, script.slice(7)) : join(src, script);
    dom.window.eval(readFileSync(path, "utf8"));
  }
  return dom.window;
}

// The content scripts a test page needs: all but messaging, settings and the entry point.
export const CONTENT = CONTENT_SCRIPTS.filter(
  (f) => !["shared/messages.js", "shared/settings.js", "content/main.js"].includes(f),
);

/** A realistic article page: navigation, an article with inline markup, a footer. */
export function newsPage(extraParagraphs = "") {
  const paragraph = (text) => `<p>${text}</p>`;
  const body = [
    "WASHINGTON — The United States will impose a 25% tariff on imports from Mexico unless the Mexican government does more to stop <a href=\"/fentanyl\">fentanyl</a> from crossing the border, the White House said on Monday.",
    "Mexico is the largest trading partner of the <em>United States</em>, and about three quarters of Mexican exports are sold north of the border. Cars, vehicle parts, computers and crude petroleum make up the bulk of those shipments.",
    "The administration says Mexican cartels are trafficking fentanyl and other synthetic opioids into the United States on an industrial scale. Officials did not give figures.",
    "Economists warned that a tariff of that size would raise prices for American consumers and disrupt supply chains built over three decades of free trade between the two countries.",
    "Mexico's president said her government would send 10,000 National Guard troops to the northern border, and that Mexico was also a victim of weapons smuggled south.",
    "Markets in New York closed lower on Monday, led by automakers with plants in Mexico, while the peso fell by two percent against the dollar after the announcement.",
  ].map(paragraph).join("\n");
  return `<!doctype html><html><head><title>US tariffs on Mexico tied to fentanyl crackdown</title></head>
  <body>
    <nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a></nav>
    <main><article>
      <h1>US tariffs on Mexico tied to fentanyl crackdown</h1>
      <p class="byline">By A. Reporter, Staff writer</p>
      ${body}
      ${extraParagraphs}
    </article></main>
    <footer><p>© News Example. All rights reserved. Contact us for licensing of this content.</p></footer>
  </body></html>`;
}

/**
 * Anchor a golden case's sentences in its page (tests/fixtures/anchor/<case>/input.json):
 * for each, the block it was found in, where (UTF-16 index into the block's readable text)
 * and the text covered, or null when it was not found.
 */
export function anchorCase({ page: markup, sentences }) {
  const win = page(`<!doctype html><body>${markup}</body>`, { scripts: ["content/anchor.js"] });
  const { AsideAnchor } = win;
  const blocks = new Map([...win.document.querySelectorAll("[data-b]")].map((el) => [el.dataset.b, el]));
  return sentences.map((sentence) => {
    const range = AsideAnchor.anchor(sentence, blocks);
    if (!range) return { exact: sentence.exact, found: null };
    const [block, element] = [...blocks].find(([, el]) => el.contains(range.startContainer));
    let at = range.startOffset;
    for (const piece of AsideAnchor.pieces(element)) {
      if (piece.node === range.startContainer) break;
      at += piece.text.length;
    }
    return { exact: sentence.exact, found: { block, at, text: range.toString() } };
  });
}

/**
 * Keep the shadow roots a window's scripts attach, closed ones included, so a test can read
 * the card. (Only a test can do this: in a browser the content script's attachShadow is its
 * own world's, out of a page script's reach.) Returns host -> root.
 */
export function captureShadowRoots(win) {
  const roots = new Map();
  const attach = win.Element.prototype.attachShadow;
  win.Element.prototype.attachShadow = function attachShadow(init) {
    const shadow = attach.call(this, init);
    roots.set(this, shadow);
    return shadow;
  };
  return roots;
}
