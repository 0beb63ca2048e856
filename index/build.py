"""Build, update and prune index stores: read, chunk, dedupe, embed, write, publish.

Every document has a stable id and a content hash. ``update`` re-reads the
sources and copies the documents whose hash is unchanged from the store it
replaces, vectors included; only new and changed documents are chunked again,
and only passages whose text was never embedded before are embedded. Every
build is written whole and compact beside the store and swapped in at the end
(index.store.publish): a failed or interrupted build leaves the old store as it
was, and passages of changed or vanished documents are simply not copied.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from tqdm import tqdm

from index.chunk import Deduper, chunk
from index.embedders import Embedder
from index.fetch import FetchError
from index.records import Passage, SourceRecord
from index.sources import Source, SourceStats
from index.store import Document, Manifest, Store, check_target, new_build_id, publish
from index.text import content_hash
from index.writer import StoreWriter

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BuildError", "BuildOptions", "BuildReport", "build", "remove", "update"]

logger = logging.getLogger(__name__)


class BuildError(Exception):
    """The build could not produce a store (nothing was published)."""


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How passages are cut, embedded and indexed."""

    max_sentences: int = 3
    max_chars: int = 600
    encode_batch: int = 64
    embed_step: int = 256
    index_type: str = "auto"
    progress: bool = False
    # Embedding processes; each gets an equal share of the cores (1: this process, all cores).
    # With the ray engine: embedding actors of one CPU each (1: one per CPU of the cluster).
    workers: int = 1
    # "local": this machine; "ray": read, cut and embed on a Ray cluster (index.distributed),
    # the one at ``ray_address`` ("HOST:PORT" or "ray://HOST:PORT"), else one started here.
    engine: str = "local"
    ray_address: str | None = None


@dataclass
class BuildReport:
    """What a build read, skipped, kept, embedded and wrote, and how long each stage took."""

    manifest: Manifest
    sources: list[SourceStats]
    passages_by_source: dict[str, int]
    duplicates: int
    documents: Counter[str]  # new, changed, unchanged, removed
    passages: Counter[str]  # added, removed, unchanged, embedded
    # The same document counts for each source (removed: the previous build's, now gone).
    documents_by_source: dict[str, Counter[str]] = field(default_factory=dict)
    # Sources kept from the previous build without being read (``update(unchanged=...)``).
    kept_unread: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return sum(s.skipped for s in self.sources)

    @property
    def embed_rate(self) -> float:
        seconds = self.stages.get("embed", 0.0)
        return self.passages["embedded"] / seconds if seconds else 0.0


def build(
    sources: Sequence[Source], out: Path, embedder: Embedder, options: BuildOptions | None = None,
    *, failed: Mapping[str, str] | None = None,
) -> BuildReport:
    """Build a store at ``out`` from sources; the previous store stays until the new one is whole.

    ``failed``: sources already known to be unavailable (name -> why), reported, not read.
    """
    return _run(out, embedder.name, embedder.dim, options, sources=sources, embedder=embedder,
                failed=failed or {})


def update(
    sources: Sequence[Source], out: Path, embedder: Embedder, options: BuildOptions | None = None,
    *, unchanged: Collection[str] = (), failed: Mapping[str, str] | None = None,
) -> BuildReport:
    """Bring the store at ``out`` up to date with its sources, embedding only what is new.

    Sources named in ``unchanged`` (known not to have changed since the previous build, e.g.
    a 304 to a conditional request) are not read: their documents are copied as they are.
    Sources in ``failed`` (name -> why; e.g. their fetch failed) are reported as failed and
    their documents kept, like a source that fails while it is read.
    """
    previous = Store.open(out.resolve(), model=embedder.name, dim=embedder.dim)
    return _run(out, embedder.name, embedder.dim, options, sources=sources, embedder=embedder,
                previous=previous, unchanged=unchanged, failed=failed or {})


