"""POST /v1/feedback: a reader's report on a card, stored once, never with page text unless sent;
DELETE /v1/feedback/<id>: its reader withdraws it."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from server import create_app
from server.auth import hash_key
from server.feedback import DB_FILE, connect, encode_vector, sentence_hash
from server.feedback import reports as reports_module
from tests.conftest import FakeEmbedder
from tests.faults.test_faults import ROOT, _free_port
from tests.server.helpers import ARTICLE, assert_error, post

KEY = "aside_feedback-key"
SENTENCE = "Zanzibarian quokkas audited the Golden Gate Bridge ledger in 1937."


def _app(tiny_store, feedback_dir, **config):
    return create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": FakeEmbedder(),
                       "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": "",
                       "FEEDBACK_RATE_LIMIT_PER_ADDRESS": "", "FEEDBACK_DIR": str(feedback_dir),
                       **config})


def _card(client, **kw):
    """The first card of the test article, and the build it came from."""
    answer = post(client, {"blocks": ARTICLE}, **kw).get_json()
    return answer["sentences"][0]["cards"][0], answer["index"]["build_id"]


def _report(card, build, **fields):
    """A report on card; a ``sentence`` given is the one hashed (the service checks)."""
    hashed = fields.get("sentence") if isinstance(fields.get("sentence"), str) else SENTENCE
    return {"verdict": "wrong-match", "reason": "wrong-person-or-place", "passage_id": card["id"],
            "doc_id": card["doc_id"], "passage_hash": card["passage_hash"], "build": build,
            "sentence_hash": sentence_hash(hashed), "install": "install-aaaa",
            "reported": "2025-03-01T12:00:00.000Z", **fields}


def _send(client, body, **kw):
    return client.post("/v1/feedback", data=json.dumps(body), content_type="application/json", **kw)


def _rows(feedback_dir, columns="*"):
    db = sqlite3.connect(feedback_dir / DB_FILE)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(f"SELECT {columns} FROM reports ORDER BY id")]
    finally:
        db.close()


def _stored_bytes(feedback_dir):
    """Every byte the database keeps on disk: the file and its write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted(feedback_dir.iterdir()) if p.is_file())


@pytest.fixture
def feedback_dir(tmp_path):
    return tmp_path / "feedback"


