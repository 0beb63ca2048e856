"""The embedders package: the ``Embedder.encode`` contract, the backend factory, and a
service that runs without torch. A tiny hand-made ONNX export stands in for the model."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import index.embedders
from index.embedders import Embedder, SentenceTransformerEmbedder, load_embedder
from index.embedders.runtime import OnnxEmbedder
from server import create_app
from tests.conftest import FakeEmbedder

ROOT = Path(__file__).resolve().parents[2]
_WORDS = ["mexico", "exports", "cars", "tariffs", "took", "effect", "on", "tuesday"]


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export whose 'model' maps a text to the unit vector of (sum of token ids, token count)."""
    import onnx
    from onnx import TensorProto, helper
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    directory = tmp_path_factory.mktemp("export")
    vocab = {"[UNK]": 1, "[CLS]": 2, "[SEP]": 3, **{w: 10 + n for n, w in enumerate(_WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer.save(str(directory / "tokenizer.json"))

    names = ("input_ids", "attention_mask", "token_type_ids")
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"]) for n in names]
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [1])
    nodes = [
        *(helper.make_node("Cast", [n], [f"{n}_f"], to=TensorProto.FLOAT) for n in names),
        # Padding must not change a vector: ids count only where the mask is 1.
        helper.make_node("Mul", ["input_ids_f", "attention_mask_f"], ["ids_masked"]),
        helper.make_node("Add", ["ids_masked", "token_type_ids_f"], ["ids_typed"]),
        helper.make_node("ReduceSum", ["ids_typed", "axis"], ["id_sum"], keepdims=1),
        helper.make_node("ReduceSum", ["attention_mask_f", "axis"], ["count"], keepdims=1),
        helper.make_node("Concat", ["id_sum", "count"], ["pair"], axis=1),
        helper.make_node("LpNormalization", ["pair"], ["embedding"], axis=1, p=2),
    ]
    output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 2])
    graph = helper.make_graph(nodes, "tiny", inputs, [output], initializer=[axis])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save_model(model, str(directory / "model.onnx"))
    meta = {"format": 3, "name": "test/tiny-export", "dim": 2, "max_length": 16}
    (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory


def _expected(text: str) -> np.ndarray:
    ids = [2, *(10 + _WORDS.index(w) if w in _WORDS else 1 for w in text.split())][:15] + [3]
    pair = np.array([sum(ids), len(ids)], dtype=np.float64)
    return (pair / np.linalg.norm(pair)).astype(np.float32)


TEXTS = ["mexico exports cars", "", "tariffs took effect on tuesday " * 5, "cars",
         "unknown words here", "on tuesday", "mexico"] * 3


def test_encode_gives_one_unit_float32_row_per_text_in_order(tiny_export):
    embedder = OnnxEmbedder(tiny_export, threads=1)
    vectors = embedder.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    # Row i is text i's vector, whatever the runs the texts were sorted into; long texts
    # are truncated to the model's length, and an empty text still gets a vector.
    np.testing.assert_allclose(vectors, np.stack([_expected(t) for t in TEXTS]), rtol=1e-6)


def test_batch_size_changes_the_runs_not_the_vectors(tiny_export):
    embedder = OnnxEmbedder(tiny_export, threads=1)
    whole = embedder.encode(TEXTS)
    for batch_size in (1, 5, 64):
        np.testing.assert_allclose(embedder.encode(TEXTS, batch_size=batch_size), whole, rtol=1e-6)


@pytest.mark.parametrize("make", [lambda d: OnnxEmbedder(d, threads=1), lambda d: FakeEmbedder(dim=7)])
def test_no_texts_give_an_empty_matrix_of_the_right_width(tiny_export, make):
    embedder = make(tiny_export)
    empty = embedder.encode([])
    assert empty.shape == (0, embedder.dim) and empty.dtype == np.float32


def test_the_factory_picks_the_backend_the_settings_name(tiny_export, tmp_path):
    onnx = load_embedder(backend="onnx", onnx_dir=str(tiny_export), threads=1)
    assert isinstance(onnx, Embedder) and (onnx.name, onnx.dim) == ("test/tiny-export", 2)
    # auto runs an export only when it is an export of the model installed now.
    assert isinstance(load_embedder(backend="auto", onnx_dir=str(tiny_export)), SentenceTransformerEmbedder)
    assert isinstance(load_embedder(backend="torch", onnx_dir=str(tiny_export)), SentenceTransformerEmbedder)
    with pytest.raises(FileNotFoundError, match="aside model export"):
        load_embedder(backend="onnx", onnx_dir=str(tmp_path / "none"))
    with pytest.raises(ValueError, match="unknown embedding backend"):
        load_embedder(backend="tensorflow")


def test_prepare_is_optional_and_the_service_calls_it_before_serving(tiny_store):
    class Counting(FakeEmbedder):
        prepared = 0

        def prepare(self) -> None:
            self.prepared += 1

    assert FakeEmbedder().prepare() is None  # the protocol's default does nothing
    embedder = Counting()
    create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": embedder})
    assert embedder.prepared == 1


def test_the_service_and_its_embedder_run_with_torch_unimportable(tiny_export):
    script = (
        "import sys\n"
        "for name in ('torch', 'sentence_transformers', 'transformers', 'optimum'):\n"
        "    sys.modules[name] = None  # importing any of them now raises ImportError\n"
        "import index, index.cli, index.embedders.export, server, server.cli, server.resources\n"
        "from index.embedders import load_embedder\n"
        f"embedder = load_embedder(backend='onnx', onnx_dir={str(tiny_export)!r}, threads=1)\n"
        "embedder.prepare()\n"
        "print(embedder.encode(['mexico exports cars']).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 2)"


def test_the_package_has_no_import_circle():
    """Each module imports only modules of the package that do not import it back."""
    package = Path(index.embedders.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        name = "index.embedders" if path.stem == "__init__" else f"index.embedders.{path.stem}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                       and node.module and node.module.startswith("index.embedders")}
    assert "index.embedders" not in set().union(*(graph[m] for m in graph if m != "index.embedders"))

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(m == target or (m not in seen and reaches(m, target, seen | {m}))
                   for m in graph.get(start, ()))

    assert [m for m in graph if reaches(m, m, set())] == []
