"""Clients that send text that is not valid Unicode, odd JSON numbers, invented methods,
foreign origins; what /v1/index and /readyz show them; articles in other languages."""

from __future__ import annotations

import json
import logging

import pytest

from server import create_app
from server.api import source_labels
from server.settings import anchor_origin
from tests.conftest import FIXTURES, FakeEmbedder
from tests.server.helpers import ARTICLE, assert_error, post

BRIDGE = "The Golden Gate Bridge opened to traffic in May 1937 and spans the strait."


class Utf8Embedder(FakeEmbedder):
    """Refuses text that is not valid Unicode, as the real model's tokenizer does."""

    def encode(self, texts, *, batch_size=64):
        for text in texts:
            text.encode("utf-8")
        return super().encode(texts, batch_size=batch_size)


@pytest.fixture
def strict(tiny_store):
    return create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": Utf8Embedder(),
                       "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": ""}).test_client()


def _raw(client, body: str):
    return client.post("/v1/context", data=body.encode("ascii"), content_type="application/json")


@pytest.mark.parametrize("escape", ["\\ud83c", "\\udc4d", "\\udfff\\ud800", "\\ud83c\\ud83c"])
def test_a_lone_surrogate_in_text_is_replaced_and_offsets_stay(strict, escape, caplog):
    # Escapes as a page cut inside an emoji sends them: valid JSON, not valid Unicode.
    text = f"Quokka figures {escape}: " + BRIDGE + f" Tolls rose {escape} again."
    body = json.dumps({"title": f"Bridge {escape}", "url": f"https://news.example/{escape}",
                       "lang": f"en{escape}", "blocks": [{"id": "p", "text": "@@"}]})
    body = body.replace("@@", text.replace('"', '\\"'))
    with caplog.at_level(logging.DEBUG):
        response = _raw(strict, body)
    assert response.status_code == 200, response.get_json()
    sent = json.loads(f'"{text}"')
    repaired = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in sent)
    assert len(repaired) == len(sent), "one code point for one"
    sentences = response.get_json()["sentences"]
    assert sentences and any(BRIDGE in s["exact"] for s in sentences)
    for s in sentences:
        assert repaired[s["start"]:s["end"]] == s["exact"]
    response.get_data().decode("utf-8")
    assert "Quokka" not in caplog.text, "nothing of the text is logged"
    assert post(strict, {"blocks": ARTICLE}).status_code == 200, "the next request is served"


def test_a_lone_surrogate_in_a_block_id_gets_400_naming_it(strict):
    response = _raw(strict, '{"blocks": [{"id": "ok", "text": "x"}, {"id": "b\\ud83c", "text": "x"}]}')
    assert_error(response, 400, "bad_request")
    assert "blocks[1].id" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("char", ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u009f",
                                  "\ufffe", "\uffff", "\ufdd0", "\U0010ffff", "\u2028", "\ufeff"])
def test_controls_and_noncharacters_are_kept_as_sent(strict, char):
    text = f"Note{char}: {BRIDGE}"
    response = post(strict, {"title": f"t{char}", "blocks": [{"id": f"p{char}", "text": text}]})
    assert response.status_code == 200
    [sentence] = [s for s in response.get_json()["sentences"] if BRIDGE in s["exact"]]
    assert sentence["block"] == f"p{char}"
    assert text[sentence["start"]:sentence["end"]] == sentence["exact"]


@pytest.mark.parametrize("number, message", [
    ("1" * 4301, "4,301 digits"), ("-" + "9" * 10_000, "10,001 digits"), ("1" * 101, "101 digits"),
    ("1e999", "too large"), ("-1.5e400", "too large"), ("NaN", "NaN"), ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
])
def test_numbers_python_would_choke_on_get_400(strict, number, message):
    for body in (f'{{"blocks": [], "x": {number}}}', f'{{"blocks": [{{"id": {number}, "text": "a"}}]}}',
                 f"[{number}]"):
        response = _raw(strict, body)
        assert_error(response, 400, "bad_request")
        assert message in response.get_json()["error"]["message"]
    assert _raw(strict, '{"blocks": [], "x": 1e308, "y": ' + "7" * 100 + "}").status_code == 200


