"""`aside feedback`: the operator reads readers' reports, blocks passages, exports and prunes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from server import create_app
from server.cli import main
from server.feedback import connect, encode_vector, sentence_hash
from tests.conftest import FakeEmbedder
from tests.server.helpers import ARTICLE, post

SENTENCES = ["The Golden Gate Bridge opened to traffic in May 1937 and spans the strait.",
             "Zanzibarian quokkas audited the bridge ledger in 1937."]
ELSEWHERE = {"id": "1", "doc_id": "factbook:zz", "passage_hash": "ab" * 16}


def _report(card, build, install, sentence, *, vector=True, send_sentence=False, **fields):
    body = {"verdict": "wrong-match", "reason": "outdated", "passage_id": card["id"],
            "doc_id": card["doc_id"], "passage_hash": card["passage_hash"], "build": build,
            "sentence_hash": sentence_hash(sentence), "install": install, **fields}
    if vector:
        body["vector"] = encode_vector(FakeEmbedder().encode([sentence])[0])
    if send_sentence:
        body["sentence"] = sentence
    return body


@pytest.fixture
def reported(tiny_store, tmp_path):
    """A service with three readers' reports on the article's first card, one on another card."""
    directory = tmp_path / "feedback"
    app = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": FakeEmbedder(),
                      "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": "",
                      "FEEDBACK_RATE_LIMIT_PER_ADDRESS": "", "FEEDBACK_DIR": str(directory)})
    client = app.test_client()
    answer = post(client, {"blocks": ARTICLE}).get_json()
    card, build = answer["sentences"][0]["cards"][0], answer["index"]["build_id"]
    bodies = [
        _report(card, build, "install-0001", SENTENCES[0]),
        _report(card, build, "install-0002", SENTENCES[1], send_sentence=True, reason=None),
        _report(card, build, "install-0003", SENTENCES[0], verdict="not-helpful", vector=False),
        _report(ELSEWHERE, build, "install-0001", SENTENCES[0], vector=False),
    ]
    ids = [client.post("/v1/feedback", json=b).get_json()["id"] for b in bodies]
    return directory, card, ids, client


def _run(runner, *args):
    return runner.invoke(main, ["feedback", *args], catch_exceptions=False)


def test_every_command_says_when_there_is_no_database(runner, tmp_path):
    missing = str(tmp_path / "none")
    for args in (["list"], ["show", "1"], ["block", "1"], ["unblock", "1"], ["blocks"], ["export"],
                 ["prune"]):
        result = _run(runner, *args, "--feedback-dir", missing)
        assert result.exit_code == 1, args
        assert "no feedback database in" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "none").exists(), "reading made nothing"


def test_list_puts_the_most_reported_card_first_with_counts_passage_and_source(runner, reported):
    directory, card, ids, _ = reported
    result = _run(runner, "list", "--feedback-dir", str(directory))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"#{ids[0]}  3 readers, 3 reports (wrong-match 2, not-helpful 1; "
                               "outdated 2, no reason 1)")
    assert lines[0].endswith("not blocked")
    assert lines[1].strip().startswith(card["text"][:40])
    assert f"{card['publisher']} — {card['title']}" in lines[2] and card["doc_id"] in lines[2]
    assert lines[3].startswith(f"#{ids[3]}  1 reader, 1 report")
    assert "(passage not found in the index)" in lines[4]
    as_json = json.loads(_run(runner, "list", "--json", "--limit", "1", "--feedback-dir",
                              str(directory)).output)
    assert len(as_json) == 1 and as_json[0]["id"] == ids[0] and as_json[0]["readers"] == 3
    assert as_json[0]["verdicts"] == {"wrong-match": 2, "not-helpful": 1}
    assert as_json[0]["snapshot"]["passage_text"] == card["text"] and as_json[0]["blocks"] == []


def test_show_lists_a_cards_reports_and_the_sentence_only_where_it_was_sent(runner, reported):
    directory, card, ids, _ = reported
    result = _run(runner, "show", str(ids[2]), "--feedback-dir", str(directory))  # any report of it
    assert result.exit_code == 0, result.output
    assert f"Card #{ids[0]}: {card['doc_id']} {card['passage_hash']}; 3 readers, 3 reports" in result.output
    assert result.output.count("\n  #") == 3
    assert f'"{SENTENCES[1]}"' in result.output, "the sentence the reader chose to send"
    assert SENTENCES[0] not in result.output, "a sentence that was not sent is not there to show"
    assert "sentence not sent" in result.output and "vector sent" in result.output
    assert "vector not sent" in result.output and "Blocks: none" in result.output
    missing = _run(runner, "show", "999", "--feedback-dir", str(directory))
    assert missing.exit_code == 1 and "no report 999" in missing.output


def _cards_for(client):
    return post(client, {"blocks": ARTICLE}).get_json()["sentences"]


def test_block_everywhere_stops_the_service_showing_the_card_and_unblock_brings_it_back(
        runner, reported):
    directory, card, ids, client = reported
    result = _run(runner, "block", str(ids[1]), "--note", "wrong bridge", "--feedback-dir",
                  str(directory))
    assert result.exit_code == 0, result.output
    assert f"Blocked card #{ids[0]} everywhere (block 1)." in result.output
    shown = [c["passage_hash"] for s in _cards_for(client) for c in s["cards"]]
    assert card["passage_hash"] not in shown, "the next answer leaves the passage out"
    again = _run(runner, "block", str(ids[0]), "--feedback-dir", str(directory))
    assert "already blocked everywhere" in again.output
    listed = _run(runner, "list", "--feedback-dir", str(directory)).output
    assert listed.splitlines()[0].endswith("blocked everywhere")
    blocks = _run(runner, "blocks", "--feedback-dir", str(directory)).output
    assert "block 1 (" in blocks and "every sentence — wrong bridge" in blocks
    assert "block 1 (" in _run(runner, "show", str(ids[0]), "--feedback-dir", str(directory)).output
    assert _run(runner, "unblock", "1", "--feedback-dir", str(directory)).output == "Removed block 1.\n"
    assert card["passage_hash"] in [c["passage_hash"] for s in _cards_for(client) for c in s["cards"]]
    gone = _run(runner, "unblock", "1", "--feedback-dir", str(directory))
    assert gone.exit_code == 1 and "no block 1" in gone.output
    assert _run(runner, "blocks", "--feedback-dir", str(directory)).output == "No blocks.\n"


def test_block_like_sentence_makes_one_block_per_reported_sentence_vector(runner, reported):
    directory, card, ids, _ = reported
    result = _run(runner, "block", str(ids[0]), "--like-sentence", "--radius", "0.9",
                  "--feedback-dir", str(directory))
    assert result.exit_code == 0, result.output
    assert "within cosine 0.9 of 2 reported sentence(s) (blocks 1, 2)" in result.output
    blocks = json.loads(_run(runner, "blocks", "--json", "--feedback-dir", str(directory)).output)
    assert [(b["like_sentence"], b["radius"]) for b in blocks] == [(True, 0.9), (True, 0.9)]
    again = _run(runner, "block", str(ids[0]), "--like-sentence", "--radius", "0.9",
                 "--feedback-dir", str(directory))
    assert "already blocked for these sentences" in again.output
    none = _run(runner, "block", str(ids[3]), "--like-sentence", "--feedback-dir", str(directory))
    assert none.exit_code == 1 and "sent a sentence vector" in none.output
    wrong = _run(runner, "block", str(ids[0]), "--radius", "0.5", "--feedback-dir", str(directory))
    assert wrong.exit_code == 2 and "--radius applies only with --like-sentence" in wrong.output


def test_export_writes_every_report_as_a_json_line(runner, reported, tmp_path):
    directory, card, ids, _ = reported
    lines = _run(runner, "export", "--feedback-dir", str(directory)).output.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ids
    assert rows[0]["passage_text"] == card["text"] and rows[1]["sentence"] == SENTENCES[1]
    assert len(base64.b64decode(rows[0]["vector"])) == FakeEmbedder().dim and rows[2]["vector"] is None
    out = tmp_path / "reports.jsonl"
    result = _run(runner, "export", "--out", str(out), "--feedback-dir", str(directory))
    assert result.output == f"Exported 4 reports to {out}.\n"
    assert out.read_text(encoding="utf-8").splitlines() == lines


def test_prune_deletes_old_reports_and_keeps_blocks(runner, reported):
    directory, card, ids, _ = reported
    _run(runner, "block", str(ids[0]), "--feedback-dir", str(directory))
    db = connect(directory)
    old = (datetime.now(UTC) - timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    db.execute("UPDATE reports SET received = ? WHERE id IN (?, ?)", (old, ids[0], ids[3]))
    db.close()
    kept = _run(runner, "prune", "--feedback-dir", str(directory))  # 180 days by default
    assert kept.output.startswith("Removed 0 reports received more than 180 days ago")
    result = _run(runner, "prune", "--older-than", "30", "--feedback-dir", str(directory))
    assert result.exit_code == 0
    assert result.output == "Removed 2 reports received more than 30 days ago; blocks are kept.\n"
    rows = [json.loads(line) for line in _run(runner, "export", "--feedback-dir", str(directory)).output
            .splitlines()]
    assert [r["id"] for r in rows] == ids[1:3]
    assert "block 1 (" in _run(runner, "blocks", "--feedback-dir", str(directory)).output
