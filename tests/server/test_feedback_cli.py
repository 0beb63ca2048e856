"""`aside feedback`: the operator reads readers' reports, blocks passages, exports and prunes."""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def _run(runner, *args, **kw):
    return runner.invoke(main, ["feedback", *args], catch_exceptions=False, **kw)


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


# A reader's text that would clear the screen, retitle the window, forge a line and reverse
# what follows it, were it printed as it is.
HOSTILE_DOC = "\x1b[2J\x1b]0;pwned\x07evil\x00\n#1  9 readers\u202eexe.txt\u2028"
HOSTILE_SENTENCE = "Quoted\x1b[31m red\r\nforged line\x9b\u2066."
_RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")  # not \n


def test_list_show_and_blocks_print_reader_text_with_its_controls_made_visible(runner, reported):
    directory, _, _, client = reported
    card = {"id": "2", "doc_id": HOSTILE_DOC, "passage_hash": "cd" * 16}
    body = _report(card, "build\x1b[8m", "install-0004", HOSTILE_SENTENCE, vector=False,
                   send_sentence=True)
    report_id = client.post("/v1/feedback", json=body).get_json()["id"]
    _run(runner, "block", str(report_id), "--note", "spam\x1b[1A\rreally", "--feedback-dir", str(directory))
    shown_doc = "\\x1b[2J\\x1b]0;pwned\\x07evil\\x00\\n#1  9 readers\\u202eexe.txt\\u2028"
    # color=True: CliRunner otherwise strips ANSI sequences itself, as click does off a terminal.
    listed = _run(runner, "list", "--feedback-dir", str(directory), color=True).output
    shown = _run(runner, "show", str(report_id), "--feedback-dir", str(directory), color=True).output
    blocks = _run(runner, "blocks", "--feedback-dir", str(directory), color=True).output
    for output in (listed, shown, blocks):
        assert not _RAW.search(output) and shown_doc in output
    assert '"Quoted\\x1b[31m red\\r\\nforged line\\x9b\\u2066."' in shown
    assert "build build\\x1b[8m;" in shown and "spam\\x1b[1A\\rreally" in blocks
    assert len(listed.splitlines()) == 9, "three lines a card, none forged"
    as_json = json.loads(_run(runner, "show", str(report_id), "--json", "--feedback-dir",
                              str(directory)).output)
    assert as_json["doc_id"] == HOSTILE_DOC and as_json["reports"][0]["sentence"] == HOSTILE_SENTENCE


def test_ids_and_counts_sqlite_cannot_hold_are_usage_errors(runner, reported):
    directory = str(reported[0])
    for args in (["show", str(2**63)], ["block", "99999999999999999999"],
                 ["unblock", "99999999999999999999"], ["list", "--limit", str(2**64)]):
        result = _run(runner, *args, "--feedback-dir", directory)
        assert result.exit_code == 2 and "is not in the range 1<=x<=9223372036854775807" in result.output
    largest = _run(runner, "show", str(2**63 - 1), "--feedback-dir", directory)
    assert largest.exit_code == 1 and f"no report {2**63 - 1}" in largest.output
    unblocked = _run(runner, "unblock", str(2**63 - 1), "--feedback-dir", directory)
    assert unblocked.exit_code == 1 and "no block" in unblocked.output


def test_block_refuses_a_radius_that_is_not_a_number(runner, reported):
    directory, _, ids, _ = reported
    for radius in ("nan", "NaN", "inf"):
        result = _run(runner, "block", str(ids[0]), "--like-sentence", "--radius", radius,
                      "--feedback-dir", str(directory))
        assert result.exit_code == 2 and "Invalid value for '--radius'" in result.output, radius
    assert _run(runner, "blocks", "--feedback-dir", str(directory)).output == "No blocks.\n"


def test_prune_refuses_a_cutoff_before_any_report_could_be(runner, reported):
    directory = str(reported[0])
    for days in ("800000", "99999999999999999999", "400000"):  # 400000: a three-digit year
        result = _run(runner, "prune", "--older-than", days, "--feedback-dir", directory)
        assert result.exit_code == 2 and "--older-than" in result.output, days
    assert len(_run(runner, "export", "--feedback-dir", directory).output.splitlines()) == 4


def test_export_says_when_it_cannot_write_its_file(runner, reported, tmp_path):
    directory = str(reported[0])
    places = [tmp_path / "missing" / "x.jsonl"]
    if Path("/proc/self").is_dir():  # Linux: a file system that takes no new files
        places.append(Path("/proc/nope"))
    for out in places:
        result = _run(runner, "export", "--out", str(out), "--feedback-dir", directory)
        assert result.exit_code == 1, out
        assert f"cannot write the export to {out}: " in result.output and not out.exists()


def test_export_refuses_to_write_over_the_feedback_database(runner, reported, tmp_path):
    directory = reported[0]
    (tmp_path / "link.jsonl").symlink_to(directory / "feedback.sqlite3")
    before = _run(runner, "export", "--feedback-dir", str(directory)).output
    for out in (directory / "feedback.sqlite3", directory / "feedback.sqlite3-wal",
                directory / "feedback.sqlite3-shm", directory / ".." / "feedback" / "feedback.sqlite3",
                tmp_path / "link.jsonl"):
        result = _run(runner, "export", "--out", str(out), "--feedback-dir", str(directory))
        assert result.exit_code == 2 and "that is the feedback database" in result.output, out
    assert _run(runner, "export", "--feedback-dir", str(directory)).output == before
    assert len(before.splitlines()) == 4


def test_a_failed_export_leaves_the_file_as_it_was(runner, reported, tmp_path, monkeypatch):
    directory = str(reported[0])
    out = tmp_path / "reports.jsonl"
    out.write_text("the last export\n", encoding="utf-8")

    def failing(db):
        yield '{"id": 1}'
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("server.feedback.cli.export_lines", failing)
    result = _run(runner, "export", "--out", str(out), "--feedback-dir", directory)
    assert result.exit_code == 1 and "disk I/O error" in result.output
    assert out.read_text(encoding="utf-8") == "the last export\n"
    assert sorted(os.listdir(tmp_path)) == ["feedback", "reports.jsonl"], "no partial file left"
    monkeypatch.undo()
    done = _run(runner, "export", "--out", str(out), "--feedback-dir", directory)
    assert done.exit_code == 0 and len(out.read_text(encoding="utf-8").splitlines()) == 4
    if Path("/dev/null").exists():  # a device is written, not replaced
        assert _run(runner, "export", "--out", "/dev/null", "--feedback-dir", directory).exit_code == 0
