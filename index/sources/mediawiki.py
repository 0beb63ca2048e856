"""MediaWiki XML dumps (``.xml`` or ``.xml.bz2``), streamed page by page.

The dump is read with ``iterparse`` and every page is dropped from memory
once it is read, so a full Wikipedia dump never has to fit in memory. Wiki
markup becomes text in ``wikitext.py`` (``mwparserfromhell``, the
``aside[mediawiki]`` extra): templates that carry text are rendered, the rest
of the markup goes, and sentences a template would leave a hole in are left
out (counted in the build summary). Only articles (namespace 0) are read;
redirects are skipped.
"""

from __future__ import annotations

import bz2
import logging
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

__all__ = ["iter_mediawiki", "wikitext_to_text"]

logger = logging.getLogger(__name__)

_MIN_TEXT_CHARS = 40


def _open(path: Path) -> IO[bytes]:
    return bz2.open(path, "rb") if path.suffix.lower() == ".bz2" else path.open("rb")


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


def iter_mediawiki(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per article; broken pages are reported with their position and skipped.

    Malformed XML ends the dump where it breaks (a stream cannot be resynchronised):
    the pages before it are kept and the error is reported with its line and column.
    """
    site = _Site()
    language: str | None = None
    number = 0
    root: ElementTree.Element | None = None
    with _open(path) as handle:
        events = ElementTree.iterparse(handle, events=("start", "end"))
        try:
            for event, element in events:
                tag = _local(element.tag)
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
        except ElementTree.ParseError as exc:
            line, column = exc.position
            stats.skip(f"malformed XML ({exc}); the rest of the dump was not read",
                       where=f"{path.name}: line {line}, column {column}")


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
