"""MediaWiki XML dumps (``.xml`` or ``.xml.bz2``), streamed page by page.

The dump is read with ``iterparse`` and every page is dropped from memory
once it is read, so a full Wikipedia dump never has to fit in memory. Wiki
markup is removed with ``mwparserfromhell`` (the ``aside[mediawiki]`` extra):
templates, references, tables, files and categories go; the text of links
stays; the article ends at its "References"/"See also"/… sections. Only
articles (namespace 0) are read; redirects are skipped.
"""

from __future__ import annotations

import bz2
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote
from xml.etree import ElementTree

from index.records import SourceRecord
from index.sources.base import SourceStats
from index.text import normalise_whitespace

__all__ = ["iter_mediawiki", "wikitext_to_text"]

logger = logging.getLogger(__name__)

_DROP_TAGS = {"ref", "references", "table", "gallery", "math", "score", "timeline", "syntaxhighlight",
              "imagemap", "templatedata", "noinclude", "code", "pre"}
_LINK_NAMESPACES = {"file", "image", "category", "media", "wikipedia", "wp", "template", "help",
                    "portal", "special", "user", "talk", "commons", "wikt", "wiktionary"}
_STOP_SECTIONS = {"references", "notes", "see also", "external links", "further reading",
                  "bibliography", "sources", "citations", "footnotes", "notes and references"}
_INTERWIKI = re.compile(r"^:?[a-z]{2,3}(-[a-z]+)?:", re.IGNORECASE)
_MIN_TEXT_CHARS = 40


def _parser() -> Any:
    try:
        import mwparserfromhell
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "MediaWiki dumps need mwparserfromhell: pip install 'aside[mediawiki]'"
        ) from exc
    return mwparserfromhell


def wikitext_to_text(wikitext: str) -> str:
    """The readable text of an article's wiki markup, paragraphs separated by blank lines."""
    mw = _parser()
    code = mw.parse(wikitext)
    for tag in code.filter_tags(matches=lambda n: str(n.tag).strip().lower() in _DROP_TAGS):
        _remove(code, tag)
    for link in code.filter_wikilinks():
        title = str(link.title).strip()
        prefix = title.lstrip(":").split(":", 1)[0].strip().lower() if ":" in title else ""
        if prefix in _LINK_NAMESPACES or (prefix and _INTERWIKI.match(title)):
            _remove(code, link)
    kept: list[str] = []
    for node in code.nodes:
        if isinstance(node, mw.nodes.Heading):
            if node.title.strip_code().strip().lower() in _STOP_SECTIONS:
                break
            kept.append("\n\n")
            continue
        kept.append(str(node))
    text = mw.parse("".join(kept)).strip_code(normalize=True, collapse=True)
    paragraphs = (normalise_whitespace(p) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


def _remove(code: Any, node: Any) -> None:
    try:
        code.remove(node)
    except ValueError:  # already gone with an enclosing node
        pass


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


def iter_mediawiki(stats: SourceStats, path: Path) -> Iterator[SourceRecord]:
    """Yield one record per article; broken pages are reported with their position and skipped.

    Malformed XML ends the dump where it breaks (a stream cannot be resynchronised):
    the pages before it are kept and the error is reported with its line and column.
    """
    base_url: str | None = None
    site: str | None = None
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
                    continue
                if tag == "siteinfo":
                    base = _child_text(element, "base")
                    site = _child_text(element, "sitename")
                    base_url = base.rsplit("/", 1)[0] + "/" if base and "/" in base else None
                    element.clear()
                elif tag == "page":
                    number += 1
                    record = _page(element, stats, path, number, base_url, site, language)
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
    page: ElementTree.Element, stats: SourceStats, path: Path, number: int,
    base_url: str | None, site: str | None, language: str | None,
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
        text = wikitext_to_text(wikitext)
    except Exception as exc:  # mwparserfromhell is robust, but a page must never end the build
        stats.skip(f"markup could not be parsed ({exc})", where=where)
        return None
    if len(text) < _MIN_TEXT_CHARS:
        stats.skip("no article text after removing markup", where=where)
        return None
    timestamp = _child_text(page, "revision", "timestamp")
    wikipedia = bool(base_url and "wikipedia.org/" in base_url)
    return SourceRecord(
        doc_id=f"mediawiki:{site or path.stem}:{title}",
        text=text,
        source=f"mediawiki:{path.name}",
        kind="wikipedia" if wikipedia else "wiki",
        title=title,
        url=f"{base_url}{quote(title.replace(' ', '_'))}" if base_url else None,
        publisher=site,
        published=timestamp[:10] if timestamp else None,
        language=language,
        license="CC BY-SA 4.0" if wikipedia else None,
        context=title,
    )
