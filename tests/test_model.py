"""End to end on the real packaged model (all-MiniLM-L6-v2) and real package data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.embedders import PACKAGED_MODEL_NAME
from server import create_app

pytestmark = pytest.mark.model

@pytest.fixture(scope="session")
def real_client(real_store, model):
    # Retrieval is what these tests check, so the threshold is set below the calibrated
    # default (0.62, chosen on CheckThat! for a false-context rate under 10%): that default
    # hides paraphrased Factbook matches such as the cartel sentence (fused score ~0.59).
    return create_app({"INDEX_DIR": str(real_store), "EMBEDDER": model,
                       "THRESHOLD": 0.5}).test_client()


@pytest.fixture(scope="session")
def default_client(real_store, model):
    return create_app({"INDEX_DIR": str(real_store), "EMBEDDER": model}).test_client()


def test_vectors_are_unit_length_and_384_dimensional(model):
    vectors = model.encode(["Mexico exports cars.", "Fentanyl is an opioid."])
    assert model.name == PACKAGED_MODEL_NAME and vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_cartel_fentanyl_sentence_gets_the_factbook_mexico_card(real_client):
    text = ("Mexican cartels are trafficking fentanyl and other illicit drugs across the border "
            "into the United States, officials said on Tuesday.")
    response = real_client.post("/v1/context", data=json.dumps(
        {"blocks": [{"id": "p1", "text": text}]}), content_type="application/json")
    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is True
    (sentence,) = body["sentences"]
    assert text[sentence["start"] : sentence["end"]] == sentence["exact"] == text
    factbook = [c for c in sentence["cards"] if c["publisher"] == "CIA World Factbook"]
    assert factbook, sentence["cards"]
    assert factbook[0]["title"] == "Mexico — Illicit drugs"
    assert factbook[0]["url"] == "https://www.cia.gov/the-world-factbook/countries/mexico/"


def test_trade_partner_sentence_gets_mexico_trade_fields(real_client):
    text = "The United States buys roughly three quarters of everything Mexico exports."
    body = real_client.post("/v1/context", json={"blocks": [{"id": "p", "text": text}]}).get_json()
    titles = [c["title"] for s in body["sentences"] for c in s["cards"]]
    assert "Mexico — Exports - partners" in titles


def test_unrelated_sentence_gets_no_card(real_client, default_client):
    text = "My neighbour's cat slept on the warm windowsill all afternoon yesterday."
    for client in (real_client, default_client):
        body = client.post("/v1/context", json={"blocks": [{"id": "p", "text": text}]}).get_json()
        assert body["ok"] is True and body["sentences"] == []


def test_default_settings_show_the_cards_likely_to_help(default_client):
    from server.pipeline.rescore import Rescorer

    bar = Rescorer.load().min_confidence
    text = "The United States buys roughly three quarters of everything Mexico exports."
    body = default_client.post("/v1/context", json={"blocks": [{"id": "p", "text": text}]}).get_json()
    (sentence,) = body["sentences"]
    assert sentence["cards"][0]["title"].startswith("Mexico — Exports")
    assert all(card["confidence"] >= bar for card in sentence["cards"]), sentence["cards"]
    assert "Mexico — Exports - partners" in [card["title"] for card in sentence["cards"]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from index.embedders.export import export

    report = export(tmp_path_factory.mktemp("model") / "onnx")
    assert report.min_cosine >= 0.999
    return report.directory


def _news_sentences() -> list[str]:
    """The bench article's sentences and, where the data is here, 400 LIAR claims."""
    import gzip
    from pathlib import Path

    from tests.conftest import data_dir

    article = Path(__file__).resolve().parent.parent / "bench" / "article_fentanyl_tariffs.txt"
    sentences = [line.strip() for line in article.read_text().splitlines() if line.strip()]
    data = data_dir()
    liar = data / "liar" / "test.tsv.gz" if data else None
    if liar and liar.is_file():
        with gzip.open(liar, "rt", encoding="utf-8") as rows:
            sentences += [line.split("\t")[2] for line, _ in zip(rows, range(400), strict=False)]
    return sentences


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_exported_model_gives_the_same_vectors_as_sentence_transformers(model, exported, runtime):
    from index.embedders.runtime import OnnxEmbedder

    embedder = OnnxEmbedder(exported, threads=2, runtime=runtime)
    assert (embedder.name, embedder.dim) == (model.name, model.dim)
    sentences = _news_sentences()
    expected = model.encode(sentences)
    for batch_size in (1, 7, 64):
        got = embedder.encode(sentences, batch_size=batch_size)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert float((got * expected).sum(axis=1).min()) >= 0.999
    assert embedder.runtime == runtime and embedder.precision in ("f32", "bf16")


