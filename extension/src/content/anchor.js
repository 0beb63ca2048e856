/* Anchoring: a sentence {block, start, end, exact, prefix, suffix} -> a DOM Range, or null.
 * 1. by position: the block's element, the offsets, checked against `exact`;
 * 2. by quote: every place `exact` occurs in the block (or, if the block is gone,
 *    in any block), scored by how much of `prefix`/`suffix` surrounds it.
 * Ambiguous or missing -> null: a wrong highlight is worse than none. */
(function asideAnchor(root) {
  "use strict";

  const MIN_CONTEXT = 4; // characters of prefix/suffix that must agree to accept a quote match
  const EDGE_SCORE = 32; // a sentence that began (ended) its block and still does

  /** The Range covering [start, end) of element's textContent, or null if out of bounds. */
  function rangeFromOffsets(element, start, end) {
    const doc = element.ownerDocument;
    const walker = doc.createTreeWalker(element, 4 /* NodeFilter.SHOW_TEXT */);
    let seen = 0;
    let startNode = null;
    let startOffset = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const length = node.data.length;
      if (!startNode && start < seen + length) {
        startNode = node;
        startOffset = start - seen;
      }
      if (startNode && end <= seen + length) {
        const range = doc.createRange();
        range.setStart(startNode, startOffset);
        range.setEnd(node, end - seen);
        return range;
      }
      seen += length;
    }
    return null;
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
   * @param {object} sentence  {block, start, end, exact, prefix, suffix}
   * @param {Map<string, Element>} blocks  block id -> live element, as sent
   * @returns {Range|null}
   */
  function anchor(sentence, blocks) {
    if (!sentence || typeof sentence.exact !== "string" || !sentence.exact) return null;
    const element = blocks.get(sentence.block);
    // 1. By position, checked against the quote.
    if (element && element.isConnected) {
      const text = element.textContent;
      if (text.slice(sentence.start, sentence.end) === sentence.exact) {
        return rangeFromOffsets(element, sentence.start, sentence.end);
      }
    }
    // 2. By quote and context: in the block if it is still there, else in every block.
    const scopes = element && element.isConnected ? [element] : [...blocks.values()].filter((e) => e.isConnected);
    const candidates = [];
    for (const scope of scopes) {
      for (const place of scoreQuote(scope.textContent, sentence)) candidates.push({ ...place, scope });
    }
    const best = pickUnique(candidates);
    if (!best) return null;
    return rangeFromOffsets(best.scope, best.at, best.at + sentence.exact.length);
  }

  root.AsideAnchor = Object.freeze({ anchor, rangeFromOffsets });
})(typeof self !== "undefined" ? self : globalThis);
