"""The operator's blocks: passages that no later answer shows, for every sentence or for
sentences like the reported one.

A block names a passage by document id and text hash (``index.records.passage_hash``), so it
holds across rebuilds and updates. Without a vector it is global: the passage is never shown.
With a vector (a reported sentence's) and a radius, it holds for sentences whose vector has a
cosine of at least the radius with it, and the passage can still help elsewhere.

``add_block``, ``remove_block`` and ``list_blocks`` keep them in the feedback database;
``Blocklist`` is the in-memory view an answer checks its hits against, and ``BlockWatcher``
keeps a service's blocklist current without a restart.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from index.records import passage_hash
from index.search import Hit
from server.feedback import DB_FILE, connect, from_codes, to_codes

__all__ = ["DEFAULT_RADIUS", "EMPTY", "Block", "BlockWatcher", "Blocklist", "add_block",
           "list_blocks", "load_blocklist", "remove_block"]

logger = logging.getLogger(__name__)

# The cosine (all-MiniLM-L6-v2) at or above which a sentence is "like the reported one".
# Measured on the news dev set: of 427 pairs of different sentences that share a judged card,
# the median pair scores 0.46, the 99th percentile 0.79, and 3 pairs reach 0.85 (all three on
# one speech); of 419 agency-style edits of its sentences (attribution reworded, a day added,
# a word swapped, the last clause or words dropped) the median scores 0.98 and 90% reach
# 0.85. Hand-written rewordings of a claim score 0.66-0.99: a block at 0.85 follows the
# sentence through other copies of the story, not every restatement of it; an operator who
# wants it wider gives a smaller radius, or blocks the passage for every sentence.
DEFAULT_RADIUS = 0.85
_HASH_CHARS = 32


@dataclass(frozen=True)
class Block:
    """One block as the database keeps it.

    ``vector`` is a unit vector (float32, shape ``(dim,)``) and ``radius`` a cosine in
    (0, 1], both None for a block that holds for every sentence. ``created`` is UTC ISO 8601.
    """

    id: int
    created: str
    doc_id: str
    passage_hash: str
    vector: NDArray[np.float32] | None
    radius: float | None
    note: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.doc_id, self.passage_hash)


def add_block(
    db: sqlite3.Connection, *, doc_id: str, passage_hash: str,
    vector: NDArray[np.float32] | bytes | None = None, radius: float | None = None, note: str = "",
) -> int:
    """Block a passage; returns the new block's id.

    ``vector``: a sentence's unit vector (shape ``(dim,)``), or its int8 codes as a report
    keeps them (``server.feedback.to_codes``); None blocks the passage for every sentence.
    ``radius`` (a cosine in (0, 1], default ``DEFAULT_RADIUS``) needs a vector. Raises
    ValueError for an empty document id, a passage hash that is not 32 hex digits, a radius
    out of range or without a vector, or a zero vector.
    """
    if not doc_id:
        raise ValueError("the document id is empty")
    if len(passage_hash) != _HASH_CHARS or not _is_hex(passage_hash):
        raise ValueError(f"the passage hash {passage_hash!r} is not {_HASH_CHARS} hex digits")
    if vector is None and radius is not None:
        raise ValueError("a radius needs a sentence vector: without one the block holds everywhere")
    codes: bytes | None = None
    if vector is not None:
        radius = DEFAULT_RADIUS if radius is None else radius
        if not 0.0 < radius <= 1.0:
            raise ValueError(f"the radius {radius:g} is not a cosine in (0, 1]")
        unit = from_codes(vector) if isinstance(vector, bytes) else _unit(vector)
        codes = to_codes(unit)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    cursor = db.execute(
        "INSERT INTO blocks (created, doc_id, passage_hash, vector, radius, note) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (created, doc_id, passage_hash.lower(), codes, radius, note),
    )
    block_id = cursor.lastrowid
    assert block_id is not None
    return block_id


def remove_block(db: sqlite3.Connection, block_id: int) -> bool:
    """Remove a block; False when there is none with that id."""
    return db.execute("DELETE FROM blocks WHERE id = ?", (block_id,)).rowcount > 0


def list_blocks(db: sqlite3.Connection) -> list[Block]:
    """Every block, oldest first. Raises ValueError for a stored vector that is zero."""
    rows = db.execute(
        "SELECT id, created, doc_id, passage_hash, vector, radius, note FROM blocks ORDER BY id"
    ).fetchall()
    return [Block(row[0], row[1], row[2], row[3],
                  from_codes(row[4]) if row[4] is not None else None, row[5], row[6])
            for row in rows]


class Blocklist:
    """The blocks an answer honours: a set of globally blocked (doc_id, passage_hash) keys,
    and per key the vectors (a matrix, one row a block) and radii of the radius blocks.

    A check costs a set lookup on the document id for most hits; only a hit from a document
    with a block is hashed, and only a key with radius blocks multiplies a vector.
    """

    def __init__(self, blocks: Iterable[Block] = (), *, dim: int | None = None) -> None:
        """``dim``: the model's dimension; a radius block of another is left out (logged)."""
        self._global: set[tuple[str, str]] = set()
        near: dict[tuple[str, str], list[tuple[NDArray[np.float32], float]]] = {}
        skipped = 0
        for block in blocks:
            if block.vector is None or block.radius is None:
                self._global.add(block.key)
            elif dim is not None and block.vector.shape != (dim,):
                skipped += 1
            else:
                near.setdefault(block.key, []).append((block.vector, block.radius))
        if skipped:
            logger.warning("%d blocks left out: their sentence vectors are not of this model's "
                           "%d dimensions", skipped, dim)
        self._near = {key: (np.stack([v for v, _ in rows]).astype(np.float32),
                            np.array([r for _, r in rows], dtype=np.float32))
                      for key, rows in near.items()}
        self._docs = {doc for doc, _ in self._global} | {doc for doc, _ in self._near}
        self.size = len(self._global) + sum(len(r) for _, r in self._near.values())

    def __len__(self) -> int:
        return self.size

    def blocks(self, doc_id: str, passage_hash: str,
               vector: NDArray[np.float32] | None = None) -> bool:
        """Whether the passage is blocked for a sentence with this unit vector (shape
        ``(dim,)``; None: only the blocks that hold for every sentence apply)."""
        key = (doc_id, passage_hash)
        if key in self._global:
            return True
        near = self._near.get(key)
        if near is None or vector is None:
            return False
        vectors, radii = near
        return bool(np.any(vectors @ vector >= radii))

    def keep(self, hits: Sequence[Hit], vector: NDArray[np.float32] | None = None) -> list[Hit]:
        """The hits of one sentence (with this vector) whose passages are not blocked for it."""
        if not self._docs:
            return list(hits)
        return [h for h in hits
                if h.passage.doc_id not in self._docs
                or not self.blocks(h.passage.doc_id, passage_hash(h.passage.text), vector)]


