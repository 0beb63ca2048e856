"""XML read without entity expansion: DTD entity declarations and external entities refused.

Billion laughs (nested entities) and XXE (an entity naming a file or URL) both need an
``<!ENTITY`` declaration; ``defusedxml`` refuses one as soon as the parser meets it, before
any expansion. Feeds and MediaWiki dumps never need one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

__all__ = ["UnsafeXmlError", "check_xml", "iterparse"]


class UnsafeXmlError(ValueError):
    """The XML declares entities (or external ones): refused, never expanded."""


def check_xml(data: bytes) -> None:
    """Raise UnsafeXmlError if ``data`` declares entities; malformed XML is left to the reader."""
    try:
        SafeElementTree.fromstring(data, forbid_dtd=False, forbid_entities=True,
                                   forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXmlError(f"refused: the XML declares entities ({exc})") from exc
    except ElementTree.ParseError:
        pass  # not well-formed: tolerant readers (feedparser) may still read it


def iterparse(source: IO[bytes], events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """``ElementTree.iterparse`` that raises UnsafeXmlError at an entity declaration."""
    try:
        yield from SafeElementTree.iterparse(source, events=events, forbid_dtd=False,
                                             forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXmlError(f"refused: the XML declares entities ({exc})") from exc
