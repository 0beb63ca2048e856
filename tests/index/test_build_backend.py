"""Builds embed with the exported model when it is current and checked, else with torch, and a
store built either way holds the same vectors and answers the same (real model, small slice)."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from index import settings
from index.build import build
from index.cli import index_group, make_embedder
from index.embedders import SentenceTransformerEmbedder, load_embedder
from index.embedders.runtime import OnnxEmbedder
from index.search import search_texts
from index.sources import parse_spec
from index.store import Store

pytestmark = pytest.mark.model

# About 300 passages: enough neighbours for a top 5 to mean something, a few seconds to embed.
SLICE = "factbook:mx,ca,us"
QUERIES = [
    "Mexico is the largest supplier of fentanyl seized at the US border.",
    "Canada's population is concentrated near the southern border.",
    "Oil exports make up a large share of government revenue.",
    "The president is elected for a single six-year term.",
    "Most of the country's trade goes to the United States.",
    "Severe earthquakes and volcanic eruptions are natural hazards.",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from index.embedders.export import export

    return export(tmp_path_factory.mktemp("model") / "onnx").directory


@pytest.fixture(scope="module")
def stores(tmp_path_factory, model, exported):
    """The slice built with torch (``build``) and with the export (``aside index build``)."""
    root = tmp_path_factory.mktemp("stores")
    build([parse_spec(SLICE)], root / "torch", model)
    result = CliRunner().invoke(
        # Two workers: the export crosses to spawned processes and embeds there as well.
        index_group, ["build", "--out", str(root / "exported"), "--source", SLICE, "--workers", "2"],
        env={"ASIDE_EMBED_BACKEND": "auto", "ASIDE_ONNX_DIR": str(exported), "ASIDE_MODEL_PATH": ""})
    assert result.exit_code == 0, result.output
    return root / "torch", root / "exported"


def test_builds_take_a_current_export_under_the_default_backend(exported):
    config = settings.load({"ASIDE_ONNX_DIR": str(exported)})
    assert config.embed_backend == "auto"
    embedder = make_embedder(None, config, build=True)
    # onnxruntime: faster than OpenVINO on passages, and checked against torch already.
    assert isinstance(embedder, OnnxEmbedder) and embedder.runtime == "onnxruntime"
    assert isinstance(make_embedder(None, settings.load({"ASIDE_ONNX_DIR": str(exported),
                                                         "ASIDE_EMBED_BACKEND": "torch"}), build=True),
                      SentenceTransformerEmbedder)


def test_a_store_built_with_the_export_matches_one_built_with_torch(stores, model):
    torch_dir, exported_dir = stores
    # Either store opens for either embedder: the manifest names the same model.
    with_torch = Store.open(torch_dir, model=model.name, dim=model.dim)
    with_export = Store.open(exported_dir, model=model.name, dim=model.dim)
    assert with_export.manifest.passages == with_torch.manifest.passages >= 250
    ids = np.arange(1, with_torch.manifest.passages + 1)
    assert [p.text for p in with_export.passages(ids).values()] == \
        [p.text for p in with_torch.passages(ids).values()]
    cosines = (with_torch.vectors(ids) * with_export.vectors(ids)).sum(axis=1)
    assert cosines.min() >= 0.999
    top_torch = search_texts(with_torch, model, QUERIES, k=5)
    top_export = search_texts(with_export, model, QUERIES, k=5)
    for query, a, b in zip(QUERIES, top_torch, top_export, strict=True):
        assert [h.passage.text for h in a] == [h.passage.text for h in b], query


def test_a_build_takes_torch_and_says_why_when_the_export_fails_its_check(exported, tmp_path, caplog):
    directory = tmp_path / "onnx"
    shutil.copytree(exported, directory)
    # Reference vectors the runtimes cannot reproduce: as if the export were of other weights.
    np.save(directory / "reference.npy", -np.load(directory / "reference.npy"))
    with caplog.at_level(logging.WARNING, logger="index.embedders.factory"):
        embedder = load_embedder(backend="auto", onnx_dir=str(directory), threads=2, build=True)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "cannot be used" in caplog.text and "embedding with sentence-transformers" in caplog.text
