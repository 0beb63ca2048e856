"""Operator documents as CSV: a header row naming ``text`` and any optional fields.

Files as spreadsheets save them are read too: a byte-order mark, UTF-16 or a legacy code page
(see ``encodings``), CRLF line ends, quoted fields with line breaks, and ``;``, tab or ``|``
between fields (found from the header row, or declared by Excel's ``sep=;`` first line).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Generator, Iterator
from contextlib import closing
from itertools import chain
from pathlib import Path

from index.records import SourceRecord
from index.sources.base import OPTIONAL_FIELDS, SourceStats, document_record
from index.sources.dates import day_first, with_read_date
from index.sources.encodings import TextEncoding, detect_encoding

__all__ = ["iter_csv"]

logger = logging.getLogger(__name__)

_DELIMITERS = (",", ";", "\t", "|")
_NAMES = {"text", *OPTIONAL_FIELDS}
# Excel honours a first line "sep=;" naming the delimiter, and exporters write it for Excel's
# sake (https://github.com/PowerShell/PowerShell/issues/7776, parsecsv-for-php issue #60).
_SEP_LINE = re.compile(r"sep=(.)\r?\n?")


def iter_csv(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per valid row; a malformed row is logged with its line and skipped.

    Raises ValueError, saying what was found, for a file that is not text or has no ``text`` column.
    """
    encoding = detect_encoding(path)
    if encoding.errors != "strict":
        stats.note(encoding.found)
    # 1. A first pass over the dates alone: the file's day/month order, for "03/06/2024".
    with closing(_rows(path, encoding)) as rows:
        _, header = next(rows)
        column = header.index("published") if "published" in header else None
        dayfirst = None if column is None else day_first(
            cells[column] for _, cells in rows if len(cells) == len(header))
    # 2. The records.
    with closing(_rows(path, encoding)) as rows:
        next(rows)
        for line, cells in rows:
            where = f"line {line}"
            if not any(cell.strip() for cell in cells):
                continue  # a blank row, or one of only separators as spreadsheets pad them
            if len(cells) != len(header):
                stats.skip(f"{len(header)} columns expected", where=where)
                continue
            # A line break inside a cell is "\n" whatever the file's line ends: the same sheet
            # saved on another system must give the same text (and content hash).
            cells = [cell.replace("\r\n", "\n").replace("\r", "\n") for cell in cells]
            try:
                record = document_record(dict(zip(header, cells, strict=True)), kind="csv", path=path)
            except ValueError as exc:
                stats.skip(str(exc), where=where)
                continue
            stats.read += 1
            yield with_read_date(record, stats, where=where, dayfirst=dayfirst)


def _rows(path: Path, encoding: TextEncoding) -> Generator[tuple[int, list[str]]]:
    """(line, cells) for the header (its cells as field names), then for every row."""
    with path.open(encoding=encoding.codec, errors=encoding.errors, newline="") as handle:
        first = handle.readline()
        declared = _SEP_LINE.fullmatch(first)
        offset = 0
        if declared:
            offset, first = 1, handle.readline()
        delimiter = declared.group(1) if declared else _delimiter(first)
        reader = csv.reader(chain([first], handle), delimiter=delimiter)
        header = [_name(cell) for cell in next(reader, [])]
        if "text" not in header:
            raise ValueError(
                f"{path}: the header row must name a 'text' column "
                f"(and optionally {', '.join(OPTIONAL_FIELDS)}); found {header} "
                f"(read as {encoding.found}, fields separated by {delimiter!r})"
            )
        yield offset + 1, header
        line = offset + 1
        try:
            for cells in reader:
                line = reader.line_num + offset
                yield line, cells
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(), or a NUL character
            raise ValueError(f"{path}: line {line + 1}: cannot read the CSV ({exc})") from exc


def _delimiter(header_line: str) -> str:
    """The delimiter that makes the header name a ``text`` column, splitting it the most."""
    fits = []
    for delimiter in _DELIMITERS:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        if "text" in (_name(cell) for cell in cells):
            fits.append((len(cells), -_DELIMITERS.index(delimiter), delimiter))
    if fits:
        return max(fits)[2]
    try:  # no text column whichever way: sniff, so that the refusal shows the real columns
        return csv.Sniffer().sniff(header_line, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        return ","


def _name(cell: str) -> str:
    """A header cell as a field name: "Text " and "TITLE" are the fields text and title."""
    name = cell.strip()
    return name.casefold() if name.casefold() in _NAMES else name
