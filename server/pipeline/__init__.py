"""Article in, sentences with cards out: 1 segment (and the language check), 2 clean, embed
and search (then drop the passages the operator blocked), 3 rescore, 4 rank (and spread).

``run`` is ``rank(candidates(...))``: ``aside eval news`` calls the two halves itself, to
rank one article's candidates at many thresholds without searching again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from index.embedders import Embedder
from index.search import SearchOptions
from index.store import Store
from server.errors import OverBudget, PayloadTooLarge
from server.feedback.blocks import Blocklist
from server.pipeline.article import lead_text, read_article
from server.pipeline.cache import SearchCache
from server.pipeline.language import LanguageCheck, check_language
from server.pipeline.rank import candidates as unscored
from server.pipeline.rank import rank as rank_cards
from server.pipeline.rank import spread
from server.pipeline.rescore import Candidate, Rescorer
from server.pipeline.retrieve import Retrieved, retrieve
from server.pipeline.segment import segment
from server.schema import Card, ContextRequest, Notice, Sentence

__all__ = ["Found", "Options", "Result", "candidates", "rank", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Options:
    threshold: float
    cards_per_sentence: int
    max_sentences: int
    search: SearchOptions = field(default_factory=SearchOptions)
    # Passages fetched per sentence before one-per-document ranking.
    search_k: int = 12
    # The fitted rescoring model (None: cards are gated on the fused score alone).
    rescorer: Rescorer | None = None
    # Least confidence a rescored card needs (None: the model's own default).
    min_confidence: float | None = None
    # time.perf_counter() value by which the answer must be ready (None: no budget).
    deadline: float | None = None
    budget_seconds: float | None = None
    # Recent sentences' results (None: no cache).
    cache: SearchCache | None = None
    # Sentences embedded (and searched) per step; the budget is checked between steps.
    step: int = 64
    # The languages the model reads (None: every article is searched).
    language: LanguageCheck | None = None
    # The operator's blocks (None: none).
    blocklist: Blocklist | None = None

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, started: float | None = None,
        cache: SearchCache | None = None, rescorer: Rescorer | None = None,
        language: LanguageCheck | None = None, blocklist: Blocklist | None = None,
    ) -> Options:
        """The options the settings give (``Settings.to_config()`` keys); ``started`` (a
        ``time.perf_counter()`` value) starts the request's time budget."""
        budget = config["REQUEST_BUDGET_SECONDS"]
        return cls(
            blocklist=blocklist,
            language=language,
            cache=cache,
            rescorer=rescorer,
            min_confidence=config.get("MIN_CONFIDENCE"),
            deadline=started + budget if started is not None else None,
            budget_seconds=budget,
            threshold=config["THRESHOLD"],
            cards_per_sentence=config["CARDS_PER_SENTENCE"],
            max_sentences=config["MAX_SENTENCES"],
            search=SearchOptions(mode=config["SEARCH_MODE"],
                                 lexical_weight=config["LEXICAL_WEIGHT"]),
        )


@dataclass
class Found:
    """Every checkable sentence of an article with its scored candidates, before ranking.

    ``vectors`` holds each sentence's unit embedding by position (``Retrieved.vectors``).
    """

    sentences: list[tuple[Sentence, list[Candidate]]]
    total_sentences: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    vectors: list[NDArray[np.float32]] = field(default_factory=list)


@dataclass
class Result:
    """The sentences with cards; ``vectors`` holds each one's embedding, by position."""

    sentences: list[tuple[Sentence, list[Card]]]
    total_sentences: int
    searched: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    vectors: list[NDArray[np.float32]] = field(default_factory=list)


def run(request: ContextRequest, embedder: Embedder, store: Store, options: Options) -> Result:
    """Find context cards for every checkable sentence of the article."""
    return rank(candidates(request, embedder, store, options), options)


