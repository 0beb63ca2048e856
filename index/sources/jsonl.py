"""Operator documents as JSON Lines: one record per line with ``text`` and optional metadata."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.records import SourceRecord
from index.sources.base import SourceStats
from index.text import text_hash

__all__ = ["OPTIONAL_FIELDS", "iter_jsonl"]

logger = logging.getLogger(__name__)

OPTIONAL_FIELDS = ("id", "title", "url", "publisher", "published", "language", "license")


def iter_jsonl(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per valid line; a malformed line is logged with its number and skipped."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = _record(json.loads(line), path)
            except json.JSONDecodeError as exc:
                stats.skip(f"not valid JSON ({exc.msg})", where=f"line {number}")
                continue
            except ValueError as exc:
                stats.skip(str(exc), where=f"line {number}")
                continue
            stats.read += 1
            yield record


def _record(raw: Any, path: Path) -> SourceRecord:
    if not isinstance(raw, dict):
        raise ValueError("line is not a JSON object")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' is missing or not a non-empty string")
    for name in OPTIONAL_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str | int):
            raise ValueError(f"'{name}' must be a string")
    values = {name: None if raw.get(name) is None else str(raw[name]) for name in OPTIONAL_FIELDS}
    # Without an id, the text itself is the identity: stable across reordering.
    local_id = values["id"] or text_hash(text)
    return SourceRecord(
        doc_id=f"jsonl:{path.stem}:{local_id}",
        text=text,
        source=f"jsonl:{path.name}",
        kind="document",
        title=values["title"],
        url=values["url"],
        publisher=values["publisher"],
        published=values["published"],
        language=values["language"],
        license=values["license"],
        context=values["title"],
    )
