"""A sources file (``sources.toml``) declaring what an index is built from.

    [[source]]
    kind = "feed"                        # factbook, wikipedia, jsonl, csv, feed, html,
                                         # claimreview, mediawiki, zim
    location = "https://news.example/rss"  # a URL or a path (relative to this file)
    name = "gazette"                     # optional: the source's label in reports and state
    publisher = "Example Gazette"        # optional: label shown on the cards
    language = "en"                      # optional
    license = "CC BY 4.0"                # optional: the licence shown with its cards
    include = ["tariff", "border"]       # optional: keep records matching any (regex, any case)
    exclude = ["sponsored"]              # optional: drop records matching any
    max_bytes = 400_000_000              # optional: this source's download cap (bytes)
    deadline = 1800                      # optional: seconds for this source's whole download

A file kind (zim, mediawiki, jsonl, csv) may be given a URL when the file is read by
``aside index build`` or ``aside index update``: it is downloaded beside the index first.
See docs/sources.example.toml for a starter set of live public sources.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.records import SourceRecord
from index.sources import KINDS, Source, SourceStats, parse_spec

if TYPE_CHECKING:
    from index.mirror import Mirror

__all__ = ["load_sources_file"]

_KEYS = {"kind", "location", "name", "publisher", "language", "license", "include", "exclude",
         "max_bytes", "deadline"}
_OVERRIDES = ("publisher", "language", "license")


def load_sources_file(path: Path, *, remote: Mirror | None = None) -> list[Source]:
    """The sources a file declares; ValueError names the file, the entry and the problem.

    ``remote``: the Mirror that fetches and downloads URLs (see ``index.sources.parse_spec``),
    within each entry's ``max_bytes`` and ``deadline``.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: declare at least one [[source]] table")
    sources = [_source(entry, n, path, remote) for n, entry in enumerate(entries, start=1)]
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{path}: two sources have the same name: {', '.join(twice)} "
                         "(give each a distinct `name`)")
    return sources


def _source(entry: Any, number: int, path: Path, remote: Mirror | None) -> Source:
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
    limits = {key: _positive(entry, key, where) for key in ("max_bytes", "deadline")}
    if remote is not None:
        remote = remote.limited(max_bytes=limits["max_bytes"], deadline=limits["deadline"])
    try:
        base = parse_spec(f"{kind}:{location}" if location else kind, remote=remote)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    overrides = {k: entry[k] for k in _OVERRIDES if k in entry}
    for key, value in {**overrides, **{k: entry[k] for k in ("name",) if k in entry}}.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: {key} must be a non-empty string")
    include = _patterns(entry.get("include", []), f"{where}: include")
    exclude = _patterns(entry.get("exclude", []), f"{where}: exclude")
    name = entry.get("name", base.name).strip()
    # what the entry says (not where the file is): an edit means its records must be read again
    config = json.dumps({k: entry[k] for k in sorted(entry) if k not in ("max_bytes", "deadline")},
                        sort_keys=True, default=str)
    if not (overrides or include or exclude):
        return Source(name, base.read, base.probe, config, base.location)

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

    return Source(name, read, base.probe, config, base.location)


# The most a sources file may allow one source: 64 GiB and a week (bounds that an operator
# would not mean to exceed, and that keep timers and counters in range).
_LIMITS = {"max_bytes": (int, 64 * 2**30, "a whole number of bytes"),
           "deadline": (float, 7 * 86_400.0, "a number of seconds")}


def _positive(entry: dict[str, Any], key: str, where: str) -> Any:
    value = entry.get(key)
    if value is None:
        return None
    kind, most, what = _LIMITS[key]
    numeric = (int,) if kind is int else (int, float)
    if (isinstance(value, bool) or not isinstance(value, numeric) or not math.isfinite(value)
            or not 0 < value <= most):
        raise ValueError(f"{where}: {key} must be {what}, above 0 and at most {most:,}")
    return kind(value)


def _patterns(raw: Any, where: str) -> Sequence[re.Pattern[str]]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ValueError(f"{where} must be a list of strings")
    try:
        return [re.compile(p, re.IGNORECASE) for p in raw]
    except re.error as exc:
        raise ValueError(f"{where}: bad pattern ({exc})") from exc
