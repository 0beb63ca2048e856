"""Reader feedback on cards: reports from the extension, and the operator's blocks.

Both live in one SQLite file, ``feedback.sqlite3``, in a directory the operator chooses
(``ASIDE_FEEDBACK_DIR``), outside any index build, so they survive rebuilds and updates.
A block names a passage the way builds cannot change: its document id and the hash of its
text (``index.records.passage_hash``), never a store's integer passage id.

``reports.py`` stores and reads reports; ``blocks.py`` adds, removes and applies blocks.
This module holds what both share: the schema, the connection and the vector codec.

A report's sentence vector travels as text: the sentence's unit vector times 127, rounded
to int8, base64 (512 characters for the 384 dimensions of all-MiniLM-L6-v2). It is how a
block can apply only to sentences like the reported one without the service keeping the
sentence's text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["DB_FILE", "REASONS", "VERDICTS", "connect", "decode_vector", "encode_vector",
           "from_codes", "sentence_hash", "to_codes"]

logger = logging.getLogger(__name__)

DB_FILE = "feedback.sqlite3"
# What a reader says of a card, and why (optional).
VERDICTS = ("not-helpful", "wrong-match")
REASONS = ("wrong-person-or-place", "outdated", "off-topic", "other")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: an id names one report
    received      TEXT NOT NULL,      -- UTC ISO 8601, the service's clock
    reported      TEXT,               -- the reader's clock, as sent
    verdict       TEXT NOT NULL CHECK (verdict IN {VERDICTS!r}),
    reason        TEXT CHECK (reason IS NULL OR reason IN {REASONS!r}),
    passage_id    TEXT NOT NULL,      -- the store's id in the build named: not stable
    doc_id        TEXT NOT NULL,
    passage_hash  TEXT NOT NULL,
    build         TEXT NOT NULL,
    sentence_hash TEXT NOT NULL,
    sentence      TEXT,               -- only when the reader chose to send it
    vector        BLOB,               -- the sentence's int8 vector (see encode_vector)
    install       TEXT NOT NULL,      -- the reader's anonymous, rotated install id
    passage_text  TEXT,               -- the passage as the index had it (index text, not page text)
    title         TEXT,
    publisher     TEXT,
    url           TEXT,
    UNIQUE (install, doc_id, passage_hash, sentence_hash)
);
CREATE INDEX IF NOT EXISTS reports_card ON reports (doc_id, passage_hash);
CREATE INDEX IF NOT EXISTS reports_received ON reports (received);
CREATE TABLE IF NOT EXISTS blocks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    created       TEXT NOT NULL,      -- UTC ISO 8601
    doc_id        TEXT NOT NULL,
    passage_hash  TEXT NOT NULL,
    vector        BLOB,               -- NULL: the passage is blocked for every sentence
    radius        REAL,               -- with a vector: blocked where cosine >= radius
    note          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS blocks_card ON blocks (doc_id, passage_hash);
"""


def connect(directory: Path, *, create: bool = True) -> sqlite3.Connection:
    """The feedback database in ``directory`` (made, private to its owner, when ``create``).

    WAL journal with ``synchronous=FULL``: a committed write is on disk before ``commit``
    returns, and a reader never blocks a writer. Raises ``sqlite3.Error`` (or OSError) when
    the directory or the file cannot be opened, and FileNotFoundError when ``create`` is
    false and there is no database yet.
    """
    path = directory / DB_FILE
    if create:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private(directory, path)
    elif not path.is_file():
        raise FileNotFoundError(f"no feedback database at {path}")
    db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    # A withdrawn or pruned report's text is overwritten, not only unlinked from the tree.
    db.execute("PRAGMA secure_delete=ON")
    db.execute("PRAGMA foreign_keys=ON")
    if create:
        db.executescript(_SCHEMA)
    return db


def _private(directory: Path, path: Path) -> None:
    """Reports are for the operator only: the directory 0700 and the database 0600 (SQLite gives
    its log files the database's mode). A directory made by someone else with wider access is
    narrowed, with a warning; one we may not change is left, with a warning."""
    try:
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o077:
            os.chmod(directory, mode & 0o700)
            logger.warning("made the feedback directory %s private (mode %o was %o): reports "
                           "are for the operator only", directory, mode & 0o700, mode)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        elif stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
    except PermissionError as exc:
        logger.warning("cannot make the feedback directory %s private: %s", directory, exc)


def sentence_hash(text: str) -> str:
    """A sentence's key in reports: the SHA-256 hex digest of its UTF-8 text (64 characters).

    Two reports on the same card for the same sentence share it, so one reader counts once;
    the text cannot be read back from it (though a known sentence can be confirmed).
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_codes(vector: NDArray[np.float32]) -> bytes:
    """A unit vector (shape ``(dim,)``) as its int8 codes, ``round(v * 127)``: ``dim`` bytes,
    as the database keeps it."""
    codes = np.clip(np.rint(np.asarray(vector, dtype=np.float32) * 127.0), -127, 127).astype(np.int8)
    raw: bytes = codes.tobytes()  # numpy types tobytes() as Any
    return raw


def from_codes(raw: bytes) -> NDArray[np.float32]:
    """The unit vector (shape ``(len(raw),)``, float32) of int8 codes; ValueError if it is zero."""
    vector = np.frombuffer(raw, dtype=np.int8).astype(np.float32)
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise ValueError("the vector is zero")
    return vector / norm


def encode_vector(vector: NDArray[np.float32]) -> str:
    """A unit vector as the report carries it: base64 of its int8 codes (``to_codes``)."""
    return base64.b64encode(to_codes(vector)).decode("ascii")


def decode_vector(text: str, dim: int) -> NDArray[np.float32]:
    """The unit vector (shape ``(dim,)``, float32) ``encode_vector`` wrote.

    Raises ValueError when the text is not base64 of exactly ``dim`` bytes, or codes a
    zero vector.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("the vector is not base64") from exc
    if len(raw) != dim:
        raise ValueError(f"the vector has {len(raw)} dimensions; this index's model has {dim}")
    return from_codes(raw)
