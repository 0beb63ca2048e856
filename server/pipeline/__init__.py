"""Article in, sentences with cards out: 1 segment, 2 embed, 3 search, 4 rank."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from index.embed import Embedder
from index.query import clean_query
from index.search import Hit, SearchOptions, search
from index.store import Store
from server.errors import OverBudget, PayloadTooLarge
from server.pipeline.cache import SearchCache
from server.pipeline.rank import rank, spread
from server.pipeline.segment import segment
from server.schema import Card, ContextRequest, Sentence

__all__ = ["Options", "Result", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Options:
    threshold: float
    cards_per_sentence: int
    max_sentences: int
    search: SearchOptions = field(default_factory=SearchOptions)
    # Passages fetched per sentence before one-per-document ranking.
    search_k: int = 12
    # time.perf_counter() value by which the answer must be ready (None: no budget).
    deadline: float | None = None
    budget_seconds: float | None = None
    # Recent sentences' results (None: no cache).
    cache: SearchCache | None = None
    # Sentences embedded (and searched) per step; the budget is checked between steps.
    step: int = 64


@dataclass
class Result:
    sentences: list[tuple[Sentence, list[Card]]]
    total_sentences: int
    searched: int
    timings_ms: dict[str, float] = field(default_factory=dict)


def run(request: ContextRequest, embedder: Embedder, store: Store, options: Options) -> Result:
    """Find context cards for every checkable sentence of the article."""
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round((now - clock) * 1000, 1)
        clock = now

    # 1. Segment blocks into sentences; keep the ones that can carry a claim.
    segmented = list(segment(request.blocks, request.lang))
    if len(segmented) > options.max_sentences:
        raise PayloadTooLarge(
            f"{len(segmented)} sentences; this service accepts at most {options.max_sentences}"
        )
    checkable = [s for s, ok in segmented if ok]
    lap("segment")
    _check_budget(options)
    # 2. Clean (links, handles, emoji) and embed each distinct sentence once, step by step;
    #    sentences seen recently (same build) take their results from the cache instead.
    queries = {s.exact: clean_query(s.exact) for s in checkable}
    texts = list(dict.fromkeys(queries.values()))
    build_id = store.manifest.build_id
    cached = options.cache.get_many(build_id, texts) if options.cache is not None else {}
    fresh = [t for t in texts if t not in cached]
    steps = [fresh[i:i + options.step] for i in range(0, len(fresh), options.step)]
    vectors = []
    for batch in steps:
        vectors.append(embedder.encode(batch))
        _check_budget(options)
    lap("embed")
    # 3. Search the index: dense and lexical rankings, fused.
    found: list[list[Hit]] = []
    for batch, batch_vectors in zip(steps, vectors, strict=True):
        found += search(store, batch_vectors, batch, k=options.search_k, options=options.search)
        _check_budget(options)
    hits_by_query = dict(zip(fresh, found, strict=True))
    if options.cache is not None:
        options.cache.put_many(build_id, {
            text: [(h.passage.id or 0, h.score, h.dense, h.lexical) for h in hits]
            for text, hits in hits_by_query.items()})
    if cached:
        passages = store.passages(pid for rows in cached.values() for pid, *_ in rows)
        for text, rows in cached.items():
            hits_by_query[text] = [Hit(passages[pid], score, dense, lexical)
                                   for pid, score, dense, lexical in rows if pid in passages]
    lap("search")
    # 4. Rank: threshold, one card per document, near-identical passages merged; then a
    #    passage stays only on the neighbouring sentence it fits best. Sentences without
    #    cards are left out.
    ranked = [
        (sentence, rank(hits_by_query[queries[sentence.exact]], threshold=options.threshold,
                        limit=options.cards_per_sentence))
        for sentence in checkable
    ]
    results = spread(ranked)
    lap("rank")
    return Result(results, len(segmented), len(checkable), timings)


def _check_budget(options: Options) -> None:
    if options.deadline is not None and time.perf_counter() > options.deadline:
        raise OverBudget(
            f"the article took longer than this service's time budget of {options.budget_seconds:g} s "
            "per request; send fewer paragraphs"
        )
