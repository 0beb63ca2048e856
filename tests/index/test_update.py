"""Incremental maintenance: update from sources (add, change, delete), remove, and the index type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.build import BuildError, BuildOptions, build, remove, update
from index.cli import index_group
from index.search import SearchOptions, search_texts
from index.sources import parse_spec
from index.store import Store, StoreError, StoreMismatchError
from tests.conftest import FakeEmbedder

DENSE = SearchOptions(mode="dense")


def _write_docs(path: Path, docs: dict[str, str]) -> None:
    path.write_text(
        "".join(json.dumps({"id": i, "title": i.title(), "text": t}) + "\n" for i, t in docs.items()),
        encoding="utf-8",
    )


def _state(out: Path) -> dict[str, list[str]]:
    """Every document of the store and its passages' texts."""
    store = Store.open(out)
    return {doc: [p.text for p in store.document_passages(doc)] for doc in store.documents()}


def _top_titles(out: Path, embedder: FakeEmbedder, query: str) -> list[str | None]:
    hits = search_texts(Store.open(out), embedder, [query], k=10, options=DENSE)[0]
    return [h.passage.title for h in hits]


DOCS = {
    "bridges": "The Golden Gate Bridge opened in 1937. It spans the strait at San Francisco.",
    "rivers": "The Danube flows through ten countries. It reaches the Black Sea in Romania.",
    "volcanoes": "Mount Etna is one of the most active volcanoes. It stands on Sicily.",
}


def test_update_twice_reflects_exactly_the_current_documents(tmp_path):
    docs_file, out = tmp_path / "docs.jsonl", tmp_path / "index"
    _write_docs(docs_file, DOCS)
    sources = [parse_spec(f"jsonl:{docs_file}")]
    embedder = FakeEmbedder()
    build(sources, out, embedder)
    embedder.calls.clear()

    # 1. Add one document, change one, delete one.
    docs = dict(DOCS)
    docs["deserts"] = "The Atacama is the driest desert. It lies in northern Chile."
    docs["rivers"] = "The Danube flows through ten countries. Vienna and Budapest stand on it."
    del docs["volcanoes"]
    _write_docs(docs_file, docs)
    report = update(sources, out, embedder)

    prefix = f"jsonl:{docs_file.stem}:"
    state = _state(out)
    assert sorted(state) == sorted(prefix + d for d in docs)
    assert state[prefix + "rivers"] == [docs["rivers"]]
    assert dict(report.documents) == {"new": 1, "changed": 1, "unchanged": 1, "removed": 1}
    assert report.passages["unchanged"] == 1 and report.passages["removed"] == 2
    assert report.passages["added"] == 2 and report.passages["embedded"] == 2
    # Only the new and the changed text was embedded.
    assert sorted(t for call in embedder.calls for t in call) == sorted(
        f"{d.title()}: {docs[d]}" for d in ("deserts", "rivers"))
    assert _top_titles(out, embedder, "Mount Etna active volcano Sicily")[:1] != ["Volcanoes"]
    assert "Volcanoes" not in _top_titles(out, embedder, "Mount Etna active volcano Sicily")
    assert _top_titles(out, embedder, "driest desert Atacama Chile")[0] == "Deserts"

    # 2. Again: bring the volcano back, delete the desert; nothing else changes.
    embedder.calls.clear()
    docs["volcanoes"] = DOCS["volcanoes"]
    del docs["deserts"]
    _write_docs(docs_file, docs)
    report = update(sources, out, embedder)
    assert sorted(_state(out)) == sorted(prefix + d for d in docs)
    assert dict(report.documents) == {"new": 1, "unchanged": 2, "removed": 1}
    assert "Deserts" not in _top_titles(out, embedder, "driest desert Atacama Chile")
    assert _top_titles(out, embedder, "Mount Etna active volcano Sicily")[0] == "Volcanoes"
    assert Store.open(out).manifest.passages == 3

    # 3. The result is what a fresh build of the same documents gives.
    fresh = tmp_path / "fresh"
    build(sources, fresh, FakeEmbedder())
    assert _state(fresh) == _state(out)


def test_a_document_deduplicated_against_a_removed_one_gets_its_passage_back(tmp_path):
    docs_file, out = tmp_path / "docs.jsonl", tmp_path / "index"
    same = "Paris is the capital of France."
    docs_file.write_text(
        json.dumps({"id": "a", "title": "Paris", "text": same}) + "\n"
        + json.dumps({"id": "b", "title": "Paris", "text": same + " It lies on the Seine."}) + "\n",
        encoding="utf-8",
    )
    sources = [parse_spec(f"jsonl:{docs_file}")]
    build(sources, out, FakeEmbedder(), BuildOptions(max_sentences=1))
    assert _state(out)[f"jsonl:{docs_file.stem}:b"] == ["It lies on the Seine."]
    docs_file.write_text(
        json.dumps({"id": "b", "title": "Paris", "text": same + " It lies on the Seine."}) + "\n",
        encoding="utf-8",
    )
    update(sources, out, FakeEmbedder(), BuildOptions(max_sentences=1))
    assert _state(out) == {f"jsonl:{docs_file.stem}:b": [same, "It lies on the Seine."]}


