"""MediaWiki XML dumps (``.xml`` or ``.xml.bz2``), streamed page by page.

The dump is read with ``iterparse`` and every page is dropped from memory
once it is read, so a full Wikipedia dump never has to fit in memory. Wiki
markup becomes text in ``wikitext.py`` (``mwparserfromhell``, the
``aside[mediawiki]`` extra): templates that carry text are rendered, the rest
of the markup goes, and sentences a template would leave a hole in are left
out (counted in the build summary). Only articles (namespace 0) are read;
redirects are skipped.

Bounds (a 13.6 KB ``.bz2`` can hold a 105 MB page): one page may take at most
``ASIDE_PAGE_MAX_BYTES`` of XML, and a compressed dump may expand to at most
``ASIDE_EXPAND_MAX_RATIO`` times its size; past either, reading stops there and the reason
is reported (the pages before are kept). Entity declarations are refused (``xmlsafe``).
"""

from __future__ import annotations

import bz2
import gzip
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote
from xml.etree import ElementTree

from index.records import SourceRecord
from index.sources.base import SourceStats
from index.sources.wikitext import (
    CATEGORY_NAMESPACES,
    FILE_NAMESPACES,
    article_text,
    wikitext_to_text,
)
from index.text import normalise_whitespace
from index.xmlsafe import UnsafeXmlError, iterparse

__all__ = ["iter_mediawiki", "wikitext_to_text"]

logger = logging.getLogger(__name__)

_MIN_TEXT_CHARS = 40


_SLACK = 16 * 1024 * 1024  # a small compressed dump may still expand past ratio x its size


class _TooLarge(ValueError):
    """The dump or one page expanded past its cap."""


class _Bounded:
    """A byte stream that counts what it gives and raises _TooLarge past a file or page cap."""

    def __init__(self, raw: IO[bytes], file_cap: int | None, page_cap: int) -> None:
        self._raw, self._file_cap, self._page_cap = raw, file_cap, page_cap
        self.count = 0
        self._mark = 0

    def mark(self) -> None:
        """A page starts (or ends) here: the page cap counts from this point."""
        self._mark = self.count

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size >= 0 else 1024 * 1024)
        self.count += len(data)
        if self._file_cap is not None and self.count > self._file_cap:
            raise _TooLarge(f"the compressed dump expands past {self._file_cap} bytes "
                            "(ASIDE_EXPAND_MAX_RATIO x its size); likely a decompression bomb")
        if self.count - self._mark > self._page_cap:
            raise _TooLarge(f"a page is larger than {self._page_cap} bytes (ASIDE_PAGE_MAX_BYTES)")
        return data


def _compression(path: Path) -> str | None:
    """"bz2", "gz" or None, by the file's first bytes (a download's name may not say)."""
    with path.open("rb") as raw:
        magic = raw.read(3)
    return "bz2" if magic == b"BZh" else "gz" if magic[:2] == b"\x1f\x8b" else None


def _open(path: Path) -> IO[bytes]:
    compression = _compression(path)
    if compression == "bz2":
        return bz2.open(path, "rb")
    if compression == "gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads bytes
    return path.open("rb")


def _caps(path: Path, page_max_bytes: int | None, expand_max_ratio: int | None) -> tuple[int | None, int]:
    """(file cap for a compressed dump or None, page cap), from arguments or settings."""
    if page_max_bytes is None or expand_max_ratio is None:
        from index.settings import load

        settings = load(os.environ)
        page_max_bytes = page_max_bytes or settings.page_max_bytes
        expand_max_ratio = expand_max_ratio or settings.expand_max_ratio
    compressed = _compression(path) is not None
    file_cap = expand_max_ratio * path.stat().st_size + _SLACK if compressed else None
    return file_cap, page_max_bytes


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, *names: str) -> str | None:
    """The text of a descendant reached through the given local names, ignoring namespaces."""
    current: ElementTree.Element | None = element
    for name in names:
        current = next((c for c in current if _local(c.tag) == name), None) if current is not None else None
    return current.text if current is not None else None


@dataclass(frozen=True)
class _Site:
    """What the dump's ``<siteinfo>`` says about every page."""

    base_url: str | None = None
    name: str | None = None
    language: str | None = None
    files: frozenset[str] = FILE_NAMESPACES
    categories: frozenset[str] = CATEGORY_NAMESPACES


