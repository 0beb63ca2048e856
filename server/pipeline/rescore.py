"""Rescore: for each retrieved passage, the probability that a reader finds its card helpful.

The fused search score says how alike a sentence and a passage are; it cannot tell a card
about the sentence's own country, person or event from one on the same topic elsewhere
("related") or about a homonym ("wrong"). This stage reads signals a similarity score
misses, most of them from the whole article:

- whether the passage's subject (a Factbook country with its other names, a Wikipedia
  article's title) is named in the sentence, the article's title, its lead, and how often;
- how many of the sentence's names and numbers the passage shares;
- the kind of source and, for the Factbook, the field's section (a country's background
  or security notes help more often than its capital or death rate);
- the passage's length, and the similarity scores themselves.

A logistic model over these features gives a calibrated probability (``confidence``). Its
coefficients are fitted on editor judgments of real news cards (``aside eval fit-rescorer``,
folds split by article) and ship in ``rescorer.json`` with the feature list and the data
they were fitted on. Fact-check cards are not scored: a fact-check must match the claim
itself, which the fused score measures and ``ASIDE_THRESHOLD`` gates.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.search import Hit
from index.sources.factbook import country_names
from server.pipeline.article import Article
from server.pipeline.names import Name, match, name_of, names, numbers
from server.pipeline.retrieve import best_per_document

__all__ = ["DEFAULT_MODEL", "FEATURES", "Candidate", "Rescorer", "feature_rows", "field_key", "subject_of"]

DEFAULT_MODEL = Path(__file__).with_name("rescorer.json")
FORMAT = 1

FEATURES = (
    "score", "dense", "lexical", "gap", "rank",
    "factbook", "wikipedia",
    "fb_background", "fb_government", "fb_security", "fb_people", "fb_economy",
    "subject_in_sentence", "subject_in_title", "subject_in_lead", "subject_salience",
    "names_covered", "sentence_names", "passage_names_in_article",
    "shared_number", "sentence_number", "passage_length", "quote",
    "content_overlap", "statistic", "lead_cosine", "field_prior",
)
_SECTIONS = {
    "Introduction": "fb_background",
    "Government": "fb_government",
    "Military and Security": "fb_security",
    "Terrorism": "fb_security",
    "Transnational Issues": "fb_security",
    "People and Society": "fb_people",
    "Economy": "fb_economy",
    "Energy": "fb_economy",
}
# The part of a passage whose names say what it is about (its opening).
_PASSAGE_HEAD = 300
_QUOTES = "\"“”"
_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")
_STATISTIC = re.compile(r"\((?:19|20)\d\d(?:-\d+)? est\.\)")
# Words of four letters or more too common to say what a sentence is about.
_COMMON_WORDS = frozenset("""
said says that this with from have were been will would their there which about after they
also more than when what into over some only other such most many year years those these
where while could should being them then very made make just like even much well what
""".split())


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage for one sentence and the probability its card helps (None: not scored)."""

    hit: Hit
    confidence: float | None
    # The feature row the confidence was computed from (for fitting; None when not scored).
    features: tuple[float, ...] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Rescorer:
    """A fitted logistic model over ``features``, and the kinds of passage it judges.

    ``floor``: passages under this fused score are never shown (the judged pool's floor);
    ``candidates``: passages (one a document) scored per sentence; ``min_confidence``:
    the default threshold, chosen on the dev set for the precision it gives.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    kinds: frozenset[str]
    floor: float
    candidates: int
    min_confidence: float
    # Share of helpful cards by field (``field_key``), smoothed; ``prior`` for unseen fields.
    priors: Mapping[str, float] = field(default_factory=dict)
    prior: float = 0.0
    meta: Mapping[str, Any] = field(default_factory=dict)
    countries: Mapping[str, tuple[Name, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> Rescorer:
        """Read a fitted model; raise ValueError if it is not one this version can use."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read the rescoring model {path}: {exc}") from exc
        if raw.get("format") != FORMAT:
            raise ValueError(f"{path}: rescoring model format {raw.get('format')!r}; "
                             f"this version reads {FORMAT}")
        if tuple(raw["features"]) != FEATURES[:len(raw["features"])] or \
                not set(raw["features"]) <= set(FEATURES):
            raise ValueError(f"{path}: fitted on features this version does not compute")
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Rescorer:
        return cls(
            features=tuple(raw["features"]), mean=tuple(raw["mean"]), scale=tuple(raw["scale"]),
            coef=tuple(raw["coef"]), intercept=float(raw["intercept"]), kinds=frozenset(raw["kinds"]),
            floor=float(raw["floor"]), candidates=int(raw["candidates"]),
            min_confidence=float(raw["min_confidence"]),
            priors={str(k): float(v) for k, v in raw.get("priors", {}).items()},
            prior=float(raw.get("prior", 0.0)), meta=raw.get("meta", {}), countries=_countries(),
        )

    @classmethod
    def unfitted(cls, *, kinds: frozenset[str], floor: float, candidates: int) -> Rescorer:
        """A model that scores every candidate 0.5: it computes features for fitting one."""
        n = len(FEATURES)
        return cls(features=FEATURES, mean=(0.0,) * n, scale=(1.0,) * n, coef=(0.0,) * n,
                   intercept=0.0, kinds=kinds, floor=floor, candidates=candidates,
                   min_confidence=0.5, countries=_countries())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "features": list(self.features), "mean": list(self.mean),
            "scale": list(self.scale), "coef": list(self.coef), "intercept": self.intercept,
            "kinds": sorted(self.kinds), "floor": self.floor, "candidates": self.candidates,
            "min_confidence": self.min_confidence, "priors": dict(sorted(self.priors.items())),
            "prior": self.prior, "meta": dict(self.meta),
        }

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities for feature rows of shape (n, len(FEATURES)); returns shape (n,)."""
        columns = [FEATURES.index(name) for name in self.features]
        x = (rows[:, columns] - np.asarray(self.mean)) / np.asarray(self.scale)
        logits: np.ndarray = x @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))

    def rescore(
        self, sentence: str, hits: Sequence[Hit], article: Article,
        vectors: Callable[[Sequence[int]], np.ndarray] | None = None,
    ) -> list[Candidate]:
        """The sentence's candidates (one per document, fused score >= floor, best first), scored.

        ``vectors`` gives stored passage vectors by id (``Store.vectors``), for their cosine
        with the article's lead.
        """
        kept = best_per_document(hits, threshold=self.floor, limit=self.candidates)
        judged = [h for h in kept if h.passage.kind in self.kinds]
        scored: dict[int, tuple[float, tuple[float, ...]]] = {}
        if judged:
            lead_cosines = None
            if vectors is not None and article.vector is not None:
                lead_cosines = vectors([h.passage.id or 0 for h in judged]) @ article.vector
            rows = feature_rows(sentence, judged, article, self.countries, best=kept[0].score,
                                lead_cosines=lead_cosines,
                                priors=[self.priors.get(field_key(h), self.prior) for h in judged])
            scored = {id(h): (float(p), tuple(row.tolist()))
                      for h, p, row in zip(judged, self.predict(rows), rows, strict=True)}
        return [Candidate(h, *scored[id(h)]) if id(h) in scored else Candidate(h, None)
                for h in kept]


@lru_cache(maxsize=1)
def _countries() -> dict[str, tuple[Name, ...]]:
    """Every Factbook entity's forms as names, read once a process (about 0.15 s)."""
    try:
        table = country_names()
    except FileNotFoundError:
        return {}
    return {country: tuple(name_of(f) for f in forms) for country, forms in table.items()}


