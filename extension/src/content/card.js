/* The hover card: one shadow-root host so the page's styles cannot reach it. The root is
 * closed and its reference kept here only, so page scripts cannot read the card either
 * (host.shadowRoot is null to them). */
(function asideCard(root) {
  "use strict";

  const HOST = "aside-card";
  const GAP = 8;

  function create(doc, { render = root.AsideRender } = {}) {
    let host = null;
    let shadow = null;
    let current = null;

    function ensureHost() {
      if (host && host.isConnected) return;
      host = doc.createElement(HOST);
      // Inline and !important: page rules for unknown elements must not move or hide it.
      for (const [name, value] of [["all", "initial"], ["position", "fixed"], ["z-index", "2147483647"],
        ["top", "0"], ["left", "0"], ["display", "none"]]) {
        host.style.setProperty(name, value, "important");
      }
      shadow = host.attachShadow({ mode: "closed" });
      const style = doc.createElement("style");
      style.textContent = render.CARD_CSS;
      shadow.appendChild(style);
      doc.documentElement.appendChild(host);
    }

    /** Open the card for a sentence next to a rectangle (the highlighted text). */
    function show(sentence, rect, { focus = false, onClose, articleDate } = {}) {
      ensureHost();
      if (current) current.remove();
      current = render.buildCard(doc, sentence, { onClose, articleDate });
      shadow.appendChild(current);
      host.style.setProperty("display", "block", "important");
      place(rect);
      if (focus) current.focus({ preventScroll: true });
    }

    function place(rect) {
      const view = doc.defaultView;
      const width = current.offsetWidth || 420;
      const height = current.offsetHeight || 200;
      let top = rect.bottom + GAP;
      if (top + height > view.innerHeight && rect.top - GAP - height > 0) top = rect.top - GAP - height;
      const left = Math.max(GAP, Math.min(rect.left, view.innerWidth - width - GAP));
      host.style.setProperty("top", `${Math.max(GAP, top)}px`, "important");
      host.style.setProperty("left", `${left}px`, "important");
    }

    function hide() {
      if (!host) return;
      host.style.setProperty("display", "none", "important");
      if (current) current.remove();
      current = null;
    }

    return {
      show,
      hide,
      isOpen: () => Boolean(current),
      contains: (node) => Boolean(host && node && (node === host || host.contains(node))),
      hasFocus: () => Boolean(shadow && shadow.activeElement),
      destroy() {
        hide();
        if (host) host.remove();
        host = null;
        shadow = null;
      },
    };
  }

  root.AsideCard = Object.freeze({ create, HOST });
})(globalThis);
