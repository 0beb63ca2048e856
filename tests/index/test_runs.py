"""How texts are grouped into runs of the model: every text keeps its own vector, and
OpenVINO sees only a fixed set of input shapes (it keeps ~2 MB for each shape it ran)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from index.embedders.runs import OPENVINO_SHAPES, RUN_SIZE, encode_runs


@dataclass
class _Encoding:
    ids: list[int]
    attention_mask: list[int]
    type_ids: list[int]


class _WordTokenizer:
    """One token per word between [CLS] and [SEP], at most 256, like the real tokenizer."""

    def encode_batch(self, texts: list[str]) -> list[_Encoding]:
        out = []
        for text in texts:
            ids = [101, *(1000 + len(w) for w in text.split())][:255] + [102]
            out.append(_Encoding(ids, [1] * len(ids), [0] * len(ids)))
        return out


def _recording_run(shapes: list[tuple[int, int]]):
    def run(feed):
        shapes.append(feed["input_ids"].shape)
        assert feed["input_ids"].shape == feed["attention_mask"].shape == feed["token_type_ids"].shape
        # A vector that identifies its row's text: its token count and the sum of its ids.
        mask = feed["attention_mask"]
        vectors = np.zeros((mask.shape[0], 4), dtype=np.float32)
        vectors[:, 0] = mask.sum(axis=1)
        vectors[:, 1] = (feed["input_ids"] * mask).sum(axis=1)
        return vectors

    return run


def _texts(rng: random.Random, count: int) -> list[str]:
    return [" ".join("w" * rng.randint(1, 9) for _ in range(rng.choice([3, 12, 25, 40, 90, 300])))
            for _ in range(count)]


def _expected(texts: list[str]) -> np.ndarray:
    encodings = _WordTokenizer().encode_batch(texts)
    return np.array([[len(e.ids), sum(e.ids), 0, 0] for e in encodings], dtype=np.float32)


def test_every_text_gets_its_own_vector_in_its_place():
    rng = random.Random(7)
    for shapes in (None, OPENVINO_SHAPES):
        for count in (1, 2, 5, 12, 13, 40, 121):
            texts = _texts(rng, count)
            seen: list[tuple[int, int]] = []
            got = encode_runs(_recording_run(seen), _WordTokenizer().encode_batch(texts), RUN_SIZE, 4,
                               shapes=shapes)
            np.testing.assert_array_equal(got, _expected(texts))


def test_openvino_runs_come_in_a_fixed_set_of_shapes_whatever_the_text():
    rng = random.Random(11)
    seen: list[tuple[int, int]] = []
    for _ in range(300):
        texts = _texts(rng, rng.randint(1, 130))
        encode_runs(_recording_run(seen), _WordTokenizer().encode_batch(texts), RUN_SIZE, 4,
                     shapes=OPENVINO_SHAPES)
    assert len(set(seen)) <= len(OPENVINO_SHAPES.widths), "one shape a width"
    assert {width for _, width in seen} <= set(OPENVINO_SHAPES.widths)
    # Attention grows with the square of the width: wide runs take fewer texts.
    assert all(rows * width**2 <= max(OPENVINO_SHAPES.area, width**2) for rows, width in seen)


def test_onnxruntime_runs_are_padded_only_to_their_longest_text():
    seen: list[tuple[int, int]] = []
    texts = ["one two three", "one two", "a b c d e f g h i j k l m n"]
    encode_runs(_recording_run(seen), _WordTokenizer().encode_batch(texts), RUN_SIZE, 4)
    assert seen == [(3, 16)]