def test_a_report_is_stored_with_the_indexed_passage_and_a_repeat_counts_once(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    first = _send(client, _report(card, build))
    assert first.status_code == 201
    body = first.get_json()
    assert body["ok"] is True and body["duplicate"] is False and isinstance(body["id"], int)
    assert body["received"].endswith("Z") and datetime.fromisoformat(body["received"])
    # The same reader, card and sentence again (another verdict even): the first report's id.
    again = _send(client, _report(card, build, verdict="not-helpful"))
    assert again.status_code == 200
    assert again.get_json() == {**body, "duplicate": True}
    other = _send(client, _report(card, build, install="install-bbbb"))
    assert other.status_code == 201 and other.get_json()["id"] != body["id"]
    rows = _rows(feedback_dir)
    assert len(rows) == 2 and {r["verdict"] for r in rows} == {"wrong-match"}
    # The passage as the index held it, so the operator can read it after a rebuild.
    assert rows[0]["passage_text"] == card["text"]
    assert (rows[0]["title"], rows[0]["publisher"], rows[0]["url"]) == (
        card["title"], card["publisher"], card["url"])
    assert rows[0]["reported"] == "2025-03-01T12:00:00.000Z" and rows[0]["build"] == build
    assert oct(feedback_dir.stat().st_mode & 0o777) == "0o700", "the directory is the operator's alone"


def test_the_passage_is_found_by_document_and_text_after_a_rebuild_and_left_empty_when_gone(
        tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, _ = _card(client)
    # A report from an answer of an older build: the store id means nothing in this one.
    assert _send(client, _report(card, "20240101T000000Z-old", passage_id="99999")).status_code == 201
    gone = _report(card, "20240101T000000Z-old", passage_hash="0" * 32, install="install-cccc")
    assert _send(client, gone).status_code == 201, "a passage no longer indexed is still reported"
    kept, missing = _rows(feedback_dir)
    assert kept["passage_text"] == card["text"]
    assert missing["passage_text"] is None and missing["title"] is None and missing["url"] is None


def test_no_page_text_is_stored_unless_the_reader_sends_the_sentence(tiny_store, feedback_dir):
    embedder = FakeEmbedder()
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    vector = encode_vector(embedder.encode([SENTENCE])[0])
    assert _send(client, _report(card, build, vector=vector)).status_code == 201
    stored = _stored_bytes(feedback_dir)
    assert b"quokkas" not in stored and b"Zanzibarian" not in stored
    assert b"Golden Gate Bridge opened" in stored, "the passage (index text) is kept"
    row = _rows(feedback_dir)[0]
    assert row["sentence"] is None and len(row["vector"]) == embedder.dim
    sent = _report(card, build, install="install-dddd", sentence=SENTENCE)
    assert _send(client, sent).status_code == 201
    assert b"Zanzibarian quokkas" in _stored_bytes(feedback_dir)
    assert _rows(feedback_dir)[1]["sentence"] == SENTENCE


def _bad(card, build):
    report = _report(card, build)
    without = dict(report)
    del without["doc_id"]
    return [
        ("not an object", ["wrong-match"]),
        ("missing field", without),
        ("unknown field", {**report, "page_url": "https://news.example/a"}),
        ("verdict", {**report, "verdict": "bad"}),
        ("reason", {**report, "reason": "boring"}),
        ("passage hash upper case", {**report, "passage_hash": card["passage_hash"].upper()}),
        ("passage hash short", {**report, "passage_hash": "abc"}),
        ("sentence hash", {**report, "sentence_hash": "g" * 64}),
        ("install short", {**report, "install": "abc"}),
        ("install characters", {**report, "install": "install id!"}),
        ("reported", {**report, "reported": "yesterday"}),
        ("reported impossible", {**report, "reported": "2025-13-45T99:00:00Z"}),
        ("vector not base64", {**report, "vector": "not base64!"}),
        ("vector dimensions", {**report, "vector": encode_vector(FakeEmbedder(dim=8).encode(["x"])[0])}),
        ("vector zero", {**report, "vector": "AAAA" * 64}),  # 192 zero bytes
        ("sentence too long", {**report, "sentence": "x" * 1001}),
        ("sentence not text", {**report, "sentence": 7}),
        ("doc id empty", {**report, "doc_id": ""}),
        ("doc id too long", {**report, "doc_id": "d" * 2049}),
        ("sentence not the hashed one", {**report, "sentence": "I never wrote this."}),
        ("lone surrogate", {**report, "sentence": "caf\ud83c"}),
    ]


def test_every_malformed_report_gets_400_naming_what_is_wrong(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    for case, body in _bad(card, build):
        response = _send(client, body)
        assert_error(response, 400, "bad_request")
        assert response.get_json()["error"]["message"], case
    assert_error(client.post("/v1/feedback", data=b'{"verdict": ', content_type="application/json"),
                 400, "bad_request")
    assert not (feedback_dir / DB_FILE).exists(), "nothing was stored (the database is not even made)"


def test_size_content_type_method_and_feedback_off(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir, MAX_BODY_BYTES=2000).test_client()
    card, build = _card(client)
    big = _report(card, build, sentence="x" * 900, doc_id="d" * 500, vector="A" * 800)
    assert_error(_send(client, big), 413, "payload_too_large")
    assert_error(client.post("/v1/feedback", data=json.dumps(_report(card, build)),
                             content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(client.get("/v1/feedback"), 405, "method_not_allowed")
    off = _app(tiny_store, "").test_client()
    response = _send(off, _report(card, build))
    assert_error(response, 404, "feedback_disabled")
    assert "does not take feedback" in response.get_json()["error"]["message"]
    assert post(off, {"blocks": ARTICLE}).status_code == 200, "the context API is unaffected"


def test_with_keys_configured_a_report_needs_a_valid_key(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir, API_KEYS=hash_key(KEY)).test_client()
    card, build = _card(client, headers={"X-API-Key": KEY})
    assert_error(_send(client, _report(card, build)), 401, "unauthorized")
    assert_error(_send(client, _report(card, build), headers={"X-API-Key": "aside_wrong"}),
                 401, "unauthorized")
    assert _send(client, _report(card, build), headers={"X-API-Key": KEY}).status_code == 201


def test_reports_have_their_own_rate_limit_apart_from_the_context_calls(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir, RATE_LIMIT_PER_ADDRESS="3/minute",
                  FEEDBACK_RATE_LIMIT_PER_ADDRESS="2/minute").test_client()
    card, build = _card(client)  # one context call of three
    for n in range(2):
        assert _send(client, _report(card, build, install=f"install-{n:04d}")).status_code == 201
    limited = _send(client, _report(card, build, install="install-9999"))
    assert_error(limited, 429, "too_many_requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Reports used none of the reading allowance, and reading uses none of theirs.
    assert [post(client, {"blocks": ARTICLE}).status_code for _ in range(3)] == [200, 200, 429]
    elsewhere = _send(client, _report(card, build, install="install-8888"),
                      environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert elsewhere.status_code == 201, "another address has its own allowance"


def test_reports_per_key_have_their_own_limit(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir, API_KEYS=hash_key(KEY), RATE_LIMIT_PER_KEY="3/minute",
                  FEEDBACK_RATE_LIMIT_PER_KEY="1/minute").test_client()
    headers = {"X-API-Key": KEY}
    card, build = _card(client, headers=headers)
    assert _send(client, _report(card, build), headers=headers).status_code == 201
    assert_error(_send(client, _report(card, build, install="install-eeee"), headers=headers),
                 429, "too_many_requests")
    assert post(client, {"blocks": ARTICLE}, headers=headers).status_code == 200


def _limited_connect(**pragmas):
    def limited(directory, *, create=True):
        db = connect(directory, create=create)
        for name, value in pragmas.items():
            db.execute(f"PRAGMA {name}={value}")
        return db
    return limited


def test_a_full_disk_answers_503_and_loses_no_acknowledged_report(tiny_store, feedback_dir, monkeypatch):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    assert _send(client, _report(card, build, install="install-0000")).status_code == 201
    db = connect(feedback_dir)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    # SQLite's own ceiling on the file's size stands in for a full disk (SQLITE_FULL).
    monkeypatch.setattr(reports_module, "connect", _limited_connect(max_page_count=pages + 1))
    client = _app(tiny_store, feedback_dir).test_client()
    answers = {}
    for n in range(1, 40):
        response = _send(client, _report(card, build, install=f"install-{n:04d}", sentence="x" * 1000))
        answers[f"install-{n:04d}"] = response
        if response.status_code == 503:
            break
    failed = answers.popitem()[1]
    assert_error(failed, 503, "feedback_unavailable")
    assert failed.headers["Retry-After"] == "60"
    assert answers and all(r.status_code == 201 for r in answers.values())
    stored = {r["install"]: r["id"] for r in _rows(feedback_dir, "id, install")}
    assert stored == {"install-0000": 1, **{k: r.get_json()["id"] for k, r in answers.items()}}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert ('aside_feedback_reports_total{outcome="failed",reason="wrong-person-or-place",'
            'verdict="wrong-match"} 1.0') in metrics
    # Space again: the same report is taken, and nothing before it went missing.
    monkeypatch.setattr(reports_module, "connect", connect)
    client = _app(tiny_store, feedback_dir).test_client()
    retry = _send(client, _report(card, build, install=f"install-{len(answers) + 1:04d}"))
    assert retry.status_code == 201
    assert len(_rows(feedback_dir, "id")) == len(stored) + 1


def test_a_read_only_or_locked_database_and_a_directory_that_cannot_be_made_answer_503(
        tiny_store, feedback_dir, tmp_path, monkeypatch):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    assert _send(client, _report(card, build)).status_code == 201
    monkeypatch.setattr(reports_module, "connect", _limited_connect(query_only=1))  # read-only
    read_only = _app(tiny_store, feedback_dir).test_client()
    assert_error(_send(read_only, _report(card, build, install="install-ro00")), 503,
                 "feedback_unavailable")
    monkeypatch.setattr(reports_module, "connect", _limited_connect(busy_timeout=50))
    holder = connect(feedback_dir)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
    try:
        assert_error(_send(_app(tiny_store, feedback_dir).test_client(),
                           _report(card, build, install="install-lock")), 503, "feedback_unavailable")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    monkeypatch.undo()
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    response = _send(_app(tiny_store, a_file / "feedback").test_client(), _report(card, build))
    assert_error(response, 503, "feedback_unavailable")
    assert len(_rows(feedback_dir)) == 1


def test_metrics_count_reports_by_verdict_reason_and_outcome_without_text(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    _send(client, _report(card, build, sentence=SENTENCE))
    _send(client, _report(card, build, sentence=SENTENCE))
    _send(client, _report(card, build, install="install-ffff", verdict="not-helpful", reason=None))
    text = client.get("/metrics").get_data(as_text=True)
    assert ('aside_feedback_reports_total{outcome="stored",reason="wrong-person-or-place",'
            'verdict="wrong-match"} 1.0') in text
    assert ('aside_feedback_reports_total{outcome="duplicate",reason="wrong-person-or-place",'
            'verdict="wrong-match"} 1.0') in text
    assert 'aside_feedback_reports_total{outcome="stored",reason="none",verdict="not-helpful"} 1.0' in text
    for secret in ("quokkas", sentence_hash(SENTENCE), "install-aaaa", card["passage_hash"]):
        assert secret not in text


def test_the_access_log_holds_no_sentence_hash_or_install_id(tiny_store, feedback_dir, caplog):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    vector = encode_vector(FakeEmbedder().encode([SENTENCE])[0])
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        assert _send(client, _report(card, build, sentence=SENTENCE, vector=vector)).status_code == 201
        _send(client, _report(card, build, sentence=SENTENCE, install="bad id"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aside.access"]
    assert [(x["route"], x["status"]) for x in lines] == [("/v1/feedback", 201), ("/v1/feedback", 400)]
    for secret in ("quokkas", sentence_hash(SENTENCE), "install-aaaa", "bad id", vector[:40],
                   card["passage_hash"], card["doc_id"]):
        assert secret not in caplog.text, secret


def test_the_service_prunes_expired_reports_itself_at_most_once_a_day(tiny_store, feedback_dir):
    old = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    db = connect(feedback_dir)

    def insert_old(install):
        db.execute("INSERT INTO reports (received, verdict, passage_id, doc_id, passage_hash, build, "
                   "sentence_hash, install) VALUES (?, 'not-helpful', '1', 'd', ?, 'b', ?, ?)",
                   (old, "0" * 32, "0" * 64, install))

    insert_old("install-old1")
    client = _app(tiny_store, feedback_dir, FEEDBACK_RETENTION_DAYS=180).test_client()
    card, build = _card(client)
    assert _send(client, _report(card, build)).status_code == 201
    assert [r["install"] for r in _rows(feedback_dir)] == ["install-aaaa"], "past 180 days: deleted"
    insert_old("install-old2")
    assert _send(client, _report(card, build, install="install-bbbb")).status_code == 201
    assert "install-old2" in [r["install"] for r in _rows(feedback_dir)], "once a day, not per report"
    db.close()


# DELETE /v1/feedback/<id>: the reader's Undo.
def _withdraw(client, report_id, install="install-aaaa", **kw):
    return client.delete(f"/v1/feedback/{report_id}", data=json.dumps({"install": install}),
                         content_type="application/json", **kw)


def _received_ago(feedback_dir, report_id, delta):
    db = connect(feedback_dir)
    db.execute("UPDATE reports SET received = ? WHERE id = ?",
               (reports_module.utc_stamp(datetime.now(UTC) - delta), report_id))
    db.close()


def test_the_reader_who_sent_a_report_withdraws_it_and_a_repeat_is_the_same_one(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    report_id = _send(client, _report(card, build)).get_json()["id"]
    other = _send(client, _report(card, build, install="install-bbbb")).get_json()["id"]
    response = _withdraw(client, report_id)
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "id": report_id, "withdrawn": True}
    assert [r["id"] for r in _rows(feedback_dir, "id")] == [other], "only that report is gone"
    assert_error(_withdraw(client, report_id), 404, "not_found")
    # A repeat answers the first report's id: withdrawing it takes back the reader's one count,
    # and the same reader may report the card again afterwards.
    first = _send(client, _report(card, build, install="install-cccc")).get_json()["id"]
    repeat = _send(client, _report(card, build, install="install-cccc"))
    assert repeat.get_json()["duplicate"] is True and repeat.get_json()["id"] == first
    assert _withdraw(client, first, install="install-cccc").status_code == 200
    assert [r["id"] for r in _rows(feedback_dir, "id")] == [other]
    assert _send(client, _report(card, build, install="install-cccc")).status_code == 201


def test_another_readers_report_and_an_unknown_id_get_the_same_404(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    report_id = _send(client, _report(card, build)).get_json()["id"]
    wrong = _withdraw(client, report_id, install="install-zzzz")
    assert_error(wrong, 404, "not_found")
    assert len(_rows(feedback_dir)) == 1, "another install withdraws nothing"
    assert _withdraw(client, report_id).status_code == 200
    unknown = _withdraw(client, report_id)  # the same id, now no report at all
    assert unknown.get_json() == wrong.get_json(), "ids cannot be probed"
    for missing in (0, 999_999, 2**63, 10**40):
        assert_error(_withdraw(client, missing), 404, "not_found")
    assert_error(client.delete("/v1/feedback/abc", json={"install": "install-aaaa"}), 404, "not_found")


def test_a_report_older_than_a_day_cannot_be_withdrawn(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    old = _send(client, _report(card, build)).get_json()["id"]
    recent = _send(client, _report(card, build, install="install-bbbb")).get_json()["id"]
    _received_ago(feedback_dir, old, timedelta(days=1, minutes=1))
    _received_ago(feedback_dir, recent, timedelta(hours=23, minutes=59))
    late = _withdraw(client, old)
    assert_error(late, 409, "withdrawal_closed")
    assert "1-day window" in late.get_json()["error"]["message"]
    # Only its reader learns that the report exists.
    assert_error(_withdraw(client, old, install="install-zzzz"), 404, "not_found")
    assert _withdraw(client, recent, install="install-bbbb").status_code == 200
    assert [r["id"] for r in _rows(feedback_dir, "id")] == [old], "the late one is kept"


def test_a_withdrawal_is_checked_like_a_report_and_refused_when_feedback_is_off(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    report_id = _send(client, _report(card, build)).get_json()["id"]
    for body in (["install-aaaa"], {}, {"install": None}, {"install": "abc"}, {"install": "bad id!"},
                 {"install": "install-aaaa", "why": "oops"}, {"install": "install-aaa\ud83c"}):
        assert_error(client.delete(f"/v1/feedback/{report_id}", data=json.dumps(body),
                                   content_type="application/json"), 400, "bad_request")
    assert_error(client.delete(f"/v1/feedback/{report_id}", data=b"{", content_type="application/json"),
                 400, "bad_request")
    assert_error(client.delete(f"/v1/feedback/{report_id}", data=b""), 415, "unsupported_media_type")
    small = _app(tiny_store, feedback_dir, MAX_BODY_BYTES=200).test_client()
    assert_error(small.delete(f"/v1/feedback/{report_id}", json={"install": "i" * 300}),
                 413, "payload_too_large")
    assert len(_rows(feedback_dir)) == 1
    off = _app(tiny_store, "").test_client()
    assert_error(_withdraw(off, report_id), 404, "feedback_disabled")


def test_with_keys_configured_a_withdrawal_needs_a_valid_key(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir, API_KEYS=hash_key(KEY)).test_client()
    card, build = _card(client, headers={"X-API-Key": KEY})
    report_id = _send(client, _report(card, build), headers={"X-API-Key": KEY}).get_json()["id"]
    assert_error(_withdraw(client, report_id), 401, "unauthorized")
    assert_error(_withdraw(client, report_id, headers={"X-API-Key": "aside_wrong"}), 401, "unauthorized")
    assert _withdraw(client, report_id, headers={"X-API-Key": KEY}).status_code == 200


def test_a_reader_at_the_report_limit_can_still_undo_withdrawals_count_as_other_requests(
        tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir, RATE_LIMIT_PER_ADDRESS="3/minute",
                  FEEDBACK_RATE_LIMIT_PER_ADDRESS="1/minute").test_client()
    card, build = _card(client)  # one general request of three
    report_id = _send(client, _report(card, build)).get_json()["id"]
    assert_error(_send(client, _report(card, build, install="install-bbbb")), 429, "too_many_requests")
    assert _withdraw(client, report_id).status_code == 200, "the report limit does not stop an Undo"
    # The withdrawal was the second general request: one article left, then 429.
    assert [post(client, {"blocks": ARTICLE}).status_code for _ in range(2)] == [200, 429]
    limited = _withdraw(client, report_id)
    assert_error(limited, 429, "too_many_requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_a_withdrawal_the_database_refuses_answers_503_and_keeps_the_report(
        tiny_store, feedback_dir, monkeypatch):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    report_id = _send(client, _report(card, build)).get_json()["id"]
    monkeypatch.setattr(reports_module, "connect", _limited_connect(query_only=1))  # read-only
    response = _withdraw(_app(tiny_store, feedback_dir).test_client(), report_id)
    assert_error(response, 503, "feedback_unavailable")
    assert response.headers["Retry-After"] == "60"
    assert len(_rows(feedback_dir)) == 1


def test_a_withdrawal_is_counted_and_logged_without_text_and_leaves_the_operators_list(
        tiny_store, feedback_dir, runner, caplog):
    from server.cli import main

    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    report_id = _send(client, _report(card, build, sentence=SENTENCE)).get_json()["id"]
    kept = _send(client, _report(card, build, install="install-bbbb", doc_id="factbook:zz",
                                 passage_hash="ab" * 16)).get_json()["id"]
    listed = runner.invoke(main, ["feedback", "list", "--feedback-dir", str(feedback_dir)])
    assert f"#{report_id} " in listed.output and f"#{kept} " in listed.output
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        assert _withdraw(client, report_id).status_code == 200
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aside.access"]
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("DELETE", "/v1/feedback/<int:id>", 200)]
    text = client.get("/metrics").get_data(as_text=True)
    assert ('aside_feedback_reports_total{outcome="withdrawn",reason="wrong-person-or-place",'
            'verdict="wrong-match"} 1.0') in text
    for secret in ("quokkas", "install-aaaa", sentence_hash(SENTENCE), card["passage_hash"]):
        assert secret not in text and secret not in caplog.text, secret
    listed = runner.invoke(main, ["feedback", "list", "--feedback-dir", str(feedback_dir)])
    assert listed.exit_code == 0, listed.output
    assert f"#{report_id} " not in listed.output and f"#{kept} " in listed.output
    exported = runner.invoke(main, ["feedback", "export", "--feedback-dir", str(feedback_dir)])
    assert [json.loads(line)["id"] for line in exported.output.splitlines()] == [kept]


# The service as operators run it (gunicorn with the Procfile's settings, two workers), killed
# with SIGKILL while readers send reports: every report it acknowledged must be on disk.
def _report_over_http(base, body):
    request = urllib.request.Request(f"{base}/v1/feedback", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, http.client.HTTPException):  # refused, reset, or cut short by the kill
        return 0, None


def test_a_killed_service_loses_no_acknowledged_report(tiny_store, feedback_dir, tmp_path):
    port = _free_port()
    env = {**os.environ, "WEB_CONCURRENCY": "2", "ASIDE_PORT": str(port), "ASIDE_HOST": "127.0.0.1",
           "ASIDE_INDEX_DIR": str(tiny_store), "ASIDE_FEEDBACK_DIR": str(feedback_dir),
           "ASIDE_FEEDBACK_RATE_LIMIT_PER_ADDRESS": "", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.faults.app:create()", "--config", "gunicorn.conf.py"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    card = {"id": "1", "doc_id": "factbook:us", "passage_hash": "0" * 32, "text": ""}
    try:
        deadline = time.monotonic() + 60
        while _report_over_http(base, _report(card, "b", install="install-warm"))[0] not in (200, 201):
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        acknowledged: dict[int, str] = {}
        stop = threading.Event()

        def reader(number):
            for n in range(100_000):
                if stop.is_set():
                    return
                install = f"install-{number}-{n:06d}"
                status, body = _report_over_http(base, _report(card, "b", install=install))
                if status == 201:
                    acknowledged[body["id"]] = install

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 150:
            assert time.monotonic() < deadline + 60, "reports were not acknowledged"
            time.sleep(0.01)
        # Both workers count into one set of metrics (PROMETHEUS_MULTIPROC_DIR).
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
        assert 'aside_feedback_reports_total{outcome="stored",reason="wrong-person-or-place"' in metrics
        os.killpg(server.pid, signal.SIGKILL)  # master and workers at once, mid-stream
        server.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    stored = {r["id"]: r["install"] for r in _rows(feedback_dir, "id, install")}
    lost = {i: who for i, who in acknowledged.items() if stored.get(i) != who}
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged reports are missing"


def test_ids_are_never_reused_so_an_operator_never_blocks_a_card_they_did_not_see(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    first = _send(client, _report(card, build, install="install-1111")).get_json()["id"]
    second = _send(client, _report(card, build, install="install-2222")).get_json()["id"]
    assert _withdraw(client, second, install="install-2222").status_code == 200
    third = _send(client, _report(card, build, install="install-3333")).get_json()["id"]
    assert (first, second, third) == (1, 2, 3), "the withdrawn report's id is not given again"


def test_a_withdrawn_sentence_leaves_the_database_files(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    secret = "Okapi sentence that must not stay on disk after its withdrawal."
    report_id = _send(client, _report(card, build, sentence=secret)).get_json()["id"]
    assert _withdraw(client, report_id).status_code == 200
    for path in feedback_dir.iterdir():
        assert secret.encode() not in path.read_bytes(), f"{path.name} still holds the sentence"


def test_a_feedback_directory_made_by_someone_else_is_made_private(tiny_store, tmp_path):
    shared = tmp_path / "feedback"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    client = _app(tiny_store, shared).test_client()
    card, build = _card(client)
    assert _send(client, _report(card, build)).status_code == 201
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700
    assert stat.S_IMODE((shared / DB_FILE).stat().st_mode) == 0o600


def test_a_database_another_process_holds_gets_503_not_a_stalled_worker(tiny_store, feedback_dir):
    client = _app(tiny_store, feedback_dir).test_client()
    card, build = _card(client)
    assert _send(client, _report(card, build)).status_code == 201
    holder = sqlite3.connect(feedback_dir / DB_FILE, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # an operator's shell in the middle of a write
    try:
        response = _send(client, _report(card, build, install="install-bbbb"))
        assert_error(response, 503, "feedback_unavailable")
        assert post(client, {"blocks": ARTICLE}).status_code == 200, "articles are still answered"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _send(client, _report(card, build, install="install-bbbb")).status_code == 201
