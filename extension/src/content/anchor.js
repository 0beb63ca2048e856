/* Anchoring: a sentence {block, start, end, start_utf16, end_utf16, exact, prefix, suffix}
 * -> a DOM Range, or null.
 * 1. by position: the block's element, the UTF-16 offsets (JavaScript string indices),
 *    checked against `exact`;
 * 2. by quote: every place `exact` occurs in the block (or, if the block is gone,
 *    in any block), scored by how much of `prefix`/`suffix` surrounds it.
 * Ambiguous or missing -> null: a wrong highlight is worse than none.
 * A block's text is its readable text (textOf): what a reader sees, without script code,
 * styles, hidden or aria-hidden parts and controls; a <br> counts as a line break. */
(function asideAnchor(root) {
  "use strict";

  const MIN_CONTEXT = 4; // characters of prefix/suffix that must agree to accept a quote match
  const EDGE_SCORE = 32; // a sentence that began (ended) its block and still does
  // Never article text: code, styles, inert templates, form controls and embedded documents.
  const NOT_TEXT = new Set([
    "script", "style", "noscript", "template", "button", "select", "textarea", "option",
    "iframe", "object", "svg", "canvas",
  ]);

  /** Whether an element's subtree is out of the readable text (as Readability drops it, plus
   *  CSS-hidden and "visually hidden" screen-reader text, which Readability keeps). */
  function hidden(el) {
    if (NOT_TEXT.has(el.localName)) return true;
    if (el.hasAttribute("hidden") || el.getAttribute("aria-hidden") === "true") return true;
    const win = el.ownerDocument.defaultView;
    if (!win || !win.getComputedStyle) return false; // an inert document: markup only
    const style = win.getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden" || style.visibility === "collapse") {
      return true;
    }
    // The "visually hidden" pattern (https://www.a11yproject.com/posts/how-to-hide-content/):
    // taken out of the flow and clipped to nothing or shrunk to one pixel.
    if (style.position !== "absolute" && style.position !== "fixed") return false;
    const clip = (style.clip || "").replace(/\s+/g, "");
    const clipped = /^rect\(0(px)?,?0(px)?,?0(px)?,?0(px)?\)$/.test(clip) || /inset\(50%\)/.test(style.clipPath || "");
    const tiny = parseFloat(style.width) <= 1 && parseFloat(style.height) <= 1;
    return clipped || tiny;
  }

  /** The element's readable text as pieces: {node, text} for text nodes, {br, text: "\n"}
   *  for a line break (text that has no node of its own). */
  function pieces(element) {
    const out = [];
    const walk = (parent) => {
      for (let node = parent.firstChild; node; node = node.nextSibling) {
        if (node.nodeType === 3) out.push({ node, text: node.data });
        else if (node.nodeType !== 1) continue;
        else if (node.localName === "br") out.push({ br: node, text: "\n" });
        else if (!hidden(node)) walk(node);
      }
    };
    if (element.nodeType === 3) return [{ node: element, text: element.data }];
    walk(element);
    return out;
  }

  /** The readable text of an element: what is sent for a block and what offsets count in. */
  function textOf(element) {
    return pieces(element).map((p) => p.text).join("");
  }

  /** The Range covering [start, end) of element's readable text, or null if out of bounds. */
  function rangeFromOffsets(element, start, end) {
    const range = element.ownerDocument.createRange();
    let seen = 0;
    let started = false;
    for (const piece of pieces(element)) {
      const length = piece.text.length;
      if (!started && start < seen + length) {
        if (piece.node) range.setStart(piece.node, start - seen);
        else range.setStartBefore(piece.br);
        started = true;
      }
      if (started && end <= seen + length) {
        if (piece.node) range.setEnd(piece.node, end - seen);
        else if (end > seen) range.setEndAfter(piece.br);
        else range.setEndBefore(piece.br);
        return range;
      }
      seen += length;
    }
    return null;
  }

  /** A code-point offset as a UTF-16 index into text (for a service that sends only
   *  code points): a character above U+FFFF is one code point but two code units. */
  function unitIndex(text, codePoints) {
    let units = 0;
    for (let n = 0; n < codePoints && units < text.length; n += 1) {
      units += text.codePointAt(units) > 0xffff ? 2 : 1;
    }
    return units;
  }

  /** [start, end] of a sentence in UTF-16 code units, whichever offsets it carries. */
  function unitOffsets(sentence, text) {
    if (Number.isInteger(sentence.start_utf16) && Number.isInteger(sentence.end_utf16)) {
      return [sentence.start_utf16, sentence.end_utf16];
    }
    if (!Number.isInteger(sentence.start) || !Number.isInteger(sentence.end)) return [-1, -1];
    return [unitIndex(text, sentence.start), unitIndex(text, sentence.end)];
  }

  function commonSuffixLength(a, b) {
    let n = 0;
    while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n += 1;
    return n;
  }

  function commonPrefixLength(a, b) {
    let n = 0;
    while (n < a.length && n < b.length && a[n] === b[n]) n += 1;
    return n;
  }

  /** How much of one side's context agrees: characters in common, or a full score
   *  when the sentence had no context on that side and still has none. */
  function sideAgreement(expected, actual, common) {
    if (!expected.length) return actual.trim() === "" ? EDGE_SCORE : 0;
    return common(actual, expected);
  }

  /** Candidate places of `exact` in `text`, each with how well its context agrees. */
  function scoreQuote(text, sentence) {
    const places = [];
    const prefix = sentence.prefix || "";
    const suffix = sentence.suffix || "";
    const size = sentence.exact.length;
    for (let at = text.indexOf(sentence.exact); at >= 0; at = text.indexOf(sentence.exact, at + 1)) {
      const before = prefix.length ? text.slice(Math.max(0, at - prefix.length), at) : text.slice(0, at);
      const after = suffix.length ? text.slice(at + size, at + size + suffix.length) : text.slice(at + size);
      const p = sideAgreement(prefix, before, commonSuffixLength);
      const s = sideAgreement(suffix, after, commonPrefixLength);
      const enough = (n, side) => n >= Math.min(MIN_CONTEXT, side.length || 1);
      places.push({ at, score: p + s, agrees: enough(p, prefix) || enough(s, suffix) });
    }
    return places;
  }

  /** The one best-scoring place among candidates, or null when none or a tie. */
  function pickUnique(candidates) {
    const usable = candidates.filter((c) => c.agrees);
    if (!usable.length) return null;
    usable.sort((a, b) => b.score - a.score);
    if (usable.length > 1 && usable[0].score === usable[1].score) return null;
    return usable[0];
  }

  /**
   * Find a sentence in the live page.
   * @param {object} sentence  {block, start, end, start_utf16?, end_utf16?, exact, prefix, suffix}
   * @param {Map<string, Element>} blocks  block id -> live element, as sent
   * @returns {Range|null}
   */
  function anchor(sentence, blocks) {
    if (!sentence || typeof sentence.exact !== "string" || !sentence.exact) return null;
    const element = blocks.get(sentence.block);
    // 1. By position (UTF-16 code units, as JavaScript indexes strings), checked against the quote.
    if (element && element.isConnected) {
      const text = textOf(element);
      const [start, end] = unitOffsets(sentence, text);
      if (start >= 0 && text.slice(start, end) === sentence.exact) {
        return rangeFromOffsets(element, start, end);
      }
    }
    // 2. By quote and context: in the block if it is still there, else in every block.
    const scopes = element && element.isConnected ? [element] : [...blocks.values()].filter((e) => e.isConnected);
    const candidates = [];
    for (const scope of scopes) {
      for (const place of scoreQuote(textOf(scope), sentence)) candidates.push({ ...place, scope });
    }
    const best = pickUnique(candidates);
    if (!best) return null;
    return rangeFromOffsets(best.scope, best.at, best.at + sentence.exact.length);
  }

  root.AsideAnchor = Object.freeze({ anchor, hidden, pieces, rangeFromOffsets, textOf, unitIndex });
})(globalThis);
