"""Article in, sentences with cards out: 1 segment (and the language check), 2 embed and
search, 3 rescore, 4 rank.

``run`` is ``rank(candidates(...))``: ``aside eval news`` calls the two halves itself, to
rank one article's candidates at many thresholds without searching again.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from index.embed import Embedder
from index.query import clean_query
from index.search import SearchOptions
from index.store import Store
from server.errors import OverBudget, PayloadTooLarge
from server.pipeline.article import lead_text, read_article
from server.pipeline.cache import SearchCache
from server.pipeline.language import LanguageCheck, check_language
from server.pipeline.rank import candidates as unscored
from server.pipeline.rank import rank as rank_cards
from server.pipeline.rank import spread
from server.pipeline.rescore import Candidate, Rescorer
from server.pipeline.retrieve import retrieve
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


@dataclass
class Found:
    """Every checkable sentence of an article with its scored candidates, before ranking."""

    sentences: list[tuple[Sentence, list[Candidate]]]
    total_sentences: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)


@dataclass
class Result:
    sentences: list[tuple[Sentence, list[Card]]]
    total_sentences: int
    searched: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)


def run(request: ContextRequest, embedder: Embedder, store: Store, options: Options) -> Result:
    """Find context cards for every checkable sentence of the article."""
    return rank(candidates(request, embedder, store, options), options)


def candidates(request: ContextRequest, embedder: Embedder, store: Store, options: Options) -> Found:
    """Stages 1-3: every checkable sentence with its candidate passages, scored."""
    lap = _stopwatch()
    # 1. Segment blocks into sentences; keep the ones that can carry a claim.
    segmented = list(segment(request.blocks, request.lang))
    if len(segmented) > options.max_sentences:
        raise PayloadTooLarge(
            f"{len(segmented)} sentences; this service accepts at most {options.max_sentences}"
        )
    checkable = [s for s, ok in segmented if ok]
    lap("segment")
    # An article in a language the model cannot read is not searched (it would match only
    # by accident, through names and numbers); a notice says why it has no cards.
    notices = []
    if options.language is not None:
        notices = check_language([b.text for b in request.blocks], request.lang, options.language)
        checkable = [] if notices else checkable
        lap("language")
    _check_budget(options)
    # 2. Clean (links, handles, emoji), embed and search each distinct sentence once, step by
    #    step; sentences seen recently (same build) take their results from the cache instead.
    #    With rescoring, the article's lead (title and first paragraph) is embedded too.
    queries = {s.exact: clean_query(s.exact) for s in checkable}
    rescorer, cache = options.rescorer, options.cache
    lead = lead_text(request.title, [b.text for b in request.blocks]) if rescorer else ""
    lead_vector = cache.get_vector(lead) if cache is not None and lead else None
    got = retrieve(list(queries.values()), embedder, store, k=options.search_k,
                   options=options.search, cache=cache, step=options.step,
                   check=lambda: _check_budget(options), on_embedded=lambda: lap("embed"),
                   embed_also=[lead] if lead and lead_vector is None and checkable else [])
    hits = got.hits
    if lead in got.vectors:
        lead_vector = got.vectors[lead]
        if cache is not None:
            cache.put_vector(lead, lead_vector)
    lap("search")
    # 3. Rescore: the probability that each candidate's card helps, read with the whole
    #    article (its title, lead and the names it repeats).
    if rescorer is None:
        found = [(s, unscored(hits[queries[s.exact]], floor=-math.inf)) for s in checkable]
    else:
        article = read_article(request.title, [s.exact for s, _ in segmented], lead_vector)
        found = [(s, rescorer.rescore(s.exact, hits[queries[s.exact]], article, store.vectors))
                 for s in checkable]
    lap("rescore")
    return Found(found, len(segmented), lap.timings, notices)


def rank(found: Found, options: Options) -> Result:
    """Stage 4: threshold, one card per document, near-identical passages merged; then a
    passage stays only on the neighbouring sentence it fits best. Sentences without cards
    are left out."""
    started = time.perf_counter()
    min_confidence = options.min_confidence
    if min_confidence is None:
        min_confidence = options.rescorer.min_confidence if options.rescorer is not None else 0.0
    ranked = [
        (sentence, rank_cards(found_, threshold=options.threshold, min_confidence=min_confidence,
                              limit=options.cards_per_sentence, sentence=sentence.exact))
        for sentence, found_ in found.sentences
    ]
    timings = dict(found.timings_ms)
    results = spread(ranked)
    timings["rank"] = round((time.perf_counter() - started) * 1000, 1)
    return Result(results, found.total_sentences, len(found.sentences), timings, found.notices)


class _stopwatch:  # noqa: N801 - used as a function
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
