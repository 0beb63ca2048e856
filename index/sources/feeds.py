"""RSS and Atom feeds (``feedparser``), from a URL or a file: one record per entry."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from index.records import SourceRecord
from index.sources.base import SourceStats
from index.text import normalise_whitespace, text_hash

__all__ = ["iter_feed"]

logger = logging.getLogger(__name__)


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment (feedparser has already sanitised it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("p", "br", "div", "li", "h1", "h2", "h3", "h4", "blockquote"):
            self.parts.append(" ")


def _text(fragment: str) -> str:
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    return normalise_whitespace("".join(parser.parts))


def _date(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else None


def iter_feed(stats: SourceStats, location: str) -> Iterator[SourceRecord]:
    """Yield one record per entry with text; an entry without text is reported and skipped."""
    import feedparser

    feed = feedparser.parse(location)
    if feed.get("bozo") and not feed.entries:
        raise ValueError(f"{location}: not a readable RSS or Atom feed ({feed.get('bozo_exception')})")
    if feed.get("bozo"):
        logger.warning("%s: the feed is malformed (%s); reading the entries it has",
                       location, feed.get("bozo_exception"))
    publisher = normalise_whitespace(feed.feed.get("title", "")) or None
    language = feed.feed.get("language") or None
    for number, entry in enumerate(feed.entries, start=1):
        contents = entry.get("content") or []
        body = contents[0].get("value", "") if contents else entry.get("summary", "")
        text = _text(body or "")
        if not text:
            stats.skip("entry has no text", where=f"entry {number}")
            continue
        title = normalise_whitespace(entry.get("title", "")) or None
        identity = entry.get("id") or entry.get("link") or text_hash(text)
        stats.read += 1
        yield SourceRecord(
            doc_id=f"feed:{identity}",
            text=text,
            source=f"feed:{location}",
            kind="article",
            title=title,
            url=entry.get("link") or None,
            publisher=publisher,
            published=_date(entry),
            language=language,
            context=title,
        )
