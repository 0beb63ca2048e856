from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
from dataclasses import fields

import numpy as np
import pytest

from index.build import BuildError, build
from index.records import Passage
from index.search import SearchOptions, search_texts
from index.sources import Source
from index.store import Document, Store, StoreError, StoreMismatchError, publish
from index.writer import StoreWriter
from tests.conftest import FakeEmbedder, fixture_sources


def test_round_trip_keeps_passages_and_provenance(tiny_store, fake_embedder):
    store = Store.open(tiny_store, model=fake_embedder.name, dim=fake_embedder.dim)
    manifest = store.manifest
    assert manifest.model == "test/hashed-words" and manifest.dim == 256
    assert manifest.metric == "inner_product" and manifest.normalize is True
    assert manifest.passages > 100
    assert [s["name"] for s in manifest.sources][:2] == ["factbook", "wikipedia"]
    assert {"index.faiss", "passages.sqlite", "bm25_ids.npy", "bm25/vocab.index.json"} <= set(
        manifest.checksums)
    assert store.lexical is not None
    hits = search_texts(store, fake_embedder, ["Golden Gate Bridge opened in May 1937"], k=3)[0]
    top = hits[0].passage
    assert top.title == "Golden Gate Bridge" and top.publisher == "Example Almanac"
    assert hits[0].dense == pytest.approx(
        float(fake_embedder.encode(["Golden Gate Bridge opened in May 1937"])[0]
              @ fake_embedder.encode([top.embed_text])[0]), abs=1e-5)
    assert 0 < hits[0].lexical < 1
    assert store.passages([top.id])[top.id] == top


def test_fused_score_weighs_both_parts_and_means_the_same_among_any_results(tiny_store, fake_embedder):
    store = Store.open(tiny_store, model=fake_embedder.name, dim=fake_embedder.dim)
    query = "Golden Gate Bridge opened in May 1937"
    hits = search_texts(store, fake_embedder, [query], k=10)[0]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        assert min(hit.dense, hit.lexical) <= hit.score <= max(hit.dense, hit.lexical)
    for above, below in itertools.combinations(hits, 2):
        assert not (below.dense > above.dense and below.lexical > above.lexical), "better on both ranks first"
    # A score depends on the query and the passage only (one threshold serves every article).
    alone = {h.passage.id: h.score for h in hits}
    among = search_texts(store, fake_embedder, ["Mexico exports cars and crude oil", query], k=3)[1]
    assert [h.score for h in among] == pytest.approx([alone[h.passage.id] for h in among])
    dense = search_texts(store, fake_embedder, [query], k=10, options=SearchOptions(mode="dense"))[0]
    assert [h.score for h in dense] == pytest.approx([h.dense for h in dense])


def test_the_passages_table_keeps_the_format_2_columns(tiny_store):
    # The store format: stores built before read the same, whatever the order of Passage's fields.
    db = sqlite3.connect(tiny_store / "passages.sqlite")
    columns = [row[1] for row in db.execute("PRAGMA table_info(passages)")]
    db.close()
    assert columns == ["id", "doc_id", "text", "embed_text", "source", "kind", "title", "url",
                       "publisher", "published", "language", "license", "claimant", "rating"]
    assert set(columns) == {f.name for f in fields(Passage)}, "every field of a passage is stored"


def test_store_built_with_another_model_or_dimension_is_refused(tiny_store):
    with pytest.raises(StoreMismatchError, match="model"):
        Store.open(tiny_store, model="sentence-transformers/all-MiniLM-L6-v2", dim=256)
    with pytest.raises(StoreMismatchError, match="384"):
        Store.open(tiny_store, model="test/hashed-words", dim=384)


def test_damaged_store_is_refused(tiny_store, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_store, copy)
    with (copy / "passages.sqlite").open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(StoreError, match="checksum"):
        Store.open(copy)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable"):
        Store.open(copy)
    with pytest.raises(StoreError, match="no index"):
        Store.open(tmp_path / "absent")


