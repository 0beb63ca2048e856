import assert from "node:assert/strict";
import { test } from "node:test";
import { page } from "./helpers.mjs";

const hostile = {
  exact: "Mexico exports cars.",
  cards: [
    {
      id: "1", text: '<img src=x onerror="window.pwned=1">Exports <b>bold</b>', title: "<script>x()</script>",
      url: "javascript:alert(1)", publisher: "Evil <i>Inc</i>", published: null, kind: "document",
      license: null, score: 0.91,
    },
    {
      id: "2", text: "USA 76%, Canada 5%", title: "Mexico — Exports - partners",
      url: "https://www.cia.gov/the-world-factbook/countries/mexico/", publisher: "CIA World Factbook",
      published: "2023", kind: "factbook", license: "Public domain", score: 0.66,
    },
  ],
};

test("passages render as text, never as markup, and unsafe links are dropped", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, hostile);
  win.document.body.appendChild(card);
  assert.equal(card.querySelector("img"), null);
  assert.equal(card.querySelector("script"), null);
  assert.match(card.querySelector(".passage").textContent, /<img src=x onerror=/);
  const links = [...card.querySelectorAll("a")];
  assert.equal(links.length, 1, "javascript: URL gives no link");
  assert.equal(links[0].href, "https://www.cia.gov/the-world-factbook/countries/mexico/");
  assert.equal(links[0].rel, "noopener noreferrer");
  assert.equal(win.pwned, undefined);
});

test("the card states its source, the evidence's age, its kind and why it matched, in that order", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, {
    ...hostile,
    cards: [{ ...hostile.cards[1], category: "statistic", matched: ["Canada", "USA"] }],
  }, { articleDate: "2025-03-03T10:00:00Z" });
  const item = card.querySelector("li");
  const order = [...item.children].map((child) => child.className);
  assert.deepEqual(order.slice(0, 4), ["source", "age", "kind", "passage"]);
  assert.ok(order.indexOf("why") > order.indexOf("kind"), "why it matched comes after the kind");
  assert.equal(item.querySelector(".source").textContent, "CIA World Factbook — Mexico — Exports - partners");
  assert.equal(item.querySelector(".age").textContent, "Evidence from 2023 · article from 2025-03-03 · 2 years older");
  assert.equal(item.querySelector(".kind").textContent, "Statistic");
  assert.equal(item.querySelector(".why").textContent, "Why it matched: shares “Canada”, “USA” · Related");
  assert.equal(item.querySelector(".meta").textContent, "Licence: Public domain");
  assert.equal(card.getAttribute("role"), "dialog");
  assert.match(card.getAttribute("aria-label"), /^Context for: Mexico exports cars\./);
  assert.equal(win.AsideRender.scoreWords(0.91), "Very close match");
  assert.equal(win.AsideRender.scoreWords(0.58), "Loosely related");
});

test("the shared words are marked in the passage, whole words only, and not as <mark>", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, { exact: "The war in Sudan.", cards: [{
    id: "1", text: "Sudan's war began in 2023; warnings about the WAR were ignored.", title: "Sudan",
    url: null, publisher: "P", published: null, kind: "reference", license: null, score: 0.7,
    matched: ["Sudan", "war"],
  }] });
  const shared = [...card.querySelectorAll(".passage .shared")].map((span) => span.textContent);
  assert.deepEqual(shared, ["Sudan", "war", "WAR"], "case-insensitive, never inside 'warnings'");
  assert.equal(card.querySelector(".passage").textContent, "Sudan's war began in 2023; warnings about the WAR were ignored.");
  assert.equal(card.querySelector("mark"), null, "a screen reader hears no 'highlight' at each word");
  assert.equal(card.querySelector("[role=mark]"), null);
});

test("without shared words, the card says it matched by meaning", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, hostile);
  assert.equal(card.querySelector("li .why").textContent, "Why it matched: similar meaning · Very close match");
  assert.equal(card.querySelector("li .kind").textContent, "Reference");
  assert.equal(card.querySelector("li .age").textContent, "Evidence undated");
});

test("the dialog is described by its cards, so a screen reader reads them when it is focused", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, hostile);
  win.document.body.appendChild(card);
  const described = win.document.getElementById(card.getAttribute("aria-describedby"));
  assert.equal(described, card.querySelector("ol"));
  assert.equal(win.AsideRender.summary(hostile), "Context from Evil <i>Inc</i>, <script>x()</script>: "
    + '<img src=x onerror="window.pwned=1">Exports <b>bold</b> 1 more in the card.');
});

test("the card can turn Aside off for the site, when the extension gives it the site", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  let turnedOff = 0;
  const card = win.AsideRender.buildCard(win.document, hostile, { site: "news.example", onSiteOff: () => turnedOff++ });
  const button = card.querySelector("button.site-off");
  assert.equal(button.textContent, "Turn Aside off on news.example");
  button.click();
  assert.equal(turnedOff, 1);
  assert.equal(win.AsideRender.buildCard(win.document, hostile).querySelector("button.site-off"), null, "the demo page has none");
  assert.match(card.querySelector("footer").textContent, /Alt\+Shift\+H hides all highlights/);
});