EMPTY = Blocklist()


def load_blocklist(directory: Path, *, dim: int | None = None) -> Blocklist:
    """The blocks kept in ``directory``'s feedback database; empty when it has none.

    Raises ``sqlite3.Error`` or ValueError when the database cannot be read.
    """
    if not (directory / DB_FILE).is_file():
        return EMPTY
    db = connect(directory, create=False)
    try:
        return _read(db, dim)
    finally:
        db.close()


class BlockWatcher:
    """The blocklist a service answers with, read again when the feedback database changes.

    Each ``current()`` call (one per request) stats the database file and asks the kept
    connection for ``PRAGMA data_version``, which changes when any other connection commits:
    microseconds, and exact, where a file's mtime misses a commit that only reached the WAL
    or came within the clock's tick. The stat catches a database made, deleted or replaced
    since (a kept connection would go on reading the file it opened). No database: no blocks.
    One that cannot be read keeps the last good blocklist (logged once until it reads again).
    The connection is opened in the process that uses it: SQLite connections do not survive
    a fork (gunicorn --preload loads resources in the master).
    """

    def __init__(self, directory: Path, *, dim: int | None = None) -> None:
        self.directory, self.dim = directory, dim
        self._blocklist = EMPTY
        self._db: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None
        self._version: int | None = None
        self._pid = os.getpid()
        self._failing = False
        self._lock = threading.Lock()

    def current(self) -> Blocklist:
        """The blocklist as the database holds it now (or the last one that could be read)."""
        # One thread checks and reads; the others answer with the blocklist they have.
        if self._lock.acquire(blocking=False):
            try:
                self._refresh()
            finally:
                self._lock.release()
        return self._blocklist

    def _refresh(self) -> None:
        if self._pid != os.getpid():  # forked: the parent's connection is not ours to use
            self._pid, self._db, self._file, self._version = os.getpid(), None, None, None
        try:
            info = os.stat(self.directory / DB_FILE)
        except FileNotFoundError:
            if self._file is not None or self._blocklist is not EMPTY:
                logger.info("no feedback database at %s: no blocks", self.directory)
            self._close()
            self._blocklist = EMPTY
            return
        except OSError as exc:
            self._failed(exc)
            return
        try:
            if self._db is None or self._file != (info.st_dev, info.st_ino):
                self._close()
                self._db = connect(self.directory, create=False)
                self._file = (info.st_dev, info.st_ino)
            version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
            if version == self._version:
                return
            blocklist = _read(self._db, self.dim)
        except (OSError, sqlite3.Error, ValueError) as exc:
            self._version = None  # read again at the next request
            self._failed(exc)
            return
        self._version, self._blocklist, self._failing = version, blocklist, False
        logger.info("blocks from %s: %d", self.directory, len(blocklist))

    def _failed(self, exc: BaseException) -> None:
        if not self._failing:
            logger.error("cannot read the blocks in %s (%s); keeping the %d read before",
                         self.directory, exc, len(self._blocklist))
        self._failing = True

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db, self._file, self._version = None, None, None


def _read(db: sqlite3.Connection, dim: int | None) -> Blocklist:
    """Every block in one read; a database without a blocks table (being made) has none."""
    db.execute("BEGIN")  # one snapshot: the table check and the rows
    try:
        made = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blocks'"
                          ).fetchone()
        return Blocklist(list_blocks(db), dim=dim) if made else EMPTY
    finally:
        if db.in_transaction:
            db.execute("COMMIT")


def _unit(vector: NDArray[np.float32]) -> NDArray[np.float32]:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"a sentence vector has one dimension, not shape {array.shape}")
    norm = float(np.linalg.norm(array))
    if not norm or not np.isfinite(norm):
        raise ValueError("the vector is zero (or not finite)")
    return array / norm


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