def remove(out: Path, doc_ids: Iterable[str], options: BuildOptions | None = None) -> BuildReport:
    """A new build of the store at ``out`` without the given documents (nothing is embedded)."""
    previous = Store.open(out.resolve())
    known = previous.documents()
    unknown = sorted(set(doc_ids) - known.keys())
    if unknown:
        raise BuildError(f"no such document in {out}: {', '.join(unknown)}")
    dropped = set(doc_ids)
    return _run(out, previous.manifest.model, previous.manifest.dim, options, previous=previous,
                keep=[d for d in known if d not in dropped])


def _run(
    out: Path, model: str, dim: int, options: BuildOptions | None, *,
    sources: Sequence[Source] = (), embedder: Embedder | None = None, previous: Store | None = None,
    keep: Sequence[str] | None = None, unchanged: Collection[str] = (),
    failed: Mapping[str, str] | None = None,
) -> BuildReport:
    options = options or BuildOptions()
    started = time.perf_counter()
    build_id = new_build_id()
    # 1. Stage beside the target, so the final rename stays on one filesystem.
    out = out.resolve()
    check_target(out)  # fail now, not after minutes of embedding
    _remove_remains(out)
    staged = out.with_name(f".{out.name}.tmp-{build_id}-{os.getpid()}")
    engine = _engine(options, [s for s in sources if not (failed and s.name in failed)
                               and not (s.name in unchanged and previous is not None)])
    writer = StoreWriter(staged, model=model, dim=dim)
    try:
        engine.open()
        assembly = _Assembly(writer, previous, options)
        # 2. Read each source (or the kept documents), cut new and changed records into
        #    passages, copy unchanged documents, drop duplicate passages; spool to SQLite.
        t0 = time.perf_counter()
        if keep is not None and previous is not None:
            assembly.copy_documents(keep)
        for source in sources:
            if failed and source.name in failed:
                assembly.keep_unread(source.name, failed=failed[source.name])
            elif source.name in unchanged and previous is not None:
                assembly.keep_unread(source.name)
            else:
                assembly.read(source, engine.stream(source))
        broken = [s for s in assembly.stats if s.failed]
        if sources and len(broken) == len(sources):
            raise BuildError("every source failed: " + "; ".join(f"{s.name}: {s.failed}" for s in broken))
        assembly.finish_reading()
        if writer.count() == 0:
            raise BuildError("the sources gave no passages; nothing to index")
        stages = {"read": time.perf_counter() - t0}
        logger.info("read: %d passages (%d duplicates dropped) in %.1fs", writer.count(),
                    assembly.deduper.dropped, stages["read"])

        # 3. Give every passage a vector: reuse the previous build's, embed the rest.
        t0 = time.perf_counter()
        assembly.embed(embedder, engine)
        stages["embed"] = time.perf_counter() - t0

        # 4. Write BM25, the vector index and the manifest, then swap the new store into place.
        t0 = time.perf_counter()
        manifest = writer.finish(
            assembly.manifest_sources(), build_id=build_id, index_type=options.index_type,
            extra={"max_sentences": options.max_sentences, "max_chars": options.max_chars},
        )
        publish(staged, out)
        stages["write"] = time.perf_counter() - t0
        logger.info("wrote and published build %s in %.1fs", build_id, stages["write"])
    except sqlite3.Error as exc:  # e.g. "database or disk is full"
        writer.abort()
        raise BuildError(f"could not write the passages: {exc}") from exc
    except BaseException:
        # Interrupted or failed: remove the partial store, leave `out` untouched.
        writer.abort()
        raise
    finally:
        engine.close()
        shutil.rmtree(staged, ignore_errors=True)
    return BuildReport(
        manifest=manifest,
        sources=assembly.stats,
        passages_by_source=dict(assembly.per_source),
        duplicates=assembly.deduper.dropped,
        documents=assembly.documents,
        passages=assembly.passages,
        documents_by_source=assembly.documents_by_source,
        kept_unread=assembly.kept_unread,
        stages=stages,
        seconds=time.perf_counter() - started,
    )


