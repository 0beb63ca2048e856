"""The operator's blocks: a blocked passage is on no later card, for every sentence or only
for sentences like the reported one; blocks hold across updates and rebuilds, and the
service follows them without a restart."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from index.records import passage_hash
from server import create_app
from server.cli import main
from server.feedback import DB_FILE, connect, decode_vector, sentence_hash, to_codes
from server.feedback.blocks import (
    DEFAULT_RADIUS,
    Block,
    Blocklist,
    BlockWatcher,
    add_block,
    list_blocks,
    remove_block,
)
from tests.conftest import FakeEmbedder
from tests.server.helpers import post

BRIDGE = ("The Golden Gate Bridge opened to traffic in May 1937 and spans the strait at the "
          "entrance to San Francisco Bay.")
DOCS = [
    {"id": "bridge", "text": BRIDGE, "title": "Golden Gate Bridge", "publisher": "Example Almanac"},
    {"id": "bridge-history", "title": "Bridge history", "publisher": "Example Gazette",
     "text": "Traffic first crossed the Golden Gate Bridge in May 1937, when the bridge opened."},
    {"id": "fed", "title": "Fed raises rates", "publisher": "Example Gazette",
     "text": "The Federal Reserve raised its benchmark interest rate by a quarter point in July 2023."},
]
OPENED = "The Golden Gate Bridge opened to traffic in May 1937."
# The same sentence as another site's copy has it; and another sentence the bridge passage fits.
OPENED_COPY = "The Golden Gate Bridge opened to traffic in May of 1937."
FERRIES = "Ferries to San Francisco Bay cross the strait at its entrance."
RATES = "The Federal Reserve raised interest rates in July 2023."
ARTICLE = f"{OPENED}\n\n{RATES}"
BRIDGE_DOC, HISTORY_DOC, FED_DOC = "jsonl:desk:bridge", "jsonl:desk:bridge-history", "jsonl:desk:fed"


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _index(runner: CliRunner, command: str, docs: Path, out: Path) -> None:
    args = ["build", "--out", str(out)] if command == "build" else ["update", str(out)]
    result = runner.invoke(main, ["index", *args, "--source", f"jsonl:{docs}"],
                           obj={"embedder": FakeEmbedder()}, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture
def desk(tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An index of the three documents (built with the CLI) and an empty feedback directory."""
    monkeypatch.setenv("ASIDE_THRESHOLD", "0.3")
    docs = _write(tmp_path / "desk.jsonl", DOCS)
    _index(runner, "build", docs, tmp_path / "index")
    return {"docs": docs, "index": tmp_path / "index", "feedback": tmp_path / "feedback"}


