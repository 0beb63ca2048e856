"""Stage 2: sentences are cleaned, embedded and searched once each, then answered from the cache."""

from __future__ import annotations

from index.search import SearchOptions
from index.store import Store
from server.pipeline.cache import SearchCache
from server.pipeline.retrieve import retrieve

SENTENCES = ["The Federal Reserve raised interest rates in July 2023 https://t.co/x",
             "The Federal Reserve raised interest rates in July 2023",
             "Wheat harvests in Kansas fell after a dry spring."]
LEAD = "Rates and harvests. The Federal Reserve raised rates again."


def test_same_cleaned_text_is_embedded_once_and_gets_the_same_hits(tiny_store, fake_embedder):
    got = retrieve(SENTENCES, fake_embedder, Store.open(tiny_store), k=5, options=SearchOptions())
    assert fake_embedder.calls == [SENTENCES[1:]]  # the link is cleaned away: one text, not two
    assert got.lead is None and len(got.hits) == 3
    assert got.hits[0] == got.hits[1] and got.hits[0][0].passage.url == "https://example.org/fed"


def test_a_second_article_with_the_same_sentences_is_answered_from_the_cache(tiny_store, fake_embedder):
    store, cache = Store.open(tiny_store), SearchCache(100)
    first = retrieve(SENTENCES, fake_embedder, store, k=5, options=SearchOptions(), cache=cache,
                     lead=LEAD)
    # The lead rides in the first run with the sentences, not in a (padded) run of its own.
    assert fake_embedder.calls == [[LEAD, *SENTENCES[1:]]]
    again = retrieve(SENTENCES, fake_embedder, store, k=5, options=SearchOptions(), cache=cache,
                     lead=LEAD)
    assert len(fake_embedder.calls) == 1, "nothing embedded the second time"
    assert again.hits == first.hits
    assert again.lead is not None and (again.lead == first.lead).all()


def test_a_lead_whose_sentences_are_all_cached_is_embedded_alone(tiny_store, fake_embedder):
    store, cache = Store.open(tiny_store), SearchCache(100)
    retrieve(SENTENCES, fake_embedder, store, k=5, options=SearchOptions(), cache=cache)
    got = retrieve(SENTENCES, fake_embedder, store, k=5, options=SearchOptions(), cache=cache,
                   lead=LEAD)
    assert fake_embedder.calls == [SENTENCES[1:], [LEAD]]
    assert got.lead is not None and got.lead.shape == (fake_embedder.dim,)
