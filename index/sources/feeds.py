"""RSS and Atom feeds (``feedparser``), from a URL or a file: one record per entry.

Feeds as they are published: guids repeated on every item or missing, dates in whatever form
the writer chose, and links relative to the feed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from index.fetch import Fetched, default_fetcher
from index.records import SourceRecord
from index.sources.base import SourceStats
from index.sources.dates import day_first, read_date
from index.text import normalise_whitespace, text_hash
from index.xmlsafe import check_xml

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


_DATE_KEYS = ("published", "updated", "created")


def _date(entry: Any, stats: SourceStats, where: str, dayfirst: bool | None) -> str | None:
    """The entry's own date, read from the string it gives; noted when there is none to read.

    Not feedparser's ``*_parsed``: it fills in a month and day for forms it half-reads
    ("2016/6/29" became 1 June, https://github.com/kurtmckee/feedparser/issues/75), converts to
    UTC (moving the day), and ``updated_parsed`` falls back to ``published_parsed``; plain
    ``dict.get`` reads only what the entry itself gave.
    """
    stated = [dict.get(entry, key) for key in _DATE_KEYS]
    for value in stated:
        date = read_date(value, dayfirst=dayfirst)
        if date:
            return date
    given = [value for value in stated if isinstance(value, str) and value.strip()]
    stats.note("no readable date" if given else "no date", where=f"{where}: {given}")
    return None


def _identities(entries: list[Any], links: list[str | None]) -> list[str | None]:
    """Each entry's id: its guid if no other entry has it, else its link if no other has that.

    Feeds that give every item the channel's URL as guid are common; None means neither
    identifies the entry, so its text has to.
    """
    guids = [entry.get("id") or None for entry in entries]
    guid_count, link_count = Counter(guids), Counter(links)
    return [
        guid if guid and guid_count[guid] == 1 else link if link and link_count[link] == 1 else None
        for guid, link in zip(guids, links, strict=True)
    ]


def _base_url(feed: Any, url: str | None) -> str | None:
    """What relative links are relative to: the feed's URL, else its channel link if absolute.

    feedparser already resolves links against ``xml:base`` and the Content-Location it is
    given; a feed read from a file has only its channel link.
    """
    if url:
        return url
    channel = feed.feed.get("link")
    return str(channel) if isinstance(channel, str) and urlsplit(channel).scheme else None


def _absolute(link: Any, base: str | None) -> str | None:
    href = link.strip() if isinstance(link, str) else ""
    if not href:
        return None
    return urljoin(base, href) if base and not urlsplit(href).scheme else href


def _load(location: str, fetch: Callable[[str], Fetched] | None) -> tuple[bytes, dict[str, str]]:
    """The feed's bytes and the headers feedparser reads (base URL, charset); FetchError if not.

    Fetched by ``index.fetch`` (never by feedparser: it has no size cap, no deadline and no
    address check) and refused when it declares XML entities (billion laughs, XXE).
    """
    if "://" in location:
        fetched = (fetch or default_fetcher().fetch)(location)
        headers = {"content-location": fetched.url}
        if fetched.content_type:
            headers["content-type"] = fetched.content_type
        body = fetched.body
    else:
        body, headers = Path(location).read_bytes(), {}
    check_xml(body)
    return body, headers


def iter_feed(
    stats: SourceStats, location: str, *, fetch: Callable[[str], Fetched] | None = None
) -> Iterator[SourceRecord]:
    """Yield one record per entry with text; an entry without text is reported and skipped.

    Raises FetchError (a URL that cannot be fetched) or ValueError (not a feed, or XML with
    entity declarations): the build reports the source as failed.
    """
    import feedparser

    body, headers = _load(location, fetch)
    feed = feedparser.parse(body, response_headers=headers)
    if feed.get("bozo") and not feed.entries:
        raise ValueError(f"{location}: not a readable RSS or Atom feed ({feed.get('bozo_exception')})")
    if feed.get("bozo"):
        logger.warning("%s: the feed is malformed (%s); reading the entries it has",
                       location, feed.get("bozo_exception"))
    publisher = normalise_whitespace(feed.feed.get("title", "")) or None
    language = feed.feed.get("language") or None
    base = _base_url(feed, headers.get("content-location"))
    links = [_absolute(entry.get("link"), base) for entry in feed.entries]
    identities = _identities(feed.entries, links)
    dayfirst = day_first(dict.get(entry, key) for entry in feed.entries for key in _DATE_KEYS)
    for number, entry in enumerate(feed.entries, start=1):
        contents = entry.get("content") or []
        body = contents[0].get("value", "") if contents else entry.get("summary", "")
        text = _text(body or "")
        if not text:
            stats.skip("entry has no text", where=f"entry {number}")
            continue
        title = normalise_whitespace(entry.get("title", "")) or None
        link = links[number - 1]
        if link and not urlsplit(link).scheme:
            stats.note("link left relative (no feed URL to resolve it against)",
                       where=f"entry {number}")
        stats.read += 1
        yield SourceRecord(
            doc_id=f"feed:{identities[number - 1] or text_hash(text)}",
            text=text,
            source=f"feed:{location}",
            kind="article",
            title=title,
            url=link,
            publisher=publisher,
            published=_date(entry, stats, f"entry {number}", dayfirst),
            language=language,
            context=title,
        )