def _context(runner: CliRunner, desk: dict[str, Path], text: str) -> dict[str, Any]:
    result = runner.invoke(main, ["context", "-", "--json", "--index", str(desk["index"]),
                                  "--feedback-dir", str(desk["feedback"])],
                           input=text, obj={"embedder": FakeEmbedder()}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer


def _docs_by_sentence(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {s["exact"]: [c["doc_id"] for c in s["cards"]] for s in answer["sentences"]}


def _card(answer: dict[str, Any], doc_id: str) -> dict[str, Any]:
    (card,) = [c for s in answer["sentences"] for c in s["cards"] if c["doc_id"] == doc_id]
    return card


def _block(feedback: Path, **kw: Any) -> int:
    db = connect(feedback)
    try:
        return add_block(db, **kw)
    finally:
        db.close()


def test_blocks_are_kept_listed_and_removed_and_bad_ones_refused(tmp_path):
    db = connect(tmp_path)
    vector = np.zeros(8, dtype=np.float32)
    vector[:2] = 3.0, 4.0
    everywhere = add_block(db, doc_id="d1", passage_hash="A" * 32, note="wrong person")
    near = add_block(db, doc_id="d2", passage_hash="b" * 32, vector=vector)
    from_report = add_block(db, doc_id="d3", passage_hash="c" * 32, vector=to_codes(vector / 5),
                            radius=0.7)
    first, second, third = list_blocks(db)
    assert (first.id, first.key, first.vector, first.radius, first.note) == (
        everywhere, ("d1", "a" * 32), None, None, "wrong person")
    # A vector is kept as a unit vector, with the default radius unless one is given.
    assert second.id == near and second.radius == DEFAULT_RADIUS and second.vector is not None
    assert np.allclose(second.vector[:2], [0.6, 0.8], atol=0.01)
    assert third.id == from_report and third.radius == 0.7
    assert remove_block(db, near) is True and remove_block(db, near) is False
    assert [b.id for b in list_blocks(db)] == [everywhere, from_report]
    for bad, message in [({"passage_hash": "xyz"}, "32 hex digits"),
                         ({"radius": 0.8}, "needs a sentence vector"),
                         ({"vector": vector, "radius": 0.0}, "not a cosine"),
                         ({"vector": vector, "radius": 1.5}, "not a cosine"),
                         ({"vector": np.zeros(8, dtype=np.float32)}, "zero")]:
        with pytest.raises(ValueError, match=message):
            add_block(db, **{"doc_id": "d4", "passage_hash": "d" * 32, **bad})
    with pytest.raises(ValueError, match="document id"):
        add_block(db, doc_id="", passage_hash="d" * 32)
    assert len(list_blocks(db)) == 2, "a refused block is not kept"


def test_a_blocklist_blocks_a_passage_for_every_sentence_or_near_one():
    here = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    close = np.array([0.95, np.sqrt(1 - 0.95**2), 0.0], dtype=np.float32)
    far = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    blocklist = Blocklist([
        Block(1, "", "d1", "h1", None, None, ""),
        Block(2, "", "d2", "h2", here, 0.9, ""),
        Block(3, "", "d2", "h2", far, 0.99, ""),
        Block(4, "", "d3", "h3", np.ones(5, dtype=np.float32) / np.sqrt(5), 0.5, ""),  # other model
    ], dim=3)
    assert len(blocklist) == 3, "a block of another model's dimension is left out"
    assert blocklist.blocks("d1", "h1") and blocklist.blocks("d1", "h1", far)
    assert not blocklist.blocks("d1", "h2") and not blocklist.blocks("d9", "h1")
    assert blocklist.blocks("d2", "h2", close) and blocklist.blocks("d2", "h2", far)
    assert not blocklist.blocks("d2", "h2", np.array([0.0, 0.0, 1.0], dtype=np.float32))
    assert not blocklist.blocks("d2", "h2"), "without the sentence's vector a near block cannot hold"


def test_a_global_block_removes_the_card_and_the_next_best_takes_its_place(runner, desk):
    before = _context(runner, desk, ARTICLE)
    assert _docs_by_sentence(before) == {OPENED: [BRIDGE_DOC, HISTORY_DOC], RATES: [FED_DOC]}
    bridge = _card(before, BRIDGE_DOC)
    _block(desk["feedback"], doc_id=bridge["doc_id"], passage_hash=bridge["passage_hash"])
    after = _context(runner, desk, f"{ARTICLE}\n\n{FERRIES}")
    assert _docs_by_sentence(after) == {OPENED: [HISTORY_DOC], RATES: [FED_DOC]}, \
        "the other sentences keep their cards; the ferries sentence had only the blocked one"


def test_a_radius_block_holds_only_for_sentences_like_the_reported_one(runner, desk):
    reported = _context(runner, desk, OPENED)
    (sentence,) = reported["sentences"]
    bridge = _card(reported, BRIDGE_DOC)
    assert _docs_by_sentence(_context(runner, desk, FERRIES)) == {FERRIES: [BRIDGE_DOC]}
    # The vector the answer carried, as a reader's report sends it back.
    _block(desk["feedback"], doc_id=BRIDGE_DOC, passage_hash=bridge["passage_hash"],
           vector=decode_vector(sentence["vector"], FakeEmbedder().dim))
    assert _docs_by_sentence(_context(runner, desk, OPENED)) == {OPENED: [HISTORY_DOC]}
    assert _docs_by_sentence(_context(runner, desk, OPENED_COPY)) == {OPENED_COPY: [HISTORY_DOC]}
    assert _docs_by_sentence(_context(runner, desk, FERRIES)) == {FERRIES: [BRIDGE_DOC]}, \
        "a sentence unlike the reported one still gets the passage"


def test_blocks_hold_across_an_update_and_a_rebuild(runner, desk):
    before = _context(runner, desk, ARTICLE)
    bridge = _card(before, BRIDGE_DOC)
    _block(desk["feedback"], doc_id=BRIDGE_DOC, passage_hash=bridge["passage_hash"])
    expected = {OPENED: [HISTORY_DOC], RATES: [FED_DOC]}
    # An update: a new document first, and the Fed's passage changed (so embedded again).
    fed = {**DOCS[2], "text": DOCS[2]["text"] + " It was the eleventh increase since March 2022."}
    tunnel = {"id": "tunnel", "title": "Tunnels", "text": "The Channel Tunnel opened in May 1994."}
    _write(desk["docs"], [tunnel, *DOCS[:2], fed])
    _index(runner, "update", desk["docs"], desk["index"])
    updated = _context(runner, desk, ARTICLE)
    assert _docs_by_sentence(updated) == expected
    assert _card(updated, HISTORY_DOC)["id"] != _card(before, HISTORY_DOC)["id"], \
        "the passages were numbered afresh"
    # A rebuild, the documents in another order: numbered afresh again.
    _write(desk["docs"], [fed, DOCS[1], tunnel, DOCS[0]])
    _index(runner, "build", desk["docs"], desk["index"])
    rebuilt = _context(runner, desk, ARTICLE)
    assert rebuilt["index"]["build_id"] != updated["index"]["build_id"]
    assert _card(rebuilt, HISTORY_DOC)["id"] != _card(updated, HISTORY_DOC)["id"]
    assert _docs_by_sentence(rebuilt) == expected


def _app(index: Path, feedback: Path | str, embedder: FakeEmbedder):
    return create_app({"TESTING": True, "INDEX_DIR": str(index), "EMBEDDER": embedder,
                       "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": "",
                       "FEEDBACK_DIR": str(feedback)})


def _answer(client, *sentences: str) -> dict[str, Any]:
    blocks = [{"id": f"p{n}", "text": s} for n, s in enumerate(sentences, start=1)]
    response = post(client, {"blocks": blocks})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_the_service_follows_blocks_and_unblocks_without_a_restart(desk):
    client = _app(desk["index"], desk["feedback"], FakeEmbedder()).test_client()
    first = _answer(client, OPENED, RATES)
    assert _docs_by_sentence(first) == {OPENED: [BRIDGE_DOC, HISTORY_DOC], RATES: [FED_DOC]}
    bridge = _card(first, BRIDGE_DOC)
    # The operator blocks the passage with `aside feedback block`: another connection.
    block_id = _block(desk["feedback"], doc_id=BRIDGE_DOC, passage_hash=bridge["passage_hash"])
    # The same sentences again: their results come from the cache, and the block still holds.
    assert _docs_by_sentence(_answer(client, OPENED, RATES)) == {OPENED: [HISTORY_DOC],
                                                                 RATES: [FED_DOC]}
    db = connect(desk["feedback"])
    assert remove_block(db, block_id)
    db.close()
    assert _docs_by_sentence(_answer(client, OPENED, RATES)) == _docs_by_sentence(first)


def test_a_database_that_cannot_be_read_keeps_the_blocks_read_before(tmp_path, caplog):
    watcher = BlockWatcher(tmp_path, dim=3)
    assert len(watcher.current()) == 0, "no database: no blocks"
    _block(tmp_path, doc_id="d1", passage_hash="a" * 32)
    assert watcher.current().blocks("d1", "a" * 32)
    (tmp_path / DB_FILE).unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / (DB_FILE + suffix)).unlink(missing_ok=True)
    (tmp_path / DB_FILE).write_bytes(b"not a database" * 100)
    with caplog.at_level(logging.ERROR, logger="server.feedback.blocks"):
        assert watcher.current().blocks("d1", "a" * 32)
        assert watcher.current().blocks("d1", "a" * 32)
    assert len([r for r in caplog.records if "cannot read the blocks" in r.message]) == 1, \
        "logged once, not at every request"
    (tmp_path / DB_FILE).unlink()
    assert len(watcher.current()) == 0, "the database removed: no blocks"


def test_each_sentence_carries_its_hash_and_vector_when_feedback_is_on(desk):
    embedder = FakeEmbedder()
    client = _app(desk["index"], desk["feedback"], embedder).test_client()
    first = _answer(client, OPENED, RATES)
    for sentence in first["sentences"]:
        assert sentence["sentence_hash"] == sentence_hash(sentence["exact"])
        vector = decode_vector(sentence["vector"], embedder.dim)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert float(vector @ embedder.encode([sentence["exact"]])[0]) > 0.99
    again = _answer(client, OPENED, RATES)
    assert [s["vector"] for s in again["sentences"]] == [s["vector"] for s in first["sentences"]], \
        "the same vector when the sentence comes from the cache"
    off = _answer(_app(desk["index"], "", embedder).test_client(), OPENED, RATES)
    assert off["sentences"] and all(s["sentence_hash"] is None and s["vector"] is None
                                    for s in off["sentences"])


def _news_dev(folder: Path) -> Path:
    """A judged dev set of one article: the bridge card helps its sentence."""
    (folder / "articles").mkdir(parents=True)
    (folder / "articles" / "bridges.txt").write_text(
        f"Bridges\n2024-01-01\nhttps://news.example/bridges\n\n{OPENED}\n\n{RATES}\n", encoding="utf-8")
    judged = [(OPENED, "Golden Gate Bridge", BRIDGE, "helpful"),
              (OPENED, "Bridge history", DOCS[1]["text"], "related"),
              (RATES, "Fed raises rates", DOCS[2]["text"], "helpful")]
    _write(folder / "judgments.jsonl", [
        {"article": "bridges", "sentence": s, "card_title": t, "card_text": x, "label": label}
        for s, t, x, label in judged])
    return folder


def test_eval_news_honours_blocks_only_when_asked(runner, desk, tmp_path):
    data = _news_dev(tmp_path / "news_dev")

    def evaluate(*extra: str) -> Any:
        return runner.invoke(main, ["eval", "news", "--data-dir", str(data), "--index",
                                    str(desk["index"]), "--no-rescore", "--threshold", "0.3",
                                    "--json", *extra], obj={"embedder": FakeEmbedder()})

    def row(result: Any) -> dict[str, Any]:
        assert result.exit_code == 0, result.output
        (found,) = [r for r in json.loads(result.output)["rows"] if r["threshold"] == 0.3]
        return {k: found[k] for k in ("shown", "helpful", "related", "sentences_helped")}

    assert row(evaluate()) == {"shown": 3, "helpful": 2, "related": 1, "sentences_helped": 2}
    _block(desk["feedback"], doc_id=BRIDGE_DOC, passage_hash=passage_hash(BRIDGE))
    assert row(evaluate()) == {"shown": 3, "helpful": 2, "related": 1, "sentences_helped": 2}, \
        "without --blocks the figures are the published ones"
    assert row(evaluate("--blocks", str(desk["feedback"]))) == {
        "shown": 2, "helpful": 1, "related": 1, "sentences_helped": 1}
    missing = evaluate("--blocks", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no feedback database" in missing.output


def test_context_says_when_the_blocks_cannot_be_read(runner, desk):
    desk["feedback"].mkdir()
    (desk["feedback"] / DB_FILE).write_bytes(b"not a database" * 100)
    result = runner.invoke(main, ["context", "-", "--index", str(desk["index"]),
                                  "--feedback-dir", str(desk["feedback"])],
                           input=ARTICLE, obj={"embedder": FakeEmbedder()})
    assert result.exit_code == 1 and "cannot read the blocks in" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(sqlite3.DatabaseError):
        connect(desk["feedback"], create=False).execute("SELECT 1 FROM blocks")


@pytest.mark.model
def test_the_default_radius_takes_in_copies_of_a_sentence_and_not_other_sentences(model):
    reported = "The president said the border would stay closed until the crisis ends."
    copies = ["The president said on Tuesday the border would stay closed until the crisis ends.",
              "The president told reporters the border would stay closed until the crisis ends."]
    others = ["Trade across the border fell by a third during the crisis.",
              "The crisis began when the president closed the embassy."]
    vectors = model.encode([reported, *copies, *others])
    cosines = vectors[1:] @ vectors[0]
    assert (cosines[:2] >= DEFAULT_RADIUS).all() and (cosines[2:] < DEFAULT_RADIUS).all(), cosines
