import assert from "node:assert/strict";
import { test } from "node:test";
import { CONTENT, newsPage, page } from "./helpers.mjs";

test("an article's paragraphs map back to the live page's elements", () => {
  const win = page(newsPage(), { scripts: CONTENT });
  const before = win.document.documentElement.outerHTML;
  const article = win.AsideBlocks.extract(win.document);
  assert.ok(article, "the page is an article");
  assert.equal(win.document.documentElement.outerHTML, before, "reading changes nothing");
  assert.equal(article.blocks.length, 6);
  assert.match(article.blocks[0].text, /^WASHINGTON — The United States will impose a 25% tariff/);
  for (const block of article.blocks) {
    const el = article.elements.get(block.id);
    assert.ok(el.isConnected && el.tagName === "P");
    assert.equal(el.textContent, block.text, "offsets will be into this exact text");
  }
  const texts = article.blocks.map((b) => b.text).join("\n");
  assert.doesNotMatch(texts, /All rights reserved/, "the footer is not part of the article");
  assert.doesNotMatch(texts, /Home World Business/, "navigation is not part of the article");
  assert.match(article.hash, /^[0-9a-f]{8}$/);
});

test("a page that is not an article gives nothing to send", () => {
  const html = `<!doctype html><html><head><title>Shop</title></head><body>
    <nav><a href="/a">A</a> <a href="/b">B</a></nav>
    <ul><li><a href="/p1">Product one</a></li><li><a href="/p2">Product two</a></li></ul>
    <form><input name="q"><button>Search</button></form></body></html>`;
  const win = page(html, { scripts: CONTENT });
  assert.equal(win.AsideBlocks.extract(win.document), null);
});

test("the content hash changes when the article changes", () => {
  const win = page(newsPage(), { scripts: CONTENT });
  const first = win.AsideBlocks.extract(win.document).hash;
  win.document.querySelector("article p:last-of-type").append(" Updated at 5pm.");
  assert.notEqual(win.AsideBlocks.extract(win.document).hash, first);
});

test("repeated paragraphs map to distinct elements", () => {
  const repeated = "<p>Officials said the measure would take effect in March and could be lifted if Mexico meets targets.</p>";
  const win = page(newsPage(repeated + repeated), { scripts: CONTENT });
  const article = win.AsideBlocks.extract(win.document);
  const same = article.blocks.filter((b) => b.text.startsWith("Officials said the measure"));
  assert.equal(same.length, 2);
  assert.notEqual(article.elements.get(same[0].id), article.elements.get(same[1].id));
});
