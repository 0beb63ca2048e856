"""The ray engine: sources read, records cut into passages and passages embedded as Ray Data
stages across a cluster, for ``index.build`` (``BuildOptions(engine="ray")``).

Only the work moves: this process (the driver) still decides what each record means against
the previous build, drops duplicates, spools passages to SQLite, writes the store and
publishes it, exactly as a local build does, so both write the same store.

    1. read     one task per source (``flat_map``) on the driver's node, where the files and
                the downloads are: its records, then its counts or its failure
    2. chunk    records cut into passages (``map_batches``), in the order they were read
    3. embed    passages with no vector yet, through a pool of actors each holding the model

Ray is an optional extra (``pip install 'aside[ray]'``), imported only here and only when the
engine is used. Usage statistics are switched off before Ray is imported. A loopback address
(or none: a one-machine Ray started for the build) keeps every Ray process on loopback: Ray
otherwise swaps 127.0.0.1 for the machine's routable address
(https://github.com/ray-project/ray/issues/59110).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from index.chunk import chunk
from index.fetch import FetchError
from index.records import Passage, SourceRecord
from index.sources import Source, SourceStats

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from index.build import BuildOptions
    from index.embedders import Embedder

__all__ = ["INSTALL_HINT", "RayEngine", "SourceFailed"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "the ray engine needs Ray: pip install 'aside[ray]'"
# A record with its passages (always cut here; the type is the build's, where they may not be).
_Cut = tuple[SourceRecord, list[Passage] | None]
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# Ray's own processes ask cloud metadata services which cloud they run on, and a cluster
# started with `ray start` reports that usage statistics are off, even when they are
# (ray/dashboard/modules/usage_stats/usage_stats_head.py, Ray 2.60). Both go through
# `requests`, which honours these: a proxy on loopback where nothing listens, so the
# requests fail at once on this machine.
_NO_EGRESS = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "",
              "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


class SourceFailed(ValueError):
    """A source could not be read on the cluster (a fetch refused, a file broken)."""


def _import_ray(loopback: bool) -> Any:
    # Read by Ray when it is imported: never report usage statistics.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if loopback:
        # On Linux this only stops Ray from replacing a loopback address with the machine's
        # routable one (see the module docstring); Ray reads it once, when it is imported.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
        import ray.data
        from ray._private import ray_constants
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    if loopback:
        ray_constants.ENABLE_RAY_CLUSTER = False  # in case Ray was imported before
    return ray


class RayEngine:
    """A connection to a Ray cluster for one build: reads, cuts and embeds there."""

    def __init__(self, options: BuildOptions, sources: Sequence[Source]) -> None:
        self._options = options
        self._sources = list(sources)
        self._rows: Iterator[dict[str, Any]] | None = None
        self._next: dict[str, Any] | None = None
        self._ray: Any = None

    def open(self) -> None:
        """Connect to the cluster (or start Ray here, on loopback, when there is no address)."""
        address = self._options.ray_address
        host = (address or "").removeprefix("ray://").rsplit(":", 1)[0]
        ray = self._ray = _import_ray(address is None or host in _LOOPBACK)
        if address is None:
            logger.info("ray: starting Ray on this machine, on loopback, for this build")
            with _environment(_NO_EGRESS):
                ray.init(address="local", include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
        else:
            logger.info("ray: connecting to the cluster at %s", address)
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        context = ray.data.DataContext.get_current()
        # The driver must see records in the order a local build reads them: which of two
        # records with one document id is kept, and which of two equal passages, depends on it.
        context.execution_options.preserve_order = True
        context.enable_progress_bars = self._options.progress
        logger.info("ray: %d nodes, %d CPUs", len(ray.nodes()), self._cpus())

    def close(self) -> None:
        """Disconnect (and stop the Ray this build started, if it started one)."""
        if self._rows is not None:
            self._rows.close()  # type: ignore[attr-defined]  # a generator: end it while connected
            self._rows = None
        if self._ray is not None:
            self._ray.shutdown()
            self._ray = None

    def _cpus(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def stream(self, source: Source) -> Callable[[SourceStats], Iterator[_Cut]]:
        """The source's records with their passages, read and cut on the cluster.

        Sources must be streamed in the order they were given; the first call starts the
        job for all of them. The source's counts are added to ``stats`` at its end, and a
        source that failed raises ``SourceFailed`` there, as reading it here would.
        """
        index = next(i for i, s in enumerate(self._sources) if s is source)

        def records(stats: SourceStats) -> Iterator[_Cut]:
            for row in self._rows_of(index):
                payload = pickle.loads(row["payload"])
                if row["kind"] == "record":
                    yield payload, pickle.loads(row["passages"])
                    continue
                remote, failed = payload
                stats.read += remote.read
                stats.skipped += remote.skipped
                stats.reasons.update(remote.reasons)
                stats.notes.update(remote.notes)
                if failed is not None:
                    raise SourceFailed(failed)
        return records

    def _rows_of(self, index: int) -> Iterator[dict[str, Any]]:
        if self._rows is None:
            self._rows = iter(self._read_dataset().iter_rows())
        while True:
            row = self._next if self._next is not None else next(self._rows)
            self._next = None
            if row["source"] != index:
                self._next = row  # the next source's first row
                return
            yield row
            if row["kind"] == "end":
                return

    def _read_dataset(self) -> Any:
        ray = self._ray
        sources, options = self._sources, self._options
        items = [{"source": i} for i in range(len(sources))]
        # Sources are read on the node running the build: their files are there, and so are
        # the downloads of remote ones (DIR.state/, fetched while probing them); cutting and
        # embedding, the costly stages, spread over the cluster.
        here = {"ray.io/node-id": ray.get_runtime_context().get_node_id()}  # Ray's own label
        # One block per source, so each is read by its own task.
        return (ray.data.from_items(items, override_num_blocks=max(1, len(items)))
                .flat_map(_read_source, fn_args=(sources,), label_selector=here)
                .map_batches(_chunk_batch, batch_size=64, batch_format="numpy",
                             fn_kwargs={"max_sentences": options.max_sentences,
                                        "max_chars": options.max_chars}))

    def encoder(self, embedder: Embedder | None) -> RayEncoder:
        """Embeds on the cluster: ``--workers`` actors, else one per CPU of the cluster."""
        actors = self._options.workers if self._options.workers > 1 else self._cpus()
        return RayEncoder(self._ray, embedder, self._options, actors)


def _read_source(item: dict[str, Any], sources: Sequence[Source]) -> Iterator[dict[str, Any]]:
    """One source's records, then an end row with its counts and its failure, if it failed."""
    index = item["source"]
    source = sources[index]
    stats = SourceStats(source.name)
    failed = None
    try:
        for record in source.read(stats):
            yield {"source": index, "kind": "record", "payload": pickle.dumps(record)}
    except (FetchError, ValueError, OSError) as exc:  # what a local build reports and skips
        failed = str(exc)
    yield {"source": index, "kind": "end", "payload": pickle.dumps((stats, failed))}


