/* Highlights: the CSS Custom Highlight API where the browser has it (the page's DOM is
 * not touched), else <aside-mark> elements wrapped around the text as a fallback.
 * This file is the only writer of marks. */
(function asideHighlight(root) {
  "use strict";

  const NAME = "aside-context";
  const ACTIVE = "aside-context-active";
  const MARK = "aside-mark";

  function supportsHighlights(win) {
    return Boolean(win.CSS && win.CSS.highlights && typeof win.Highlight === "function");
  }

  /**
   * Show the given items ({range, sentence}) as highlights in a document.
   * Returns a controller: items (with their element in fallback mode), setActive(i),
   * itemAt(x, y) for hover, clear().
   */
  function create(doc, items) {
    const win = doc.defaultView;
    return supportsHighlights(win) ? highlightApi(doc, win, items) : wrapping(doc, items);
  }

  function highlightApi(doc, win, items) {
    const all = new win.Highlight(...items.map((item) => item.range));
    win.CSS.highlights.set(NAME, all);
    const active = new win.Highlight();
    win.CSS.highlights.set(ACTIVE, active);
    return {
      mode: "highlight-api",
      items,
      setActive(index) {
        active.clear();
        if (index >= 0 && items[index]) active.add(items[index].range);
      },
      itemAt(x, y) {
        const point = caretPoint(doc, x, y);
        if (!point) return -1;
        return items.findIndex((item) => {
          try {
            if (!item.range.isPointInRange(point.node, point.offset)) return false;
          } catch (_error) {
            return false;
          }
          // The caret snaps to the nearest text; require the pointer to be over the text.
          return [...item.range.getClientRects()].some(
            (r) => x >= r.left && x <= r.right && y >= r.top && y <= r.bottom,
          );
        });
      },
      clear() {
        win.CSS.highlights.delete(NAME);
        win.CSS.highlights.delete(ACTIVE);
      },
    };
  }

  function caretPoint(doc, x, y) {
    if (doc.caretPositionFromPoint) {
      const pos = doc.caretPositionFromPoint(x, y);
      return pos ? { node: pos.offsetNode, offset: pos.offset } : null;
    }
    if (doc.caretRangeFromPoint) {
      const range = doc.caretRangeFromPoint(x, y);
      return range ? { node: range.startContainer, offset: range.startOffset } : null;
    }
    return null;
  }

  /** Fallback: wrap each text node piece of a range in an <aside-mark>. */
  function wrapping(doc, items) {
    for (const [index, item] of items.entries()) {
      item.marks = wrapRange(doc, item.range, index);
    }
    return {
      mode: "wrapping",
      items,
      setActive(index) {
        for (const [i, item] of items.entries()) {
          for (const mark of item.marks) mark.toggleAttribute("data-active", i === index);
        }
      },
      itemAt(x, y) {
        const el = doc.elementFromPoint(x, y);
        const mark = el && el.closest ? el.closest(MARK) : null;
        return mark ? Number(mark.dataset.index) : -1;
      },
      clear() {
        for (const item of items) {
          for (const mark of item.marks || []) {
            const parent = mark.parentNode;
            if (!parent) continue;
            while (mark.firstChild) parent.insertBefore(mark.firstChild, mark);
            parent.removeChild(mark);
            parent.normalize();
          }
        }
      },
    };
  }

  function wrapRange(doc, range, index) {
    // Only the readable text: wrapping the text of a <script> or <style> inside the range
    // would change what it runs or styles, and hidden text is not part of the sentence.
    const nodes = root.AsideAnchor.pieces(range.commonAncestorContainer)
      .map((piece) => piece.node)
      .filter((node) => node && range.intersectsNode(node));
    const marks = [];
    for (const node of nodes) {
      const start = node === range.startContainer ? range.startOffset : 0;
      const end = node === range.endContainer ? range.endOffset : node.data.length;
      if (end <= start) continue;
      const piece = node.splitText(start);
      piece.splitText(end - start);
      const mark = doc.createElement(MARK);
      mark.dataset.index = String(index);
      mark.tabIndex = 0;
      piece.parentNode.insertBefore(mark, piece);
      mark.appendChild(piece);
      marks.push(mark);
    }
    return marks;
  }

  root.AsideHighlight = Object.freeze({ create, supportsHighlights, NAME, ACTIVE, MARK });
})(globalThis);
