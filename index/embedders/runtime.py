"""The exported model run with onnxruntime or OpenVINO: the embedder the service uses.

It needs only ``tokenizers`` and ``onnxruntime`` or ``openvino`` (each imported in well
under a second, against 7–9 s for sentence-transformers; torch is never imported) and
names itself after the model it was exported from, so stores built with either
embedder serve with the other.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embedders.layout import (
    META_FILE,
    MIN_COSINE,
    MODEL_FILE,
    OPENVINO_FILE,
    PROBES,
    REFERENCE_FILE,
    TOKENIZER_FILE,
)
from index.embedders.protocol import Embedder
from index.embedders.runs import OPENVINO_SHAPES, RUN_SIZE, Run, encode_runs

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["RUNTIMES", "OnnxEmbedder", "import_openvino"]

logger = logging.getLogger(__name__)

RUNTIMES = ("onnxruntime", "openvino", "auto")


def import_openvino() -> Any:
    """The ``openvino`` package without its model-conversion tools, which phone home.

    ``import openvino`` also imports ``openvino.tools.ovc`` (when it can), and that sends
    a usage event to Google Analytics at import and writes a client id to
    ``~/intel/openvino_ga_cid``, unless a consent file there says no. The service
    promises that nothing leaves the machine, so those modules are marked as missing
    before the import (the package skips tools it cannot import); the runtime is
    all Aside uses.
    """
    for blocked in ("openvino.tools.ovc", "openvino_telemetry"):
        if blocked not in sys.modules:
            sys.modules[blocked] = None  # type: ignore[assignment]
    import openvino

    return openvino


class OnnxEmbedder(Embedder):
    """An exported model run with onnxruntime or OpenVINO; one runtime per process, made after fork.

    ``runtime="openvino"`` runs the graph in bfloat16 where the CPU computes in it
    (AVX-512 BF16 or AMX), else in float32; either way the vectors are checked against
    sentence-transformers' vectors of the probe sentences when the model loads, and
    bfloat16 gives way to float32 if they differ (cosine < 0.999). ``runtime="auto"``
    is OpenVINO, or onnxruntime where OpenVINO cannot load or match the reference.
    Raises FileNotFoundError when ``directory`` holds no export, ValueError for an
    unknown runtime.
    """

    def __init__(self, directory: Path, *, threads: int = 0, runtime: str = "onnxruntime") -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
        try:
            self._meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise FileNotFoundError(
                f"no exported model in {directory} ({exc}); run `aside model export`") from exc
        self._directory = directory
        self._threads = threads
        self._runtime = runtime
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._run: Run | None = None
        self._tokenizer: Any = None
        self._graph: Any = None  # OpenVINO's reading of the graph, once prepared
        self._pid = 0
        self._running = ""
        self.precision = ""  # what the runtime computes in, once loaded: "f32" or "bf16"

    @property
    def name(self) -> str:
        return str(self._meta["name"])

    @property
    def runtime(self) -> str:
        """The runtime asked for, or once loaded the one running the model."""
        return self._running or self._runtime

    def for_workers(self, threads: int) -> OnnxEmbedder:
        """An unloaded copy using ``threads`` threads, to send to another process."""
        return OnnxEmbedder(self._directory, threads=threads, runtime=self._runtime)

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self._directory, "threads": self._threads, "runtime": self._runtime}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], threads=state["threads"],  # type: ignore[misc]
                      runtime=state.get("runtime", "onnxruntime"))

    @property
    def dim(self) -> int:
        return int(self._meta["dim"])

    def prepare(self) -> None:
        """Read what forked workers can share, starting no thread: the tokenizer and, for
        OpenVINO, the graph (its weights stay in the mapped file).

        With gunicorn --preload the master calls this before it forks: each worker then
        compiles its own model (thread pools do not survive fork) but shares these, ~15 MB
        of private memory less a worker. A graph OpenVINO cannot read is left for the
        worker's load to report (and fall back from).
        """
        with self._lock:
            if self._tokenizer is not None:
                return
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._directory / TOKENIZER_FILE))
            tokenizer.enable_truncation(int(self._meta["max_length"]))
            tokenizer.no_padding()  # encode_runs pads each run itself
            self._tokenizer = tokenizer
            if self._runtime != "onnxruntime" and (self._directory / OPENVINO_FILE).is_file():
                try:
                    self._graph = import_openvino().Core().read_model(
                        str(self._directory / OPENVINO_FILE))
                except (ImportError, RuntimeError):
                    pass  # the worker's load says why, and falls back (``_load``)

    def _load(self) -> tuple[Run, Any]:
        # Neither runtime's thread pool survives fork (gunicorn --preload): each process
        # loads its own on first use.
        if self._tokenizer is None:
            self.prepare()
        with self._lock:
            if self._run is None or self._pid != os.getpid():
                tokenizer = self._tokenizer
                threads = self._threads or (os.cpu_count() or 1)
                self._run = None
                if self._runtime != "onnxruntime":
                    try:
                        self._run, self.precision = self._openvino(threads, tokenizer)
                        self._running = "openvino"
                    except (ImportError, RuntimeError) as exc:
                        if self._runtime == "openvino":
                            raise
                        logger.warning("OpenVINO cannot run the model (%s); embedding with onnxruntime", exc)
                if self._run is None:
                    self._run, self.precision = _onnxruntime(self._directory, threads), "f32"
                    self._running = "onnxruntime"
                self._pid = os.getpid()
            return self._run, self._tokenizer

    def _openvino(self, threads: int, tokenizer: Any) -> tuple[Run, str]:
        """The graph compiled by OpenVINO in the fastest precision that keeps the vectors."""
        openvino = import_openvino()

        try:
            reference = np.load(self._directory / REFERENCE_FILE)
            if not (self._directory / OPENVINO_FILE).is_file():
                raise OSError(f"no {OPENVINO_FILE}")
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(
                f"the export in {self._directory} was made by an earlier version ({exc}); "
                "run `aside model export` again") from exc
        core = openvino.Core()
        graph = self._graph or core.read_model(str(self._directory / OPENVINO_FILE))
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        candidates = ("bf16", "f32") if "BF16" in capabilities else ("f32",)
        for precision in candidates:
            compiled = core.compile_model(graph, "CPU", {
                "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": precision})
            request = compiled.create_infer_request()

            def run(feed: dict[str, NDArray[np.int64]], request: Any = request) -> NDArray[np.float32]:
                # The result is the request's own buffer, overwritten by its next run:
                # the caller copies it out before then.
                return request.infer(feed)[0]  # type: ignore[no-any-return]

            probes = encode_runs(run, tokenizer.encode_batch(list(PROBES)), RUN_SIZE, self.dim,
                                 shapes=OPENVINO_SHAPES)
            cosine = float((probes * reference).sum(axis=1).min())
            if cosine >= MIN_COSINE:
                logger.info("embedding with OpenVINO in %s (lowest cosine to the reference %.6f)",
                            precision, cosine)
                return run, precision
            logger.warning("OpenVINO in %s gives vectors unlike the reference (cosine %.5f)",
                           precision, cosine)
        raise RuntimeError(f"OpenVINO's vectors differ from the reference (cosine {cosine:.5f}); "
                           "set ASIDE_EMBED_BACKEND=onnx")

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Embed texts into an (n, dim) float32 array of unit vectors (see ``Embedder.encode``).

        Texts are run in order of length, at most ``RUN_SIZE`` (and ``batch_size``)
        at a time, each run padded only to its own longest text: a news article's
        sentences range from 10 to 60 tokens, and padding them all to the longest
        cost a third of the time (40 sentences: 247 ms in one run, 155 ms sorted in runs of 12).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        run, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        size = max(1, min(batch_size, RUN_SIZE))
        shapes = OPENVINO_SHAPES if self._running == "openvino" else None
        # One run at a time: each already uses every core it was given, and
        # concurrent runs only slow each other down.
        with self._run_lock:
            return encode_runs(run, encodings, size, self.dim, shapes=shapes)


def _onnxruntime(directory: Path, threads: int) -> Run:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: a spinning pool took the cores
    # that FAISS and BM25 needed right after each run.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Weights stay in the mapped file rather than being copied into packed
    # layouts: a worker's private memory after 40 sentences fell from 163 MB to
    # 58 MB (the mapped 90 MB are shared), at the same speed.
    options.add_session_config_entry("session.disable_prepacking", "1")
    session = onnxruntime.InferenceSession(
        str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def run(feed: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        return session.run(None, feed)[0]  # type: ignore[no-any-return]

    return run
