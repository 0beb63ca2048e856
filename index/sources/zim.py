"""ZIM files (offline Wikipedia and other Kiwix archives), read with ``libzim``.

One record per HTML article: its paragraphs' text (``<p>``, list items,
block quotes; not navigation, tables, scripts or styles), its title, and the
archive's metadata (title, publisher, language, date). Redirects and non-HTML
entries are skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from index.records import SourceRecord
from index.sources.base import SourceStats
from index.text import normalise_whitespace

__all__ = ["html_paragraphs", "iter_zim"]

logger = logging.getLogger(__name__)

_TEXT_TAGS = {"p", "li", "blockquote", "dd"}
_SKIP_TAGS = {"script", "style", "nav", "table", "figure", "header", "footer", "noscript"}
# A <sup> is text ("km<sup>2</sup>", "1<sup>st</sup>", "<sup>1</sup>⁄<sub>2</sub>") unless it is
# a footnote marker ("[1]") or an editor's tag ("[citation needed]"): these classes mark them,
# and so does text in square brackets.
_SKIP_SUP_CLASSES = {"reference", "noprint", "mw-ref", "Inline-Template"}
_BRACKETED = re.compile(r"\s*\[[^\[\]]*\]\s*")
_MIN_TEXT_CHARS = 40
_ISO_639_1 = {"eng": "en", "fra": "fr", "spa": "es", "deu": "de", "ita": "it", "por": "pt",
              "nld": "nl", "rus": "ru", "pol": "pl", "ara": "ar", "zho": "zh", "jpn": "ja"}


class _Paragraphs(HTMLParser):
    """The text of the paragraph-like elements of a page, outside skipped elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._depth = 0  # inside paragraph-like elements
        self._skip = 0  # inside skipped elements
        self._parts: list[str] = []
        self._sups: list[tuple[bool, int]] = []  # each open <sup>: skipped?, where its text starts

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "sup":
            classes = set((dict(attrs).get("class") or "").split())
            self._sups.append((bool(classes & _SKIP_SUP_CLASSES), len(self._parts)))
            self._skip += self._sups[-1][0]
        elif tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _TEXT_TAGS:
            if self._depth == 0:
                self._parts = []
            self._depth += 1
        elif tag == "br" and self._depth:
            self._parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "sup" and self._sups:
            skipped, start = self._sups.pop()
            if skipped and self._skip:
                self._skip -= 1
            elif _BRACKETED.fullmatch("".join(self._parts[start:])):
                del self._parts[start:]
        elif tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag in _TEXT_TAGS and self._depth:
            self._depth -= 1
            if self._depth == 0:
                text = normalise_whitespace("".join(self._parts))
                if text:
                    self.paragraphs.append(text)

    def handle_data(self, data: str) -> None:
        if self._depth and not self._skip:
            self._parts.append(data)


def html_paragraphs(html: str) -> str:
    """The readable paragraphs of an HTML page, separated by blank lines."""
    parser = _Paragraphs()
    parser.feed(html)
    parser.close()
    return "\n\n".join(parser.paragraphs)


def _reader() -> Any:
    try:
        from libzim import reader
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("ZIM files need libzim: pip install 'aside[zim]'") from exc
    return reader


def _metadata(archive: Any, key: str) -> str | None:
    try:
        value = bytes(archive.get_metadata(key)).decode("utf-8", errors="replace")
    except (KeyError, RuntimeError):
        return None
    return normalise_whitespace(value) or None


def _language(value: str | None) -> str | None:
    """ZIM metadata names languages in ISO 639-3 ("eng", or "eng,fra"); cards use 639-1."""
    if not value:
        return None
    first = value.split(",")[0].strip().lower()
    return _ISO_639_1.get(first, first)


def iter_zim(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per HTML article; an unreadable entry is reported with its path and skipped."""
    reader = _reader()
    try:
        archive = reader.Archive(str(path))
    except RuntimeError as exc:
        raise ValueError(f"{path}: not a readable ZIM file ({exc})") from exc
    name = _metadata(archive, "Title") or path.stem
    publisher = _metadata(archive, "Publisher") or _metadata(archive, "Creator") or name
    language = _language(_metadata(archive, "Language"))
    identity = _metadata(archive, "Name") or path.stem  # stable across releases of one archive
    date = _metadata(archive, "Date")
    source_url = _metadata(archive, "Source")
    for position in range(archive.entry_count):
        try:
            entry = archive._get_entry_by_id(position)  # libzim's Python API iterates by index
            if entry.is_redirect:
                stats.skip("redirect")
                continue
            item = entry.get_item()
            if not item.mimetype.startswith("text/html"):
                stats.skip("not an HTML article")
                continue
            html = bytes(item.content).decode("utf-8", errors="replace")
            title = normalise_whitespace(entry.title) or entry.path
            entry_path = entry.path
        except RuntimeError as exc:
            stats.skip(f"unreadable entry ({exc})", where=f"{path.name}: entry {position}")
            continue
        text = html_paragraphs(html)
        if len(text) < _MIN_TEXT_CHARS:
            stats.skip("no article text", where=f"{path.name}: {entry_path}")
            continue
        stats.read += 1
        yield SourceRecord(
            doc_id=f"zim:{identity}:{entry_path}",
            text=text,
            source=f"zim:{path.name}",
            kind="reference",
            title=title,
            url=f"{source_url.rstrip('/')}/{entry_path}" if source_url else None,
            publisher=publisher,
            published=date,
            language=language,
            context=title,
        )
