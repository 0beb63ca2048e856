"""Run shaping: tokenised texts grouped into runs of the model, each padded to a shape.

Texts are sorted by length and run a few at a time, each run padded only to its own
longest text (or, for OpenVINO, to one of a fixed set of shapes); every text's vector
goes back to its place in the input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embedders.layout import INPUTS

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["OPENVINO_SHAPES", "RUN_SIZE", "Run", "RunShapes", "encode_runs"]

# One run of the graph: token arrays by input name -> (n, dim) unit vectors.
Run = Callable[[dict[str, "NDArray[np.int64]"]], "NDArray[np.float32]"]

# Texts per onnxruntime run (sorted by length), for 40 news sentences on 2 cores,
# median of 59 articles, interleaved: 4: 161 ms, 8: 158, 12: 155, 16: 160, 24: 173, 40: 247.
RUN_SIZE = 12


@dataclass(frozen=True)
class RunShapes:
    """A fixed set of input shapes (rows x tokens) that every run is padded to.

    A run is padded to the first of ``widths`` that holds its longest text, and to
    ``rows`` rows, or fewer for wide runs: a width takes at most ``area`` / width² rows
    (attention grows with the square), and always at least one. One shape a width.
    """

    widths: tuple[int, ...]
    rows: int
    area: int

    def width(self, tokens: int) -> int:
        """The padded width of a run whose longest text has ``tokens`` tokens."""
        return next((w for w in self.widths if w >= tokens), tokens)

    def capacity(self, width: int, size: int) -> int:
        """The rows of a run of ``width`` tokens (``size`` at most): its texts and padding."""
        return max(1, min(size, self.rows, self.area // width**2))


# OpenVINO keeps compiled code for every input shape it has run, about 2 MB each and
# never given back (192 shapes of up to 12 x 128 tokens took a process from 160 MB to
# 557 MB): its runs are padded to a fixed set of shapes.
# 13 widths (the model reads at most 256 tokens) and 8 rows (fewer from 80 tokens on): one
# shape a width. Rows cost ~1.9 ms each at 24 tokens, over ~3 ms a run; 40 LIAR claims,
# median of 78 articles, interleaved: 8 rows 103 ms, 12 rows 114, 1, 4 or 12 rows 108 (up
# to 34 shapes: after every shape 159 MB anonymous memory against 121 with 8 rows); one
# sentence takes 19 ms instead of 6.
OPENVINO_SHAPES = RunShapes(widths=(8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256),
                            rows=8, area=RUN_SIZE * 64**2)


def encode_runs(run: Run, encodings: Sequence[Any], size: int, dim: int, *,
                shapes: RunShapes | None = None) -> NDArray[np.float32]:
    """Vectors of tokenised texts as an (n, dim) float32 array, row i for ``encodings[i]``.

    ``encodings`` are ``tokenizers`` encodings (``ids``, ``attention_mask``, ``type_ids``).
    Texts are sorted by length and run up to ``size`` at a time, each run padded to its
    longest text, or with ``shapes`` to one of those shapes (extra rows repeat a text and
    their vectors are dropped).
    """
    lengths = [len(e.ids) for e in encodings]
    order = sorted(range(len(encodings)), key=lengths.__getitem__)
    out = np.empty((len(encodings), dim), dtype=np.float32)
    for rows, width, padded in _plan(order, lengths, size, shapes):
        feed = {name: np.zeros((padded, width), dtype=np.int64) for name in INPUTS}
        for n in range(padded):
            e = encodings[rows[min(n, len(rows) - 1)]]
            feed["input_ids"][n, :len(e.ids)] = e.ids
            feed["attention_mask"][n, :len(e.ids)] = e.attention_mask
            feed["token_type_ids"][n, :len(e.ids)] = e.type_ids
        out[rows] = run(feed)[:len(rows)]
    return out


def _plan(order: list[int], lengths: list[int], size: int,
          shapes: RunShapes | None) -> list[tuple[list[int], int, int]]:
    """Runs of texts (indices in ``order``, shortest first) as (texts, width, rows)."""
    if shapes is None:
        return [(chunk, lengths[chunk[-1]], len(chunk))
                for chunk in (order[i:i + size] for i in range(0, len(order), size))]
    # From the longest text down, so that only the run of the shortest texts is part full.
    plan = []
    end = len(order)
    while end > 0:
        width = shapes.width(lengths[order[end - 1]])
        capacity = shapes.capacity(width, size)
        start = max(0, end - capacity)
        plan.append((order[start:end], width, capacity))
        end = start
    return plan