def test_remove_a_document_keeps_every_other_one_without_embedding(tmp_path):
    docs_file, out = tmp_path / "docs.jsonl", tmp_path / "index"
    _write_docs(docs_file, DOCS)
    build([parse_spec(f"jsonl:{docs_file}")], out, FakeEmbedder())
    before = _state(out)
    gone = f"jsonl:{docs_file.stem}:volcanoes"
    report = remove(out, [gone])
    after = _state(out)
    assert after == {d: p for d, p in before.items() if d != gone}
    assert report.passages["embedded"] == 0 and report.documents["unchanged"] == 2
    assert "Volcanoes" not in _top_titles(out, FakeEmbedder(), "Mount Etna active volcano Sicily")
    with pytest.raises(BuildError, match="no such document"):
        remove(out, ["jsonl:docs:nope"])


def test_update_of_a_store_from_another_model_is_refused(tmp_path):
    docs_file, out = tmp_path / "docs.jsonl", tmp_path / "index"
    _write_docs(docs_file, DOCS)
    sources = [parse_spec(f"jsonl:{docs_file}")]
    build(sources, out, FakeEmbedder())
    with pytest.raises(StoreMismatchError, match="model"):
        update(sources, out, FakeEmbedder(name="other/model"))


def test_cli_update_and_remove_print_a_summary(tmp_path, runner):
    docs_file, out = tmp_path / "docs.jsonl", tmp_path / "index"
    _write_docs(docs_file, DOCS)
    obj = {"embedder": FakeEmbedder()}
    result = runner.invoke(index_group, ["build", "--out", str(out), "--source", f"jsonl:{docs_file}"],
                           obj=obj)
    assert result.exit_code == 0, result.output
    assert "documents: 3 new, 0 changed, 0 unchanged, 0 removed, 0 skipped" in result.output
    docs = {**DOCS, "rivers": "The Danube is long."}
    _write_docs(docs_file, docs)
    result = runner.invoke(index_group, ["update", str(out), "--source", f"jsonl:{docs_file}"], obj=obj)
    assert result.exit_code == 0, result.output
    assert "documents: 0 new, 1 changed, 2 unchanged, 0 removed" in result.output
    assert "passages: 1 added, 1 removed, 2 unchanged" in result.output
    assert "1 embedded" in result.output
    result = runner.invoke(index_group, ["remove", str(out), "--doc", f"jsonl:{docs_file.stem}:rivers"])
    assert result.exit_code == 0, result.output
    assert "passages: 0 added, 1 removed, 2 unchanged" in result.output
    result = runner.invoke(index_group, ["remove", str(out), "--doc", "nope"])
    assert result.exit_code == 1 and "no such document in" in result.output
    result = runner.invoke(index_group, ["update", str(out)], obj=obj)
    assert result.exit_code == 2 and "say which sources" in result.output


def test_ivf_index_finds_what_exact_search_finds_and_records_its_recall(tmp_path, tiny_store):
    from index.sources.jsonl import iter_jsonl  # noqa: F401  (the fixture sources use it)
    from tests.conftest import fixture_sources

    embedder = FakeEmbedder()
    out = tmp_path / "ivf"
    report = build(fixture_sources(), out, embedder, BuildOptions(index_type="ivf"))
    info = report.manifest.index
    assert info["type"] == "ivf" and info["nlist"] >= 1 and info["recall_at_10"] >= 0.9
    queries = ["Golden Gate Bridge opened in May 1937", "population of Mexico", "Swiss exports"]
    exact = search_texts(Store.open(tiny_store), embedder, queries, k=5, options=DENSE)
    approx = search_texts(Store.open(out), embedder, queries, k=5, options=DENSE)
    assert [[h.passage.text for h in row][:1] for row in approx] == [
        [h.passage.text for h in row][:1] for row in exact]
    # The 8-bit codes only choose candidates: the scores are the exact cosines.
    assert info["codes"] == "sq8"
    for a, e in zip(approx, exact, strict=True):
        assert a[0].dense == pytest.approx(e[0].dense, abs=1e-5)
    # Hybrid search reads vectors back by id, which the IVF index must support.
    hybrid = search_texts(Store.open(out), embedder, queries, k=5)
    assert all(row and row[0].dense > 0 for row in hybrid)


def test_updating_a_store_from_an_older_aside_says_to_rebuild_and_leaves_nothing_behind(tmp_path):
    import sqlite3

    docs_file, out = tmp_path / "docs.jsonl", tmp_path / "index"
    _write_docs(docs_file, DOCS)
    sources = [parse_spec(f"jsonl:{docs_file}")]
    build(sources, out, FakeEmbedder())
    # What a format-1 store looked like: no documents table (checksums updated to match).
    with sqlite3.connect(out / "passages.sqlite") as db:
        db.execute("DROP TABLE documents")
    manifest = json.loads((out / "manifest.json").read_text())
    from index.store import checksums

    manifest["checksums"] = checksums(out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="rebuild it once"):
        update(sources, out, FakeEmbedder())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.jsonl", "index"]
