"""ClaimReview fact-checks (schema.org): JSON-LD in pages, JSON files and feeds of records.

LOCATION is a URL, a file or a folder of files. A ``.html``/``.htm`` page is
read for its ``<script type="application/ld+json">`` blocks; a ``.json`` file
may hold one ClaimReview, a list, a ``@graph`` or a ``DataFeed`` (the format
of Google's Fact Check Markup Tool feeds: ``dataFeedElement[].item[]``); a
``.jsonl`` file holds one JSON value per line. ClaimReviews are found wherever
they sit in that JSON.

A record's text is the claim reviewed; it keeps the claimant, the textual
rating, the reviewer (as publisher), the review's URL and its date.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from index.records import SourceRecord
from index.sources.base import SourceStats, locations
from index.text import normalise_whitespace, text_hash

__all__ = ["iter_claimreviews"]

logger = logging.getLogger(__name__)

_SUFFIXES = (".json", ".jsonl", ".html", ".htm")
_MAX_DOWNLOAD = 20 * 1024 * 1024
_TIMEOUT_S = 30


class _JsonLdScripts(HTMLParser):
    """Collects the text of every ``<script type="application/ld+json">``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.blocks: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = (dict(attrs).get("type") or "").split(";")[0].strip().lower()
        self._inside = tag == "script" and kind == "application/ld+json"
        if self._inside:
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.blocks[-1] += data


def _fetch(url: str) -> str | None:
    request = urllib.request.Request(url, headers={"User-Agent": "Aside-indexer/1 (+self-hosted)"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
            body: bytes = response.read(_MAX_DOWNLOAD + 1)
            charset = response.headers.get_content_charset() or "utf-8"
    except OSError as exc:
        logger.warning("%s: could not fetch (%s)", url, exc)
        return None
    if len(body) > _MAX_DOWNLOAD:
        logger.warning("%s: larger than %d bytes", url, _MAX_DOWNLOAD)
        return None
    return body.decode(charset, errors="replace")


def _json_values(where: str, text: str, stats: SourceStats) -> Iterator[tuple[str, Any]]:
    """(location, decoded JSON) for a page's JSON-LD blocks, a JSON file or JSON lines."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        parser = _JsonLdScripts()
        parser.feed(text)
        parser.close()
        chunks = [(f"{where}: JSON-LD block {n}", b) for n, b in enumerate(parser.blocks, start=1)]
    elif where.endswith(".jsonl"):
        chunks = [(f"{where}: line {n}", line) for n, line in enumerate(text.splitlines(), start=1)
                  if line.strip()]
    else:
        chunks = [(where, text)]
    for location, chunk in chunks:
        try:
            yield location, json.loads(chunk)
        except json.JSONDecodeError as exc:
            stats.skip(f"not valid JSON ({exc.msg})", where=location)


def _reviews(value: Any) -> Iterator[dict[str, Any]]:
    """Every ClaimReview object inside a JSON-LD value, in document order."""
    if isinstance(value, list):
        for item in value:
            yield from _reviews(item)
    elif isinstance(value, dict):
        types = value.get("@type")
        if "ClaimReview" in (types if isinstance(types, list) else [types]):
            yield value
            return
        for key in ("@graph", "dataFeedElement", "item", "mainEntity", "itemListElement"):
            if key in value:
                yield from _reviews(value[key])


def _name(value: Any) -> str | None:
    """The name of a Person/Organization given as an object, a list of them, or a string."""
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) or None
    if isinstance(value, dict):
        value = value.get("name")
    return normalise_whitespace(value) or None if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    return normalise_whitespace(value) or None if isinstance(value, str) else None


def _rating(review: dict[str, Any]) -> str | None:
    rating = review.get("reviewRating")
    if isinstance(rating, list):
        rating = rating[0] if rating else None
    if isinstance(rating, dict):
        for key in ("alternateName", "ratingExplanation", "name"):
            if text := _text(rating.get(key)):
                return text
    return _text(review.get("textualRating"))


def _record(review: dict[str, Any], location: str) -> SourceRecord:
    claim = _text(review.get("claimReviewed"))
    if not claim:
        raise ValueError("ClaimReview without a 'claimReviewed' text")
    item = review.get("itemReviewed")
    item = item if isinstance(item, dict) else {}
    url = _text(review.get("url"))
    reviewer = _name(review.get("author"))
    # One review page may check several claims: the claim is part of the identity.
    identity = f"{url or reviewer or location}#{text_hash(claim)[:12]}"
    title = _text(review.get("headline")) or _text(review.get("name"))
    return SourceRecord(
        doc_id=f"claimreview:{identity}",
        text=claim,
        source=f"claimreview:{location}",
        kind="fact-check",
        title=title,
        url=url,
        publisher=reviewer,
        published=_text(review.get("datePublished")),
        language=_text(review.get("inLanguage")),
        context=title,
        claimant=_name(item.get("author")),
        rating=_rating(review),
    )


def iter_claimreviews(
    stats: SourceStats, location: str, *, fetch: Callable[[str], str | None] | None = None
) -> Iterator[SourceRecord]:
    """Yield one record per ClaimReview; broken ones are reported with their location and skipped."""
    fetch = fetch or _fetch
    for where, url in locations(location, _SUFFIXES):
        if url is not None:
            text = fetch(url)
            if text is None:
                stats.skip("could not fetch", where=where)
                continue
        else:
            text = Path(where).read_text(encoding="utf-8", errors="replace")
        found = 0
        for place, value in _json_values(where, text, stats):
            for number, review in enumerate(_reviews(value), start=1):
                found += 1
                try:
                    record = _record(review, where)
                except ValueError as exc:
                    stats.skip(str(exc), where=f"{place}: review {number}")
                    continue
                stats.read += 1
                yield record
        if not found:
            logger.info("%s: no ClaimReview found", where)
