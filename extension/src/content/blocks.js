/* Article blocks: find the article with Readability on a clone of the page, then map
 * its paragraphs back to the live page's elements. Reading the page changes nothing. */
(function asideBlocks(root) {
  "use strict";

  const PARAGRAPH_SELECTOR = "p, li, blockquote, h2, h3, h4, dd, figcaption, pre";
  const MIN_BLOCK_CHARS = 20;

  function normalise(text) {
    return String(text || "").replace(/\s+/g, " ").trim();
  }

  /** FNV-1a 32-bit of a string, as hex: a cheap content hash for caching. */
  function hash(text) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i += 1) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(16).padStart(8, "0");
  }

  /** Paragraph texts of Readability's article, in order (parsed inertly, never inserted). */
  function articleParagraphs(doc, content) {
    const parsed = new doc.defaultView.DOMParser().parseFromString(content, "text/html");
    const texts = [];
    for (const el of parsed.body.querySelectorAll(PARAGRAPH_SELECTOR)) {
      if (el.querySelector(PARAGRAPH_SELECTOR)) continue; // only innermost blocks
      const text = normalise(el.textContent);
      if (text.length >= MIN_BLOCK_CHARS) texts.push(text);
    }
    return texts;
  }

  /**
   * Extract the article's blocks from a document.
   * @returns {{title: string, blocks: {id: string, text: string}[], elements: Map<string, Element>, hash: string} | null}
   *   null when the page is not an article (then nothing is sent).
   */
  function extract(doc, { Readability, isProbablyReaderable } = root) {
    if (!Readability || !isProbablyReaderable) return null;
    if (!isProbablyReaderable(doc)) return null;
    let article;
    try {
      article = new Readability(doc.cloneNode(true)).parse();
    } catch (_error) {
      return null;
    }
    if (!article || !article.content) return null;
    const wanted = new Map(); // normalised text -> how many times the article has it
    for (const text of articleParagraphs(doc, article.content)) wanted.set(text, (wanted.get(text) || 0) + 1);

    const blocks = [];
    const elements = new Map();
    for (const el of doc.body.querySelectorAll(PARAGRAPH_SELECTOR)) {
      if (el.querySelector(PARAGRAPH_SELECTOR)) continue;
      const key = normalise(el.textContent);
      const left = wanted.get(key);
      if (!left) continue;
      wanted.set(key, left - 1);
      const id = `b${blocks.length}`;
      blocks.push({ id, text: el.textContent });
      elements.set(id, el);
    }
    if (!blocks.length) return null;
    return {
      title: article.title || doc.title || "",
      published: publishedDate(doc),
      blocks,
      elements,
      hash: hash(blocks.map((b) => b.text).join("\n\u241e\n")),
    };
  }

  /** The article's publication date as the page declares it, or "". */
  function publishedDate(doc) {
    const meta = doc.querySelector(
      'meta[property="article:published_time"], meta[name="article:published_time"], ' +
        'meta[itemprop="datePublished"], meta[name="date"], meta[name="pubdate"]',
    );
    if (meta && meta.content) return meta.content;
    const time = doc.querySelector("article time[datetime], time[datetime]");
    return time ? time.getAttribute("datetime") : "";
  }

  root.AsideBlocks = Object.freeze({ extract, hash, normalise, publishedDate });
})(typeof self !== "undefined" ? self : globalThis);
