"""What every source shares: the counts a build reports for it."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from index.records import SourceRecord
from index.text import text_hash

__all__ = ["OPTIONAL_FIELDS", "SourceStats", "document_record", "locations", "package_data_dir"]

# The fields an operator's document may carry besides its text (JSONL and CSV alike).
OPTIONAL_FIELDS = ("id", "title", "url", "publisher", "published", "language", "license")

logger = logging.getLogger(__name__)


@dataclass
class SourceStats:
    """Records read and skipped by one source, with the reasons for skipping, what it kept
    but changed on the way (``notes``: e.g. dates it could not read, sentences left out), and
    ``failed``: why the source as a whole could not be read."""

    name: str
    read: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    # Why the whole source could not be read (a fetch refused, a file broken), if it could not.
    failed: str | None = None

    def skip(self, reason: str, *, where: str | None = None) -> None:
        """Count one skipped record and log why (and where, e.g. a line number)."""
        self.skipped += 1
        self.reasons[reason] += 1
        if where:
            logger.warning("%s: %s: skipped: %s", self.name, where, reason)
        else:
            logger.debug("%s: skipped: %s", self.name, reason)

    def note(self, what: str, count: int = 1, *, where: str | None = None) -> None:
        """Count something a kept record lost or had repaired ("no readable date"), for the
        build summary; logged at debug level (with where, e.g. a document id)."""
        self.notes[what] += count
        logger.debug("%s: %s%s", self.name, f"{where}: " if where else "", what)


def package_data_dir(module: str, distribution: str) -> Path:
    """The ``data`` folder of an installed package, found without importing (running) its code."""
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {distribution} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def locations(
    location: str, suffixes: tuple[str, ...], *, url_list: bool = False
) -> Iterator[tuple[str, str | None]]:
    """(where, url) pairs to read: a URL to fetch, or files (url None).

    LOCATION is a URL, a folder (its files with these suffixes, recursively) or a
    file; with ``url_list``, a file without one of the suffixes lists URLs, one a
    line, ``#`` for comments.
    """
    if "://" in location:
        yield location, location
        return
    path = Path(location).expanduser()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes):
            yield str(item), None
    elif path.suffix.lower() in suffixes or not url_list:
        yield str(path), None
    else:
        for line in path.read_text(encoding="utf-8").splitlines():
            url = line.strip()
            if url and not url.startswith("#"):
                yield url, url


def document_record(raw: Any, *, kind: str, path: Path) -> SourceRecord:
    """An operator's document (a JSON object or a CSV row) as a record; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("not an object with a 'text' field")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' is missing or not a non-empty string")
    for name in OPTIONAL_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str | int):
            raise ValueError(f"'{name}' must be a string")
    values = {
        name: None if raw.get(name) in (None, "") else str(raw[name]) for name in OPTIONAL_FIELDS
    }
    # Without an id, the text itself is the identity: stable across reordering.
    local_id = values["id"] or text_hash(text)
    return SourceRecord(
        doc_id=f"{kind}:{path.stem}:{local_id}",
        text=text,
        source=f"{kind}:{path.name}",
        kind="document",
        title=values["title"],
        url=values["url"],
        publisher=values["publisher"],
        published=values["published"],
        language=values["language"],
        license=values["license"],
        context=values["title"],
    )
