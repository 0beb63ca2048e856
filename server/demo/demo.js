/* The demo page: the same anchoring, highlighting and cards as the extension, on pasted text. */
(function asideDemo(root) {
  "use strict";

  const SAMPLE = [
    "Mexico is the largest trading partner of the United States, and about three quarters of Mexican exports are sold north of the border.",
    "The administration says Mexican cartels are trafficking fentanyl and other synthetic opioids into the United States on an industrial scale.",
    "Remittances from Mexicans working abroad are worth nearly 4% of the country's GDP. Will the peso recover?",
  ].join("\n\n");

  const $ = (id) => document.getElementById(id);
  let controller = null;

  async function findContext(event) {
    event.preventDefault();
    if (controller) controller.destroy();
    controller = null;
    $("notices").hidden = true;
    const paragraphs = $("article").value.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
    const preview = $("preview");
    preview.replaceChildren();
    const elements = new Map();
    const blocks = paragraphs.map((text, n) => {
      const p = document.createElement("p");
      p.textContent = text;
      preview.appendChild(p);
      elements.set(`p${n}`, p);
      return { id: `p${n}`, text };
    });
    if (!blocks.length) {
      $("status").textContent = "Paste some text first.";
      return;
    }
    $("status").textContent = "Asking the service…";
    let answer;
    try {
      const response = await fetch("/v1/context", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ blocks, lang: navigator.language }),
      });
      answer = await response.json();
    } catch (_error) {
      $("status").textContent = "The service did not answer.";
      return;
    }
    if (!answer.ok) {
      $("status").textContent = answer.error ? answer.error.message : "The service refused the text.";
      return;
    }
    // Notices (e.g. language_unsupported) say why an answer has no cards.
    const notices = (answer.notices || []).map((notice) => notice.message);
    $("notices").textContent = notices.join(" ");
    $("notices").hidden = !notices.length;
    const items = [];
    for (const sentence of answer.sentences) {
      const range = root.AsideAnchor.anchor(sentence, elements);
      if (range) items.push({ range, sentence });
    }
    controller = root.AsideController.attach(document, items);
    const cards = items.reduce((n, item) => n + item.sentence.cards.length, 0);
    $("status").textContent =
      `${items.length} of ${answer.stats.sentences} sentences have context (${cards} cards).`;
    $("index-info").textContent =
      `Index ${answer.index.build_id}: ${answer.index.passages} passages, ${answer.index.model}.`;
  }

  $("article").value = SAMPLE;
  $("form").addEventListener("submit", findContext);
})(typeof self !== "undefined" ? self : globalThis);
