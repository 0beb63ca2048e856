"""``aside eval news``: how often real news readers get a helpful card, from editor judgments.

The dev set (``$ASIDE_DATA_DIR/news_dev``) holds openly licensed news articles and editor
judgments of (sentence, card) pairs: helpful, related or wrong (rubric in its README). Every
article goes through the service's own pipeline (``server.pipeline.candidates`` then
``server.pipeline.rank``, as ``/v1/context`` runs them), once, and its candidates are ranked at
every threshold. A card is identified as the judgments identify it: article, sentence, card
title and passage text (cut at 700 characters); a card without a judgment is counted apart
and can be written out to be judged.

Judgments come from the dataset's ``judgments.jsonl`` and from the project's own
``news_judgments.jsonl`` beside this module (cards judged since, same rubric, blind to scores).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.embedders import Embedder
from index.search import search_texts
from index.store import Store
from server import pipeline
from server.schema import Block, Card, ContextRequest

__all__ = [
    "CEILING_DEPTH", "LABELS", "PROJECT_JUDGMENTS", "Judgments", "NewsArticle", "NewsReport", "Row",
    "card_key", "count_row", "evaluate_news", "load_articles", "load_judgments", "write_unjudged",
]

logger = logging.getLogger(__name__)

LABELS = ("helpful", "related", "wrong")
PROJECT_JUDGMENTS = Path(__file__).with_name("news_judgments.jsonl")
# Passage text is judged as its first 700 characters.
TEXT_KEY_CHARS = 700
# A sentence "could" get a helpful card if a judged-helpful passage is in its top hits.
CEILING_DEPTH = 50

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class NewsArticle:
    """One article: ``name`` is its file name without ``.txt``; paragraphs as blocks."""

    name: str
    title: str
    published: str | None
    url: str | None
    paragraphs: tuple[str, ...]

    def request(self) -> ContextRequest:
        """The article as the extension sends it: title, date, URL and paragraph blocks."""
        blocks = tuple(Block(f"p{n}", text) for n, text in enumerate(self.paragraphs, start=1))
        return ContextRequest(blocks=blocks, url=self.url, title=self.title, published=self.published)


@dataclass
class Judgments:
    """Editor labels by card key, and where each came from."""

    labels: dict[Key, str] = field(default_factory=dict)
    sources: Counter[str] = field(default_factory=Counter)

    def label(self, key: Key) -> str | None:
        return self.labels.get(key)

    def helpful_texts(self) -> dict[tuple[str, str], set[tuple[str, str]]]:
        """(article, sentence) -> the (title, text) of every card judged helpful for it."""
        found: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for (article, sentence, title, text), label in self.labels.items():
            if label == "helpful":
                found.setdefault((article, sentence), set()).add((title, text))
        return found


def card_key(article: str, sentence: str, title: str | None, text: str) -> Key:
    """How a judgment names a card: article, sentence, card title, passage (700 characters)."""
    return (article, sentence, title or "", text[:TEXT_KEY_CHARS])


def load_articles(folder: Path) -> list[NewsArticle]:
    """The dev set's articles: title, date and URL on lines 1-3, then blank-line paragraphs.

    Raises FileNotFoundError when the folder has no articles, ValueError for a malformed one.
    """
    files = sorted((folder / "articles").glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no articles in {folder / 'articles'}")
    articles = []
    for path in files:
        lines = path.read_text(encoding="utf-8").split("\n")
        if len(lines) < 5 or lines[3].strip():
            raise ValueError(f"{path}: expected title, date and URL lines, then a blank line")
        body = "\n".join(lines[4:])
        paragraphs = tuple(p.strip() for p in body.split("\n\n") if p.strip())
        articles.append(NewsArticle(path.stem, lines[0].strip(), lines[1].strip() or None,
                                    lines[2].strip() or None, paragraphs))
    return articles


def load_judgments(paths: Iterable[Path]) -> Judgments:
    """Judgments from JSONL files, first file first: a later file never overrides an earlier one.

    Each line: ``article``, ``sentence``, ``card_title``, ``card_text``, ``label`` (helpful,
    related or wrong). Missing files are skipped; a malformed line raises ValueError.
    """
    judgments = Judgments()
    for path in paths:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key = card_key(row["article"], row["sentence"], row["card_title"], row["card_text"])
                label = row["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a judgment ({exc})") from exc
            if label not in LABELS:
                raise ValueError(f"{path}:{number}: label {label!r} is not one of {LABELS}")
            if key not in judgments.labels:
                judgments.labels[key] = label
                judgments.sources[path.name] += 1
    return judgments


@dataclass(frozen=True)
class Row:
    """What readers of the dev set would see at one threshold."""

    threshold: float
    default: bool
    searched: int
    shown: int
    helpful: int
    related: int
    wrong: int
    unjudged: int
    sentences_helped: int
    articles: int
    articles_without_card: int

    @property
    def coverage(self) -> float:
        """Searched sentences with at least one helpful card shown."""
        return self.sentences_helped / self.searched if self.searched else 0.0

    @property
    def precision(self) -> float:
        """Helpful cards among the judged cards shown."""
        judged = self.helpful + self.related + self.wrong
        return self.helpful / judged if judged else 0.0

    @property
    def wrong_rate(self) -> float:
        judged = self.helpful + self.related + self.wrong
        return self.wrong / judged if judged else 0.0

    @property
    def cards_per_article(self) -> float:
        return self.shown / self.articles if self.articles else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold, "default": self.default, "searched": self.searched,
            "shown": self.shown, "helpful": self.helpful, "related": self.related,
            "wrong": self.wrong, "unjudged": self.unjudged,
            "sentences_helped": self.sentences_helped, "coverage": round(self.coverage, 4),
            "precision": round(self.precision, 4), "wrong_rate": round(self.wrong_rate, 4),
            "articles": self.articles, "articles_without_card": self.articles_without_card,
            "cards_per_article": round(self.cards_per_article, 2),
        }


@dataclass
class NewsReport:
    """Rows by threshold, the ceiling, and the unjudged cards shown at any of them."""

    gate: str  # "confidence" (rescored) or "score" (fused score alone)
    rows: list[Row]
    ceiling: int
    searched: int
    unjudged: list[dict[str, Any]] = field(default_factory=list)
    judgments: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ceiling_coverage(self) -> float:
        return self.ceiling / self.searched if self.searched else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate, "rows": [r.to_dict() for r in self.rows],
            "ceiling": {"sentences": self.ceiling, "coverage": round(self.ceiling_coverage, 4),
                        "depth": CEILING_DEPTH},
            "searched": self.searched, "unjudged_cards": len(self.unjudged),
            "judgments": self.judgments, "timings_ms": self.timings_ms,
        }


def evaluate_news(
    articles: Sequence[NewsArticle], judgments: Judgments, embedder: Embedder, store: Store,
    options: pipeline.Options, thresholds: Sequence[float],
) -> NewsReport:
    """Run every article through the pipeline once and count what readers see at each threshold.

    With a rescorer in ``options`` the thresholds are on ``confidence`` (and ``options``'s
    own ``min_confidence`` or the model's is the default); without one they are on the fused
    score (``options.threshold`` the default).
    """
    rescored = options.rescorer is not None
    if rescored:
        assert options.rescorer is not None
        default = options.min_confidence if options.min_confidence is not None \
            else options.rescorer.min_confidence
    else:
        default = options.threshold
    levels = sorted({round(t, 4) for t in (*thresholds, default)})
    found = [(a, pipeline.candidates(a.request(), embedder, store, options)) for a in articles]
    timings: Counter[str] = Counter()
    for _, f in found:
        timings.update(f.timings_ms)
    rows = []
    unjudged: dict[Key, dict[str, Any]] = {}
    for level in levels:
        level_options = replace(options, min_confidence=level) if rescored \
            else replace(options, threshold=level)
        rows.append(count_row(found, judgments, level_options, level, level == round(default, 4),
                           unjudged))
    searched = sum(len(f.sentences) for _, f in found)
    return NewsReport(
        gate="confidence" if rescored else "score", rows=rows,
        ceiling=_ceiling(found, judgments, embedder, store, options), searched=searched,
        unjudged=list(unjudged.values()), judgments=dict(judgments.sources),
        timings_ms={k: round(v, 1) for k, v in timings.items()},
    )


def count_row(
    found: Sequence[tuple[NewsArticle, pipeline.Found]], judgments: Judgments,
    options: pipeline.Options, level: float, default: bool, unjudged: dict[Key, dict[str, Any]],
) -> Row:
    """Rank every article's candidates with ``options`` and count the cards by label."""
    labels: Counter[str] = Counter()
    helped = without = 0
    for article, article_found in found:
        result = pipeline.rank(article_found, options)
        without += not result.sentences
        for sentence, cards in result.sentences:
            helpful_here = False
            for card in cards:
                key = card_key(article.name, sentence.exact, card.title, card.text)
                label = judgments.label(key)
                labels[label or "unjudged"] += 1
                helpful_here |= label == "helpful"
                if label is None:
                    unjudged.setdefault(key, _unjudged_row(article, sentence.exact, card))
            helped += helpful_here
    return Row(threshold=level, default=default, searched=sum(len(f.sentences) for _, f in found),
               shown=sum(labels.values()), helpful=labels["helpful"], related=labels["related"],
               wrong=labels["wrong"], unjudged=labels["unjudged"], sentences_helped=helped,
               articles=len(found), articles_without_card=without)


def _unjudged_row(article: NewsArticle, sentence: str, card: Card) -> dict[str, Any]:
    """A card to judge, as the judgments file holds it (no score: judges work blind to it)."""
    return {"article": article.name, "sentence": sentence, "card_title": card.title or "",
            "publisher": card.publisher, "card_text": card.text[:TEXT_KEY_CHARS]}


def _ceiling(
    found: Sequence[tuple[NewsArticle, pipeline.Found]], judgments: Judgments, embedder: Embedder,
    store: Store, options: pipeline.Options,
) -> int:
    """Searched sentences with a judged-helpful passage among their top CEILING_DEPTH hits."""
    helpful = judgments.helpful_texts()
    sentences = [(a.name, s.exact) for a, f in found for s, _ in f.sentences]
    wanted = [(name, exact) for name, exact in sentences if (name, exact) in helpful]
    if not wanted:
        return 0
    found_hits = search_texts(store, embedder, [exact for _, exact in wanted], k=CEILING_DEPTH,
                              options=replace(options.search, candidates=max(
                                  options.search.candidates, CEILING_DEPTH)))
    reached = 0
    for (name, exact), hits in zip(wanted, found_hits, strict=True):
        passages = {(h.passage.title or "", h.passage.text[:TEXT_KEY_CHARS]) for h in hits}
        reached += bool(passages & helpful[(name, exact)])
    return reached


def write_unjudged(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write cards to judge as JSONL (the judgments' fields, no label); returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
