"""Operator documents as JSON Lines: one record per line with ``text`` and optional metadata."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from index.records import SourceRecord
from index.sources.base import SourceStats, document_record

__all__ = ["iter_jsonl"]

logger = logging.getLogger(__name__)


def iter_jsonl(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per valid line; a malformed line is logged with its number and skipped."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
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
            yield record