@pytest.mark.parametrize("origin, allowed", [
    ("http://localhost", True), ("http://localhost:3000", True), ("http://127.0.0.1:8080", True),
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnop", True),
    ("moz-extension://0b6c1d4e-1111-4a2b-9c3d-123456789abc", True),
    ("http://localhost.evil.example", False), ("http://localhost:3000.evil.example", False),
    ("http://localhost:3000@evil.example", False), ("http://127.0.0.1.evil.example", False),
    ("https://localhost", False), ("http://localhost:", False), ("http://localhost/", False),
    ("http://evil.localhost", False), ("http://localhostevil", False), ("ws://localhost", False),
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnopq", False),
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnop.evil", False),
    ("moz-extension://0b6c1d4e-1111-4a2b-9c3d-123456789abc/x", False), ("null", False),
])
def test_cors_origins_match_whole(client, origin, allowed):
    response = client.options("/v1/context", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST"})
    assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed


def test_an_operators_cors_origins_are_anchored_too(tiny_store):
    client = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": FakeEmbedder(),
                         "CORS_ORIGINS": r"https://app\.example,https://news.example"}).test_client()
    for origin, allowed in [("https://app.example", True), ("https://app.example.evil", False),
                            ("https://news.example", True), ("https://newsXexample", False),
                            ("https://news.example.evil", False)]:
        response = client.options("/v1/context", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed, origin
    assert anchor_origin("*") == "*"


def test_invented_methods_and_paths_do_not_grow_the_metrics(client, caplog):
    with caplog.at_level(logging.INFO, logger="aside.access"):
        for n in range(40):
            client.open(f"/v1/context/x{n}", method=f"BREW{n}")
            client.open("/healthz", method=f"M{n}")
    text = client.get("/metrics").get_data(as_text=True)
    series = [line for line in text.splitlines() if line.startswith("aside_requests_total{")]
    assert len(series) <= 3, series
    assert 'method="OTHER"' in text and "BREW" not in text and "x17" not in text
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aside.access"]
    assert {x["method"] for x in lines if x["route"] != "/metrics"} == {"OTHER"}


def test_the_index_summary_shows_labels_not_paths_or_urls(client, tiny_store):
    sources = client.get("/v1/index").get_json()["index"]["sources"]
    assert [s["name"] for s in sources] == ["factbook", "wikipedia", "jsonl"]
    assert all(s["passages"] >= 1 for s in sources)
    assert str(FIXTURES) not in json.dumps(sources)
    labels = source_labels([
        {"name": "feed:https://feeds.example/rss?token=s3cret", "records": 4},
        {"name": "feed:/srv/private/feeds/b.xml", "records": 2, "notes": {"repaired date": 1}},
        {"name": "wikipedia:en", "records": 9}, {"name": "csv:C:\\data\\x.csv", "records": 1},
        {"name": "html:https://a.example/x", "records": 1, "origin": "https://a.example/x"},
    ])
    assert [(s["name"], s["kind"]) for s in labels] == [
        ("feed", "feed"), ("feed 2", "feed"), ("wikipedia:en", "wikipedia"), ("csv", "csv"),
        ("html", "html")]
    assert labels[1]["notes"] == {"repaired date": 1}
    for word in ("s3cret", "srv", "data", "a.example"):
        assert word not in json.dumps(labels)


def test_readiness_and_errors_do_not_show_the_index_path(tmp_path):
    hidden = tmp_path / "operator-secret-dir" / "index"
    client = create_app({"INDEX_DIR": str(hidden), "EMBEDDER": FakeEmbedder()}).test_client()
    for response in (client.get("/readyz"), client.get("/v1/index"), post(client, {"blocks": ARTICLE})):
        assert_error(response, 503, "index_unavailable")
        message = response.get_json()["error"]["message"]
        assert "operator-secret-dir" not in message and str(tmp_path) not in message
        assert "ASIDE_INDEX_DIR" in message


def _fixture(name):
    return json.loads((FIXTURES / "language" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name, language", [("fr", "fr"), ("de", "de"), ("es", "es")])
def test_an_article_the_model_cannot_read_gets_no_cards_and_a_notice(client, fake_embedder, name,
                                                                      language):
    response = post(client, _fixture(name))
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["sentences"] == [] and answer["stats"]["searched"] == 0
    assert fake_embedder.calls == [], "nothing was embedded or searched"
    [notice] = answer["notices"]
    assert notice["code"] == "language_unsupported" and notice["language"] == language
    assert notice["message"]


def test_an_english_article_has_no_notice_and_its_cards(client):
    answer = post(client, _fixture("en-with-french-quote")).get_json()
    assert answer["notices"] == [] and answer["sentences"]


def test_with_languages_off_every_article_is_searched(tiny_store, fake_embedder):
    client = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder,
                         "LANGUAGES": ""}).test_client()
    answer = post(client, _fixture("fr")).get_json()
    assert answer["notices"] == [] and answer["stats"]["searched"] > 0
    with pytest.raises(ValueError, match="ASIDE_LANGUAGES"):
        create_app({"INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder, "LANGUAGES": "english"})
