"""Operator documents as JSON Lines: one record per line with ``text`` and optional metadata."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from index.records import SourceRecord
from index.sources.base import SourceStats, document_record
from index.sources.dates import with_read_date
from index.sources.encodings import detect_encoding

__all__ = ["iter_jsonl"]

logger = logging.getLogger(__name__)


def iter_jsonl(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per valid line; a malformed line is logged with its number and skipped.

    The file may start with a byte-order mark or be UTF-16 (PowerShell 5 writes that); ValueError
    says what was found in a file that is not text.
    """
    encoding = detect_encoding(path)
    if encoding.errors != "strict":
        stats.note(encoding.found)
    with path.open(encoding=encoding.codec, errors=encoding.errors) as lines:
        for number, line in enumerate(lines, start=1):
            # A mark inside the file: files that each began with one, concatenated.
            line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            try:
                record = document_record(json.loads(line), kind="jsonl", path=path)
            except json.JSONDecodeError as exc:
                stats.skip(f"not valid JSON ({exc.msg})", where=f"line {number}")
                continue
            except ValueError as exc:
                stats.skip(str(exc), where=f"line {number}")
                continue
            stats.read += 1
            yield with_read_date(record, stats, where=f"line {number}")
