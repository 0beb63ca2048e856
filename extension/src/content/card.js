/* The hover card: one shadow-root host so the page's styles cannot reach it. The root is
 * closed and its reference kept here only, so page scripts cannot read the card either
 * (host.shadowRoot is null to them). */
(function asideCard(root) {
  "use strict";

  const HOST = "aside-card";
  const GAP = 8;
  const MIN_HEIGHT = 120;
  // Visually hidden, still read by screen readers.
  const STATUS_CSS = `
    .aside-status { position: absolute; width: 1px; height: 1px; overflow: hidden;
                    clip-path: inset(50%); white-space: nowrap; }`;

  /**
   * @param {Document} doc
   * @param {{render?: object, mode?: "closed" | "open"}} options  mode: the shadow root's; the
   *   extension's is always closed (an accessibility check in the tests renders it open)
   */
  function create(doc, { render = root.AsideRender, mode = "closed" } = {}) {
    let host = null;
    let shadow = null;
    let current = null;
    let status = null;

    function ensureHost() {
      if (host && host.isConnected) return;
      host = doc.createElement(HOST);
      // Inline and !important: page rules for unknown elements must not move or hide it. Not
      // `all: initial` here (the shadow's :host rule has it): inline !important text spacing
      // would stop a reader's own stylesheet from adjusting it (WCAG 1.4.12).
      pin(host, [["position", "fixed"], ["z-index", "2147483647"], ["top", "0"], ["left", "0"], ["display", "block"]]);
      shadow = host.attachShadow({ mode });
      const style = doc.createElement("style");
      style.textContent = render.CARD_CSS + STATUS_CSS;
      shadow.appendChild(style);
      // Read out by screen readers (politely) when a focused highlight opens the card.
      status = doc.createElement("div");
      status.className = "aside-status";
      status.setAttribute("role", "status");
      shadow.appendChild(status);
      doc.documentElement.appendChild(host);
    }

    /**
     * Open the card for a sentence next to a rectangle (the highlighted text). focus: move
     * keyboard focus into the card (a screen reader reads the dialog and its cards); announce:
     * leave focus where it is and have a screen reader read the card's summary.
     */
    function show(sentence, rect, { focus = false, announce = false, onClose, articleDate, site, onSiteOff, feedback } = {}) {
      ensureHost();
      if (current) current.remove();
      current = render.buildCard(doc, sentence, { onClose, articleDate, site, onSiteOff, feedback });
      shadow.appendChild(current);
      place(rect);
      status.textContent = announce ? render.summary(sentence) : "";
      if (focus) current.focus({ preventScroll: true });
    }

    /**
     * Below the text, or above it when it fits only there; when it fits on neither side, on
     * the roomier one, its height cut to fit (it scrolls), so every part of it (its footer's
     * buttons too) can be reached without scrolling the page, which would close it.
     */
    function place(rect) {
      const view = doc.defaultView;
      current.style.removeProperty("max-height");
      const width = current.offsetWidth || 420;
      const height = current.offsetHeight || 200;
      const below = view.innerHeight - rect.bottom - 2 * GAP;
      const above = rect.top - 2 * GAP;
      let top;
      if (height <= below || below >= above) {
        top = rect.bottom + GAP;
        if (height > below) current.style.setProperty("max-height", `${Math.max(MIN_HEIGHT, below)}px`);
      } else {
        const room = Math.max(MIN_HEIGHT, above);
        if (height > above) current.style.setProperty("max-height", `${room}px`);
        top = rect.top - GAP - Math.min(height, room);
      }
      const left = Math.max(GAP, Math.min(rect.left, view.innerWidth - width - GAP));
      host.style.setProperty("top", `${Math.max(GAP, top)}px`, "important");
      host.style.setProperty("left", `${left}px`, "important");
    }

    function hide() {
      // The host stays (empty, so without size): its live region must be in the page's
      // accessibility tree before it speaks, or a screen reader may miss the first card.
      if (!host) return;
      if (current) current.remove();
      current = null;
      if (status) status.textContent = "";
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
        status = null;
      },
    };
  }

  // What a page's rules could do to our host elements that would move, hide or cover them.
  const PINNED = [["visibility", "visible"], ["opacity", "1"], ["margin", "0"], ["padding", "0"],
    ["border", "0"], ["width", "auto"], ["height", "auto"], ["filter", "none"], ["clip-path", "none"],
    ["pointer-events", "auto"], ["right", "auto"], ["bottom", "auto"], ["transform", "none"]];

  /** Set a host's position and the PINNED properties inline, !important (values given win). */
  function pin(host, values) {
    const given = new Map(values);
    for (const [name, value] of [...PINNED.filter(([name]) => !given.has(name)), ...values]) {
      host.style.setProperty(name, value, "important");
    }
  }

  const TOAST = "aside-toast";
  const TOAST_CSS = `
    :host { all: initial; }
    div { box-sizing: border-box; max-width: min(480px, calc(100vw - 16px)); padding: 8px 12px;
          border-radius: 8px; background: #1f2328; color: #fff; box-shadow: 0 4px 16px rgba(0,0,0,.25);
          font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }`;

  /**
   * A short message at the bottom of the page, read by screen readers, gone after ms: what a
   * key press or the card's "turn off" button did. One at a time; in a closed shadow root.
   */
  function toast(doc, text, ms = 4000) {
    for (const old of doc.querySelectorAll(TOAST)) old.remove();
    const host = doc.createElement(TOAST);
    pin(host, [["position", "fixed"], ["z-index", "2147483647"], ["bottom", "16px"], ["left", "50%"],
      ["transform", "translateX(-50%)"], ["display", "block"]]);
    const shadow = host.attachShadow({ mode: "closed" });
    const style = doc.createElement("style");
    style.textContent = TOAST_CSS;
    const message = doc.createElement("div");
    message.setAttribute("role", "status");
    shadow.append(style, message);
    doc.documentElement.appendChild(host);
    // Set after insertion, so a screen reader hears the change in a live region it knows.
    doc.defaultView.setTimeout(() => {
      message.textContent = text;
    }, 50);
    doc.defaultView.setTimeout(() => host.remove(), ms);
    return host;
  }

  root.AsideCard = Object.freeze({ create, toast, HOST, TOAST });
})(globalThis);
