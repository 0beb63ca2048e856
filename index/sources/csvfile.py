"""Operator documents as CSV: a header row naming ``text`` and any optional fields."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from pathlib import Path

from index.records import SourceRecord
from index.sources.base import OPTIONAL_FIELDS, SourceStats, document_record

__all__ = ["iter_csv"]

logger = logging.getLogger(__name__)


def iter_csv(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per valid row; a malformed row is logged with its line and skipped."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if "text" not in header:
            raise ValueError(
                f"{path}: the header row must name a 'text' column "
                f"(and optionally {', '.join(OPTIONAL_FIELDS)}); found {header}"
            )
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row or any(value is None for value in row.values()):
                stats.skip(f"{len(header)} columns expected", where=where)
                continue
            try:
                record = document_record(row, kind="csv", path=path)
            except ValueError as exc:
                stats.skip(str(exc), where=where)
                continue
            stats.read += 1
            yield record
