"""A sources file (``sources.toml``) declaring what an index is built from.

    [[source]]
    kind = "feed"                        # factbook, wikipedia, jsonl, csv, feed, html,
                                         # claimreview, mediawiki, zim
    location = "https://news.example/rss"
    publisher = "Example Gazette"        # optional: label shown on the cards
    language = "en"                      # optional
    include = ["tariff", "border"]       # optional: keep records matching any (regex, any case)
    exclude = ["sponsored"]              # optional: drop records matching any
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.records import SourceRecord
from index.sources import KINDS, Source, SourceStats, parse_spec

__all__ = ["load_sources_file"]

_KEYS = {"kind", "location", "publisher", "language", "include", "exclude"}


def load_sources_file(path: Path) -> list[Source]:
    """The sources a file declares; ValueError names the file, the entry and the problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: declare at least one [[source]] table")
    return [_source(entry, n, path) for n, entry in enumerate(entries, start=1)]


def _source(entry: Any, number: int, path: Path) -> Source:
    where = f"{path}: source {number}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    location = entry.get("location", "")
    if not isinstance(location, str):
        raise ValueError(f"{where}: location must be a string")
    if location and "://" not in location and not Path(location).is_absolute():
        location = str((path.parent / location).resolve())  # relative to the sources file
    try:
        base = parse_spec(f"{kind}:{location}" if location else kind)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    overrides = {k: entry[k] for k in ("publisher", "language") if k in entry}
    for key, value in overrides.items():
        if not isinstance(value, str):
            raise ValueError(f"{where}: {key} must be a string")
    include = _patterns(entry.get("include", []), f"{where}: include")
    exclude = _patterns(entry.get("exclude", []), f"{where}: exclude")
    if not (overrides or include or exclude):
        return base

    def read(stats: SourceStats) -> Iterator[SourceRecord]:
        for record in base.read(stats):
            haystack = f"{record.title or ''}\n{record.text}"
            if include and not any(p.search(haystack) for p in include):
                stats.skip("not matched by include")
                continue
            if any(p.search(haystack) for p in exclude):
                stats.skip("matched by exclude")
                continue
            yield replace(record, **overrides) if overrides else record

    return Source(base.name, read)


def _patterns(raw: Any, where: str) -> Sequence[re.Pattern[str]]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ValueError(f"{where} must be a list of strings")
    try:
        return [re.compile(p, re.IGNORECASE) for p in raw]
    except re.error as exc:
        raise ValueError(f"{where}: bad pattern ({exc})") from exc