def _siteinfo(element: ElementTree.Element, language: str | None) -> _Site:
    base = _child_text(element, "base")
    names = {key: set(default) for key, default in (("6", FILE_NAMESPACES), ("14", CATEGORY_NAMESPACES))}
    for namespaces in (c for c in element if _local(c.tag) == "namespaces"):
        for namespace in namespaces:
            if namespace.get("key") in names and namespace.text:
                names[namespace.get("key", "")].add(namespace.text.strip().lower())
    return _Site(
        base_url=base.rsplit("/", 1)[0] + "/" if base and "/" in base else None,
        name=_child_text(element, "sitename"), language=language,
        files=frozenset(names["6"]), categories=frozenset(names["14"]),
    )


def iter_mediawiki(
    stats: SourceStats, path: Path, *, page_max_bytes: int | None = None,
    expand_max_ratio: int | None = None,
) -> Iterator[SourceRecord]:
    """Yield one record per article; broken pages are reported with their position and skipped.

    Malformed XML, an entity declaration or a page past its cap ends the dump there (a
    stream cannot be resynchronised): the pages before it are kept and the reason reported.
    """
    site = _Site()
    language: str | None = None
    number = 0
    root: ElementTree.Element | None = None
    file_cap, page_cap = _caps(path, page_max_bytes, expand_max_ratio)
    with _open(path) as raw:
        handle = _Bounded(raw, file_cap, page_cap)
        events = iterparse(handle, events=("start", "end"))  # type: ignore[arg-type]
        try:
            for event, element in events:
                tag = _local(element.tag)
                if tag == "page":
                    handle.mark()
                if event == "start":
                    if tag == "mediawiki":
                        root = element
                        language = element.get("{http://www.w3.org/XML/1998/namespace}lang")
                        site = _Site(language=language)
                    continue
                if tag == "siteinfo":
                    site = _siteinfo(element, language)
                    element.clear()
                elif tag == "page":
                    number += 1
                    record = _page(element, stats, path, number, site)
                    if root is not None:
                        root.clear()  # drop the pages read so far: memory stays flat
                    if record is not None:
                        stats.read += 1
                        yield record
        # A dump that cannot be read to its end is a failed source, not a shorter one: the
        # pages read so far are kept and the build keeps the rest from before (a cut
        # download must not remove what it did not reach).
        except ElementTree.ParseError as exc:
            line, column = exc.position
            raise ValueError(f"{path.name}: malformed XML at line {line}, column {column} "
                             f"({exc}); the rest of the dump was not read") from exc
        except (_TooLarge, UnsafeXmlError, OSError, EOFError) as exc:  # OSError: a broken .bz2
            raise ValueError(f"{path.name}: {exc} after page {number}; the rest of the dump "
                             "was not read") from exc


def _page(
    page: ElementTree.Element, stats: SourceStats, path: Path, number: int, site: _Site
) -> SourceRecord | None:
    title = normalise_whitespace(_child_text(page, "title") or "")
    where = f"{path.name}: page {number}" + (f" ({title})" if title else "")
    if (_child_text(page, "ns") or "0").strip() != "0":
        stats.skip("not an article (namespace is not 0)")
        return None
    if any(_local(c.tag) == "redirect" for c in page):
        stats.skip("redirect")
        return None
    wikitext = _child_text(page, "revision", "text")
    if not title or wikitext is None:
        stats.skip("page without a title or text", where=where)
        return None
    try:
        article = article_text(wikitext, title=title, language=site.language, files=site.files,
                               categories=site.categories)
    except Exception as exc:  # mwparserfromhell is robust, but a page must never end the build
        stats.skip(f"markup could not be parsed ({exc})", where=where)
        return None
    if article.sentences_left_out:
        stats.note("sentences left out: unrendered template", article.sentences_left_out, where=where)
    if article.asides_left_out:
        stats.note("asides in parentheses left out: unrendered template", article.asides_left_out,
                   where=where)
    if len(article.text) < _MIN_TEXT_CHARS:
        stats.skip("no article text after removing markup", where=where)
        return None
    timestamp = _child_text(page, "revision", "timestamp")
    base_url = site.base_url
    wikipedia = bool(base_url and "wikipedia.org/" in base_url)
    return SourceRecord(
        doc_id=f"mediawiki:{site.name or path.stem}:{title}",
        text=article.text,
        source=f"mediawiki:{path.name}",
        kind="wikipedia" if wikipedia else "wiki",
        title=title,
        url=f"{base_url}{quote(title.replace(' ', '_'))}" if base_url else None,
        publisher=site.name,
        published=timestamp[:10] if timestamp else None,
        language=site.language,
        license="CC BY-SA 4.0" if wikipedia else None,
        context=title,
    )
