"""Publishing a new build swaps it in without a restart; a bad build is refused."""

from __future__ import annotations

import json
import logging
import shutil
import threading

from index.build import build
from server import create_app
from tests.conftest import FakeEmbedder, fixture_sources

ARTICLE = {"blocks": [{"id": "p", "text": "The Golden Gate Bridge opened to traffic in May 1937."}]}


def build_id(response):
    return response.get_json()["index"]["build_id"]


def test_new_build_is_served_without_restart_and_no_request_fails(tmp_path):
    out = tmp_path / "index"
    first = build(fixture_sources(), out, FakeEmbedder()).manifest.build_id
    app = create_app({"INDEX_DIR": str(out), "EMBEDDER": FakeEmbedder(), "THRESHOLD": 0.3,
                      "RELOAD_SECONDS": 0})
    seen: list[tuple[int, str, int]] = []
    stop = threading.Event()

    def hammer():
        client = app.test_client()
        while not stop.is_set():
            response = client.post("/v1/context", json=ARTICLE)
            body = response.get_json()
            seen.append((response.status_code, body["index"]["build_id"], body["index"]["passages"]))

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    client = app.test_client()
    try:
        second = build(fixture_sources()[2:], out, FakeEmbedder()).manifest  # a smaller build
        for _ in range(200):
            if build_id(client.post("/v1/context", json=ARTICLE)) == second.build_id:
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert {status for status, _, _ in seen} == {200}
    assert {b for _, b, _ in seen} <= {first, second.build_id}
    # Each answer is wholly from one build: its passage count matches its build id.
    counts = {b: {n for _, bb, n in seen if bb == b} for _, b, _ in seen}
    assert all(len(n) == 1 for n in counts.values())
    assert build_id(client.post("/v1/context", json=ARTICLE)) == second.build_id
    assert client.get("/readyz").get_json()["build_id"] == second.build_id


def test_a_damaged_build_is_refused_and_the_old_one_keeps_serving(tmp_path, caplog):
    out = tmp_path / "index"
    first = build(fixture_sources(), out, FakeEmbedder()).manifest.build_id
    app = create_app({"INDEX_DIR": str(out), "EMBEDDER": FakeEmbedder(), "RELOAD_SECONDS": 0})
    client = app.test_client()
    staged = tmp_path / "next"
    build(fixture_sources()[2:], staged, FakeEmbedder())
    with (staged / "passages.sqlite").open("ab") as handle:
        handle.write(b"corrupted in transit")
    retired = tmp_path / "retired"
    out.rename(retired)
    staged.rename(out)  # published by hand, as a careless deploy would
    with caplog.at_level(logging.ERROR):
        response = client.post("/v1/context", json=ARTICLE)
    assert response.status_code == 200 and build_id(response) == first
    assert "refused the build published at" in caplog.text and "checksum" in caplog.text
    assert f"still serving build {first}" in caplog.text
    # A build made with another model is refused the same way.
    shutil.rmtree(out)
    build(fixture_sources()[2:], out, FakeEmbedder(dim=128, name="other/model"))
    with caplog.at_level(logging.ERROR):
        response = client.post("/v1/context", json=ARTICLE)
    assert build_id(response) == first
    assert "built with model 'other/model'" in caplog.text
    assert json.loads(client.get("/readyz").data)["build_id"] == first
