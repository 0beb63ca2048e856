"""API keys, rate limits, the time budget, metrics, access logs and hostile input."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

from index.build import build
from index.sources import parse_spec
from server import create_app
from server.auth import hash_key
from tests.conftest import FIXTURES, FakeEmbedder
from tests.server.helpers import ARTICLE, assert_error, post

KEY, OTHER = "aside_test-key-one", "aside_test-key-two"


def _app(tiny_store, **config):
    return create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": FakeEmbedder(),
                       "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": "", **config})


def test_with_keys_configured_v1_needs_a_valid_key(tiny_store):
    client = _app(tiny_store, API_KEYS=hash_key(KEY)).test_client()
    assert_error(post(client, {"blocks": ARTICLE}), 401, "unauthorized")
    assert_error(post(client, {"blocks": ARTICLE}, headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    assert_error(client.get("/v1/index"), 401, "unauthorized")
    assert post(client, {"blocks": ARTICLE}, headers={"X-API-Key": KEY}).status_code == 200
    assert post(client, {"blocks": ARTICLE}, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    # Health, readiness, the API description and metrics stay open for probes and scrapers.
    for path in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
        assert client.get(path).status_code == 200, path
    # A browser's CORS preflight carries no key and must not be refused.
    preflight = client.options("/v1/context", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200


def test_keys_file_is_reread_so_keys_rotate_without_a_restart(tiny_store, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# newsroom\n{hash_key(KEY)}\n")
    client = _app(tiny_store, API_KEYS_FILE=str(keys)).test_client()
    assert post(client, {"blocks": ARTICLE}, headers={"X-API-Key": KEY}).status_code == 200
    keys.write_text(f"{hash_key(OTHER)}  # rotated\n")
    time.sleep(0.01)
    assert_error(post(client, {"blocks": ARTICLE}, headers={"X-API-Key": KEY}), 401, "unauthorized")
    assert post(client, {"blocks": ARTICLE}, headers={"X-API-Key": OTHER}).status_code == 200
    keys.write_text("not a hash\n")  # a broken file keeps the keys loaded before
    assert post(client, {"blocks": ARTICLE}, headers={"X-API-Key": OTHER}).status_code == 200


def test_a_bad_key_setting_stops_the_start_with_a_clear_message(tiny_store, tmp_path):
    with pytest.raises(ValueError, match="not a key hash"):
        _app(tiny_store, API_KEYS="plaintext-key")
    with pytest.raises(ValueError, match="cannot read"):
        _app(tiny_store, API_KEYS_FILE=str(tmp_path / "missing.txt"))


def test_rate_limit_per_address_answers_429_with_retry_after(tiny_store):
    client = _app(tiny_store, RATE_LIMIT_PER_ADDRESS="3/minute").test_client()
    for _ in range(3):
        assert post(client, {"blocks": ARTICLE}).status_code == 200
    response = post(client, {"blocks": ARTICLE})
    assert_error(response, 429, "too_many_requests")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert client.get("/healthz").status_code == 200, "probes are not limited"
    other = post(client, {"blocks": ARTICLE}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200, "another address has its own allowance"


def test_a_rate_limit_storage_that_cannot_work_stops_the_start_with_a_clear_message(tiny_store):
    with pytest.raises(ValueError, match="ASIDE_RATE_LIMIT_STORAGE: unknown storage scheme"):
        _app(tiny_store, RATE_LIMIT_STORAGE="nosuch://x", RATE_LIMIT_PER_ADDRESS="5/minute")


def test_rate_limit_per_key_and_key_guessing_is_limited_by_address(tiny_store):
    client = _app(tiny_store, API_KEYS=f"{hash_key(KEY)},{hash_key(OTHER)}", RATE_LIMIT_PER_KEY="2/minute",
                  RATE_LIMIT_PER_ADDRESS="6/minute").test_client()
    for _ in range(2):
        assert post(client, {"blocks": ARTICLE}, headers={"X-API-Key": KEY}).status_code == 200
    assert_error(post(client, {"blocks": ARTICLE}, headers={"X-API-Key": KEY}), 429, "too_many_requests")
    assert post(client, {"blocks": ARTICLE}, headers={"X-API-Key": OTHER}).status_code == 200
    guesses = [post(client, {"blocks": ARTICLE}, headers={"X-API-Key": f"guess-{n}"}).status_code
               for n in range(4)]
    assert guesses[:2] == [401, 401] and guesses[2:] == [429, 429]


class SlowEmbedder(FakeEmbedder):
    def encode(self, texts, *, batch_size=64):
        time.sleep(0.01 * len(texts))
        return super().encode(texts, batch_size=batch_size)


def test_a_request_over_its_time_budget_fails_cleanly_and_the_next_one_is_served(tiny_store):
    app = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": SlowEmbedder(),
                      "THRESHOLD": 0.3, "REQUEST_BUDGET_SECONDS": 0.3, "RATE_LIMIT_PER_ADDRESS": ""})
    client = app.test_client()
    long = [{"id": f"p{n}", "text": f"Sentence number {n} talks about the bridge at length today."}
            for n in range(200)]
    started = time.perf_counter()
    response = post(client, {"blocks": long})
    assert_error(response, 503, "over_budget")
    assert time.perf_counter() - started < 2.0, "stopped at the budget, not after all the work"
    assert "0.3 s" in response.get_json()["error"]["message"]
    assert post(client, {"blocks": ARTICLE}).status_code == 200


def test_metrics_count_requests_cards_errors_and_the_build_without_text(tiny_store):
    client = _app(tiny_store).test_client()
    marker = "Zanzibarian quokkas audited the Golden Gate Bridge ledger in 1937."
    assert post(client, {"blocks": [{"id": "p", "text": marker}]}).status_code == 200
    post(client, {"blocks": "nope"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'aside_requests_total{method="POST",route="/v1/context",status="200"} 1.0' in text
    assert 'aside_requests_total{method="POST",route="/v1/context",status="400"} 1.0' in text
    assert 'aside_errors_total{code="bad_request"} 1.0' in text
    assert "aside_request_seconds_bucket" in text and "aside_cards_per_request_count 1.0" in text
    build_id = client.get("/v1/index").get_json()["index"]["build_id"]
    assert f'aside_index_build{{build_id="{build_id}"}} 1.0' in text
    assert "quokkas" not in text
    client.get("/no/such/Zanzibarian/path")
    assert 'route="(unmatched)"' in client.get("/metrics").get_data(as_text=True)


def test_metrics_can_be_turned_off(tiny_store):
    client = _app(tiny_store, METRICS=False).test_client()
    assert_error(client.get("/metrics"), 404, "not_found")
    assert "/metrics" not in client.get("/openapi.json").get_json()["paths"]


def test_access_log_is_one_json_line_per_request_without_text_or_keys(tiny_store, caplog):
    client = _app(tiny_store, API_KEYS=hash_key(KEY)).test_client()
    marker = "Zanzibarian quokkas audited the Golden Gate Bridge ledger in 1937."
    with caplog.at_level(logging.DEBUG):
        post(client, {"title": "Secret title", "blocks": [{"id": "p", "text": marker}]},
             headers={"X-API-Key": KEY})
        post(client, {"blocks": [{"id": "p", "text": marker}]}, headers={"X-API-Key": "aside_wrong_key"})
        client.get("/v1/index?q=Zanzibarian", headers={"X-API-Key": KEY})
    assert "quokkas" not in caplog.text and "Secret title" not in caplog.text
    assert "Zanzibarian" not in caplog.text
    assert KEY not in caplog.text and "aside_wrong_key" not in caplog.text
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aside.access"]
    assert [(x["route"], x["status"]) for x in lines] == [
        ("/v1/context", 200), ("/v1/context", 401), ("/v1/index", 200)]
    first = lines[0]
    assert first["method"] == "POST" and first["duration_ms"] > 0 and first["request_bytes"] > 0
    assert first["response_bytes"] > 0 and first["sentences"] == 1
    assert first["key_id"] == hash_key(KEY).removeprefix("sha256:")[:12]
    assert lines[1]["error"] == "unauthorized" and lines[1]["key_id"] is None


@pytest.mark.parametrize("body, status, code", [
    (b'{"blocks": [', 400, "bad_request"),                                 # invalid JSON
    (b'{"blocks": {"id": "a"}}', 400, "bad_request"),                      # wrong type
    (b'{"blocks": [{"id": 7, "text": "x"}]}', 400, "bad_request"),         # wrong type inside
    (b"[" * 50_000 + b"]" * 50_000, 400, "bad_request"),                  # deeply nested
    (b'{"blocks": [{"id": "a", "text": "caf\xc3\x28"}]}', 400, "bad_request"),  # invalid UTF-8
    (b'{"blocks": [{"id": "a", "text": "raw \x01 control"}]}', 400, "bad_request"),
    (b" " * (600 * 1024), 413, "payload_too_large"),                       # huge body
    (json.dumps({"blocks": [{"id": str(n), "text": "x"} for n in range(10_000)]}).encode(),
     413, "payload_too_large"),                                           # 10,000 tiny blocks
    (json.dumps({"blocks": [{"id": "a", "text": "word " * 5_000}]}).encode(),
     413, "payload_too_large"),                                           # one enormous block
])
def test_bad_input_gets_its_documented_error_and_the_next_request_is_served(client, body, status, code):
    response = client.post("/v1/context", data=body, content_type="application/json")
    assert_error(response, status, code)
    assert post(client, {"blocks": ARTICLE}).status_code == 200


def test_escaped_control_characters_and_unknown_fields_are_accepted(client):
    text = "The Golden Gate Bridge\u0000 opened to traffic in May 1937.\u0007\u001b[31m"
    response = post(client, {"blocks": [{"id": "p", "text": text, "colour": "red"}], "extra": {"a": 1}})
    assert response.status_code == 200
    for sentence in response.get_json()["sentences"]:
        assert text[sentence["start"]:sentence["end"]] == sentence["exact"]


def test_html_in_a_passage_comes_back_as_plain_text_in_json(tmp_path):
    out = tmp_path / "index"
    build([parse_spec(f"jsonl:{FIXTURES / 'jsonl' / 'hostile.jsonl'}")], out, FakeEmbedder())
    client = _app(out).test_client()
    response = post(client, {"blocks": [{"id": "p", "text":
                    "The Golden Gate Bridge opened to traffic in May 1937 at San Francisco Bay."}]})
    assert response.status_code == 200 and response.content_type == "application/json"
    card = response.get_json()["sentences"][0]["cards"][0]
    assert card["text"].startswith("<img src=x onerror=\"document.title='pwned'\">")
    assert card["publisher"] == "Untrusted <script>Feed</script>" and card["url"] == "javascript:alert(1)"


def test_openapi_describes_exactly_the_routes_the_service_has(app, client):
    described = {(path, method.upper()) for path, item in
                 client.get("/openapi.json").get_json()["paths"].items() for method in item}
    # Werkzeug's <int:id> is OpenAPI's {id}.
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
              for rule in app.url_map.iter_rules()
              if not rule.endpoint.startswith("demo.")  # the human demo page, not the API
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == routes