test("old evidence is flagged against the article's date, or against today without one", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const sentence = { exact: "Claim.", cards: [{
    id: "1", text: "Passage", title: "T", url: "https://a.example/", publisher: "A", published: "2015-03-01",
    kind: "document", license: null, score: 0.7,
    sources: [{ publisher: "A", title: "T", url: "https://a.example/", published: "2015-03-01" },
      { publisher: "B", title: "U", url: "https://b.example/", published: "2016" }],
  }] };
  const now = new Date("2026-06-01T00:00:00Z");
  const card = win.AsideRender.buildCard(win.document, sentence, { articleDate: "2025-03-03T10:00:00Z", now });
  assert.equal(card.querySelector(".also").textContent, "Also in: B — U");
  const age = card.querySelector(".age");
  assert.equal(age.textContent, "Evidence from 2015-03-01 · article from 2025-03-03 · 10 years older");
  assert.ok(age.classList.contains("old"), "ten years older is flagged");
  const fresh = win.AsideRender.buildCard(win.document, sentence, { articleDate: "2017-01-01", now }).querySelector(".age");
  assert.equal(fresh.textContent, "Evidence from 2015-03-01 · article from 2017-01-01 · 2 years older");
  assert.ok(!fresh.classList.contains("old"));
  const undated = win.AsideRender.buildCard(win.document, sentence, { now }).querySelector(".age");
  assert.equal(undated.textContent, "Evidence from 2015-03-01 (11 years ago)");
  assert.ok(undated.classList.contains("old"));
});

test("a fact-check card shows the rating, the reviewer and who made the claim", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, {
    exact: "The toll tripled overnight.",
    cards: [{
      id: "7", text: "The Golden Gate Bridge toll tripled overnight in 2024.", title: "No, the toll did not triple",
      url: "https://factcheck.example/toll", publisher: "Example Fact Check", published: "2024-03-02",
      kind: "fact-check", category: "fact-check", license: null, score: 0.83, claimant: "Jane <b>Poster</b>",
      rating: "False", matched: ["toll", "tripled", "overnight"],
    }],
  });
  assert.equal(card.querySelector(".kind").textContent, "Fact-check: rated “False” by Example Fact Check");
  assert.equal(card.querySelector(".passage").textContent, "Claim: The Golden Gate Bridge toll tripled overnight in 2024.");
  assert.equal(card.querySelector(".claimant").textContent, "Claimed by Jane <b>Poster</b>");
  assert.equal(card.querySelector("b"), null);
});

test("ordinary cards show no rating", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, hostile);
  assert.doesNotMatch(card.querySelector(".kind").textContent, /rated/);
  assert.equal(card.querySelector(".claimant"), null);
});

test("a long passage shows its matching part first and the whole passage on demand", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const whole = "First part about the army; the part that matched the sentence; a last part.";
  const card = win.AsideRender.buildCard(win.document, {
    exact: "The sentence.",
    cards: [{
      id: "3", text: whole, snippet: "… the part that matched the sentence …", section: "Military - note",
      title: "Somalia — Military - note", url: null, publisher: "CIA World Factbook", published: "2025",
      kind: "factbook", license: null, score: 0.55,
    }],
  });
  win.document.body.appendChild(card);
  assert.equal(card.querySelector(".section").textContent, "Military - note");
  const passage = card.querySelector(".passage");
  const more = card.querySelector("button.more");
  assert.equal(passage.textContent, "… the part that matched the sentence …");
  assert.equal(more.getAttribute("aria-expanded"), "false");
  more.click();
  assert.equal(passage.textContent, whole);
  assert.equal(more.getAttribute("aria-expanded"), "true");
  more.click();
  assert.equal(passage.textContent, "… the part that matched the sentence …");
});

test("a passage that fits is shown whole, with no button", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, hostile);
  assert.equal(card.querySelector("button.more"), null);
});

