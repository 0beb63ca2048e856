"""Readers' reports on cards: check one, store it once, read them by card, export and prune.

A report names its card the way builds cannot change (document id and passage hash) and its
sentence by hash; the sentence's text is there only when the reader chose to send it. The
passage is copied from the served index when the report arrives (``snapshot``), so the
operator can read what was reported after the index has changed. One reader (install) counts
once per card and sentence: a repeat returns the first report's id. The install that sent a
report may withdraw it (the reader's Undo) for ``WITHDRAW_WINDOW`` after it was first stored.

Every write is one transaction, committed to disk (``synchronous=FULL``) before it returns.
A write the database cannot take (disk full, read-only file or directory, I/O error, locked
past the busy timeout) raises ``WriteFailed``, which the service answers with 503.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from index.records import passage_hash
from index.store import Store, StoreError
from server.errors import BadRequest
from server.feedback import REASONS, VERDICTS, connect, decode_vector, sentence_hash
from server.pipeline.snippet import title as shown_title

__all__ = ["FIELDS", "WITHDRAW_WINDOW", "Added", "CardReports", "NewReport", "Reports", "Snapshot",
           "StoredReport", "TooLate", "WriteFailed", "add_report", "card_of", "cards", "export_lines",
           "forget_deleted", "parse_report", "parse_withdrawal", "prune", "snapshot", "utc_stamp",
           "withdraw_report"]

logger = logging.getLogger(__name__)

MAX_SENTENCE_CHARS = 1000
_HEX32, _HEX64 = re.compile(r"[0-9a-f]{32}"), re.compile(r"[0-9a-f]{64}")
_INSTALL = re.compile(r"[A-Za-z0-9_-]{8,64}")
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                       r"(Z|[+-][0-9]{2}:[0-9]{2})?)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
# name: (required, longest, pattern); every string, and nothing else, is accepted.
FIELDS: dict[str, tuple[bool, int, re.Pattern[str] | None]] = {
    "verdict": (True, 20, None), "reason": (False, 40, None),
    "passage_id": (True, 64, None), "doc_id": (True, 2048, None),
    "passage_hash": (True, 32, _HEX32), "build": (True, 128, None),
    "sentence_hash": (True, 64, _HEX64), "install": (True, 64, _INSTALL),
    "reported": (False, 40, _ISO_TIME), "vector": (False, 8192, None),
    "sentence": (False, MAX_SENTENCE_CHARS, None),
}
_PRUNE_SECONDS = 24 * 3600
# How long after a report is first stored its reader may withdraw it: long enough for an Undo
# however late, short enough that what the operator has read and acted on stays put.
WITHDRAW_WINDOW = timedelta(days=1)
_MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id names no report


class WriteFailed(Exception):
    """The feedback database could not take a write; nothing of the failed write was kept."""


class TooLate(Exception):
    """The report is older than ``WITHDRAW_WINDOW``: its reader may no longer withdraw it."""


@dataclass(frozen=True, kw_only=True)
class NewReport:
    """A report as a reader's extension sends it, checked (``parse_report``)."""

    verdict: str
    reason: str | None
    passage_id: str
    doc_id: str
    passage_hash: str
    build: str
    sentence_hash: str
    install: str
    reported: str | None = None
    vector: bytes | None = None  # int8 codes (server.feedback.to_codes)
    sentence: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The reported passage as the served index held it; every field None when not found."""

    passage_text: str | None = None
    title: str | None = None
    publisher: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Added:
    """The stored report's id and time (UTC, ISO 8601 ``…Z``), and whether it was a repeat."""

    id: int
    received: str
    duplicate: bool


