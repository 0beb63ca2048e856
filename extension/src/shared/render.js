/* Card rendering, shared by the extension's content script and the service's demo page.
 * Every piece of text goes in through textContent: passages come from an index that an
 * operator fills from the web, and must never become markup. Every piece of text from the
 * index also goes in its own <bdi dir="auto">: a right-to-left override (U+202E) or an
 * Arabic title then stays inside its piece and cannot reorder the card's own words. */
(function asideRender(root) {
  "use strict";

  const OLD_EVIDENCE_YEARS = 5;
  const CARD_CSS = `
    :host { all: initial; }
    .card {
      --bg: #fffdf7; --fg: #1f2328; --muted: #57606a; --line: #e5d9b6; --accent: #9a3412;
      box-sizing: border-box; width: min(420px, calc(100vw - 16px)); max-height: min(60vh, 520px);
      overflow: auto; background: var(--bg); color: var(--fg); border: 1px solid var(--line);
      border-radius: 10px; box-shadow: 0 8px 28px rgba(0,0,0,.18);
      font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; padding: 10px 12px;
      text-align: left; direction: ltr;
    }
    @media (prefers-color-scheme: dark) {
      .card { --bg: #1d1f23; --fg: #e6e6e6; --muted: #a8b0b9; --line: #3b3f46; --accent: #fdba74; }
    }
    .card:focus { outline: 2px solid var(--accent); outline-offset: 2px; }
    header { display: flex; align-items: center; justify-content: space-between; gap: 8px;
             font-weight: 600; font-size: 12px; letter-spacing: .04em; text-transform: uppercase;
             color: var(--muted); margin-bottom: 6px; }
    button { all: unset; cursor: pointer; font-size: 18px; line-height: 1; padding: 2px 6px;
             border-radius: 6px; color: var(--muted); }
    button:focus-visible, button:hover { background: var(--line); color: var(--fg); }
    ol { list-style: none; margin: 0; padding: 0; }
    li + li { border-top: 1px solid var(--line); margin-top: 8px; padding-top: 8px; }
    bdi { unicode-bidi: isolate; }
    .passage { margin: 0 0 6px; }
    .section { margin: 0 0 2px; color: var(--muted); font-size: 12px; font-weight: 600; }
    button.more { font-size: 12px; color: var(--accent); text-decoration: underline; padding: 0;
                  margin: 0 0 6px; display: inline-block; }
    .verdict { margin: 0 0 4px; font-weight: 600; color: var(--accent); }
    .claimant { margin: 0 0 4px; color: var(--muted); font-size: 12px; }
    .source { margin: 0; font-weight: 600; }
    .source a { color: var(--accent); text-decoration: underline; }
    .meta { margin: 2px 0 0; color: var(--muted); font-size: 12px; }
    .also { margin: 2px 0 0; font-size: 12px; }
    .also a { color: var(--accent); }
    footer { margin-top: 8px; color: var(--muted); font-size: 11px; }
  `;

  /** The match score in words a reader understands; the number stays in the tooltip. */
  function scoreWords(score) {
    if (score >= 0.8) return "Very close match";
    if (score >= 0.7) return "Close match";
    if (score >= 0.6) return "Related";
    return "Loosely related";
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(String(url));
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_error) {
      return null;
    }
  }

  /** The year a date string names ("2023", "2023-07-26", "26 May 2015"), or null. */
  function yearOf(value) {
    const match = /\b(1[89]\d\d|2\d\d\d)\b/.exec(String(value || ""));
    return match ? Number(match[1]) : null;
  }

  /** "Dated 2015 · 10 years before this article" when the evidence is much older. */
  function dateLine(published, articleDate) {
    if (!published) return "Undated";
    const line = `Dated ${published}`;
    const evidence = yearOf(published);
    const article = yearOf(articleDate);
    if (evidence && article && article - evidence >= OLD_EVIDENCE_YEARS) {
      return `${line} · ${article - evidence} years before this article`;
    }
    return line;
  }

  /** "Dated 2015 · 10 years before this article", the date isolated (see dateLine). */
  function dateParts(published, articleDate) {
    if (!published) return ["Undated"];
    const parts = ["Dated ", isolated(published)];
    const evidence = yearOf(published);
    const article = yearOf(articleDate);
    if (evidence && article && article - evidence >= OLD_EVIDENCE_YEARS) {
      parts.push(` · ${article - evidence} years before this article`);
    }
    return parts;
  }

  /** The source's label ("publisher — title"), each part isolated, as a link when it has one. */
  function sourceLink(doc, source) {
    const names = [source.publisher, source.title].filter(Boolean);
    const parts = names.length ? names.flatMap((name, n) => (n ? [" — ", isolated(name)] : [isolated(name)])) : ["Source"];
    const href = source.url ? safeUrl(source.url) : null;
    if (!href) return el(doc, "span", "label", parts);
    const link = el(doc, "a", "label", parts);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  /** Text from the index (or the page): shown in a <bdi dir="auto"> of its own. */
  function isolated(text) {
    return { isolate: String(text) };
  }

  /**
   * An element with some content: a string (our own words) or a list of parts, each a
   * string or isolated(text).
   */
  function el(doc, tag, className, content) {
    const node = doc.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined && content !== null) fill(doc, node, content);
    return node;
  }

  function fill(doc, node, content) {
    if (!Array.isArray(content)) {
      node.textContent = String(content);
      return node;
    }
    node.replaceChildren();
    for (const part of content) {
      if (part && typeof part === "object" && "isolate" in part) {
        const bdi = doc.createElement("bdi");
        bdi.dir = "auto";
        bdi.textContent = part.isolate;
        node.appendChild(bdi);
      } else if (part && typeof part === "object" && part.nodeType) {
        node.appendChild(part);
      } else {
        node.appendChild(doc.createTextNode(String(part)));
      }
    }
    return node;
  }

  /**
   * Build the card for one sentence: a dialog with its cards, source links and dates.
   * @param {Document} doc
   * @param {{exact: string, cards: object[]}} sentence
   * @param {{onClose?: () => void, articleDate?: string}} options
   */
  function buildCard(doc, sentence, { onClose, articleDate } = {}) {
    const card = el(doc, "div", "card");
    card.setAttribute("role", "dialog");
    card.setAttribute("aria-label", `Context for: ${sentence.exact.slice(0, 120)}`);
    card.tabIndex = -1;

    const header = el(doc, "header");
    header.appendChild(el(doc, "span", "", sentence.cards.length > 1 ? "Context · " + sentence.cards.length + " sources" : "Context"));
    const close = el(doc, "button", "close", "×");
    close.setAttribute("aria-label", "Close context card");
    close.addEventListener("click", () => onClose && onClose());
    header.appendChild(close);
    card.appendChild(header);

    const list = el(doc, "ol");
    for (const item of sentence.cards) {
      const li = el(doc, "li");
      // A fact-check: the reviewer's rating of the claim, and who made the claim.
      if (item.rating) {
        const by = item.publisher ? [" by ", isolated(item.publisher)] : [];
        li.appendChild(el(doc, "p", "verdict", ["Fact-check: rated “", isolated(item.rating), "”", ...by]));
      }
      if (item.section) li.appendChild(el(doc, "p", "section", [isolated(item.section)]));
      // The matching sentences first; the whole passage on demand.
      const short = item.snippet && item.snippet !== item.text ? item.snippet : null;
      const passageParts = (text) => (item.rating ? ["Claim: ", isolated(text)] : [isolated(text)]);
      const passage = el(doc, "p", "passage", passageParts(short || item.text));
      li.appendChild(passage);
      if (short) {
        const more = el(doc, "button", "more", "Show the whole passage");
        more.setAttribute("aria-expanded", "false");
        more.addEventListener("click", () => {
          const open = more.getAttribute("aria-expanded") === "true";
          fill(doc, passage, passageParts(open ? short : item.text));
          more.setAttribute("aria-expanded", String(!open));
          more.textContent = open ? "Show the whole passage" : "Show less";
        });
        li.appendChild(more);
      }
      if (item.claimant) li.appendChild(el(doc, "p", "claimant", ["Claimed by ", isolated(item.claimant)]));
      const source = el(doc, "p", "source");
      source.appendChild(sourceLink(doc, item));
      li.appendChild(source);
      // Near-identical passages from other sources are named on the same card.
      const others = (item.sources || []).slice(1);
      if (others.length) {
        const also = el(doc, "p", "also", ["Also in: ", ...others.flatMap((other, n) => (n ? ["; ", sourceLink(doc, other)] : [sourceLink(doc, other)]))]);
        li.appendChild(also);
      }
      const license = item.license ? [" · ", isolated(item.license)] : [];
      const metaLine = el(doc, "p", "meta", [...dateParts(item.published, articleDate), ...license, " · "]);
      const match = el(doc, "span", "match", scoreWords(Number(item.score)));
      match.title = `Similarity ${Number(item.score).toFixed(2)} (1.00 = same meaning)`;
      metaLine.appendChild(match);
      li.appendChild(metaLine);
      list.appendChild(li);
    }
    card.appendChild(list);
    card.appendChild(el(doc, "footer", "", "Aside shows related sources, not a verdict. Esc closes."));
    return card;
  }

  root.AsideRender = Object.freeze({ CARD_CSS, buildCard, dateLine, scoreWords, safeUrl });
})(globalThis);
