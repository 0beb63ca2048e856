/* Interaction over a set of anchored sentences: highlights, hover dwell, keyboard
 * focus and hotkeys, Escape. Used by the extension and by the service's demo page. */
(function asideController(root) {
  "use strict";

  const DWELL_MS = 300;
  const LEAVE_MS = 250;
  // Alt+Shift+J / Alt+Shift+K: next / previous sentence with context.
  const NEXT = "KeyJ";
  const PREV = "KeyK";

  // Only the reader's own input drives the cards: a page script can dispatch Alt+Shift+J or a
  // mousemove itself, and would otherwise open cards and move between them at will.
  const fromReader = (event) => event.isTrusted === true;

  /**
   * @param {Document} doc
   * @param {{range: Range, sentence: object}[]} items  anchored sentences, in page order
   * @param {{trusted?: (event: Event) => boolean, articleDate?: string, site?: string,
   *   onSiteOff?: () => void, feedback?: object, onClosed?: () => void}} options  trusted:
   *   which events to act on (the reader's own, by default; the node tests' synthetic events
   *   are not); articleDate: shown next to each card's date; site and onSiteOff: the card's
   *   "Turn Aside off on <site>" button; feedback: the card's report controls (render.js);
   *   onClosed: called after a card closes
   * @returns {{destroy(): void, highlights: object, open(i: number, focus?: boolean): void, close(): void}}
   */
  function attach(doc, items, {
    highlight = root.AsideHighlight, card = root.AsideCard, articleDate, site, onSiteOff, feedback, onClosed,
    trusted = fromReader,
  } = {}) {
    const win = doc.defaultView;
    const marks = highlight.create(doc, items);
    const cardView = card.create(doc);
    let active = -1;
    let dwellTimer = 0;
    let leaveTimer = 0;
    let lastFocus = null;

    function rectOf(index) {
      // Fallback marks are elements; otherwise measure the range itself.
      const item = items[index];
      const target = item.marks && item.marks.length ? item.marks[item.marks.length - 1] : item.range;
      const rects = typeof target.getClientRects === "function" ? target.getClientRects() : [];
      if (rects.length) return rects[rects.length - 1];
      return typeof target.getBoundingClientRect === "function"
        ? target.getBoundingClientRect()
        : { top: 0, bottom: 0, left: 0, right: 0 };
    }

    /** Open a sentence's card; focus moves into it, announce has a screen reader read it. */
    function open(index, focus = false, announce = false) {
      if (!items[index]) return;
      active = index;
      marks.setActive(index);
      if (focus) lastFocus = doc.activeElement;
      cardView.show(items[index].sentence, rectOf(index), { focus, announce, onClose: close, articleDate, site, onSiteOff, feedback });
    }

    function close() {
      clearTimeout(dwellTimer);
      const hadFocus = cardView.hasFocus();
      cardView.hide();
      marks.setActive(-1);
      if (hadFocus && lastFocus && lastFocus.focus) lastFocus.focus({ preventScroll: true });
      lastFocus = null;
      if (onClosed) onClosed();
    }

    function onMove(event) {
      if (!trusted(event)) return;
      if (cardView.contains(event.target)) {
        clearTimeout(leaveTimer);
        return;
      }
      const index = marks.itemAt(event.clientX, event.clientY);
      if (index >= 0) {
        clearTimeout(leaveTimer);
        if (index !== active || !cardView.isOpen()) {
          clearTimeout(dwellTimer);
          dwellTimer = win.setTimeout(() => open(index), DWELL_MS);
        }
      } else {
        clearTimeout(dwellTimer);
        if (cardView.isOpen() && !leaveTimer) {
          leaveTimer = win.setTimeout(() => {
            leaveTimer = 0;
            if (!cardView.hasFocus()) close();
          }, LEAVE_MS);
        }
      }
    }

    function onKey(event) {
      if (!trusted(event)) return;
      if (event.key === "Escape" && cardView.isOpen()) {
        close();
        return;
      }
      if (!event.altKey || !event.shiftKey || (event.code !== NEXT && event.code !== PREV)) return;
      const target = event.target;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName || ""))) return;
      if (!items.length) return;
      event.preventDefault();
      const step = event.code === NEXT ? 1 : -1;
      const next = active < 0 ? (step > 0 ? 0 : items.length - 1) : (active + step + items.length) % items.length;
      const node = items[next].range.startContainer;
      const element = node.nodeType === 1 ? node : node.parentElement;
      if (element && element.scrollIntoView) element.scrollIntoView({ block: "center" });
      open(next, true);
    }

    function onFocusIn(event) {
      // Fallback marks are focusable: keyboard focus on one opens its card. (A page's own
      // mark.focus() also gives a trusted event: it opens a card the page still cannot read.)
      if (!trusted(event)) return;
      const mark = event.target && event.target.closest ? event.target.closest(highlight.MARK) : null;
      // Focus stays on the sentence; a screen reader hears the card's summary (the card
      // itself is a dialog that Alt+Shift+J moves into).
      if (mark) open(Number(mark.dataset.index), false, true);
    }

    function onScroll() {
      if (cardView.isOpen() && !cardView.hasFocus()) close();
    }

    doc.addEventListener("mousemove", onMove, { passive: true });
    doc.addEventListener("keydown", onKey, true);
    doc.addEventListener("focusin", onFocusIn);
    win.addEventListener("scroll", onScroll, { passive: true });

    return {
      highlights: marks,
      open,
      close,
      destroy() {
        clearTimeout(dwellTimer);
        clearTimeout(leaveTimer);
        doc.removeEventListener("mousemove", onMove);
        doc.removeEventListener("keydown", onKey, true);
        doc.removeEventListener("focusin", onFocusIn);
        win.removeEventListener("scroll", onScroll);
        cardView.destroy();
        marks.clear();
      },
    };
  }

  root.AsideController = Object.freeze({ attach, DWELL_MS });
})(globalThis);
