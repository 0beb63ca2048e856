"""The on-disk index store: a directory with a manifest, a FAISS index and passage metadata.

    DIR/manifest.json     model, dim, metric, counts, build id, sources, checksums
    DIR/index.faiss       inner-product index over unit vectors (scores are cosine);
                          the FAISS id of a vector is the passage id in SQLite
    DIR/passages.sqlite   passage text and provenance, keyed by that id; and one row per
                          document (stable id, content hash) for incremental updates
    DIR/bm25/, DIR/bm25_ids.npy   BM25 over the same passages (index.lexical)

A build writes everything into a temporary sibling directory and renames it
into place (``publish``), so a failed build never touches the store in use.
A published store is never modified: an update or a removal writes a new,
compact build (index.build), so deleted passages take no space and can never
be found.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from index.lexical import LexicalIndex
from index.records import Passage
from index.vectors import IndexInfo, load_index

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "FORMAT",
    "MANIFEST_FILE",
    "Document",
    "Manifest",
    "Store",
    "StoreError",
    "StoreMismatchError",
    "check_target",
    "checksums",
    "file_sha256",
    "new_build_id",
    "publish",
]

logger = logging.getLogger(__name__)

FORMAT = 2
_READABLE_FORMATS = (1, 2)  # format 1 had no documents table: it serves, but cannot be updated
MANIFEST_FILE = "manifest.json"
INDEX_FILE = "index.faiss"
PASSAGES_FILE = "passages.sqlite"
# The passages table (after its id), in the format's order; each column is the Passage field
# of its name. Spelt out: Passage's own field order (provenance first) is not the format's.
PASSAGE_COLUMNS = ("doc_id", "text", "embed_text", "source", "kind", "title", "url", "publisher",
                   "published", "language", "license", "claimant", "rating")
_BLAS_THRESHOLD = 20


class StoreError(Exception):
    """The directory is not a usable store (missing, corrupt, or from another format)."""


class StoreMismatchError(StoreError):
    """The store was built with another model or vector dimension than the one loaded."""


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` says about a build."""

    build_id: str
    created: str
    model: str
    dim: int
    passages: int
    sources: list[dict[str, Any]]
    checksums: dict[str, str]
    metric: str = "inner_product"
    normalize: bool = True
    format: int = FORMAT
    index: dict[str, Any] = field(default_factory=lambda: {"type": "flat"})
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Manifest:
        known = {f.name for f in fields(cls)}
        missing = {"build_id", "created", "model", "dim", "passages", "checksums"} - raw.keys()
        if missing:
            raise StoreError(f"manifest lacks {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass(frozen=True)
class Document:
    """A document of a build: its stable id, the hash of its content, and where it came from.

    ``deduped`` counts its passages dropped as duplicates of another document's:
    an update re-reads such a document, because it may need them back.
    """

    doc_id: str
    hash: str
    source: str
    deduped: int = 0


def new_build_id() -> str:
    """A sortable, unique build id: UTC time plus a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def checksums(directory: Path) -> dict[str, str]:
    """SHA-256 of every file of the store but the manifest, by path relative to the store."""
    return {
        path.relative_to(directory).as_posix(): file_sha256(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> Manifest:
    """Read and check the manifest of a store directory."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise StoreError(f"no index at {directory} (missing {MANIFEST_FILE})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"unreadable {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise StoreError(f"{path} is not a JSON object")
    manifest = Manifest.from_dict(raw)
    if manifest.format not in _READABLE_FORMATS:
        raise StoreError(
            f"{directory}: store format {manifest.format}; this Aside reads formats "
            f"{', '.join(map(str, _READABLE_FORMATS))}. Rebuild the index."
        )
    return manifest


class Store:
    """A published store opened for searching; safe to share between threads."""

    def __init__(
        self, directory: Path, manifest: Manifest, index: Any, lexical: LexicalIndex | None = None
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.lexical = lexical
        self._index = index
        # Pin this build's passages file: a newer build published at the same path
        # must never answer for this one's ids (see _connection).
        self._fd = os.open(directory / PASSAGES_FILE, os.O_RDONLY)
        self._db: sqlite3.Connection | None = None
        self._db_pid = 0
        self._db_lock = threading.Lock()
        with self._db_lock:
            present = {row[1] for row in self._connection().execute("PRAGMA table_info(passages)")}
        # Stores written before a column existed (e.g. fact-check ratings) read it as empty.
        self._columns = tuple(c for c in PASSAGE_COLUMNS if c in present)

    @classmethod
    def open(
        cls, directory: Path, *, model: str | None = None, dim: int | None = None,
        verify: bool = True,
    ) -> Store:
        """Open a store, refusing one that is damaged or made with another model or dimension."""
        manifest = read_manifest(directory)
        if model is not None and manifest.model != model:
            raise StoreMismatchError(
                f"{directory} was built with model {manifest.model!r}; "
                f"the service uses {model!r}. Rebuild the index with this model."
            )
        if dim is not None and manifest.dim != dim:
            raise StoreMismatchError(
                f"{directory} holds {manifest.dim}-dimensional vectors; "
                f"the model makes {dim}. Rebuild the index with this model."
            )
        for name in {INDEX_FILE, PASSAGES_FILE} | set(manifest.checksums):
            path = directory / name
            if not path.is_file():
                raise StoreError(f"{directory}: missing {name}")
            if verify and file_sha256(path) != manifest.checksums.get(name):
                raise StoreError(f"{directory}: checksum of {name} does not match the manifest")
        # faiss-cpu 1.15 uses BLAS only from 128,000 queries on; below that its generic
        # kernel is slow here: 40 queries over 36k vectors took 60 ms, 13 ms with BLAS.
        faiss.cvar.distance_compute_blas_threshold = _BLAS_THRESHOLD
        index = load_index(directory / INDEX_FILE, IndexInfo.from_dict(manifest.index))
        if index.d != manifest.dim or index.ntotal != manifest.passages:
            raise StoreError(f"{directory}: {INDEX_FILE} disagrees with the manifest")
        return cls(directory, manifest, index, LexicalIndex.load(directory))

    def search(self, vectors: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k cosine scores and passage ids per query vector; id -1 pads missing results."""
        k = max(1, min(k, self.manifest.passages))
        scores, ids = self._index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        return scores, ids

    def vectors(self, ids: Sequence[int] | NDArray[np.int64]) -> NDArray[np.float32]:
        """The stored (unit) vectors of the given passage ids, one row each."""
        if not len(ids):
            return np.zeros((0, self.manifest.dim), dtype=np.float32)
        return np.asarray(
            self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)), dtype=np.float32
        )

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        """Passages by id; unknown ids are absent from the result."""
        wanted = sorted({int(i) for i in ids if i >= 0})
        if not wanted:
            return {}
        with self._db_lock:
            rows = self._connection().execute(
                f"SELECT id, {', '.join(self._columns)} FROM passages "
                f"WHERE id IN ({', '.join('?' for _ in wanted)})",
                wanted,
            ).fetchall()
        return {row[0]: self._passage(row) for row in rows}

    def _passage(self, row: Sequence[Any]) -> Passage:
        return Passage(**dict(zip(self._columns, row[1:], strict=True)), id=row[0])

    def documents(self) -> dict[str, Document]:
        """Every document of this build by id; StoreError for a store made before documents were kept."""
        with self._db_lock:
            db = self._connection()
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'documents'").fetchone():
                raise StoreError(
                    f"{self.directory} was built by an older Aside that kept no document hashes; "
                    "rebuild it once with `aside index build`"
                )
            rows = db.execute("SELECT doc_id, hash, source, deduped FROM documents ORDER BY rowid").fetchall()
        return {row[0]: Document(*row) for row in rows}

    def document_passages(self, doc_id: str) -> list[Passage]:
        """The passages of one document, in their order."""
        with self._db_lock:
            rows = self._connection().execute(
                f"SELECT id, {', '.join(self._columns)} FROM passages WHERE doc_id = ? ORDER BY id",
                (doc_id,),
            ).fetchall()
        return [self._passage(row) for row in rows]

    def iter_embed_texts(self) -> Iterator[tuple[int, str, str]]:
        """(passage id, document id, embedded text) of every passage, in id order."""
        with self._db_lock:
            rows = self._connection().execute(
                "SELECT id, doc_id, embed_text FROM passages ORDER BY id"
            ).fetchall()
        yield from rows

    def _connection(self) -> sqlite3.Connection:
        """This process's connection to this build's passages (call with the lock held).

        Opened when the store is opened, so it keeps reading this build's file after
        a newer build is renamed into place. A forked worker (gunicorn --preload)
        must not use its parent's connection: it reopens the file, after checking
        that the path still names the pinned file.
        """
        if self._db is None or self._db_pid != os.getpid():
            path = self.directory / PASSAGES_FILE
            try:
                same = os.stat(path).st_ino == os.fstat(self._fd).st_ino
            except OSError:
                same = False
            if not same:
                raise StoreError(f"{self.directory}: this build was replaced; open the new one")
            uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._db_pid = os.getpid()
        return self._db

    def __del__(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None and getattr(self, "_db_pid", 0) == os.getpid():
            db.close()
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def check_target(out: Path) -> None:
    """Raise StoreError unless ``out`` is absent, empty, or an existing store.

    A directory with other files in it is never overwritten.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise StoreError(f"{out} exists and is not a directory")
    if any(out.iterdir()) and not (out / MANIFEST_FILE).is_file():
        raise StoreError(f"{out} is not empty and is not an Aside index; refusing to replace it")


def publish(staged: Path, out: Path) -> None:
    """Move a finished store from its staging directory to ``out``, replacing an older store."""
    check_target(out)
    if out.exists():
        retired = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:6]}")
        out.rename(retired)
        staged.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(out)
    logger.info("published index at %s", out)