def candidates(request: ContextRequest, embedder: Embedder, store: Store, options: Options) -> Found:
    """Stages 1-3: every checkable sentence with its candidate passages, scored."""
    lap = _Stopwatch()
    # 1. Segment blocks into sentences and keep those that can carry a claim; none when the
    #    article is in a language the model cannot read (a notice says why).
    sentences, checkable, notices = _segment(request, options, lap)
    _check_budget(options)
    # 2. Clean (links, handles, emoji), embed and search each distinct sentence once, step by
    #    step, recent ones from the cache; with rescoring, the article's lead is embedded too.
    lead = lead_text(request.title, [b.text for b in request.blocks]) if options.rescorer else ""
    got = retrieve([s.exact for s in checkable], embedder, store, k=options.search_k,
                   options=options.search, cache=options.cache, step=options.step,
                   check=lambda: _check_budget(options), on_embedded=lambda: lap("embed"), lead=lead)
    lap("search")
    #    A passage the operator blocked for a sentence is dropped from its hits, as if the
    #    index did not hold it: another passage of its document can stand in, and rescoring
    #    reads the rest without it.
    if options.blocklist:
        got = replace(got, hits=[options.blocklist.keep(hits, vector)
                                 for hits, vector in zip(got.hits, got.vectors, strict=True)])
        lap("blocks")
    # 3. Rescore: the probability that each candidate's card helps, read with the whole
    #    article (its title, lead and the names it repeats).
    scored = _rescore(request.title, sentences, checkable, got, store, options.rescorer)
    lap("rescore")
    return Found(list(zip(checkable, scored, strict=True)), len(sentences), lap.timings, notices,
                 list(got.vectors))


def rank(found: Found, options: Options) -> Result:
    """Stage 4: threshold, one card per document, near-identical passages merged; then a
    passage stays only on the neighbouring sentence it fits best. Sentences without cards
    are left out."""
    started = time.perf_counter()
    # 4. Each sentence's cards, then each passage kept on the neighbouring sentence it fits best.
    min_confidence = _min_confidence(options)
    ranked = [
        (sentence, rank_cards(found_, threshold=options.threshold, min_confidence=min_confidence,
                              limit=options.cards_per_sentence, sentence=sentence.exact))
        for sentence, found_ in found.sentences
    ]
    results = spread(ranked)
    by_sentence = {id(s): v for (s, _), v in zip(found.sentences, found.vectors, strict=False)}
    vectors = [by_sentence[id(s)] for s, _ in results] if found.vectors else []
    timings = {**found.timings_ms, "rank": round((time.perf_counter() - started) * 1000, 1)}
    return Result(results, found.total_sentences, len(found.sentences), timings, found.notices,
                  vectors)


class _Stopwatch:
    """Records the milliseconds since the previous call under each stage's name."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round((now - self._clock) * 1000, 1)
        self._clock = now


def _check_budget(options: Options) -> None:
    if options.deadline is not None and time.perf_counter() > options.deadline:
        raise OverBudget(
            f"the article took longer than this service's time budget of {options.budget_seconds:g} s "
            "per request; send fewer paragraphs"
        )


def _segment(request: ContextRequest, options: Options, lap: _Stopwatch
             ) -> tuple[list[Sentence], list[Sentence], list[Notice]]:
    """Every sentence, the checkable ones to search, and the language notices."""
    segmented = list(segment(request.blocks, request.lang))
    if len(segmented) > options.max_sentences:
        raise PayloadTooLarge(
            f"{len(segmented)} sentences; this service accepts at most {options.max_sentences}"
        )
    checkable = [s for s, ok in segmented if ok]
    lap("segment")
    # An article in a language the model cannot read is not searched: it would match only
    # by accident, through names and numbers.
    notices: list[Notice] = []
    if options.language is not None:
        notices = check_language([b.text for b in request.blocks], request.lang, options.language)
        checkable = [] if notices else checkable
        lap("language")
    return [s for s, _ in segmented], checkable, notices


def _rescore(title: str | None, sentences: list[Sentence], checkable: list[Sentence],
             got: Retrieved, store: Store, rescorer: Rescorer | None) -> list[list[Candidate]]:
    """Each checkable sentence's candidates: rescored, or (no model) by fused score alone."""
    if rescorer is None:
        return [unscored(hits, floor=-math.inf) for hits in got.hits]
    article = read_article(title, [s.exact for s in sentences], got.lead)
    return [rescorer.rescore(s.exact, hits, article, store.vectors)
            for s, hits in zip(checkable, got.hits, strict=True)]


def _min_confidence(options: Options) -> float:
    """The least confidence a card needs: the options', else the model's, else none."""
    if options.min_confidence is not None:
        return options.min_confidence
    return options.rescorer.min_confidence if options.rescorer is not None else 0.0