def test_failed_build_leaves_the_served_store_untouched(tmp_path):
    out = tmp_path / "index"
    build(fixture_sources()[:1], out, FakeEmbedder())
    before = json.loads((out / "manifest.json").read_text())

    def broken(stats):
        yield from fixture_sources()[1].read(stats)
        raise RuntimeError("source failed mid-way")

    with pytest.raises(RuntimeError):
        build([Source("broken", broken)], out, FakeEmbedder())
    assert json.loads((out / "manifest.json").read_text()) == before
    Store.open(out)  # still whole and valid
    assert [p.name for p in tmp_path.iterdir()] == ["index"], "no staging directory left behind"


def test_build_with_no_passages_publishes_nothing(tmp_path):
    with pytest.raises(BuildError, match="no passages"):
        build([Source("empty", lambda stats: iter(()))], tmp_path / "index", FakeEmbedder())
    assert not (tmp_path / "index").exists()


def test_rebuild_replaces_store_with_new_build_id(tmp_path):
    out = tmp_path / "index"
    first = build(fixture_sources()[:1], out, FakeEmbedder()).manifest
    second = build(fixture_sources(), out, FakeEmbedder()).manifest
    assert Store.open(out).manifest.build_id == second.build_id != first.build_id
    assert second.passages > first.passages


def test_publish_never_overwrites_a_directory_that_is_not_a_store(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    staged = tmp_path / "staged"
    writer = StoreWriter(staged, model="m", dim=4)
    writer.add_document(Document("d", "h", "s"),
                        [Passage(doc_id="d", text="t", embed_text="t", source="s", kind="k")])
    writer.add_vectors([1], np.eye(4, dtype=np.float32)[:1])
    writer.finish([])
    with pytest.raises(StoreError, match="refusing"):
        publish(staged, precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_build_refuses_a_target_that_is_not_a_store_before_embedding(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    embedder = FakeEmbedder()
    with pytest.raises(StoreError, match="refusing"):
        build(fixture_sources(), precious, embedder)
    assert embedder.calls == [] and (precious / "notes.txt").read_text() == "keep me"


def test_an_open_store_keeps_answering_from_its_own_build_after_a_new_one_is_published(tmp_path):
    import threading

    out = tmp_path / "index"
    build(fixture_sources(), out, FakeEmbedder())
    old = Store.open(out)
    ids = list(range(1, 6))
    before = old.passages(ids)
    build(fixture_sources()[2:], out, FakeEmbedder())  # replaces the directory
    found = {}
    thread = threading.Thread(target=lambda: found.update(old.passages(ids)))
    thread.start()
    thread.join()
    assert found == before, "a new thread of the old store still reads the old build"
    assert Store.open(out).passages(ids) != before


class _DyingEmbedder(FakeEmbedder):
    """Kills the worker process it runs in, as the out-of-memory killer would."""

    def encode(self, texts, *, batch_size=64):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def test_a_build_with_embedding_workers_writes_the_same_store(tmp_path):
    from index.build import BuildOptions

    one = build(fixture_sources(), tmp_path / "one", FakeEmbedder(),
                BuildOptions(embed_step=16)).manifest
    two = build(fixture_sources(), tmp_path / "two", FakeEmbedder(),
                BuildOptions(embed_step=16, workers=2)).manifest
    assert one.passages == two.passages > 32  # several batches went through the workers
    a, b = Store.open(tmp_path / "one"), Store.open(tmp_path / "two")
    ids = list(range(1, one.passages + 1))
    assert [p.text for p in a.passages(ids).values()] == [p.text for p in b.passages(ids).values()]
    np.testing.assert_array_equal(a.vectors(ids), b.vectors(ids))


def test_a_dead_embedding_worker_fails_the_build_and_publishes_nothing(tmp_path):
    from index.build import BuildOptions

    build(fixture_sources(), tmp_path / "store", FakeEmbedder())
    before = Store.open(tmp_path / "store").manifest.build_id
    with pytest.raises(BuildError, match="embedding worker died"):
        build(fixture_sources(), tmp_path / "store", _DyingEmbedder(),
              BuildOptions(embed_step=16, workers=2))
    assert Store.open(tmp_path / "store").manifest.build_id == before
    assert [p.name for p in tmp_path.iterdir()] == ["store"]
