"""Source kinds and the ``--source`` spec syntax that names them.

SPEC is ``factbook`` (optionally ``factbook:mx,us`` for some GEC codes),
``wikipedia`` (optionally ``wikipedia:fr``), ``jsonl:PATH``, ``csv:PATH``,
``feed:URL-OR-PATH``, ``html:URL-OR-PATH``, ``claimreview:URL-OR-PATH``,
``mediawiki:PATH`` (``.xml`` or ``.xml.bz2``) or ``zim:PATH``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from index.records import SourceRecord
from index.sources.base import SourceStats
from index.sources.claimreview import iter_claimreviews
from index.sources.csvfile import iter_csv
from index.sources.factbook import iter_factbook
from index.sources.feeds import iter_feed
from index.sources.jsonl import iter_jsonl
from index.sources.mediawiki import iter_mediawiki
from index.sources.webpages import iter_pages
from index.sources.wikipedia import LANGUAGES, iter_wikipedia
from index.sources.zim import iter_zim

__all__ = ["DEFAULT_SPECS", "KINDS", "Source", "SourceStats", "parse_spec"]

KINDS = ("factbook", "wikipedia", "jsonl", "csv", "feed", "html", "claimreview", "mediawiki", "zim")
_FILE_KINDS = {"jsonl": iter_jsonl, "csv": iter_csv, "mediawiki": iter_mediawiki, "zim": iter_zim}
_URL_KINDS = {"feed": iter_feed, "html": iter_pages, "claimreview": iter_claimreviews}
DEFAULT_SPECS = ("factbook", "wikipedia")


@dataclass(frozen=True)
class Source:
    """A named, re-readable stream of records."""

    name: str
    read: Callable[[SourceStats], Iterator[SourceRecord]]


def parse_spec(spec: str) -> Source:
    """Turn a ``--source`` spec into a Source; raise ValueError with a readable message."""
    kind, _, location = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "factbook":
        codes = [c.strip() for c in location.split(",") if c.strip()] or None
        return Source(spec, partial(iter_factbook, countries=codes))
    if kind == "wikipedia":
        language = location.strip() or "en"
        if language not in LANGUAGES:
            raise ValueError(
                f"wikipedia: no summaries for language {language!r} "
                f"(have {', '.join(sorted(LANGUAGES))})"
            )
        return Source(spec, partial(iter_wikipedia, language=language))
    if kind in _FILE_KINDS:
        if not location:
            raise ValueError(f"{kind} needs a path: --source {kind}:PATH")
        path = Path(location).expanduser()
        if not path.is_file():
            raise ValueError(f"{kind}: no such file: {path}")
        return Source(spec, partial(_FILE_KINDS[kind], path=path))
    if kind in _URL_KINDS:
        if not location:
            raise ValueError(f"{kind} needs a URL or a path: --source {kind}:URL")
        if "://" not in location and not Path(location).expanduser().exists():
            raise ValueError(f"{kind}: no such file: {location}")
        where = location if "://" in location else str(Path(location).expanduser())
        return Source(spec, partial(_URL_KINDS[kind], location=where))
    raise ValueError(
        f"unknown source {spec!r}: expected one of factbook, wikipedia, jsonl:PATH, csv:PATH, "
        "feed:URL-OR-PATH, html:URL-OR-PATH, claimreview:URL-OR-PATH, mediawiki:PATH, zim:PATH"
    )