def test_openvino_refuses_an_export_without_matching_reference_vectors(exported, tmp_path):
    import shutil

    from index.embedders.runtime import OnnxEmbedder

    directory = tmp_path / "onnx"
    shutil.copytree(exported, directory)
    reference = np.load(directory / "reference.npy")
    np.save(directory / "reference.npy", -reference)  # vectors of another model
    with pytest.raises(RuntimeError, match="differ from the reference"):
        OnnxEmbedder(directory, runtime="openvino").encode(["Mexico exports cars."])
    # auto takes onnxruntime instead, whose vectors the export itself checked.
    fallback = OnnxEmbedder(directory, runtime="auto")
    assert fallback.encode(["Mexico exports cars."]).shape == (1, 384)
    assert fallback.runtime == "onnxruntime"
    (directory / "reference.npy").unlink()  # an export made before reference vectors were kept
    with pytest.raises(FileNotFoundError, match="aside model export"):
        OnnxEmbedder(directory, runtime="openvino").encode(["Mexico exports cars."])


def test_openvino_sends_no_usage_data_and_writes_nothing_in_home(exported, tmp_path):
    """``import openvino`` loads its conversion tools, which send an event to Google
    Analytics and write a client id under ~/intel; a worker loading the model must not."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    home = tmp_path / "home"
    home.mkdir()
    script = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from index.embedders.runtime import OnnxEmbedder\n"
        f"embedder = OnnxEmbedder(Path({str(exported)!r}), threads=1, runtime='openvino')\n"
        "embedder.encode(['Mexico exports cars.'])\n"
        "assert embedder.runtime == 'openvino'\n"
        "print(sorted(name for name, module in sys.modules.items()\n"
        "             if module is not None and ('telemetry' in name or 'ovc' in name)))\n"
        "print([thread.name for thread in threading.enumerate()])\n"
    )
    # The telemetry stays quiet on CI servers by itself; run as on a reader's machine.
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    done = subprocess.run([sys.executable, "-c", script], env={**env, "HOME": str(home)},
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.splitlines() == ["[]", "['MainThread']"]
    assert list(home.iterdir()) == [], "nothing written in the home directory"


def test_auto_backend_takes_a_current_export_and_otherwise_torch(exported, tmp_path):
    import json as _json
    import shutil

    from index.embedders import SentenceTransformerEmbedder, load_embedder
    from index.embedders.runtime import OnnxEmbedder

    assert isinstance(load_embedder(backend="auto", onnx_dir=str(tmp_path / "none")),
                      SentenceTransformerEmbedder)
    directory = tmp_path / "onnx"
    shutil.copytree(exported, directory)
    auto = load_embedder(backend="auto", onnx_dir=str(directory))
    assert isinstance(auto, OnnxEmbedder)
    auto.encode(["Mexico exports cars."])
    assert auto.runtime == "openvino"
    meta = _json.loads((directory / "meta.json").read_text())
    meta["weights_stamp"] = [1, 2]  # an export of other weights than those installed now
    (directory / "meta.json").write_text(_json.dumps(meta))
    assert isinstance(load_embedder(backend="auto", onnx_dir=str(directory)), SentenceTransformerEmbedder)
    with pytest.raises(ValueError, match="unknown embedding backend"):
        load_embedder(backend="tensorflow")


def test_export_if_stale_keeps_a_current_export_and_redoes_an_old_one(tmp_path):
    import json as _json

    from click.testing import CliRunner

    from server.cli import main

    out = tmp_path / "onnx"
    runner = CliRunner()
    first = runner.invoke(main, ["model", "export", "--out", str(out), "--if-stale"])
    assert first.exit_code == 0 and "Exported the model" in first.output
    # The weights are a file of their own, readable by whoever can read the graph.
    weights = out / "model.data"
    assert weights.stat().st_size > 80_000_000
    assert weights.stat().st_mode & 0o777 == (out / "model.onnx").stat().st_mode & 0o777
    again = runner.invoke(main, ["model", "export", "--out", str(out), "--if-stale"])
    assert again.exit_code == 0 and "nothing to do" in again.output
    meta = _json.loads((out / "meta.json").read_text())
    del meta["format"]  # an export made by an earlier version (weights inside the graph)
    (out / "meta.json").write_text(_json.dumps(meta))
    redone = runner.invoke(main, ["model", "export", "--out", str(out), "--if-stale"])
    assert redone.exit_code == 0 and "Exported the model" in redone.output
