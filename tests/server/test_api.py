from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import create_app
from tests.conftest import FakeEmbedder
from tests.server.helpers import ARTICLE, assert_error, post


def test_context_returns_cards_with_offsets(client):
    response = post(client, {"url": "https://news.example/a", "blocks": ARTICLE})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert set(body["index"]) == {"build_id", "model", "passages"}
    sentences = body["sentences"]
    assert [s["block"] for s in sentences] == ["p1"], "only the sentence with context is returned"
    sentence = sentences[0]
    assert set(sentence) == {"block", "start", "end", "start_utf16", "end_utf16", "exact",
                             "prefix", "suffix", "sentence_hash", "vector", "cards"}
    text = ARTICLE[1]["text"]
    assert text[sentence["start"] : sentence["end"]] == sentence["exact"]
    assert sentence["exact"].startswith("The Golden Gate Bridge opened")
    assert sentence["prefix"] == "" and sentence["suffix"] == text[sentence["end"] :][:32]
    card = sentence["cards"][0]
    assert set(card) == {"id", "text", "title", "url", "publisher", "published", "kind",
                         "license", "score", "sources", "claimant", "rating", "confidence",
                         "snippet", "section", "doc_id", "passage_hash", "category", "matched"}
    assert card["claimant"] is None and card["rating"] is None
    assert card["category"] == "reference" and "Golden" in card["matched"]
    # An operator's document is not scored by the rescoring model: its bar is THRESHOLD.
    assert card["confidence"] is None and card["section"] is None
    assert card["snippet"] == card["text"], "a short passage is shown whole"
    assert card["sources"] == [{"publisher": "Example Almanac", "title": "Golden Gate Bridge",
                                "url": None, "published": None}]
    assert card["title"] == "Golden Gate Bridge" and card["kind"] == "document"
    assert 0.3 <= card["score"] <= 1.0
    assert body["stats"]["sentences"] == 4 and body["stats"]["searched"] == 2


def test_questions_and_headings_are_not_searched(client, fake_embedder):
    post(client, {"blocks": ARTICLE})
    embedded = [t for call in fake_embedder.calls for t in call]
    assert "Trade tensions" not in embedded
    assert "Will the bridge close for repairs?" not in embedded
    # The article's lead is embedded whole (for rescoring), never searched as a sentence.
    assert not any(t.endswith("?") for t in embedded if not t.startswith("The Golden Gate Bridge opened"))


