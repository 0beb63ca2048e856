// Paragraphs whose live text differs from Readability's copy are still sent, as the text a
// reader sees: never script code, hidden or screen-reader-only text, or button labels.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CONTENT, newsPage, page } from "./helpers.mjs";

const pages = new URL("../../tests/fixtures/pages/", import.meta.url);
const NOT_READABLE = /adSlots|beacon|opens a PDF|Copy link|Share on|Hidden editor|Template text|pull-quote|▸/;

function extractFile(file) {
  const win = page(readFileSync(new URL(file, pages), "utf8"), { scripts: CONTENT });
  return { win, article: win.AsideBlocks.extract(win.document) };
}

test("every paragraph with inline script, hidden parts or controls is sent, without them", () => {
  const { win, article } = extractFile("hidden-parts.html");
  const before = win.document.body.innerHTML;
  const texts = article.blocks.map((b) => b.text);
  assert.equal(texts.length, 9, texts.join("\n"));
  for (const text of texts) assert.doesNotMatch(text, NOT_READABLE);
  assert.ok(texts.includes("Mexico is the largest trading partner of the United States, and about three quarters of " +
    "Mexican exports are sold north of the border. Brokers expect car parts to be the first goods affected."));
  assert.ok(texts.includes("The chamber published a guide to the new rules on its website, and said it would update the document every week."));
  assert.ok(texts.some((t) => t.startsWith("Truck drivers") && t.includes("Friday. Some had slept")));
  for (const block of article.blocks) {
    assert.equal(win.AsideAnchor.textOf(article.elements.get(block.id)), block.text, "offsets count in this text");
  }
  assert.equal(win.document.body.innerHTML, before, "reading changed nothing on the page");
  assert.equal(win.document.querySelector("[data-aside-live-index]"), null);
});

test("a sentence around an inline script is highlighted on the live text, script untouched", () => {
  const { win, article } = extractFile("hidden-parts.html");
  const block = article.blocks.find((b) => b.text.startsWith("Mexico is the largest"));
  const exact = "Mexico is the largest trading partner of the United States, and about three quarters of Mexican exports are sold north of the border.";
  const sentence = { block: block.id, start: 0, end: exact.length, start_utf16: 0, end_utf16: exact.length, exact, prefix: "", suffix: " Brokers" };
  const range = win.AsideAnchor.anchor(sentence, article.elements);
  const script = article.elements.get(block.id).querySelector("script");
  const code = script.textContent;
  win.AsideHighlight.create(win.document, [{ range, sentence }]);
  const marks = [...article.elements.get(block.id).querySelectorAll("aside-mark")];
  assert.equal(marks.map((m) => m.textContent).join(""), exact);
  assert.equal(script.textContent, code);
  assert.equal(script.querySelector("aside-mark"), null);
});

test("a lead that is wholly a link, beside the article's text, is sent; related links are not", () => {
  const { article } = extractFile("linked-paragraphs.html");
  const texts = article.blocks.map((b) => b.text);
  assert.equal(texts.length, 6, texts.join("\n"));
  assert.match(texts[0], /^The Valley council voted by nine votes to four/, "the linked lead, first");
  assert.match(texts[1], /^Drivers will pay two euros/);
  assert.ok(!texts.some((t) => /Ferry service|primary school/.test(t)), "teasers in the aside stay out");
  assert.ok(texts.includes("The bridge carries about eleven thousand vehicles a day.\nMost of them are commuters " +
    "travelling to the industrial park on the eastern bank, according to the council's own traffic survey."),
    "a <br> separates the sentences it separates on screen");
});

test("a paywalled story sends only the teaser the page shows; the rest once it is shown", () => {
  const { win, article } = extractFile("paywall.html");
  const texts = article.blocks.map((b) => b.text);
  assert.equal(texts.length, 2, texts.join("\n"));
  assert.match(texts[0], /^Mexico is the largest trading partner/);
  assert.match(texts[1], /^The administration says Mexican cartels/);
  assert.ok(!texts.some((t) => /Golden Gate|Subscribe/.test(t)), "neither the locked paragraphs nor the paywall box");
  // A subscriber signs in: the page shows the rest, and the next read takes it.
  win.document.querySelector(".article-locked").classList.remove("article-locked");
  const after = win.AsideBlocks.extract(win.document).blocks.map((b) => b.text);
  assert.equal(after.length, 6, after.join("\n"));
  assert.ok(after.some((t) => t.includes("The Golden Gate Bridge opened")));
});

test("navigation made of linked paragraphs is never taken for article text", () => {
  const links = ["Read our full coverage of the spring elections in the northern provinces here.",
    "Subscribe to the morning briefing for the day's most important stories, sent before breakfast."]
    .map((t, n) => `<p><a href="/more/${n}">${t}</a></p>`).join("");
  const win = page(newsPage().replace("</main>", `</main><footer>${links}</footer>`), { scripts: CONTENT });
  const texts = win.AsideBlocks.extract(win.document).blocks.map((b) => b.text);
  assert.equal(texts.length, 6);
  assert.ok(!texts.some((t) => /Subscribe|full coverage/.test(t)));
});

test("ids come from the page's registry: kept for unchanged paragraphs, never reused", () => {
  const win = page(newsPage(), { scripts: CONTENT });
  const ids = win.AsideBlocks.createIds();
  const first = win.AsideBlocks.extract(win.document, { ids });
  const p = win.document.createElement("p");
  p.textContent = "Update: negotiators will meet again on Friday, a spokesperson for the ministry said today.";
  win.document.querySelector("article h1").after(p);
  const last = win.document.querySelector("article p:last-of-type");
  last.append(" Corrected at 5pm.");
  const second = win.AsideBlocks.extract(win.document, { ids });
  const idOf = (article, el) => [...article.elements].find(([, e]) => e === el)[0];
  const before = new Set(first.blocks.map((b) => b.id));
  assert.ok(!before.has(idOf(second, p)), "the update gets a new id");
  assert.ok(!before.has(idOf(second, last)), "a changed paragraph gets a new id");
  assert.equal(idOf(second, second.elements.get(first.blocks[0].id)), first.blocks[0].id, "unchanged keeps its id");
  assert.equal(new Set(second.blocks.map((b) => b.id)).size, second.blocks.length);
});

test("the page's declared language is sent with the article, and none when it declares none", () => {
  const declared = page(newsPage().replace("<html>", '<html lang="fr-CA">'), { scripts: CONTENT });
  assert.equal(declared.AsideBlocks.extract(declared.document).lang, "fr-CA");
  const silent = page(newsPage(), { scripts: CONTENT });
  assert.equal(silent.AsideBlocks.extract(silent.document).lang, "");
});

test("a page not read as an article says when its story is in a shadow root", () => {
  const win = page("<!doctype html><body><h1>Story</h1><news-story></news-story></body>", { scripts: CONTENT });
  const shadow = win.document.querySelector("news-story").attachShadow({ mode: "open" });
  for (let n = 0; n < 6; n += 1) {
    const p = win.document.createElement("p");
    p.textContent = "Mexico is the largest trading partner of the United States, and most exports go north. ".repeat(2);
    shadow.appendChild(p);
  }
  assert.equal(win.AsideBlocks.extract(win.document), null, "the story in a shadow root is not read");
  assert.match(win.AsideBlocks.whyNotRead(win.document), /inside a web component \(shadow DOM\)/);
  const shop = extractFile("shop.html");
  assert.equal(shop.article, null);
  assert.equal(shop.win.AsideBlocks.whyNotRead(shop.win.document), null, "a shop gives no reason of the kind");
});