def subject_of(hit: Hit, countries: Mapping[str, tuple[Name, ...]]) -> tuple[Name, ...]:
    """The forms of what a passage is about: its Factbook country's names, else its title."""
    passage = hit.passage
    title = passage.title or ""
    if passage.kind == "factbook":
        country = title.split(" — ")[0]
        return countries.get(country) or (name_of(country),)
    return (name_of(title.split(" (")[0]),) if title else ()


def field_key(hit: Hit) -> str:
    """What the field prior is kept by: a Factbook field ("factbook:Background") or the kind."""
    passage = hit.passage
    if passage.kind == "factbook" and passage.title and " — " in passage.title:
        return f"factbook:{passage.title.split(' — ', 1)[1]}"
    return passage.kind


def _section(hit: Hit) -> str | None:
    """The Factbook section of a passage ("Government"), from its document id."""
    doc = hit.passage.doc_id
    if hit.passage.kind != "factbook" or doc.count(":") < 2:
        return None
    return doc.split(":", 2)[2].split("/")[0]


def _content_words(text: str) -> set[str]:
    """Words of four letters or more, folded and cut to six letters (a crude stem)."""
    return {w[:6] for w in _CONTENT_WORD.findall(text.casefold()) if w not in _COMMON_WORDS}


def _overlap(wanted: set[str] | frozenset[str], found: set[str] | frozenset[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


@lru_cache(maxsize=4096)
def _read_passage(title: str, text: str) -> tuple[tuple[Name, ...], frozenset[str], frozenset[str],
                                                   frozenset[str]]:
    """What the features read of a passage, once: the names in its opening (300 characters),
    the tokens of those and of its title's names, its content words and its numbers."""
    head = tuple(names(text[:_PASSAGE_HEAD]))
    tokens = frozenset(t for n in (*head, *names(title)) for t in n)
    return (head, tokens, frozenset(_content_words(f"{title} {text}")), frozenset(numbers(text)))


def feature_rows(
    sentence: str, hits: Sequence[Hit], article: Article,
    countries: Mapping[str, tuple[Name, ...]], *, best: float | None = None,
    lead_cosines: np.ndarray | None = None, priors: Sequence[float] | None = None,
) -> np.ndarray:
    """The features of each (sentence, passage) pair, shape (len(hits), len(FEATURES)), float64.

    ``best`` is the sentence's best fused score (default: the best of ``hits``);
    ``lead_cosines`` each passage's cosine with the article's lead, ``priors`` each one's
    field prior (default: 0 for both).
    """
    mentioned = names(sentence)
    sentence_numbers = numbers(sentence)
    top = best if best is not None else max((h.score for h in hits), default=0.0)
    rows = np.zeros((len(hits), len(FEATURES)), dtype=np.float64)
    sentence_words = _content_words(sentence)
    for row, hit in enumerate(hits):
        passage = hit.passage
        forms = subject_of(hit, countries)
        subject_words = {t[:6] for form in forms for t in form}
        section = _section(hit)
        head_names, folded, passage_words, passage_numbers = _read_passage(
            passage.title or "", passage.text)
        folded = folded | {t for f in forms for t in f}
        values = {
            "score": hit.score, "dense": hit.dense, "lexical": hit.lexical,
            "gap": top - hit.score, "rank": float(row),
            "factbook": float(passage.kind == "factbook"),
            "wikipedia": float(passage.kind == "wikipedia"),
            "subject_in_sentence": match(forms, mentioned),
            "subject_in_title": match(forms, article.title),
            "subject_in_lead": match(forms, article.lead),
            "subject_salience": article.salience(forms),
            "names_covered": (sum(all(t in folded for t in n) for n in mentioned) / len(mentioned)
                              if mentioned else 0.0),
            "sentence_names": min(len(mentioned), 5) / 5,
            "passage_names_in_article": (
                sum(article.mentioned(n) or match(forms, [n]) == 1.0 for n in head_names)
                / len(head_names) if head_names else 1.0),
            "shared_number": float(bool(sentence_numbers & passage_numbers)),
            "sentence_number": float(bool(sentence_numbers)),
            "passage_length": math.log(max(len(passage.text), 10)) / math.log(1000),
            "quote": float(any(q in sentence for q in _QUOTES)),
            # What the sentence says besides naming the subject, found in the passage.
            "content_overlap": _overlap(sentence_words - subject_words, passage_words),
            "statistic": float(bool(_STATISTIC.search(passage.text))),
            "lead_cosine": float(lead_cosines[row]) if lead_cosines is not None else 0.0,
            "field_prior": priors[row] if priors is not None else 0.0,
        }
        if section in _SECTIONS:
            values[_SECTIONS[section]] = 1.0
        rows[row] = [values.get(name, 0.0) for name in FEATURES]
    return rows
