/* Article blocks: find the article with Readability on a clone of the page, then map
 * its paragraphs back to the live page's elements. Reading the page changes nothing.
 * 1. number the clone's elements, so each paragraph Readability keeps names its live twin
 *    whatever Readability removed from it (scripts, hidden icons, buttons …);
 * 2. paragraphs Readability made itself are matched by their text instead;
 * 3. paragraphs that are wholly a link, next to the article, are added back;
 * 4. each block is sent as its readable text (AsideAnchor.textOf), never script or hidden text,
 *    and a paragraph the page does not show (the locked rest of a paywalled story) not at all. */
(function asideBlocks(root) {
  "use strict";

  const PARAGRAPH_SELECTOR = "p, li, blockquote, h2, h3, h4, dd, figcaption, pre";
  const MIN_BLOCK_CHARS = 20;
  const LIVE_INDEX = "data-aside-live-index"; // set on the clone only, never on the page
  const MIN_LINK_PARAGRAPH_CHARS = 80;
  const SENTENCE_END = /[.!?…]["”’»)]*$/;

  function normalise(text) {
    return String(text || "").replace(/[\s\u00ad\u200b]+/g, (m) => (/\s/.test(m) ? " " : "")).trim();
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

  /**
   * Block ids for one page: an element keeps its id while its text stays the same, and an id
   * is never given twice, so a paragraph added later (a live-blog update) gets a new one.
   */
  function createIds() {
    const byElement = new WeakMap();
    let next = 0;
    return {
      idFor(element, text) {
        const known = byElement.get(element);
        if (known && known.text === text) return known.id;
        const id = `b${next}`;
        next += 1;
        byElement.set(element, { id, text });
        return id;
      },
    };
  }

  function innermost(el) {
    return !el.querySelector(PARAGRAPH_SELECTOR);
  }

  /** Readability's article element, from a clone whose elements name their live twins. */
  function parseArticle(doc, Readability) {
    const live = doc.getElementsByTagName("*");
    const clone = doc.cloneNode(true);
    const copies = clone.getElementsByTagName("*");
    // A clone has the same elements in the same order; guard against a page that differs.
    if (copies.length !== live.length) return null;
    for (let i = 0; i < copies.length; i += 1) copies[i].setAttribute(LIVE_INDEX, String(i));
    // serializer: keep the element itself, not its HTML, so the numbers can be read back.
    const article = new Readability(clone, { serializer: (el) => el }).parse();
    if (!article || !article.content) return null;
    return { article, live };
  }

  /** Live elements of Readability's paragraphs, in the page's order. */
  function articleElements(doc, article, live) {
    const found = new Set();
    const unmatched = [];
    for (const el of article.content.querySelectorAll(PARAGRAPH_SELECTOR)) {
      if (!innermost(el)) continue;
      const text = normalise(root.AsideAnchor.textOf(el));
      if (text.length < MIN_BLOCK_CHARS) continue;
      // 1. By identity: the clone element Readability kept still carries its live index.
      // Readability renames tags (a <div> of text becomes a <p>, the <h1> an <h2>): the live
      // twin must itself be a paragraph or a <div>, so the headline stays out as before.
      const twin = el.hasAttribute(LIVE_INDEX) ? live[Number(el.getAttribute(LIVE_INDEX))] : null;
      if (twin && !found.has(twin) && twin.isConnected && twin.matches(`${PARAGRAPH_SELECTOR}, div`)) found.add(twin);
      else unmatched.push(text);
    }
    // 2. By text, for paragraphs Readability built from loose text (no live twin).
    if (unmatched.length) {
      const wanted = new Map();
      for (const text of unmatched) wanted.set(text, (wanted.get(text) || 0) + 1);
      for (const el of doc.body.querySelectorAll(PARAGRAPH_SELECTOR)) {
        if (found.has(el) || !innermost(el)) continue;
        const key = normalise(root.AsideAnchor.textOf(el));
        if (!wanted.get(key)) continue;
        wanted.set(key, wanted.get(key) - 1);
        found.add(el);
      }
    }
    for (const el of linkParagraphs(doc, found)) found.add(el);
    return [...found].sort((a, b) => (a.compareDocumentPosition(b) & 4 /* FOLLOWING */ ? -1 : 1));
  }

  /**
   * 3. Paragraphs that are wholly a link, beside the article. Readability keeps a sibling of its
   * top candidate only when under a quarter of its text is links, so a lead that a regional
   * site links to the story's own URL is dropped. Taken back here when it is a long <p> of
   * sentences inside the article's container (not in a list, navigation, header or footer).
   */
  function linkParagraphs(doc, found) {
    const elements = [...found];
    if (!elements.length) return [];
    let container = elements[0].parentElement;
    while (container && !elements.every((el) => container.contains(el))) container = container.parentElement;
    if (container && container !== doc.body && container.parentElement) container = container.parentElement;
    if (!container) return [];
    const extra = [];
    for (const p of container.querySelectorAll("p")) {
      if (found.has(p) || !innermost(p) || p.closest("li, nav, header, footer, aside, form")) continue;
      const text = normalise(root.AsideAnchor.textOf(p));
      if (text.length < MIN_LINK_PARAGRAPH_CHARS || !SENTENCE_END.test(text)) continue;
      const links = [...p.querySelectorAll("a[href]")].map((a) => normalise(root.AsideAnchor.textOf(a)));
      if (links.join(" ").length < text.length * 0.9) continue;
      if (visible(p)) extra.push(p);
    }
    return extra;
  }

  function visible(el) {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      if (root.AsideAnchor.hidden(node)) return false;
    }
    return true;
  }

  /**
   * Extract the article's blocks from a document.
   * @param {Document} doc
   * @param {{Readability?: Function, isProbablyReaderable?: Function, ids?: {idFor: Function}}} options
   *   ids: the page's id registry (createIds()), so ids stay unique across reads of one page.
   * @returns {{title: string, lang: string, blocks: {id: string, text: string}[], elements: Map<string, Element>, hash: string} | null}
   *   null when the page is not an article (then nothing is sent). Each block's text is the
   *   element's readable text; sentence offsets are into it.
   */
  function extract(doc, { Readability = root.Readability, isProbablyReaderable = root.isProbablyReaderable, ids } = {}) {
    if (!Readability || !isProbablyReaderable) return null;
    if (!isProbablyReaderable(doc)) return null;
    let parsed;
    try {
      parsed = parseArticle(doc, Readability);
    } catch (_error) {
      return null;
    }
    if (!parsed) return null;
    const registry = ids || createIds();
    const blocks = [];
    const elements = new Map();
    for (const el of articleElements(doc, parsed.article, parsed.live)) {
      // Readability reads a clone, which has no styles: it keeps a paragraph that a stylesheet
      // hides, as a paywall hides the story's rest (tests/fixtures/pages/paywall.html).
      if (!visible(el)) continue;
      const text = root.AsideAnchor.textOf(el);
      if (normalise(text).length < MIN_BLOCK_CHARS) continue;
      const id = registry.idFor(el, text);
      blocks.push({ id, text });
      elements.set(id, el);
    }
    if (!blocks.length) return null;
    return {
      title: parsed.article.title || doc.title || "",
      published: publishedDate(doc),
      // The page's declared language: the service trusts it where the text is too short to tell.
      lang: parsed.article.lang || doc.documentElement.getAttribute("lang") || "",
      blocks,
      elements,
      hash: hash(blocks.map((b) => b.text).join("\n\u241e\n")),
    };
  }

  // Text, in characters, that makes a frame or a shadow root look like where the story is.
  const HIDDEN_STORY_CHARS = 500;

  /**
   * Why a page that is not read as an article may still hold one, for the popup: the story is
   * in a frame (the content script reads the top document only) or in a web component's shadow
   * root (Readability reads the document's own tree). Null when neither seems to be the case.
   */
  function whyNotRead(doc) {
    const view = doc.defaultView;
    const area = view ? view.innerWidth * view.innerHeight : 0;
    for (const frame of doc.querySelectorAll("iframe, frame")) {
      let text = 0;
      try {
        text = normalise((frame.contentDocument && frame.contentDocument.body && frame.contentDocument.body.textContent) || "").length;
      } catch (_error) {
        text = 0; // another origin's frame: judged by its size alone
      }
      const rect = frame.getBoundingClientRect();
      const big = area > 0 && rect.width * rect.height >= area / 3;
      if (text >= HIDDEN_STORY_CHARS || big) {
        return "The story seems to be inside an embedded frame, which Aside does not read; nothing was sent.";
      }
    }
    for (const el of doc.querySelectorAll("*")) {
      if (el.shadowRoot && normalise(el.shadowRoot.textContent || "").length >= HIDDEN_STORY_CHARS) {
        return "The story seems to be inside a web component (shadow DOM), which Aside does not read; nothing was sent.";
      }
    }
    return null;
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

  root.AsideBlocks = Object.freeze({ createIds, extract, hash, normalise, publishedDate, whyNotRead });
})(globalThis);
