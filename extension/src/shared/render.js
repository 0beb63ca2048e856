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
      --shared: #fde68a;
      box-sizing: border-box; width: min(420px, calc(100vw - 16px)); max-height: min(60vh, 520px);
      overflow: auto; background: var(--bg); color: var(--fg); border: 1px solid var(--line);
      border-radius: 10px; box-shadow: 0 8px 28px rgba(0,0,0,.18);
      font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; padding: 10px 12px;
      text-align: left; direction: ltr;
    }
    @media (prefers-color-scheme: dark) {
      .card { --bg: #1d1f23; --fg: #e6e6e6; --muted: #a8b0b9; --line: #3b3f46; --accent: #fdba74;
              --shared: #6b5a1e; }
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
    .claimant { margin: 0 0 4px; color: var(--muted); font-size: 12px; }
    .source { margin: 0 0 2px; font-weight: 600; }
    .source a { color: var(--accent); text-decoration: underline; }
    .age { margin: 0 0 4px; color: var(--muted); font-size: 12px; }
    .age.old { color: var(--accent); font-weight: 600; }
    .kind { margin: 0 0 4px; font-size: 12px; }
    .badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-weight: 600;
             border: 1px solid var(--line); background: var(--bg); color: var(--fg); }
    .badge.fact-check { border-color: var(--accent); color: var(--accent); }
    .shared { background: var(--shared); border-radius: 2px; }
    .why { margin: 0 0 2px; color: var(--muted); font-size: 12px; }
    .meta { margin: 2px 0 0; color: var(--muted); font-size: 12px; }
    .also { margin: 2px 0 0; font-size: 12px; }
    .also a { color: var(--accent); }
    footer { margin-top: 8px; color: var(--muted); font-size: 12px; }
    footer p { margin: 0 0 4px; }
    button.site-off { font-size: 12px; color: var(--accent); text-decoration: underline; padding: 0; }
    .feedback { margin: 6px 0 0; display: flex; gap: 8px; flex-wrap: wrap; }
    .feedback button, .report-form button, button.undo { font-size: 12px; padding: 2px 8px;
      border: 1px solid var(--line); color: var(--fg); }
    .feedback button[aria-expanded="true"] { border-color: var(--accent); color: var(--accent); }
    .report-form { margin: 6px 0 0; font-size: 12px; }
    .report-form fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 6px; padding: 4px 8px; }
    .report-form legend { padding: 0 4px; }
    .report-form label { display: block; margin: 2px 0; }
    .report-form .note { color: var(--muted); margin: 4px 0; }
    .report-form .actions { display: flex; gap: 8px; }
    .report-error { color: var(--accent); margin: 4px 0 0; }
    .reported { margin: 0 0 6px; }
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

  /** "2025-03-03" of an ISO time ("2025-03-03T10:00:00Z"); other dates as they are. */
  function shortDate(value) {
    const text = String(value);
    return /^\d{4}-\d\d-\d\dT/.test(text) ? text.slice(0, 10) : text;
  }

  function years(n) {
    return `${n} year${n === 1 ? "" : "s"}`;
  }

  /**
   * How old the evidence is, next to the article's date, as parts (dates isolated) and
   * whether it is old (OLD_EVIDENCE_YEARS or more before the article, or before today when
   * the article has no date): "Evidence from 2015 · article from 2025-03-03 · 10 years older".
   */
  function ageParts(published, articleDate, now = new Date()) {
    const evidence = yearOf(published);
    const article = yearOf(articleDate);
    const parts = published ? ["Evidence from ", isolated(shortDate(published))] : ["Evidence undated"];
    if (articleDate) parts.push(" · article from ", isolated(shortDate(articleDate)));
    let gap = null;
    if (evidence && article) {
      gap = article - evidence;
      if (gap >= 1) parts.push(` · ${years(gap)} older`);
    } else if (evidence) {
      gap = now.getUTCFullYear() - evidence;
      if (gap >= 1) parts.push(` (${years(gap)} ago)`);
    }
    return { parts, old: gap !== null && gap >= OLD_EVIDENCE_YEARS };
  }

  /** "Dated 2015 · 10 years before this article": the age line as plain text. */
  function dateLine(published, articleDate, now = new Date()) {
    return ageParts(published, articleDate, now).parts
      .map((part) => (typeof part === "string" ? part : part.isolate)).join("");
  }

  const KIND_LABELS = { "fact-check": "Fact-check", statistic: "Statistic", reference: "Reference" };

  /** What the card is: "Fact-check" with its rating and reviewer, "Statistic" or "Reference". */
  function kindParts(doc, item) {
    const category = item.category || (item.kind === "fact-check" ? "fact-check" : "reference");
    const badge = el(doc, "span", `badge ${category in KIND_LABELS ? category : "reference"}`,
      KIND_LABELS[category] || "Reference");
    if (category !== "fact-check") return [badge];
    const rated = item.rating ? [": rated “", isolated(item.rating), "”"] : [];
    const by = item.publisher ? [" by ", isolated(item.publisher)] : [];
    return [badge, ...rated, ...by];
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

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /**
   * A passage's text in a <bdi>, with the words it shares with the sentence (the service's
   * `matched`, as the passage spells them) in <span class="shared">: a plain span, not a
   * <mark>, so a screen reader reads the passage without "highlight" at every word.
   */
  function passageText(doc, text, matched) {
    const bdi = doc.createElement("bdi");
    bdi.dir = "auto";
    const words = (matched || []).map(String).filter((w) => w.trim()).sort((a, b) => b.length - a.length);
    if (!words.length) {
      bdi.textContent = text;
      return bdi;
    }
    // Whole words only: "war" must not light up inside "warning".
    const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map(escapeRegExp).join("|")})(?![\\p{L}\\p{N}])`, "giu");
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) bdi.appendChild(doc.createTextNode(text.slice(last, match.index)));
      bdi.appendChild(el(doc, "span", "shared", match[0]));
      last = match.index + match[0].length;
    }
    if (last < text.length) bdi.appendChild(doc.createTextNode(text.slice(last)));
    return bdi;
  }

  /** "Shares “tariff”, “fentanyl” · Close match": why the passage matched the sentence. */
  function whyParts(doc, item) {
    const words = (item.matched || []).slice(0, 8);
    const shared = words.length
      ? ["Why it matched: shares ", ...words.flatMap((w, n) => [n ? ", “" : "“", isolated(w), "”"]), " · "]
      : ["Why it matched: similar meaning · "];
    const match = el(doc, "span", "match", scoreWords(Number(item.score)));
    match.title = `Similarity ${Number(item.score).toFixed(2)} (1.00 = same meaning)`;
    return [...shared, match];
  }

  /**
   * An element with some content: a string (our own words) or a list of parts, each a
   * string, isolated(text) or a node.
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

  let serial = 0;

  const VERDICT_WORDS = { "not-helpful": "Not helpful", "wrong-match": "Wrong match" };
  const REASON_WORDS = [["wrong-person-or-place", "Wrong person or place"], ["outdated", "Outdated"],
    ["off-topic", "Off topic"], ["other", "Other"]];

  /**
   * The card's "Not helpful" / "Wrong match" controls for one source: a button opens a short
   * form (an optional reason, "include the sentence"), whose submit calls
   * feedback.send(sentence, item, {verdict, reason, includeSentence}) -> Promise<{ok, error?}>.
   * Once sent, the entry is replaced by a notice with "Undo" (feedback.undo(sentence, item)),
   * which puts it back. Keyboard and screen reader: plain buttons, a fieldset with a legend,
   * errors in a role=alert paragraph, focus kept inside the card.
   */
  function feedbackControls(doc, li, sentence, item, feedback, id) {
    const row = el(doc, "div", "feedback");
    const form = el(doc, "form", "report-form");
    form.id = `${id}-report`;
    form.hidden = true;
    let verdict = null;
    const legend = el(doc, "legend");
    const fieldset = el(doc, "fieldset");
    fieldset.appendChild(legend);
    for (const [value, words] of REASON_WORDS) {
      const input = doc.createElement("input");
      input.type = "radio";
      input.name = `${id}-reason`;
      input.value = value;
      fieldset.appendChild(el(doc, "label", "", [input, ` ${words}`]));
    }
    const include = doc.createElement("input");
    include.type = "checkbox";
    include.className = "include";
    const note = el(doc, "p", "note", "Sent: this card's ids, the index build, a hash of the sentence and its "
      + "vector (numbers, not its text), your choice, the time and a random id this browser renews every 30 days.");
    const submit = el(doc, "button", "send", "Send report");
    submit.type = "submit";
    const cancel = el(doc, "button", "cancel", "Cancel");
    cancel.type = "button";
    const error = el(doc, "p", "report-error");
    error.setAttribute("role", "alert");
    form.append(fieldset, el(doc, "label", "", [include, " Include the sentence (its text is sent too)"]), note,
      el(doc, "div", "actions", [submit, cancel]), error);

    const buttons = Object.entries(VERDICT_WORDS).map(([value, words]) => {
      const button = el(doc, "button", `report ${value}`, words);
      button.type = "button";
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", form.id);
      button.addEventListener("click", () => {
        const open = verdict !== value;
        verdict = open ? value : null;
        for (const other of buttons) other.setAttribute("aria-expanded", String(other === button && open));
        legend.textContent = `${words}: why? (optional)`;
        form.hidden = !open;
        error.textContent = "";
        if (open) fieldset.querySelector("input").focus();
      });
      row.appendChild(button);
      return button;
    });
    cancel.addEventListener("click", () => {
      verdict = null;
      form.hidden = true;
      for (const button of buttons) button.setAttribute("aria-expanded", "false");
      buttons[0].focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!verdict) return;
      const chosen = form.querySelector("input[type=radio]:checked");
      const choice = { verdict, reason: chosen ? chosen.value : null, includeSentence: include.checked };
      if (await attempt(submit, error, "Not sent", "the report could not be sent",
        () => feedback.send(sentence, item, choice))) {
        reported(doc, li, sentence, item, feedback, VERDICT_WORDS[verdict]);
      }
    });
    return [row, form];
  }

  /**
   * Run call() (a report or its withdrawal) with button disabled; true when it succeeded, else
   * the error paragraph says "<failed>: <why>." (fallback: why it threw).
   */
  async function attempt(button, error, failed, fallback, call) {
    button.disabled = true;
    error.textContent = "";
    let result;
    try {
      result = await call();
    } catch (_error) {
      result = { ok: false, error: fallback };
    }
    button.disabled = false;
    if (result && result.ok) return true;
    error.textContent = `${failed}: ${(result && result.error) || "no answer"}.`;
    return false;
  }

  /** Replace a reported entry by a notice with "Undo", which puts the entry back. */
  function reported(doc, li, sentence, item, feedback, words) {
    const entry = [...li.childNodes];
    const notice = el(doc, "p", "reported", `Reported as “${words.toLowerCase()}”. This card is hidden on this page.`);
    notice.setAttribute("role", "status");
    const undo = el(doc, "button", "undo", "Undo");
    undo.type = "button";
    const error = el(doc, "p", "report-error");
    error.setAttribute("role", "alert");
    li.replaceChildren(notice, undo, error);
    li.classList.add("reported-entry");
    undo.addEventListener("click", async () => {
      if (!(await attempt(undo, error, "Not withdrawn", "the report could not be withdrawn",
        () => feedback.undo(sentence, item)))) return;
      li.replaceChildren(...entry);
      li.classList.remove("reported-entry");
      const first = li.querySelector(".feedback button");
      if (first) first.focus();
    });
    undo.focus();
  }

  /**
   * Build the card for one sentence: a dialog listing its cards. Each states, in this order,
   * where it comes from (publisher, title, link), how old the evidence is next to the
   * article's date, what kind of card it is (a fact-check with its rating and reviewer, a
   * statistic, a reference), the passage with the shared words marked, and why it matched.
   * The dialog is described by its list, so a screen reader focused on it reads the cards.
   * @param {Document} doc
   * @param {{exact: string, cards: object[]}} sentence
   * @param {{onClose?: () => void, articleDate?: string, site?: string,
   *   onSiteOff?: () => void, feedback?: {send: Function, undo: Function}, now?: Date}} options
   *   site and onSiteOff: a button that turns Aside off for this site; feedback: each source's
   *   "Not helpful" / "Wrong match" controls (see feedbackControls), shown when the service
   *   takes feedback (the sentence has its sentence_hash). The demo page has neither.
   */
  function buildCard(doc, sentence, { onClose, articleDate, site, onSiteOff, feedback, now = new Date() } = {}) {
    const id = `aside-card-${++serial}`;
    const card = el(doc, "div", "card");
    card.setAttribute("role", "dialog");
    card.setAttribute("aria-label", `Context for: ${sentence.exact.slice(0, 120)}`);
    card.setAttribute("aria-describedby", `${id}-list`);
    card.tabIndex = -1;

    const header = el(doc, "header");
    header.appendChild(el(doc, "span", "", sentence.cards.length > 1 ? "Context · " + sentence.cards.length + " sources" : "Context"));
    const close = el(doc, "button", "close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close context card");
    close.addEventListener("click", () => onClose && onClose());
    header.appendChild(close);
    card.appendChild(header);

    const list = el(doc, "ol");
    list.id = `${id}-list`;
    for (const item of sentence.cards) {
      const li = el(doc, "li");
      // 1. Where it comes from.
      const source = el(doc, "p", "source");
      source.appendChild(sourceLink(doc, item));
      li.appendChild(source);
      // 2. How old the evidence is, next to the article's date.
      const age = ageParts(item.published, articleDate, now);
      li.appendChild(el(doc, "p", age.old ? "age old" : "age", age.parts));
      // 3. What kind of card it is.
      li.appendChild(el(doc, "p", "kind", kindParts(doc, item)));
      if (item.claimant) li.appendChild(el(doc, "p", "claimant", ["Claimed by ", isolated(item.claimant)]));
      if (item.section) li.appendChild(el(doc, "p", "section", [isolated(item.section)]));
      // The passage: the matching sentences first, the whole passage on demand.
      const short = item.snippet && item.snippet !== item.text ? item.snippet : null;
      const passageParts = (text) => [...(item.rating ? ["Claim: "] : []), passageText(doc, text, item.matched)];
      const passage = el(doc, "p", "passage", passageParts(short || item.text));
      li.appendChild(passage);
      if (short) {
        const more = el(doc, "button", "more", "Show the whole passage");
        more.type = "button";
        more.setAttribute("aria-expanded", "false");
        more.addEventListener("click", () => {
          const open = more.getAttribute("aria-expanded") === "true";
          fill(doc, passage, passageParts(open ? short : item.text));
          more.setAttribute("aria-expanded", String(!open));
          more.textContent = open ? "Show the whole passage" : "Show less";
        });
        li.appendChild(more);
      }
      // 4. Why it matched.
      li.appendChild(el(doc, "p", "why", whyParts(doc, item)));
      // Near-identical passages from other sources are named on the same card.
      const others = (item.sources || []).slice(1);
      if (others.length) {
        li.appendChild(el(doc, "p", "also", ["Also in: ", ...others.flatMap((other, n) => (n ? ["; ", sourceLink(doc, other)] : [sourceLink(doc, other)]))]));
      }
      if (item.license) li.appendChild(el(doc, "p", "meta", ["Licence: ", isolated(item.license)]));
      if (feedback && sentence.sentence_hash && item.doc_id && item.passage_hash) {
        li.append(...feedbackControls(doc, li, sentence, item, feedback, `${id}-${list.children.length}`));
      }
      list.appendChild(li);
    }
    card.appendChild(list);

    const footer = el(doc, "footer");
    footer.appendChild(el(doc, "p", "", "Aside shows related sources, not a verdict. Esc closes; Alt+Shift+H hides all highlights."));
    if (site && onSiteOff) {
      const off = el(doc, "button", "site-off", ["Turn Aside off on ", isolated(site)]);
      off.type = "button";
      // In the extension the card is in a closed shadow root: page scripts cannot reach this.
      off.addEventListener("click", () => onSiteOff());
      footer.appendChild(off);
    }
    card.appendChild(footer);
    return card;
  }

  /** The card's content as one line, for a screen reader's live region. */
  function summary(sentence) {
    const first = sentence.cards[0];
    if (!first) return "";
    const from = [first.publisher, first.title].filter(Boolean).join(", ") || "a source";
    const more = sentence.cards.length > 1 ? ` ${sentence.cards.length - 1} more in the card.` : "";
    return `Context from ${from}${first.published ? `, ${shortDate(first.published)}` : ""}: ${first.snippet || first.text}${more}`;
  }

  root.AsideRender = Object.freeze({ CARD_CSS, buildCard, dateLine, scoreWords, safeUrl, summary });
})(globalThis);
