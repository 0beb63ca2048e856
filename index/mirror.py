"""Copies of remote sources kept beside an index, refreshed with conditional requests.

A Mirror keeps, for every URL a source reads, the body last fetched and its validators
(ETag, Last-Modified) in a directory (``DIR.state/downloads`` beside the index at DIR).
Asking for a URL again sends If-None-Match / If-Modified-Since: a 304 costs one request and
serves the copy on disk. Within one run a URL is requested at most once, and a failure is
remembered too, so a source is never asked twice.

Each URL has a folder named by a digest of the URL, and its copy keeps the URL's file name
(``3f9a…/simplewiki-latest-pages-articles.xml.bz2``): readers that name documents after
their file give the same ids whatever the content. A body streams to a temporary file and
replaces the copy only when whole: a failed, cut or refused download leaves the copy as it
was. The list of copies (``copies.json``, with each body's SHA-256 and validators) is
written only by ``save``, after the index that used them is published; a run that fails
before then leaves the list as it was, so the next run asks with the old validators and
gets the new body again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TextIO, TypeVar
from urllib.parse import urlsplit

from index.fetch import Fetched, Fetcher, FetchError

__all__ = ["Copy", "Mirror", "write_atomically", "write_json"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

_COPIES = "copies.json"


@dataclass(frozen=True)
class Copy:
    """One mirrored URL: where its body is, its digest and size (bytes), and its validators."""

    url: str
    final_url: str
    file: str  # path within the mirror directory: URL digest / URL's file name
    sha256: str
    size: int
    fetched_at: str  # ISO 8601, UTC: when this body came
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as JSON to ``path`` whole or not at all (a temporary file, synced, renamed)."""
    write_atomically(path, lambda out: json.dump(value, out, indent=1, sort_keys=True))


def write_atomically(path: Path, fill: Callable[[TextIO], T]) -> T:
    """Write a text file whole or not at all: ``fill`` writes a temporary file beside ``path``
    (mode 0600, as ``mkstemp`` makes it), which is synced and renamed over ``path``; on any
    error it is removed and ``path`` is as it was. Returns what ``fill`` returns."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            result = fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return result


def _place(url: str) -> str:
    """Where a URL's copy lives: a folder for the URL, and the file name its path ends with."""
    folder = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(urlsplit(url).path).name)[-100:]
    return f"{folder}/{name.lstrip('.') or 'download'}"


class _Hashing:
    """A sink that hashes what is written to the file beneath it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.raw.write(data)


@dataclass
class _Run:
    """What one run knows: the copies, and what each URL's request found."""

    copies: dict[str, Copy]
    outcomes: dict[str, str] = field(default_factory=dict)
    failures: dict[str, FetchError] = field(default_factory=dict)


class Mirror:
    """Local copies of remote sources in ``directory``, fetched with ``fetcher``.

    ``outcome(url)`` says what this run's request found: "new" (no copy before), "changed",
    "same" (200 with the same bytes), "not modified" (304) or "failed".
    """

    def __init__(self, directory: Path, fetcher: Fetcher, *, _run: _Run | None = None) -> None:
        self.directory = directory
        self.fetcher = fetcher
        self._run = _run or _Run(self._load(directory))

    @staticmethod
    def _load(directory: Path) -> dict[str, Copy]:
        path = directory / _COPIES
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            copies = {c["url"]: Copy(**c) for c in raw["copies"]}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s is unreadable (%s): every source is fetched whole again", path, exc)
            return {}
        # a copy whose file went missing is no copy: fetch it whole
        return {url: c for url, c in copies.items() if (directory / c.file).is_file()}

    def limited(self, *, max_bytes: int | None = None, deadline: float | None = None) -> Mirror:
        """The same mirror (same copies, same run) fetching within other limits."""
        if max_bytes is None and deadline is None:
            return self
        limits = self.fetcher.limits
        limits = replace(limits, max_bytes=max_bytes if max_bytes is not None else limits.max_bytes,
                         deadline=deadline if deadline is not None else limits.deadline)
        return Mirror(self.directory, replace(self.fetcher, limits=limits), _run=self._run)

    def copy(self, url: str) -> Copy | None:
        """The copy of ``url`` known now (this run's, else the previous run's)."""
        return self._run.copies.get(url)

    def outcome(self, url: str) -> str | None:
        return self._run.outcomes.get(url)

    def download(self, url: str) -> Path:
        """A local file with the body of ``url``, refreshed once per run; FetchError if it
        cannot be fetched (the previous copy, if any, is kept but not served)."""
        if url in self._run.failures:
            raise self._run.failures[url]
        if url not in self._run.outcomes:
            try:
                self._refresh(url)
            except FetchError as exc:
                self._run.failures[url] = exc
                self._run.outcomes[url] = "failed"
                raise
        return self.directory / self._run.copies[url].file

    def fetch(self, url: str) -> Fetched:
        """``url`` as a Fetched with its body in memory, for readers that take a fetch callable."""
        path = self.download(url)
        copy = self._run.copies[url]
        return Fetched(url=copy.final_url, status=200, body=path.read_bytes(),
                       content_type=copy.content_type, etag=copy.etag,
                       last_modified=copy.last_modified, size=copy.size)

    def _refresh(self, url: str) -> None:
        old = self._run.copies.get(url)
        file = _place(url)
        target = self.directory / file
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".part-", dir=target.parent)
        part = Path(name)
        try:
            with os.fdopen(handle, "wb") as raw:
                sink = _Hashing(raw)
                fetched = self.fetcher.fetch(
                    url, etag=old.etag if old else None,
                    last_modified=old.last_modified if old else None, sink=sink)  # type: ignore[arg-type]
            if fetched.not_modified and old is not None:
                self._run.outcomes[url] = "not modified"
                return
            if fetched.not_modified:  # a 304 to a request with no validators: a broken server
                raise FetchError(f"{url}: HTTP 304 to an unconditional request")
            digest = sink.digest.hexdigest()
            part.replace(target)
            self._run.copies[url] = Copy(
                url=url, final_url=fetched.url, file=file, sha256=digest, size=fetched.size,
                fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
                content_type=fetched.content_type, etag=fetched.etag,
                last_modified=fetched.last_modified)
            self._run.outcomes[url] = ("new" if old is None else
                                   "same" if old.sha256 == digest else "changed")
        finally:
            part.unlink(missing_ok=True)

    def save(self) -> None:
        """Write the list of copies, dropping (and deleting) those this run did not ask for."""
        used = {url: c for url, c in self._run.copies.items() if url in self._run.outcomes}
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json(self.directory / _COPIES, {"copies": [asdict(c) for c in used.values()]})
        keep = {c.file for c in used.values()}
        for item in self.directory.iterdir():  # copies no source asked for; cut downloads
            if item.is_dir():
                for inner in item.iterdir():
                    if f"{item.name}/{inner.name}" not in keep:
                        inner.unlink(missing_ok=True)
                if not any(item.iterdir()):
                    item.rmdir()
            elif item.name != _COPIES:
                item.unlink(missing_ok=True)
        self._run.copies = used