def _chunk_batch(batch: dict[str, NDArray[Any]], *, max_sentences: int, max_chars: int
                 ) -> dict[str, NDArray[Any]]:
    """Each record's passages, as a local build would cut them."""
    passages = [
        pickle.dumps(list(chunk(pickle.loads(payload), max_sentences=max_sentences, max_chars=max_chars))
                     if kind == "record" else None)
        for kind, payload in zip(batch["kind"], batch["payload"], strict=True)
    ]
    return {**batch, "passages": np.array(passages, dtype=object)}


class _EmbedActor:
    """One copy of the model on a cluster node; embeds batches of (id, text)."""

    def __init__(self, embedder: Embedder, batch_size: int) -> None:
        self._embedder = embedder
        self._batch_size = batch_size

    def __call__(self, batch: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
        vectors = self._embedder.encode(batch["text"].tolist(), batch_size=self._batch_size)
        return {"id": batch["id"], "vector": np.asarray(vectors, dtype=np.float32)}


class RayEncoder:
    """``_Encoder``'s interface on a cluster: ``submit`` puts texts in the object store,
    ``drain`` runs them through the actors and yields (ids, vectors) as batches finish."""

    def __init__(self, ray: Any, embedder: Embedder | None, options: BuildOptions, actors: int) -> None:
        self._ray = ray
        self._embedder = embedder
        self._options = options
        self._actors = actors
        self._blocks: list[Any] = []

    def __enter__(self) -> RayEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self._blocks.clear()

    def submit(self, ids: list[int], texts: list[str]) -> Iterator[tuple[list[int], NDArray[np.float32]]]:
        if ids:
            import pyarrow as pa

            self._blocks.append(self._ray.put(pa.table({"id": ids, "text": texts})))
        yield from ()

    def drain(self) -> Iterator[tuple[list[int], NDArray[np.float32]]]:
        if not self._blocks:
            return
        assert self._embedder is not None
        copy = getattr(self._embedder, "for_workers", None)
        # One thread an actor: an actor is given one CPU, and there are as many as CPUs.
        embedder = copy(1) if copy is not None else self._embedder
        dataset = self._ray.data.from_arrow_refs(self._blocks).map_batches(
            _EmbedActor, fn_constructor_args=(embedder, self._options.encode_batch),
            batch_size=self._options.encode_batch, batch_format="numpy",
            compute=self._ray.data.ActorPoolStrategy(min_size=1, max_size=self._actors), num_cpus=1,
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            yield batch["id"].tolist(), np.ascontiguousarray(batch["vector"], dtype=np.float32)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for what is started inside the block (Ray's processes)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
