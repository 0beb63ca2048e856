"""The on-disk index store: a directory with a manifest, a FAISS index and passage metadata.

    DIR/manifest.json     model, dim, metric, counts, build id, sources, checksums
    DIR/index.faiss       inner-product index over unit vectors (scores are cosine);
                          the FAISS id of a vector is the passage id in SQLite
    DIR/passages.sqlite   passage text and provenance, keyed by that id
    DIR/bm25/, DIR/bm25_ids.npy   BM25 over the same passages (index.lexical)

A build writes everything into a temporary sibling directory and renames it
into place (``publish``), so a failed build never touches the store in use.
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

from index.lexical import LexicalIndex, write_lexical
from index.records import Passage

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "FORMAT",
    "MANIFEST_FILE",
    "Manifest",
    "Store",
    "StoreError",
    "StoreMismatchError",
    "StoreWriter",
    "check_target",
    "new_build_id",
    "publish",
]

logger = logging.getLogger(__name__)

FORMAT = 1
MANIFEST_FILE = "manifest.json"
INDEX_FILE = "index.faiss"
PASSAGES_FILE = "passages.sqlite"
_COLUMNS = tuple(f.name for f in fields(Passage) if f.name != "id")
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


def new_build_id() -> str:
    """A sortable, unique build id: UTC time plus a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _checksums(directory: Path) -> dict[str, str]:
    """SHA-256 of every file of the store but the manifest, by path relative to the store."""
    return {
        path.relative_to(directory).as_posix(): _sha256(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StoreWriter:
    """Writes a new store into an empty directory: passages first, then their vectors."""

    def __init__(self, directory: Path, *, model: str, dim: int) -> None:
        self.directory = directory
        self.model = model
        self.dim = dim
        directory.mkdir(parents=True, exist_ok=False)
        self._db = sqlite3.connect(directory / PASSAGES_FILE)
        self._db.execute(
            "CREATE TABLE passages (id INTEGER PRIMARY KEY, "
            + ", ".join(f"{c} TEXT" for c in _COLUMNS)
            + ")"
        )
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def add_passages(self, passages: Iterable[Passage]) -> int:
        """Spool passages into SQLite, which assigns their ids; return how many were added."""
        before = self.count()
        placeholders = ", ".join("?" for _ in _COLUMNS)
        self._db.executemany(
            f"INSERT INTO passages ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
            ([getattr(p, c) for c in _COLUMNS] for p in passages),
        )
        self._db.commit()
        return self.count() - before

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def iter_embed_texts(self, batch_size: int) -> Iterator[tuple[list[int], list[str]]]:
        """Yield (ids, texts to embed), longest texts first, batch by batch.

        Texts of similar length batch with little padding, which makes encoding
        faster; longest first makes the progress bar's first estimate pessimistic.
        """
        cursor = self._db.execute(
            "SELECT id, embed_text FROM passages ORDER BY length(embed_text) DESC, id"
        )
        while rows := cursor.fetchmany(batch_size):
            yield [r[0] for r in rows], [r[1] for r in rows]

    def add_vectors(self, ids: Sequence[int], vectors: NDArray[np.float32]) -> None:
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected {len(ids)} vectors of dim {self.dim}, got {vectors.shape}")
        self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def finish(self, sources: list[dict[str, Any]], *, build_id: str | None = None) -> Manifest:
        """Write the index and the manifest (with checksums); the store is then complete."""
        if self._index.ntotal != self.count():
            raise StoreError(f"{self.count()} passages but {self._index.ntotal} vectors")
        self._db.execute("CREATE INDEX passages_doc ON passages (doc_id)")
        self._db.commit()
        rows = self._db.execute("SELECT id, embed_text FROM passages ORDER BY id").fetchall()
        write_lexical(self.directory, [r[0] for r in rows], [r[1] for r in rows])
        self._db.close()
        faiss.write_index(self._index, str(self.directory / INDEX_FILE))
        manifest = Manifest(
            build_id=build_id or new_build_id(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            model=self.model,
            dim=self.dim,
            passages=int(self._index.ntotal),
            sources=sources,
            checksums=_checksums(self.directory),
        )
        (self.directory / MANIFEST_FILE).write_text(
            json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
        return manifest

    def abort(self) -> None:
        """Close and delete the partial store."""
        try:
            self._db.close()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


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
    if manifest.format != FORMAT:
        raise StoreError(f"{directory}: store format {manifest.format}, this Aside reads {FORMAT}")
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
            self._connection()

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
            if verify and _sha256(path) != manifest.checksums.get(name):
                raise StoreError(f"{directory}: checksum of {name} does not match the manifest")
        # faiss-cpu 1.15 uses BLAS only from 128,000 queries on; below that its generic
        # kernel is slow here: 40 queries over 36k vectors took 60 ms, 13 ms with BLAS.
        faiss.cvar.distance_compute_blas_threshold = _BLAS_THRESHOLD
        index = faiss.read_index(str(directory / INDEX_FILE))
        if index.d != manifest.dim or index.ntotal != manifest.passages:
            raise StoreError(f"{directory}: {INDEX_FILE} disagrees with the manifest")
        return cls(directory, manifest, index, LexicalIndex.load(directory))

    def search(self, vectors: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k cosine scores and passage ids per query vector; id -1 pads missing results."""
        k = max(1, min(k, self.manifest.passages))
        scores, ids = self._index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        return scores, ids

    def vectors(self, ids: Sequence[int]) -> NDArray[np.float32]:
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
                f"SELECT id, {', '.join(_COLUMNS)} FROM passages "
                f"WHERE id IN ({', '.join('?' for _ in wanted)})",
                wanted,
            ).fetchall()
        return {row[0]: Passage(**dict(zip(_COLUMNS, row[1:], strict=True)), id=row[0]) for row in rows}

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
