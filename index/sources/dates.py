"""Dates as sources write them, read into ISO form (``2024``, ``2024-06``, ``2024-06-29``) or None.

Shared by the feed, JSONL and CSV sources so that every record's ``published`` has one shape.
A date is the calendar date as its writer stated it (its own time zone, not converted to
UTC); a part the string does not state is never filled in, and a day/month order that the
string leaves open is not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from dateutil import parser as dateutil_parser

from index.records import SourceRecord
from index.sources.base import SourceStats

__all__ = ["day_first", "read_date", "with_read_date"]

# Year, year-month and ISO 8601 forms are read exactly: dateutil swaps month and day of
# "2024-03-04" when asked for day-first, so they must not reach the ambiguity check below.
_YEAR = re.compile(r"(\d{4})(?:-(\d{2}))?")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?")
# A leading weekday in any language ("Mo,", "Montag,", "jeu.,"): feedparser's RFC 822 reader
# and dateutil only know English names, and a weekday adds nothing to the date.
_WEEKDAY = re.compile(r"([^\W\d_]{1,12})\.?,\s*")
# A numeric date whose order is only knowable from its neighbours: "03/04/2024", "31.05.2024".
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}\b")
# Two defaults that differ in every part: a part that comes out different was not in the string.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))
_PARSER_INFO = dateutil_parser.parserinfo()


def read_date(raw: object, *, dayfirst: bool | None = None) -> str | None:
    """The date a string states, as ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; None if unreadable.

    None also when the year is missing, the date does not exist (30 February) or the
    day/month order is ambiguous ("03/04/2024") and not given by ``dayfirst`` (see day_first).
    """
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    text = " ".join(str(raw).split())
    if not text:
        return None
    exact = _YEAR.fullmatch(text)
    if exact:
        year, month = exact.groups()
        return _checked(int(year), int(month) if month else None, None)
    if _ISO.fullmatch(text):
        try:
            return datetime.fromisoformat(text).date().isoformat()
        except ValueError:
            pass  # "2024-03-04 15:07 CET": dateutil below, year first
    weekday = _WEEKDAY.match(text)
    if weekday and _PARSER_INFO.month(weekday.group(1)) is None:
        text = text[weekday.end():]
    readings = {_parse(text, dayfirst=first) for first in _day_orders(text, dayfirst)}
    return readings.pop() if len(readings) == 1 else None


def day_first(values: Iterable[object]) -> bool | None:
    """Whether one source's numeric dates put the day first: True or False when some of them
    can only be read one way ("31/05/2024") and none the other, else None.

    One file or feed is written by one program, so "03/06/2024" beside "31/05/2024" is 3 June.
    """
    orders = set()
    for value in values:
        match = _NUMERIC.search(value) if isinstance(value, str) else None
        if match:
            first, second = int(match.group(1)), int(match.group(2))
            if (first > 12) != (second > 12):
                orders.add(first > 12)
    return orders.pop() if len(orders) == 1 else None


def with_read_date(
    record: SourceRecord, stats: SourceStats, *, where: str, dayfirst: bool | None = None
) -> SourceRecord:
    """The record with its ``published`` read by :func:`read_date`; an unreadable one is
    dropped and noted as "no readable date" rather than kept in a shape no other record has."""
    if record.published is None:
        return record
    published = read_date(record.published, dayfirst=dayfirst)
    if published is None:
        stats.note("no readable date", where=f"{where}: {record.published!r}")
    return record if published == record.published else replace(record, published=published)


def _day_orders(text: str, dayfirst: bool | None) -> tuple[bool, ...]:
    # "2024/6/29": year first, then month, as everywhere that writes the year first.
    if re.match(r"\d{4}\D", text):
        return (False,)
    return (False, True) if dayfirst is None else (dayfirst,)


def _parse(text: str, *, dayfirst: bool) -> str | None:
    try:
        # ignoretz: the date as written is wanted, and unknown zone names ("EST") would warn.
        first, second = (
            dateutil_parser.parse(text, default=default, dayfirst=dayfirst, ignoretz=True)
            for default in _DEFAULTS
        )
    except (ValueError, OverflowError):
        return None
    if first.year != second.year:
        return None
    month = first.month if first.month == second.month else None
    day = first.day if first.day == second.day else None
    return _checked(first.year, month, day)


def _checked(year: int, month: int | None, day: int | None) -> str | None:
    if not 1000 <= year <= 9999 or (day is not None and month is None):
        return None
    try:
        if day is not None and month is not None:
            return date(year, month, day).isoformat()
        if month is not None:
            return date(year, month, 1).isoformat()[:7]
    except ValueError:
        return None
    return f"{year:04d}"