@dataclass(frozen=True, kw_only=True)
class StoredReport(NewReport, Snapshot):
    """One row of the ``reports`` table."""

    id: int
    received: str

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON values: the vector as base64 (``encode_vector``'s text)."""
        row = asdict(self)
        row["vector"] = base64.b64encode(self.vector).decode("ascii") if self.vector else None
        return row


@dataclass(frozen=True, kw_only=True)
class CardReports:
    """The reports on one card: ``id`` is its first report's id. Counts are of distinct readers
    (installs) per verdict and per reason (``none`` when no reason was given)."""

    id: int
    doc_id: str
    passage_hash: str
    reports: int
    readers: int
    verdicts: dict[str, int]
    reasons: dict[str, int]
    last: str
    snapshot: Snapshot


_COLUMNS = tuple(f.name for f in fields(StoredReport))


def utc_stamp(moment: datetime) -> str:
    """``moment`` as the database writes times: UTC, milliseconds, ``Z`` (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_report(body: Any, *, dim: int) -> NewReport:
    """Check a decoded JSON body against the report contract; raise BadRequest naming the field.

    ``dim`` is the served model's dimension, which a ``vector`` must have.
    """
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object (a report on one card)")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:40]!r}; a report has {', '.join(FIELDS)}")
    values: dict[str, Any] = {}
    for name, (required, longest, pattern) in FIELDS.items():
        value = body.get(name)
        if value is None:
            if required:
                raise BadRequest(f"'{name}' is required")
            continue
        if not isinstance(value, str) or not value or len(value) > longest:
            raise BadRequest(f"'{name}' must be a string of 1 to {longest} characters")
        if _SURROGATE.search(value):
            raise BadRequest(f"'{name}' is not valid Unicode (a lone UTF-16 surrogate)")
        if pattern is not None and not pattern.fullmatch(value):
            raise BadRequest(f"'{name}' is not in its form (see /openapi.json)")
        values[name] = value
    if values["verdict"] not in VERDICTS:
        raise BadRequest(f"'verdict' must be one of {', '.join(VERDICTS)}")
    if values.get("reason") is not None and values["reason"] not in REASONS:
        raise BadRequest(f"'reason' must be null or one of {', '.join(REASONS)}")
    if "reported" in values:
        try:
            datetime.fromisoformat(values["reported"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest("'reported' is not an ISO 8601 time") from exc
    if "sentence" in values and sentence_hash(values["sentence"]) != values["sentence_hash"]:
        raise BadRequest("'sentence' is not the sentence 'sentence_hash' names (SHA-256 of its UTF-8 text)")
    if "vector" in values:
        try:
            decode_vector(values["vector"], dim)
        except ValueError as exc:
            raise BadRequest(f"'vector': {exc}") from exc
        values["vector"] = base64.b64decode(values["vector"])
    return NewReport(**{"reason": None, **values})


def parse_withdrawal(body: Any) -> str:
    """The install id in a withdrawal's decoded JSON body, ``{"install": …}``; BadRequest otherwise."""
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"install": the install id that sent the report}')
    unknown = sorted(set(body) - {"install"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:40]!r}; a withdrawal has only install")
    install = body.get("install")
    if not isinstance(install, str) or not _INSTALL.fullmatch(install):
        raise BadRequest("'install' must be the install id that sent the report (8 to 64 of "
                         "A-Z, a-z, 0-9, _ and -)")
    return install


def snapshot(store: Store | None, report: NewReport) -> Snapshot:
    """The reported passage in ``store``: by its id when the report names this build, else
    by document id and passage hash. An empty Snapshot when it is not there."""
    if store is None:
        return Snapshot()
    try:
        found = []
        if report.build == store.manifest.build_id and report.passage_id.isascii() \
                and report.passage_id.isdigit() and len(report.passage_id) <= 18:
            found = list(store.passages([int(report.passage_id)]).values())
        if not found or found[0].doc_id != report.doc_id:
            found = store.document_passages(report.doc_id)
    except StoreError as exc:  # the build was swapped out under us: keep the report anyway
        logger.warning("no passage copied into a report: %s", exc)
        return Snapshot()
    for passage in found:
        if passage.doc_id == report.doc_id and passage_hash(passage.text) == report.passage_hash:
            return Snapshot(passage.text, shown_title(passage), passage.publisher, passage.url)
    return Snapshot()


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:  # SQLite rolled back already (a full disk can do that)
            pass


def _failure(exc: Exception) -> bool:
    """Whether an error is the database or its disk refusing a write, not a bug of ours."""
    return isinstance(exc, sqlite3.OperationalError | OSError) or type(exc) is sqlite3.DatabaseError