test("text from the index is isolated: a right-to-left override cannot reorder the card's own words", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const RLO = "\u202e";
  const card = win.AsideRender.buildCard(win.document, { exact: "Claim.", cards: [{
    id: "1", text: `Mexico exports ${RLO}cars and trucks`, snippet: `${RLO}cars`, section: `Economy${RLO}`,
    title: `Exports${RLO} table`, url: "https://a.example/", publisher: `Factbook${RLO}`, published: `2023${RLO}`,
    kind: "fact-check", license: `CC${RLO}`, score: 0.7, rating: `False${RLO}`, claimant: `Someone${RLO}`,
  }] }, { articleDate: "2025" });
  win.document.body.appendChild(card);
  // Each piece of index text is its own isolate, with the direction taken from its content.
  const pieces = [...card.querySelectorAll("bdi")];
  assert.ok(pieces.length >= 8, `${pieces.length} isolates`);
  assert.ok(pieces.every((bdi) => bdi.getAttribute("dir") === "auto"));
  const walker = win.document.createTreeWalker(card, win.NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!/[\u202a-\u202e\u2066-\u2069]/.test(node.data)) continue;
    assert.equal(node.parentElement.localName, "bdi", `"${node.data}" is isolated`);
    assert.ok(node.parentElement.closest(".card"), "inside the card");
  }
  // The passage and the source label: the label's two parts apart, our separator outside both.
  const passage = card.querySelector(".passage");
  assert.deepEqual([...passage.childNodes].map((n) => n.nodeName), ["#text", "BDI"]);
  assert.equal(passage.querySelector("bdi").textContent, `${RLO}cars`);
  const label = card.querySelector(".source a");
  assert.deepEqual([...label.childNodes].map((n) => n.textContent), [`Factbook${RLO}`, " — ", `Exports${RLO} table`]);
  assert.deepEqual([...label.childNodes].map((n) => n.nodeName), ["BDI", "#text", "BDI"]);
  card.querySelector("button.more").click();
  assert.equal(passage.querySelector("bdi").textContent, `Mexico exports ${RLO}cars and trucks`, "still isolated when opened");
  assert.match(win.AsideRender.CARD_CSS, /bdi \{ unicode-bidi: isolate; \}/);
  // The words around the pieces are still the card's, in order.
  assert.equal(card.querySelector(".kind").textContent, `Fact-check: rated “False${RLO}” by Factbook${RLO}`);
  assert.equal(card.querySelector(".age").textContent, `Evidence from 2023${RLO} · article from 2025 · 2 years older`);
  assert.equal(card.querySelector(".meta").textContent, `Licence: CC${RLO}`);
});

test("'Not helpful' and 'Wrong match' open a short form; a sent report hides the card, and Undo puts it back", async () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const sentence = { exact: "Mexico exports cars.", sentence_hash: "a".repeat(64), vector: "AAEC", cards: [
    { ...hostile.cards[1], doc_id: "factbook:mx", passage_hash: "0".repeat(32), matched: [] }] };
  const calls = [];
  let answer = { ok: true };
  const feedback = {
    send: async (...args) => { calls.push(["send", ...args]); return answer; },
    undo: async (...args) => { calls.push(["undo", ...args]); return { ok: true }; },
  };
  const card = win.AsideRender.buildCard(win.document, sentence, { feedback });
  win.document.body.appendChild(card);
  const li = card.querySelector("li");
  const [notHelpful, wrong] = li.querySelectorAll(".feedback button");
  assert.deepEqual([notHelpful.textContent, wrong.textContent], ["Not helpful", "Wrong match"]);
  const form = li.querySelector("form.report-form");
  assert.equal(wrong.getAttribute("aria-controls"), form.id);
  assert.ok(form.hidden);
  wrong.click();
  assert.equal(wrong.getAttribute("aria-expanded"), "true");
  assert.equal(notHelpful.getAttribute("aria-expanded"), "false");
  assert.ok(!form.hidden);
  assert.equal(form.querySelector("legend").textContent, "Wrong match: why? (optional)");
  assert.deepEqual([...form.querySelectorAll("input[type=radio]")].map((r) => r.value),
    ["wrong-person-or-place", "outdated", "off-topic", "other"]);
  assert.equal(win.document.activeElement, form.querySelector("input[type=radio]"), "focus moves into the form");
  form.querySelector("input[value=off-topic]").checked = true;
  // A failed send says why and keeps the form.
  answer = { ok: false, error: "the service did not answer" };
  form.querySelector("button.send").click();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(form.querySelector("[role=alert]").textContent, "Not sent: the service did not answer.");
  answer = { ok: true };
  form.querySelector("button.send").click();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const [, sentFor, card0, choice] = calls.at(-1);
  assert.equal(sentFor, sentence);
  assert.equal(card0.doc_id, "factbook:mx");
  assert.deepEqual({ ...choice }, { verdict: "wrong-match", reason: "off-topic", includeSentence: false });
  assert.equal(li.querySelector(".reported").textContent, "Reported as “wrong match”. This card is hidden on this page.");
  assert.equal(li.querySelector(".passage"), null, "the card's passage is gone");
  const undo = li.querySelector("button.undo");
  assert.equal(win.document.activeElement, undo, "focus stays in the card, on Undo");
  undo.click();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(calls.at(-1)[0], "undo");
  assert.ok(li.querySelector(".passage"), "Undo puts the card back");
  // A service that takes no feedback gives no hashes: no controls.
  const plainCard = win.AsideRender.buildCard(win.document, { ...sentence, sentence_hash: null }, { feedback });
  assert.equal(plainCard.querySelector(".feedback"), null);
});
