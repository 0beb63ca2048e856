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

test("the card says source, date and the match in words", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, hostile);
  const second = card.querySelectorAll("li")[1];
  assert.equal(second.querySelector(".source").textContent, "CIA World Factbook — Mexico — Exports - partners");
  assert.match(second.querySelector(".meta").textContent, /Dated 2023 · Public domain · Related/);
  assert.equal(card.getAttribute("role"), "dialog");
  assert.match(card.getAttribute("aria-label"), /^Context for: Mexico exports cars\./);
  assert.equal(win.AsideRender.scoreWords(0.91), "Very close match");
  assert.equal(win.AsideRender.scoreWords(0.58), "Loosely related");
});

test("near-identical sources are named together and old evidence is flagged", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const sentence = { exact: "Claim.", cards: [{
    id: "1", text: "Passage", title: "T", url: "https://a.example/", publisher: "A", published: "2015-03-01",
    kind: "document", license: null, score: 0.7,
    sources: [{ publisher: "A", title: "T", url: "https://a.example/", published: "2015-03-01" },
      { publisher: "B", title: "U", url: "https://b.example/", published: "2016" }],
  }] };
  const card = win.AsideRender.buildCard(win.document, sentence, { articleDate: "2025-03-03T10:00:00Z" });
  assert.equal(card.querySelector(".also").textContent, "Also in: B — U");
  assert.match(card.querySelector(".meta").textContent, /^Dated 2015-03-01 · 10 years before this article/);
  const fresh = win.AsideRender.buildCard(win.document, sentence, { articleDate: "2017-01-01" });
  assert.doesNotMatch(fresh.querySelector(".meta").textContent, /years before/);
});

test("a fact-check card shows the rating, the reviewer and who made the claim", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, {
    exact: "The toll tripled overnight.",
    cards: [{
      id: "7", text: "The Golden Gate Bridge toll tripled overnight in 2024.", title: "No, the toll did not triple",
      url: "https://factcheck.example/toll", publisher: "Example Fact Check", published: "2024-03-02",
      kind: "fact-check", license: null, score: 0.83, claimant: "Jane <b>Poster</b>", rating: "False",
    }],
  });
  assert.equal(card.querySelector(".verdict").textContent, "Fact-check: rated “False” by Example Fact Check");
  assert.equal(card.querySelector(".passage").textContent, "Claim: The Golden Gate Bridge toll tripled overnight in 2024.");
  assert.equal(card.querySelector(".claimant").textContent, "Claimed by Jane <b>Poster</b>");
  assert.equal(card.querySelector("b"), null);
});

test("ordinary cards show no verdict", () => {
  const win = page("<!doctype html><body></body>", { scripts: ["shared/render.js"] });
  const card = win.AsideRender.buildCard(win.document, hostile);
  assert.equal(card.querySelector(".verdict"), null);
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
  assert.equal(card.querySelector(".verdict").textContent, `Fact-check: rated “False${RLO}” by Factbook${RLO}`);
  assert.match(card.querySelector(".meta").textContent, new RegExp(`^Dated 2023${RLO} · CC${RLO} · Close match$`));
});