def _remove_remains(out: Path) -> None:
    """Delete what killed builds left beside ``out``: staging directories of dead processes."""
    for path in out.parent.glob(f".{out.name}.tmp-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            logger.warning("removed %s, left by a build that was interrupted", path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Encoding(Protocol):
    """Gives passages their vectors: ``submit`` hands over a batch and yields the batches
    that are done; ``drain`` yields the rest. Used as a context manager."""

    def __enter__(self) -> _Encoding: ...

    def __exit__(self, *exc: object) -> None: ...

    def submit(self, ids: list[int], texts: list[str]) -> Iterator[tuple[list[int], NDArray[np.float32]]]: ...

    def drain(self) -> Iterator[tuple[list[int], NDArray[np.float32]]]: ...


# A source's records, each with its passages when they were cut already (else None).
_Stream = Callable[[SourceStats], Iterable[tuple[SourceRecord, list[Passage] | None]]]


class _Engine(Protocol):
    """Where sources are read and cut and passages embedded: here, or on a Ray cluster."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def stream(self, source: Source) -> _Stream: ...

    def encoder(self, embedder: Embedder | None) -> _Encoding: ...


class _LocalEngine:
    """This process reads and cuts; it or its worker processes embed (``_Encoder``)."""

    def __init__(self, options: BuildOptions) -> None:
        self._options = options

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def stream(self, source: Source) -> _Stream:
        return lambda stats: ((record, None) for record in source.read(stats))

    def encoder(self, embedder: Embedder | None) -> _Encoding:
        return _Encoder(embedder, self._options)


def _engine(options: BuildOptions, sources: Sequence[Source]) -> _Engine:
    """The engine ``options.engine`` names, for reading ``sources`` (nothing starts yet)."""
    if options.engine == "local":
        return _LocalEngine(options)
    if options.engine == "ray":
        from index.distributed import RayEngine

        return RayEngine(options, sources)
    raise ValueError(f"unknown build engine {options.engine!r}; expected local or ray")


class _Encoder:
    """Embeds batches in this process, or in ``workers`` processes sharing the cores.

    ``submit`` hands over a batch and returns the batches that are done, in order;
    ``drain`` waits for the rest. With workers, a few batches per worker are in
    flight while this process reads the next ones from SQLite.
    """

    def __init__(self, embedder: Embedder | None, options: BuildOptions) -> None:
        self._embedder = embedder
        self._options = options
        self._pool: ProcessPoolExecutor | None = None
        self._pending: deque[tuple[list[int], Future[NDArray[np.float32]]]] = deque()

    def __enter__(self) -> _Encoder:
        workers = self._options.workers
        if workers > 1 and self._embedder is not None:
            threads = max(1, (os.cpu_count() or 1) // workers)
            copy = getattr(self._embedder, "for_workers", None)
            embedder = copy(threads) if copy is not None else self._embedder
            # spawn, not fork: torch's and onnxruntime's thread pools do not survive a fork.
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(embedder, threads))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, ids: list[int], texts: list[str]) -> Iterator[tuple[list[int], NDArray[np.float32]]]:
        if not ids:
            return
        batch = self._options.encode_batch
        if self._pool is None:
            assert self._embedder is not None
            yield ids, self._embedder.encode(texts, batch_size=batch)
            return
        self._pending.append((ids, self._pool.submit(_encode_in_worker, texts, batch)))
        in_flight = 2 * self._options.workers
        while len(self._pending) > in_flight or (self._pending and self._pending[0][1].done()):
            done_ids, future = self._pending.popleft()
            yield done_ids, self._result(future)

    def drain(self) -> Iterator[tuple[list[int], NDArray[np.float32]]]:
        while self._pending:
            done_ids, future = self._pending.popleft()
            yield done_ids, self._result(future)

    @staticmethod
    def _result(future: Future[NDArray[np.float32]]) -> NDArray[np.float32]:
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise BuildError(f"an embedding worker died: {exc}") from exc


_worker_embedder: Embedder | None = None


def _start_worker(embedder: Embedder, threads: int) -> None:
    global _worker_embedder
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _worker_embedder = embedder


def _encode_in_worker(texts: list[str], batch_size: int) -> NDArray[np.float32]:
    assert _worker_embedder is not None
    return _worker_embedder.encode(texts, batch_size=batch_size)


class _Assembly:
    """The passages of a new build, and what they mean against the previous build."""

    def __init__(self, writer: StoreWriter, previous: Store | None, options: BuildOptions) -> None:
        self.writer = writer
        self.previous = previous
        self.options = options
        self.deduper = Deduper()
        self.old = previous.documents() if previous is not None else {}
        self.old_per_source = Counter(old.source for old in self.old.values())
        # The previous build's vectors by embedded text, and its passages by document + text.
        self.reusable: dict[str, int] = {}
        self.old_keys: set[str] = set()
        if previous is not None:
            for pid, doc_id, text in previous.iter_embed_texts():
                self.reusable[content_hash(text)] = pid
                self.old_keys.add(content_hash(f"{doc_id}\0{text}"))
        self.seen: set[str] = set()
        self.stats: list[SourceStats] = []
        self.per_source: Counter[str] = Counter()
        self.documents: Counter[str] = Counter()
        self.documents_by_source: dict[str, Counter[str]] = {}
        self.kept_unread: list[str] = []
        self.passages: Counter[str] = Counter()

    def read(self, source: Source, stream: _Stream | None = None) -> None:
        """Add a source's records: read here, or as ``stream`` gives them (read elsewhere)."""
        stats = SourceStats(source.name)
        self.stats.append(stats)
        self.per_source[source.name] = 0
        t0 = time.perf_counter()
        stream = stream or _LocalEngine(self.options).stream(source)
        records = tqdm(
            stream(stats), desc=f"read {source.name}", unit=" records",
            disable=None if self.options.progress else True, leave=False,
        )
        try:
            for record, passages in records:
                if record.doc_id in self.seen:
                    stats.skip("another record has the same document id", where=record.doc_id)
                    continue
                self._add(record, stats, passages)
        except (FetchError, ValueError, OSError) as exc:
            # One source failing (a 404, a timeout, a refused address, a broken file) must not
            # end the build: it is reported, its previous documents kept, the others read.
            stats.failed = str(exc)
            stats.skip(f"the source failed: {exc}")
            logger.error("%s: the source failed: %s", source.name, exc)
            self._keep_previous(source.name)
        had = self.old_per_source[source.name]
        if not stats.failed and had and not self.documents_by_source.get(source.name):
            # A source that had documents and now gives none is far likelier an error page
            # served with a 200, or a cut file, than a publisher emptying it: keep them.
            stats.failed = (f"it gave no documents ({stats.skipped} records skipped), where the "
                            f"index has {had}; they were kept (remove the source to drop them)")
            logger.error("%s: the source failed: %s", source.name, stats.failed)
            self._keep_previous(source.name)
        logger.info(
            "%s: %d records, %d skipped, %d passages in %.1fs",
            source.name, stats.read, stats.skipped, self.per_source[source.name],
            time.perf_counter() - t0,
        )

    def keep_unread(self, source: str, *, failed: str | None = None) -> None:
        """Copy a source's documents from the previous build without reading it: it is
        unchanged, or it ``failed`` (why) before it could be read."""
        stats = SourceStats(source, failed=failed)
        self.stats.append(stats)
        self.per_source[source] = 0
        if failed:
            stats.skip(f"the source failed: {failed}")
            logger.error("%s: the source failed: %s", source, failed)
        else:
            self.kept_unread.append(source)
        self._keep_previous(source)
        if not failed:
            stats.read = self.documents_by_source.get(source, Counter())["unchanged"]

    def _keep_previous(self, source: str) -> None:
        """Keep the previous build's documents of a source that failed (an update)."""
        for doc_id, old in self.old.items():
            if old.source == source and doc_id not in self.seen and self.previous is not None:
                self.seen.add(doc_id)
                self._write(old, self.previous.document_passages(doc_id), "unchanged")

    def _add(self, record: SourceRecord, stats: SourceStats, passages: list[Passage] | None = None) -> None:
        self.seen.add(record.doc_id)
        digest = content_hash(json.dumps(
            [asdict(record), self.options.max_sentences, self.options.max_chars], sort_keys=True
        ))
        old = self.old.get(record.doc_id)
        status = "new" if old is None else "unchanged" if old.hash == digest else "changed"
        document = Document(record.doc_id, digest, stats.name)
        if old is not None and status == "unchanged" and not old.deduped and self.previous is not None:
            self._write(document, self.previous.document_passages(record.doc_id), status)
        else:  # a document that lost passages to dedupe is cut again: it may need them back
            if passages is None:
                passages = list(chunk(record, max_sentences=self.options.max_sentences,
                                      max_chars=self.options.max_chars))
            self._write(document, passages, status)

    def copy_documents(self, doc_ids: Sequence[str]) -> None:
        """Keep documents of the previous build as they are (``remove``)."""
        assert self.previous is not None
        stats_by_name = {}
        for doc_id in doc_ids:
            old = self.old[doc_id]
            if old.source not in stats_by_name:
                stats_by_name[old.source] = SourceStats(old.source)
                self.stats.append(stats_by_name[old.source])
            stats_by_name[old.source].read += 1
            self.seen.add(doc_id)
            self._write(old, self.previous.document_passages(doc_id), "unchanged")

    def _write(self, document: Document, passages: Iterable[Passage], status: str) -> None:
        produced = list(passages)
        kept = list(self.deduper.filter(produced))
        document = Document(document.doc_id, document.hash, document.source, len(produced) - len(kept))
        self.per_source[document.source] += self.writer.add_document(document, kept)
        self.documents[status] += 1
        self.documents_by_source.setdefault(document.source, Counter())[status] += 1
        for passage in kept:
            known = content_hash(f"{passage.doc_id}\0{passage.embed_text}") in self.old_keys
            self.passages["unchanged" if known else "added"] += 1

    def finish_reading(self) -> None:
        gone = self.old.keys() - self.seen
        self.documents["removed"] = len(gone)
        for doc_id in gone:
            self.documents_by_source.setdefault(self.old[doc_id].source, Counter())["removed"] += 1
        if self.previous is not None:
            self.passages["removed"] = self.previous.manifest.passages - self.passages["unchanged"]

    def embed(self, embedder: Embedder | None, engine: _Engine | None = None) -> None:
        total = self.writer.count()
        engine = engine or _LocalEngine(self.options)
        with tqdm(total=total, desc="embed", unit=" passages",
                  disable=None if self.options.progress else True) as bar, \
                engine.encoder(embedder) as encoder:
            for ids, texts in self.writer.iter_embed_texts(self.options.embed_step):
                old = [self.reusable.get(content_hash(t)) for t in texts]
                reuse = [(i, o) for i, o in zip(ids, old, strict=True) if o is not None]
                fresh = [(i, t) for i, t, o in zip(ids, texts, old, strict=True) if o is None]
                if reuse and self.previous is not None:
                    self.writer.add_vectors([i for i, _ in reuse],
                                            self.previous.vectors([o for _, o in reuse]))
                if fresh and embedder is None:
                    raise BuildError(f"{len(fresh)} passages have no vector and no model was given")
                for done_ids, vectors in encoder.submit([i for i, _ in fresh], [t for _, t in fresh]):
                    self.writer.add_vectors(done_ids, vectors)
                    bar.update(len(done_ids))
                self.passages["embedded"] += len(fresh)
                bar.update(len(reuse))
            for done_ids, vectors in encoder.drain():
                self.writer.add_vectors(done_ids, vectors)
                bar.update(len(done_ids))
        logger.info("vectors: %d embedded, %d reused from the previous build",
                    self.passages["embedded"], total - self.passages["embedded"])

    def manifest_sources(self) -> list[dict[str, object]]:
        return [
            {"name": s.name, "records": s.read, "skipped": s.skipped,
             "passages": self.per_source[s.name]}
            for s in self.stats
        ]
