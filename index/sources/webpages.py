"""Web pages: the main text of saved HTML files or fetched URLs, extracted with ``trafilatura``.

LOCATION is a URL, a saved ``.html`` file, a folder of them, or a text file
listing URLs (one per line, ``#`` for comments).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from index.fetch import Fetched, FetchError, default_fetcher
from index.records import SourceRecord
from index.sources.base import SourceStats, locations
from index.text import normalise_whitespace

__all__ = ["iter_pages"]

logger = logging.getLogger(__name__)

_HTML_SUFFIXES = (".html", ".htm")
# Less than this is navigation or a caption that trafilatura fell back to, not an article.
_MIN_TEXT_CHARS = 80


def _trafilatura() -> Any:
    try:
        import trafilatura
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "web pages need trafilatura: pip install 'aside[html]' "
            "(trafilatura and lxml_html_clean)"
        ) from exc
    return trafilatura


def iter_pages(
    stats: SourceStats, location: str, *, fetch: Callable[[str], Fetched] | None = None
) -> Iterator[SourceRecord]:
    """Yield one record per page with main text; pages that fail are reported and skipped.

    ``fetch`` gets a URL (default: ``index.fetch`` with the ``ASIDE_FETCH_*`` limits);
    trafilatura only extracts, its own fetcher is not used.
    """
    trafilatura = _trafilatura()
    for where, url in locations(location, _HTML_SUFFIXES, url_list=True):
        if url is not None:
            try:
                fetched = (fetch or default_fetcher().fetch)(url)
            except FetchError as exc:
                if url == location:  # the source itself, not one page of a list: it failed
                    raise
                stats.skip("could not fetch the page", where=str(exc))
                continue
            # bytes without a declared charset: trafilatura detects it from the markup
            html: str | bytes = fetched.text() if fetched.charset else fetched.body
            url = fetched.url
        else:
            html = Path(where).read_text(encoding="utf-8", errors="replace")
        document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
        text = normalise_whitespace(getattr(document, "text", "") or "") if document else ""
        if len(text) < _MIN_TEXT_CHARS:
            stats.skip("no main text found", where=where)
            continue
        canonical = document.url or url
        stats.read += 1
        yield SourceRecord(
            doc_id=f"html:{canonical or where}",
            text=text,
            source=f"html:{location}",
            kind="article",
            title=document.title or None,
            url=canonical,
            publisher=document.sitename or None,
            published=document.date or None,
            language=getattr(document, "language", None) or None,
            context=document.title or None,
        )
