"""Write a new store into an empty directory: documents and passages first, then their vectors."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from index.lexical import write_lexical
from index.records import Passage
from index.store import (
    INDEX_FILE,
    MANIFEST_FILE,
    PASSAGE_COLUMNS,
    PASSAGES_FILE,
    Document,
    Manifest,
    StoreError,
    checksums,
    new_build_id,
)
from index.vectors import make_index

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["StoreWriter"]


class StoreWriter:
    """Spools documents and passages into SQLite (which assigns passage ids), then takes vectors.

    Passage ids run 1..n in the order passages were added; vectors may arrive in
    any order (the builder embeds longest texts first) and are kept in an array
    until ``finish`` chooses the FAISS index type and writes it.
    """

    def __init__(self, directory: Path, *, model: str, dim: int) -> None:
        self.directory = directory
        self.model = model
        self.dim = dim
        directory.mkdir(parents=True, exist_ok=False)
        self._db = sqlite3.connect(directory / PASSAGES_FILE)
        self._db.execute(
            "CREATE TABLE passages (id INTEGER PRIMARY KEY, "
            + ", ".join(f"{c} TEXT" for c in PASSAGE_COLUMNS)
            + ")"
        )
        self._db.execute(
            "CREATE TABLE documents (doc_id TEXT PRIMARY KEY, hash TEXT NOT NULL, "
            "source TEXT NOT NULL, deduped INTEGER NOT NULL)"
        )
        self._vectors: NDArray[np.float32] | None = None
        self._filled: NDArray[np.bool_] | None = None

    def add_document(self, document: Document, passages: Iterable[Passage]) -> int:
        """Spool one document and its passages; return how many passages were added."""
        placeholders = ", ".join("?" for _ in PASSAGE_COLUMNS)
        self._db.execute(
            "INSERT INTO documents (doc_id, hash, source, deduped) VALUES (?, ?, ?, ?)",
            (document.doc_id, document.hash, document.source, document.deduped),
        )
        cursor = self._db.executemany(
            f"INSERT INTO passages ({', '.join(PASSAGE_COLUMNS)}) VALUES ({placeholders})",
            ([getattr(p, c) for c in PASSAGE_COLUMNS] for p in passages),
        )
        return max(cursor.rowcount, 0)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def iter_embed_texts(self, batch_size: int) -> Iterator[tuple[list[int], list[str]]]:
        """Yield (ids, texts to embed), longest texts first, batch by batch.

        Texts of similar length batch with little padding, which makes encoding
        faster; longest first makes the progress bar's first estimate pessimistic.
        """
        self._db.commit()
        cursor = self._db.execute(
            "SELECT id, embed_text FROM passages ORDER BY length(embed_text) DESC, id"
        )
        while rows := cursor.fetchmany(batch_size):
            yield [r[0] for r in rows], [r[1] for r in rows]

    def add_vectors(self, ids: Sequence[int], vectors: NDArray[np.float32]) -> None:
        """Set the vectors of the given passage ids (unit vectors, one row each)."""
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected {len(ids)} vectors of dim {self.dim}, got {vectors.shape}")
        if self._vectors is None or self._filled is None:
            total = self.count()
            self._vectors = np.zeros((total, self.dim), dtype=np.float32)
            self._filled = np.zeros(total, dtype=bool)
        rows = np.asarray(ids, dtype=np.int64) - 1
        self._vectors[rows] = vectors
        self._filled[rows] = True

    def finish(
        self, sources: list[dict[str, Any]], *, build_id: str | None = None, index_type: str = "auto",
        extra: dict[str, Any] | None = None,
    ) -> Manifest:
        """Write BM25, the FAISS index and the manifest (with checksums); the store is then complete."""
        total = self.count()
        if self._vectors is None or self._filled is None or not self._filled.all():
            missing = total if self._filled is None else int((~self._filled).sum())
            raise StoreError(f"{total} passages but {missing} of them have no vector")
        self._db.execute("CREATE INDEX passages_doc ON passages (doc_id)")
        self._db.commit()
        rows = self._db.execute("SELECT id, embed_text FROM passages ORDER BY id").fetchall()
        write_lexical(self.directory, [r[0] for r in rows], [r[1] for r in rows])
        del rows
        self._db.close()
        started = time.perf_counter()
        index, info = make_index(self._vectors, np.arange(1, total + 1, dtype=np.int64), kind=index_type)
        faiss.write_index(index, str(self.directory / INDEX_FILE))
        self._vectors = self._filled = None
        manifest = Manifest(
            build_id=build_id or new_build_id(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            model=self.model,
            dim=self.dim,
            passages=total,
            sources=sources,
            checksums=checksums(self.directory),
            index=info.to_dict(),
            extra={"index_seconds": round(time.perf_counter() - started, 2), **(extra or {})},
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