@contextmanager
def _writing(db: sqlite3.Connection, what: str) -> Iterator[None]:
    """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error; the
    database or its disk refusing it raises WriteFailed naming ``what`` was refused."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
    except Exception as exc:
        if _failure(exc):
            raise WriteFailed(f"the feedback database refused {what}: {exc}") from exc
        raise


def add_report(db: sqlite3.Connection, report: NewReport, found: Snapshot, *,
               now: datetime | None = None) -> Added:
    """Store a report in one transaction, or find the same reader's report on the same card and
    sentence. Raises WriteFailed when the database cannot take the write."""
    values = {**asdict(report), **asdict(found), "received": utc_stamp(now or datetime.now(UTC))}
    columns = [c for c in _COLUMNS if c != "id"]
    with _writing(db, "the report"):
        row = db.execute(
            f"INSERT INTO reports ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            "ON CONFLICT (install, doc_id, passage_hash, sentence_hash) DO NOTHING "
            "RETURNING id, received", [values[c] for c in columns]).fetchone()
        duplicate = row is None
        if duplicate:
            row = db.execute(
                "SELECT id, received FROM reports WHERE install = ? AND doc_id = ? "
                "AND passage_hash = ? AND sentence_hash = ?",
                (report.install, report.doc_id, report.passage_hash, report.sentence_hash),
            ).fetchone()
    return Added(int(row[0]), str(row[1]), duplicate)


def withdraw_report(db: sqlite3.Connection, report_id: int, install: str, *,
                    now: datetime | None = None) -> StoredReport | None:
    """Delete report ``report_id`` when ``install`` sent it, in one transaction; the deleted report,
    or None when ``install`` sent no report of that id (none at all, or another reader's).

    A repeat was never stored apart: withdrawing the id its POST answered removes the reader's
    one report. Raises TooLate, deleting nothing, when the report was stored more than
    ``WITHDRAW_WINDOW`` ago, and WriteFailed as ``add_report`` does.
    """
    if not 1 <= report_id <= _MAX_ID:
        return None
    cutoff = utc_stamp((now or datetime.now(UTC)) - WITHDRAW_WINDOW)
    with _writing(db, "a withdrawal"):
        found = _rows(db, "WHERE id = ? AND install = ?", (report_id, install))
        if found and found[0].received >= cutoff:
            db.execute("DELETE FROM reports WHERE id = ?", (report_id,))
    if not found:
        return None
    if found[0].received < cutoff:
        raise TooLate(f"report {report_id} was stored at {found[0].received}: the "
                      f"{WITHDRAW_WINDOW.days}-day window to withdraw it has passed")
    return found[0]


def prune(db: sqlite3.Connection, older_than_days: float, *, now: datetime | None = None) -> int:
    """Delete reports received more than ``older_than_days`` ago; the number deleted.

    Blocks are the operator's decisions and stay. Raises WriteFailed as ``add_report`` does.
    """
    cutoff = utc_stamp((now or datetime.now(UTC)) - timedelta(days=older_than_days))
    try:
        removed: int = db.execute("DELETE FROM reports WHERE received < ?", (cutoff,)).rowcount
    except Exception as exc:
        if _failure(exc):
            raise WriteFailed(f"the feedback database refused to prune: {exc}") from exc
        raise
    if removed:
        forget_deleted(db)
    return removed


def forget_deleted(db: sqlite3.Connection) -> None:
    """Make deleted reports unreadable on disk now: ``secure_delete`` zeroes their pages in the
    database, but the write-ahead log keeps the old copies until a checkpoint overwrites it;
    this checkpoints and truncates the log. Best effort: a reader in the middle of a read keeps
    the log until it ends (logged; the next checkpoint finishes the job)."""
    try:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as exc:
        logger.warning("could not checkpoint the feedback database after a deletion: %s", exc)
        return
    if busy:
        logger.warning("the feedback database's log is still in use; deleted reports leave it "
                       "at the next checkpoint")


def _rows(db: sqlite3.Connection, where: str, args: tuple[Any, ...], *, limit: int = -1
          ) -> list[StoredReport]:
    cursor = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM reports {where} ORDER BY id LIMIT ?",
                        (*args, limit))
    return [StoredReport(**dict(zip(_COLUMNS, row, strict=True))) for row in cursor]


def _tally(db: sqlite3.Connection, column: str, doc_id: str, digest: str) -> dict[str, int]:
    rows = db.execute(f"SELECT COALESCE({column}, 'none'), COUNT(DISTINCT install) FROM reports "
                      f"WHERE doc_id = ? AND passage_hash = ? GROUP BY 1 ORDER BY 2 DESC, 1",
                      (doc_id, digest))
    return {str(name): int(count) for name, count in rows}


_SUMMARY = ("SELECT MIN(id), doc_id, passage_hash, COUNT(*), COUNT(DISTINCT install), MAX(received) "
            "FROM reports {where} GROUP BY doc_id, passage_hash")


def _summary(db: sqlite3.Connection, row: tuple[Any, ...]) -> CardReports:
    first, doc_id, digest, count, readers, last = row
    text = db.execute(
        "SELECT passage_text, title, publisher, url FROM reports WHERE doc_id = ? AND "
        "passage_hash = ? AND passage_text IS NOT NULL ORDER BY id DESC LIMIT 1",
        (doc_id, digest)).fetchone()
    return CardReports(
        id=first, doc_id=doc_id, passage_hash=digest, reports=count, readers=readers,
        verdicts=_tally(db, "verdict", doc_id, digest), reasons=_tally(db, "reason", doc_id, digest),
        last=last, snapshot=Snapshot(*text) if text else Snapshot())


def cards(db: sqlite3.Connection, *, limit: int | None = None) -> list[CardReports]:
    """The reported cards, most readers first (then most reports, then the latest)."""
    rows = db.execute(_SUMMARY.format(where="") + " ORDER BY 5 DESC, 4 DESC, 6 DESC LIMIT ?",
                      (-1 if limit is None else limit,)).fetchall()
    return [_summary(db, row) for row in rows]


def card_of(db: sqlite3.Connection, report_id: int) -> tuple[CardReports, list[StoredReport]] | None:
    """The card that report ``report_id`` is on, with all its reports (oldest first); None when
    there is no such report."""
    key = db.execute("SELECT doc_id, passage_hash FROM reports WHERE id = ?", (report_id,)).fetchone()
    if key is None:
        return None
    row = db.execute(_SUMMARY.format(where="WHERE doc_id = ? AND passage_hash = ?"), key).fetchone()
    return _summary(db, row), _rows(db, "WHERE doc_id = ? AND passage_hash = ?", tuple(key))


def export_lines(db: sqlite3.Connection) -> Iterator[str]:
    """Every report as one JSON line (``StoredReport.to_dict``), oldest first, read in batches."""
    last = 0
    while True:
        batch = _rows(db, "WHERE id > ?", (last,), limit=1000)
        if not batch:
            return
        for report in batch:
            yield json.dumps(report.to_dict(), ensure_ascii=False)
        last = batch[-1].id


# How long a report waits for the database (this process's turn, then SQLite's lock), in seconds.
_WAIT_SECONDS = 1.0


class Reports:
    """The service's handle on the feedback database: opened at the first report (made then, in
    ``directory``), one connection per process shared by its threads, and reports past
    ``retention_days`` pruned at most once a day."""

    def __init__(self, directory: Path, *, retention_days: int) -> None:
        self.directory = directory
        self.retention_days = retention_days
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._pruned = float("-inf")
        self._lock = threading.Lock()

    def add(self, report: NewReport, found: Snapshot) -> Added:
        """Store a report (``add_report``), then prune if a day has passed since the last time.

        Raises WriteFailed when the database cannot be opened or cannot take the report.
        """
        with self._held():
            db = self._open()
            try:
                added = add_report(db, report, found)
            except WriteFailed:
                self._close()  # the next report reopens: the disk may be back, the file replaced
                raise
            if time.monotonic() - self._pruned >= _PRUNE_SECONDS:
                self._pruned = time.monotonic()
                try:
                    removed = prune(db, self.retention_days)
                except WriteFailed as exc:  # the report is stored; pruning tries again tomorrow
                    logger.warning("%s", exc)
                else:
                    if removed:
                        logger.info("pruned %d reports older than %d days", removed, self.retention_days)
            return added

    def withdraw(self, report_id: int, install: str) -> StoredReport | None:
        """Withdraw a reader's report (``withdraw_report``): the report withdrawn, or None.

        Raises TooLate as it does, and WriteFailed when the database cannot be opened or
        cannot take the withdrawal.
        """
        with self._held():
            db = self._open()
            try:
                withdrawn = withdraw_report(db, report_id, install)
            except WriteFailed:
                self._close()
                raise
            if withdrawn is not None:
                forget_deleted(db)
            return withdrawn

    @contextmanager
    def _held(self) -> Iterator[None]:
        """This process's turn at the database, or WriteFailed after ``_WAIT_SECONDS``: a report
        waiting on a locked database must not hold the worker's threads, which also answer
        articles."""
        if not self._lock.acquire(timeout=_WAIT_SECONDS):
            raise WriteFailed("the feedback database is busy with other reports")
        try:
            yield
        finally:
            self._lock.release()

    def _open(self) -> sqlite3.Connection:
        """This process's connection (call with the lock held); WriteFailed when it cannot open."""
        if self._db is None or self._pid != os.getpid():  # a forked worker opens its own
            try:
                self._db, self._pid = connect(self.directory), os.getpid()
                # Fail fast on a database another process holds (an operator's open shell):
                # the reader gets a 503 in a second rather than a thread tied up for ten.
                self._db.execute(f"PRAGMA busy_timeout = {int(_WAIT_SECONDS * 1000)}")
            except (sqlite3.Error, OSError) as exc:
                raise WriteFailed(f"cannot open the feedback database in {self.directory}: "
                                  f"{exc}") from exc
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None