def test_cards_below_threshold_are_left_out(tiny_store, fake_embedder):
    strict = create_app({"INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder, "THRESHOLD": 0.99})
    body = post(strict.test_client(), {"blocks": ARTICLE}).get_json()
    assert body["ok"] is True and body["sentences"] == []


def test_health_ready_and_index(client):
    assert client.get("/healthz").get_json() == {"ok": True, "status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    index = client.get("/v1/index").get_json()
    assert index["ok"] is True and index["index"]["passages"] > 100
    assert index["index"]["sources"][0]["name"] == "factbook"


def test_without_an_index_the_service_says_so(tmp_path, fake_embedder):
    app = create_app({"INDEX_DIR": str(tmp_path / "missing"), "EMBEDDER": fake_embedder})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert_error(client.get("/readyz"), 503, "index_unavailable")
    assert_error(client.get("/v1/index"), 503, "index_unavailable")
    assert_error(post(client, {"blocks": ARTICLE}), 503, "index_unavailable")


def test_store_of_another_model_is_not_served(tiny_store):
    app = create_app({"INDEX_DIR": str(tiny_store), "EMBEDDER": FakeEmbedder(dim=128)})
    response = app.test_client().get("/readyz")
    assert_error(response, 503, "index_unavailable")
    assert "dimensional" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "JSON object"),
        ({}, "'blocks' must be a list"),
        ({"blocks": "text"}, "'blocks' must be a list"),
        ({"blocks": [1]}, "blocks[0] must be an object"),
        ({"blocks": [{"id": 3, "text": "x"}]}, "blocks[0].id"),
        ({"blocks": [{"id": "", "text": "x"}]}, "blocks[0].id"),
        ({"blocks": [{"id": "a", "text": None}]}, "blocks[0].text"),
        ({"blocks": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "used twice"),
        ({"url": 5, "blocks": []}, "'url' must be a string"),
        ({"lang": ["en"], "blocks": []}, "'lang' must be a string"),
    ],
)
def test_wrong_field_types_get_400(client, body, message):
    response = post(client, body)
    assert_error(response, 400, "bad_request")
    assert message in response.get_json()["error"]["message"]


def test_malformed_json_gets_400(client):
    for data in (b"{not json", b"\xff\xfe", b""):
        assert_error(client.post("/v1/context", data=data, content_type="application/json"),
                     400, "bad_request")


def test_not_json_gets_415(client):
    assert_error(client.post("/v1/context", data="blocks", content_type="text/plain"),
                 415, "unsupported_media_type")
    assert_error(client.post("/v1/context", data={"blocks": "x"}), 415, "unsupported_media_type")


def test_limits_get_413(tiny_store, fake_embedder):
    app = create_app({"INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder,
                      "MAX_BODY_BYTES": 2000, "MAX_BLOCKS": 3, "MAX_BLOCK_CHARS": 500,
                      "MAX_SENTENCES": 4})
    client = app.test_client()
    big = {"blocks": [{"id": "a", "text": "word " * 1000}]}
    assert_error(post(client, big), 413, "payload_too_large")
    many = {"blocks": [{"id": str(n), "text": "x"} for n in range(4)]}
    assert_error(post(client, many), 413, "payload_too_large")
    long_block = {"blocks": [{"id": "a", "text": "y" * 501}]}
    assert_error(post(client, long_block), 413, "payload_too_large")
    sentences = {"blocks": [{"id": "a", "text": "One. Two. Three. Four. Five."}]}
    response = post(client, sentences)
    assert_error(response, 413, "payload_too_large")
    assert "5 sentences" in response.get_json()["error"]["message"]


def test_unknown_route_and_method_are_json(client):
    assert_error(client.get("/nope"), 404, "not_found")
    response = client.get("/v1/context")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_page_text_never_reaches_the_log(client, caplog):
    marker = "Zanzibarian quokkas audited the Golden Gate Bridge ledger in 1937."
    with caplog.at_level(logging.DEBUG):
        post(client, {"title": "Secret title words", "blocks": [{"id": "p", "text": marker}]})
        post(client, {"blocks": [{"id": 1, "text": marker}]})
    assert "quokkas" not in caplog.text and "Secret title" not in caplog.text
    assert '"route":"/v1/context"' in caplog.text, "the request is logged, as counts"


def test_cors_allows_extensions_and_localhost_only(client):
    extension = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    for origin in (extension, "moz-extension://0b6c1d4e-1111-4a2b-9c3d-123456789abc",
                   "http://localhost:3000"):
        response = client.options("/v1/context", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert response.headers.get("Access-Control-Allow-Origin") == origin
    evil = client.options("/v1/context", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in evil.headers


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["blocks", "id", "text", "url", "lang", "x"]), children,
                      max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_json)
def test_no_client_mistake_gets_a_5xx(client, body):
    response = post(client, body)
    assert response.status_code < 500
    assert response.get_json()["ok"] is (response.status_code == 200)


def test_demo_page_and_its_scripts(client):
    with client.get("/") as page:
        assert page.status_code == 200 and b"Find context" in page.data
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for src in ("/demo/shared/render.js", "/demo/content/anchor.js", "/demo/demo.js",
                "/demo/content/highlight.css"):
        with client.get(src) as response:
            assert response.status_code == 200, src
    assert_error(client.get("/demo/background/worker.js"), 404, "not_found")
    assert_error(client.get("/demo/../../server/settings.py"), 404, "not_found")
