"""Builds and updates of an index with state kept beside it: a lock, remote copies, changes.

For the index at DIR, ``DIR.state/`` (var/index -> var/index.state) holds:

    lock          taken (flock) by every build, update and removal of DIR: runs never overlap
    state.json    the build it describes, and each source's fingerprint and last outcome
    downloads/    copies of remote sources with their validators (index.mirror)

``Session.update`` probes each source before reading it: a conditional request for a remote
one (an unchanged one costs that one request), a stat for a file, a version for packaged
data. A source whose fingerprint equals the one recorded for the build being served is not
read: its documents and vectors are copied. When nothing changed, nothing is written. A
source that cannot be had is reported and its documents are kept; the served build is only
ever replaced whole (index.build), and the state is written after the new build is published.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from index.build import BuildError, BuildOptions, BuildReport, build, update
from index.embedders import Embedder
from index.fetch import Fetcher, FetchError, default_fetcher
from index.mirror import Mirror, write_json
from index.sources import Source
from index.store import MANIFEST_FILE, Manifest, read_manifest

__all__ = ["EX_TEMPFAIL", "LockedError", "Outcome", "Session", "SourceOutcome", "state_dir"]

logger = logging.getLogger(__name__)

EX_TEMPFAIL = 75  # sysexits.h: try again later (another run holds the lock)
_STATE = "state.json"


class LockedError(Exception):
    """Another build, update or removal of the same index is running."""


def state_dir(index: Path) -> Path:
    """Where the state of the index at ``index`` lives: beside it, ``NAME.state``."""
    index = index.resolve()
    return index.with_name(f"{index.name}.state")


@dataclass
class SourceOutcome:
    """What an update did with one source.

    ``status``: "new" (first read), "changed", "unchanged" (not read: same fingerprint),
    "read" (read again, nothing changed), "failed" (kept as it was) or "removed" (no longer
    declared). ``documents`` counts new, changed, unchanged and removed documents.
    """

    name: str
    status: str
    detail: str = ""
    documents: Counter[str] = field(default_factory=Counter)


@dataclass
class Outcome:
    """The result of a build or update: the build now served and what happened to each source.

    ``report`` is None when nothing changed and no build was written.
    """

    build_id: str
    previous_build_id: str | None
    sources: list[SourceOutcome]
    report: BuildReport | None = None
    # Why the state beside the index could not be written after the build was published
    # (the next update then reads every source again).
    state_error: str | None = None

    @property
    def failed(self) -> list[SourceOutcome]:
        return [s for s in self.sources if s.status == "failed"]


class Session:
    """The lock on an index and its state, for one build, update or removal.

    Use as a context manager; entering raises LockedError when another run holds the lock.
    """

    def __init__(self, index: Path, fetcher: Fetcher | None = None) -> None:
        self.index = index.resolve()
        self.directory = state_dir(self.index)
        self._fetcher = fetcher
        self._lock: IO[str] | None = None
        self._mirror: Mirror | None = None

    @property
    def mirror(self) -> Mirror:
        """The copies of remote sources (made on first use: the fetcher reads the settings)."""
        if self._mirror is None:
            self._mirror = Mirror(self.directory / "downloads", self._fetcher or default_fetcher())
        return self._mirror

    def __enter__(self) -> Session:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = (self.directory / "lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockedError(
                f"another build or update of {self.index} is running ({holder}); "
                "this one did nothing") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {_now()}\n")
        handle.flush()
        self._lock = handle
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._lock is not None:
            self._lock.truncate(0)
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    # -- the runs ---------------------------------------------------------------------------

    def build(self, sources: Sequence[Source], embedder: Callable[[], Embedder],
              options: BuildOptions | None = None) -> Outcome:
        """A whole new build from the sources (remote ones through the mirror)."""
        options = options or BuildOptions()
        previous = _manifest(self.index)
        fingerprints, failed = self._probe(sources, options)
        report = build(sources, self.index, embedder(), options, failed=failed)
        return self._finish(report, previous, sources, fingerprints, failed, unchanged=set())

    def update(self, sources: Sequence[Source], embedder: Callable[[], Embedder],
               options: BuildOptions | None = None) -> Outcome:
        """Bring the index up to date, reading only sources that changed; build it if missing.

        The model (``embedder``) is loaded only when something has to be read.
        """
        options = options or BuildOptions()
        previous = _manifest(self.index)
        if previous is None:
            return self.build(sources, embedder, options)
        state = self._load_state()
        trusted = state.get("build_id") == previous.build_id  # else: read everything
        recorded = state.get("sources", {}) if trusted else {}
        before = {str(s.get("name")) for s in previous.sources}
        fingerprints, failed = self._probe(sources, options)
        unchanged = {
            s.name for s in sources
            if s.name in before and fingerprints.get(s.name) is not None
            and recorded.get(s.name, {}).get("fingerprint") == fingerprints[s.name]
        }
        if failed and len(failed) == len(sources):
            raise BuildError("every source failed: " + "; ".join(
                f"{name}: {why}" for name, why in failed.items()))
        kept = unchanged | (failed.keys() & before)  # a failed source keeps what it had
        if all(s.name in kept for s in sources) and before == {s.name for s in sources}:
            logger.info("nothing changed since build %s", previous.build_id)
            outcome = Outcome(previous.build_id, previous.build_id,
                              [self._outcome(s, "unchanged", None, failed) for s in sources])
            self._save(outcome, sources, fingerprints, recorded, failed, unchanged)
            return outcome
        report = update(sources, self.index, embedder(), options, unchanged=unchanged, failed=failed)
        return self._finish(report, previous, sources, fingerprints, failed, unchanged, recorded)

    # -- parts ------------------------------------------------------------------------------

    def _probe(self, sources: Sequence[Source],
               options: BuildOptions) -> tuple[dict[str, str | None], dict[str, str]]:
        """Each source's fingerprint (None: cannot tell without reading), and those that failed."""
        fingerprints: dict[str, str | None] = {}
        failed: dict[str, str] = {}
        for source in sources:
            try:
                content = source.probe() if source.probe is not None else None
            except (FetchError, ValueError, OSError) as exc:
                failed[source.name] = str(exc)
                logger.error("%s: the source failed: %s", source.name, exc)
                continue
            if content is None:
                fingerprints[source.name] = None
                continue
            identity = {"source": source.config or source.name, "content": content,
                        "aside": _aside_version(), "max_sentences": options.max_sentences,
                        "max_chars": options.max_chars}
            fingerprints[source.name] = hashlib.sha256(
                json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return fingerprints, failed

    def _finish(self, report: BuildReport, previous: Manifest | None, sources: Sequence[Source],
                fingerprints: dict[str, str | None], failed: dict[str, str],
                unchanged: set[str], recorded: dict[str, Any] | None = None) -> Outcome:
        # A source that failed while it was read (a broken file, a cut dump, an error page)
        # is as failed as one that could not be fetched: its fingerprint stays the old one.
        failed = {**failed, **{s.name: s.failed for s in report.sources if s.failed}}
        build_id = report.manifest.build_id
        outcomes = [self._outcome(s, "unchanged" if s.name in unchanged else "read", report, failed)
                    for s in sources]
        declared = {s.name for s in sources}
        for name, documents in report.documents_by_source.items():
            if name not in declared:
                outcomes.append(SourceOutcome(name, "removed", "no longer declared", documents))
        before = [str(s.get("name")) for s in previous.sources] if previous else []
        for name in before:  # its documents all went to a source declared now (same ids)
            if name not in declared and name not in report.documents_by_source:
                outcomes.append(SourceOutcome(name, "removed", "no longer declared"))
        outcome = Outcome(build_id, previous.build_id if previous else None, outcomes, report)
        self._save(outcome, sources, fingerprints, recorded or {}, failed, unchanged)
        return outcome

    def _save(self, outcome: Outcome, sources: Sequence[Source],
              fingerprints: dict[str, str | None], recorded: dict[str, Any],
              failed: dict[str, str], unchanged: set[str]) -> None:
        """Write the state for the build now served; a failure is told, not raised: the
        build is already published, and the next run reads every source again."""
        try:
            self._save_state(outcome.build_id, sources, fingerprints, recorded, failed, unchanged)
            self.mirror.save()
        except OSError as exc:
            outcome.state_error = str(exc)
            logger.error("build %s is served, but the state beside it could not be saved: %s",
                         outcome.build_id, exc)

    def _outcome(self, source: Source, status: str, report: BuildReport | None,
                 failed: dict[str, str]) -> SourceOutcome:
        documents = report.documents_by_source.get(source.name, Counter()) if report else Counter()
        if source.name in failed:  # before reading, or while read (_finish merges both)
            return SourceOutcome(source.name, "failed", failed[source.name], documents)
        if status == "unchanged":
            return SourceOutcome(source.name, "unchanged", self._why_unchanged(source), documents)
        if not any(documents[k] for k in ("unchanged", "changed", "removed")):
            return SourceOutcome(source.name, "new", "", documents)
        moved = any(documents[k] for k in ("new", "changed", "removed"))
        return SourceOutcome(source.name, "changed" if moved else "read", "", documents)

    def _why_unchanged(self, source: Source) -> str:
        if "://" in source.location:
            found = self.mirror.outcome(source.location) or ""
            return {"not modified": "not modified (HTTP 304)", "same": "fetched again: the same bytes",
                    "new": "fetched whole (no copy was kept): the same bytes"}.get(found, found)
        return "the same files" if source.location else "the same package version"

    def _load_state(self) -> dict[str, Any]:
        path = self.directory / _STATE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("%s is unreadable (%s): every source is read again", path, exc)
            return {}
        entries = state.get("sources") if isinstance(state, dict) else None
        if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
            logger.warning("%s is not what Aside writes: every source is read again", path)
            return {}
        return dict(state)

    def _save_state(self, build_id: str, sources: Sequence[Source],
                    fingerprints: dict[str, str | None], recorded: dict[str, Any],
                    failed: dict[str, str], unchanged: set[str]) -> None:
        now = _now()
        entries: dict[str, Any] = {}
        for source in sources:
            old = recorded.get(source.name, {})
            if source.name in failed:  # its documents are the previous build's: so is its print
                entries[source.name] = {**old, "checked": now, "failed": failed[source.name]}
                continue
            changed = old.get("changed", now) if source.name in unchanged else now
            entries[source.name] = {"fingerprint": fingerprints.get(source.name),
                                    "checked": now, "changed": changed}
        write_json(self.directory / _STATE,
                   {"build_id": build_id, "updated": now, "sources": entries})


def _manifest(index: Path) -> Manifest | None:
    """The manifest of the build served at ``index``, or None when there is none yet
    (StoreError when there is one that cannot be read)."""
    return read_manifest(index) if (index / MANIFEST_FILE).is_file() else None


def _aside_version() -> str:
    try:
        return version("aside")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout without install
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
