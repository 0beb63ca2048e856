"""ClaimReview fact-checks (schema.org): JSON-LD in pages, JSON files and feeds of records.

LOCATION is a URL, a file or a folder of files. A ``.html``/``.htm`` page is
read for its ``<script type="application/ld+json">`` blocks (tolerantly, see
``jsonld.py``); a ``.json`` file may hold one ClaimReview, a list, a ``@graph``
or a ``DataFeed`` (the format of Google's Fact Check Markup Tool feeds:
``dataFeedElement[].item[]``); a ``.jsonl`` file holds one JSON value per line.
ClaimReviews are found wherever they sit in that JSON (``@graph``,
``mainEntity``, ``hasPart``…), and ``{"@id": …}`` references to nodes defined
elsewhere on the page (the reviewer, the claimant) are followed.

A record's text is the claim reviewed; it keeps the claimant, the textual
rating, the reviewer (as publisher), the review's URL and its date. Its title
is the review's headline, else that of the page it is on, else "Fact-check by"
the reviewer (as the service titles such cards), never an internal id. A
review without a claim, a rating or a reviewer is skipped with the reason,
since a fact-check card always shows all three.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index.fetch import Fetched, FetchError, default_fetcher
from index.records import SourceRecord
from index.sources.base import SourceStats, locations
from index.sources.dates import with_read_date
from index.sources.jsonld import Graph, PageScripts, clean_text, read_blocks, types
from index.text import text_hash

__all__ = ["iter_claimreviews"]

logger = logging.getLogger(__name__)

_SUFFIXES = (".json", ".jsonl", ".html", ".htm")
# Nodes that stand for the page a review is published on (its headline, publisher, URL).
_PAGE_TYPES = {"WebPage", "ItemPage", "Article", "NewsArticle", "ReportageNewsArticle",
               "AnalysisNewsArticle", "BlogPosting", "CreativeWork", "FAQPage"}


@dataclass(frozen=True)
class _Page:
    """One page or file: its JSON-LD values by location, and what it says about itself."""

    values: list[tuple[str, Any]]
    url: str | None = None
    title: str | None = None
    language: str | None = None


def _read(where: str, url: str | None, text: str, stats: SourceStats) -> _Page:
    """A page's JSON-LD blocks, a JSON file or JSON lines, read into values; bad blocks skipped."""
    page = _Page([], url=url)
    if text.lstrip("\ufeff \t\r\n").startswith("<"):
        parser = PageScripts()
        parser.feed(text)
        parser.close()
        chunks = [(f"{where}: JSON-LD block {n}", b) for n, b in enumerate(parser.blocks, start=1)]
        page = _Page([], url=url or clean_text(parser.canonical), title=clean_text(parser.title),
                     language=clean_text(parser.language))
    elif where.endswith(".jsonl"):
        chunks = [(f"{where}: line {n}", line) for n, line in enumerate(text.splitlines(), start=1)
                  if line.strip()]
    else:
        chunks = [(where, text)]
    for location, chunk in chunks:
        if not chunk.strip():
            continue
        try:
            page.values.extend((location, value) for value in read_blocks(chunk))
        except json.JSONDecodeError as exc:
            stats.skip(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                       where=location)
    return page


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _name(value: Any, graph: Graph) -> str | None:
    """The name of a Person/Organization given as a node, a reference, a list or a string."""
    value = graph.resolve(value)
    if isinstance(value, list):
        names = [n for n in (_name(v, graph) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    if isinstance(value, dict):
        return clean_text(value.get("name")) or clean_text(value.get("alternateName"))
    if isinstance(value, str) and not re.match(r"https?://", value.strip()):
        return clean_text(value)  # a reference to a node the page does not define is no name
    return None


def _url(node: dict[str, Any]) -> str | None:
    for value in (node.get("url"), node.get("@id")):
        text = clean_text(value)
        if text and re.match(r"https?://", text):
            return text
    return None


def _rating(review: dict[str, Any], graph: Graph) -> str | None:
    """The verdict as words: the rating's alternateName or name, the review's textualRating,
    the rating's explanation, or as a last resort its value on its scale ("1/5")."""
    ratings = [r for r in _listed(graph.resolve(review.get("reviewRating"))) if isinstance(r, dict)]
    for rating in ratings:
        if text := clean_text(rating.get("alternateName")) or clean_text(rating.get("name")):
            return text
    if text := clean_text(review.get("textualRating")):
        return text
    for rating in ratings:
        if text := clean_text(rating.get("ratingExplanation")):
            return text
        value, best = rating.get("ratingValue"), rating.get("bestRating")
        if isinstance(value, str | int | float) and str(value).strip():
            return f"{value}/{best}" if isinstance(best, str | int | float) else str(value)
    return None


def _claimant(item: dict[str, Any], graph: Graph) -> str | None:
    """Who made the claim: the claim's author, else the author of where it appeared."""
    if name := _name(item.get("author"), graph) or _name(item.get("creator"), graph):
        return name
    for key in ("firstAppearance", "appearance"):
        for work in _listed(graph.resolve(item.get(key))):
            if isinstance(work, dict) and (
                name := _name(work.get("author"), graph) or _name(work.get("creator"), graph)
            ):
                return name
    return None


def _context(review: dict[str, Any], parent: dict[str, Any] | None, graph: Graph) -> dict[str, Any]:
    """The page or article a review belongs to: the node it sits in, the one it names with
    mainEntityOfPage/isPartOf, or the page node whose URL is the review's; {} if none."""
    base = (_url(review) or "").split("#", 1)[0]
    candidates = [parent or {}, graph.first(review.get("mainEntityOfPage")),
                  graph.first(review.get("isPartOf"))]
    candidates += [n for n in graph.nodes.values() if base and (_url(n) or "").split("#", 1)[0] == base]
    return next((c for c in candidates if types(c) & _PAGE_TYPES), {})


def _language(value: Any) -> str | None:
    if isinstance(value, dict):
        return clean_text(value.get("alternateName")) or clean_text(value.get("name"))
    return clean_text(value)


def _record(review: dict[str, Any], parent: dict[str, Any] | None, graph: Graph, page: _Page,
            location: str) -> SourceRecord:
    item = graph.first(review.get("itemReviewed"))
    claim = (clean_text(review.get("claimReviewed")) or clean_text(item.get("text"))
             or clean_text(item.get("name")))
    if not claim:
        raise ValueError("ClaimReview without a claim ('claimReviewed')")
    rating = _rating(review, graph)
    if not rating:
        raise ValueError("ClaimReview without a rating ('reviewRating' with an 'alternateName', "
                         "or 'textualRating')")
    context = _context(review, parent, graph)
    url = _url(review) or _url(context) or page.url
    host = (urlsplit(url).hostname or "").removeprefix("www.") if url else ""
    reviewer = (_name(review.get("author"), graph) or _name(review.get("publisher"), graph)
                or _name(context.get("publisher"), graph) or _name(context.get("author"), graph)
                or host)
    if not reviewer:
        raise ValueError("ClaimReview without a reviewer ('author') or a URL to name one by")
    # One review page may check several claims: the claim is part of the identity.
    identity = f"{url or reviewer or location}#{text_hash(claim)[:12]}"
    title = (clean_text(review.get("headline")) or clean_text(review.get("name"))
             or clean_text(context.get("headline")) or clean_text(context.get("name"))
             or page.title or f"Fact-check by {reviewer}")
    return SourceRecord(
        doc_id=f"claimreview:{identity}",
        text=claim,
        source=f"claimreview:{location}",
        kind="fact-check",
        title=title,
        url=url,
        publisher=reviewer,
        published=clean_text(review.get("datePublished")) or clean_text(review.get("dateCreated")),
        language=(_language(review.get("inLanguage")) or _language(context.get("inLanguage"))
                  or page.language),
        context=title,
        claimant=_claimant(item, graph),
        rating=rating,
    )


def iter_claimreviews(
    stats: SourceStats, location: str, *, fetch: Callable[[str], Fetched] | None = None,
    download: Callable[[str], Path] | None = None,
) -> Iterator[SourceRecord]:
    """Yield one record per ClaimReview; broken ones are reported with their location and skipped.

    ``fetch`` gets a URL (default: ``index.fetch`` with the ``ASIDE_FETCH_*`` limits);
    ``download`` (when given) gets it into a local file instead, so that a DataFeed of any
    size is read item by item (as a local ``.json`` DataFeed is) rather than whole.
    """
    for where, url in locations(location, _SUFFIXES):
        path = Path(where) if url is None else None
        if url is not None:
            try:
                if download is not None:
                    path = download(url)
                else:
                    text = (fetch or default_fetcher().fetch)(url).text()
            except FetchError as exc:
                if url == location:  # the source itself, not one page of a list: it failed
                    raise
                stats.skip("could not fetch", where=str(exc))
                continue
        if path is not None and _is_data_feed(path):
            # the Data Commons feed is hundreds of MB: one item at a time, not one document
            pages: Iterator[_Page] = _feed_items(path, where, url)
        else:
            if path is not None:
                text = path.read_text(encoding="utf-8", errors="replace")
            pages = iter([_read(where, url, text, stats)])
        found_any = False
        seen: set[str] = set()
        for page in pages:
            for place, record in _reviews(page, where, stats, seen):
                found_any = True
                yield with_read_date(record, stats, where=place)
        if not found_any:
            logger.info("%s: no ClaimReview found", where)


def _reviews(page: _Page, where: str, stats: SourceStats,
             seen: set[str]) -> Iterator[tuple[str, SourceRecord]]:
    """The ClaimReviews on one page (or one item of a feed), as (location, record)."""
    graph = Graph()
    for _, value in page.values:
        graph.add(value)
    found = [(f"{place}: review {number}", review, parent) for place, value in page.values
             for number, (review, parent) in enumerate(graph.find("ClaimReview", value), start=1)]
    if len(found) > 1:  # the page's <title> names one of its reviews, or all: none of them
        page = replace(page, title=None)
    for place, review, parent in found:
        try:
            record = _record(review, parent, graph, page, where)
        except ValueError as exc:
            stats.skip(str(exc), where=place)
            continue
        if record.doc_id in seen:
            stats.skip("the same ClaimReview twice on one page", where=place)
            continue
        seen.add(record.doc_id)
        stats.read += 1
        yield place, record


def _is_data_feed(path: Path) -> bool:
    """Whether a file is one JSON DataFeed (told from its first 64 KiB, where its keys are)."""
    if path.suffix.lower() in (".html", ".htm", ".jsonl"):
        return False
    with path.open("rb") as raw:
        head = raw.read(64 * 1024).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b'"dataFeedElement"' in head


def _feed_items(path: Path, where: str, url: str | None) -> Iterator[_Page]:
    """Each ``dataFeedElement`` of a DataFeed file as a page of its own, streamed (ijson):
    memory stays that of one item. A reference from one item to a node defined in another
    is not followed (the Data Commons feed has none)."""
    import ijson

    with path.open("rb") as raw:
        try:
            for number, item in enumerate(ijson.items(raw, "dataFeedElement.item", use_float=True),
                                          start=1):
                yield _Page([(f"{where}: item {number}", item)], url=url)
        except ijson.JSONError as exc:
            raise ValueError(f"{where}: the DataFeed is not valid JSON ({exc}); the rest of it "
                             "was not read") from exc
