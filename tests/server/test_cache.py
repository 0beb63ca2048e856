"""Sentences seen before are answered from the search cache: same cards, no embedding."""

from __future__ import annotations

from server import create_app
from server.pipeline.cache import SearchCache
from tests.conftest import FakeEmbedder
from tests.server.helpers import ARTICLE, post


def test_a_repeated_article_gets_the_same_answer_without_embedding_again(tiny_store):
    embedder = FakeEmbedder()
    client = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": embedder,
                         "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": ""}).test_client()
    first = post(client, {"blocks": ARTICLE}).get_json()
    embedded = sum(len(call) for call in embedder.calls)
    assert embedded > 0
    second = post(client, {"blocks": ARTICLE}).get_json()
    assert sum(len(call) for call in embedder.calls) == embedded, "nothing embedded the second time"
    assert second["sentences"] == first["sentences"] and second["sentences"]
    # A new sentence next to known ones: only it is embedded.
    third = post(client, {"blocks": [*ARTICLE, {"id": "p9", "text": "Mexico City hosts the parliament."}]})
    assert third.status_code == 200
    assert embedder.calls[-1] == ["Mexico City hosts the parliament."]


def test_the_cache_can_be_turned_off(tiny_store):
    embedder = FakeEmbedder()
    client = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": embedder,
                         "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": "", "CACHE_SENTENCES": 0}).test_client()
    post(client, {"blocks": ARTICLE})
    calls = len(embedder.calls)
    post(client, {"blocks": ARTICLE})
    assert len(embedder.calls) == 2 * calls


def test_entries_belong_to_one_build_and_the_oldest_go_first():
    cache = SearchCache(2)
    cache.put_many("build-a", {"one": [(1, 0.9, 0.9, 0.1)], "two": [(2, 0.8, 0.8, 0.0)]})
    assert cache.get_many("build-b", ["one"]) == {}, "a new build never answers from an old one"
    assert cache.get_many("build-a", ["one"]) == {"one": ((1, 0.9, 0.9, 0.1),)}
    cache.put_many("build-a", {"three": []})
    assert set(cache.get_many("build-a", ["one", "two", "three"])) == {"one", "three"}
    assert len(cache) == 2


def test_lead_vectors_are_kept_one_for_every_ten_sentences():
    import numpy as np

    cache = SearchCache(20)
    for n in range(3):
        cache.put_vector(f"lead {n}", np.full(4, n, dtype=np.float32))
    assert cache.get_vector("lead 0") is None, "two leads fit; the oldest went"
    assert cache.get_vector("lead 2")[0] == 2
    assert SearchCache(0).get_vector("lead 2") is None
