"""JSON-LD as publishers really write it: found in a page, read tolerantly, references resolved.

Pages wrap their ``<script type="application/ld+json">`` in HTML comments or
``<![CDATA[ … ]]>`` sections (a habit from XHTML and Drupal/WordPress themes),
end it with a stray ``;``, put raw line breaks inside strings, write HTML
entities into values (``&#8217;``) or even entity-encode the whole block; and
a ``@graph`` names its nodes once and points at them elsewhere with
``{"@id": …}``. ``read_blocks`` reads each block into its JSON values (several
when a block holds several), and ``Graph`` resolves references across every
block of one page, as JSON-LD defines (https://www.w3.org/TR/json-ld11/#node-identifiers).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from index.text import normalise_whitespace

__all__ = ["Graph", "PageScripts", "clean_text", "read_blocks", "types"]

# Wrappers that are not JSON: replaced by spaces so positions in error messages stay true.
_WRAPPERS = re.compile(r"<!\[CDATA\[|\]\]>|<!--|-->")
_VALUE_START = re.compile(r"[{\[]")


class PageScripts(HTMLParser):
    """A page's JSON-LD blocks, with its ``<title>``, canonical link and ``<html lang>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.blocks: list[str] = []
        self.title: str | None = None
        self.canonical: str | None = None
        self.language: str | None = None
        self._inside: str | None = None  # "script" or "title" while reading one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        kind = (values.get("type") or "").split(";")[0].strip().lower()
        if tag == "script" and kind == "application/ld+json":
            self._inside = "script"
            self.blocks.append("")
        elif tag == "title" and self.title is None:
            self._inside = "title"
            self.title = ""
        elif tag == "link" and "canonical" in (values.get("rel") or "").lower().split():
            self.canonical = self.canonical or values.get("href")
        elif tag == "html":
            self.language = values.get("lang")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "title"):
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside == "script":
            self.blocks[-1] += data
        elif self._inside == "title":
            self.title = (self.title or "") + data

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")


def read_blocks(text: str) -> list[Any]:
    """The JSON values in one JSON-LD block; json.JSONDecodeError if there is none to read.

    Values after the first that do not parse (trailing junk such as ``;`` or ``//``) end
    the block without an error: what could be read is kept.
    """
    try:
        return _decode_all(_WRAPPERS.sub(lambda m: " " * len(m.group()), text))
    except json.JSONDecodeError:
        if "&quot;" not in text:
            raise
        # The whole block entity-encoded ({&quot;@type&quot;: …}), as some CMS templates emit.
        return _decode_all(_WRAPPERS.sub(" ", html.unescape(text)))


def _decode_all(text: str) -> list[Any]:
    # strict=False: raw line breaks and tabs inside strings, which browsers' JSON-LD readers accept.
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    position = 0
    while match := _VALUE_START.search(text, position):
        try:
            value, position = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            if values:
                break
            raise
        values.append(value)
    if not values:
        raise json.JSONDecodeError("no JSON object or array", text, 0)
    return values


def types(value: Any) -> set[str]:
    """A node's ``@type``s without their vocabulary ("schema:ClaimReview", an IRI, a list)."""
    raw = value.get("@type") if isinstance(value, dict) else None
    names = raw if isinstance(raw, list) else [raw]
    return {re.split(r"[/#:]", n)[-1] for n in names if isinstance(n, str) and n}


def clean_text(value: Any) -> str | None:
    """A string value as a reader sees it: HTML entities decoded (even when written twice,
    "&amp;#8217;"), whitespace collapsed; None for anything else or an empty string."""
    if not isinstance(value, str):
        return None
    for _ in range(2):
        unescaped = html.unescape(value)
        if unescaped == value:
            break
        value = unescaped
    return normalise_whitespace(value) or None


@dataclass
class Graph:
    """Every node of one page that has an ``@id``, so that references to it can be followed."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, value: Any) -> None:
        """Index the nodes inside a JSON-LD value; a node defined twice is merged, first value first."""
        if isinstance(value, list):
            for item in value:
                self.add(item)
        elif isinstance(value, dict):
            identifier = value.get("@id")
            if isinstance(identifier, str) and set(value) - {"@id", "@type"}:
                self.nodes[identifier] = {**value, **self.nodes.get(identifier, {})}
            for item in value.values():
                self.add(item)

    def resolve(self, value: Any) -> Any:
        """The node a reference points to (``{"@id": …}`` or a bare IRI string); lists element
        by element; anything else as it is."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict) and set(value) <= {"@id", "@type"}:
            return self.nodes.get(str(value.get("@id")), value)
        if isinstance(value, str) and value in self.nodes:
            return self.nodes[value]
        return value

    def first(self, value: Any) -> dict[str, Any]:
        """The first node (resolved) of a value that may be a node, a reference or a list; {} if none."""
        for item in self.resolve(value) if isinstance(value, list) else [self.resolve(value)]:
            if isinstance(item, dict):
                return item
        return {}

    def find(self, wanted: str, value: Any, parent: dict[str, Any] | None = None,
             ) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """(node, the node it sits in) for each node of type ``wanted`` in a value, in order."""
        if isinstance(value, list):
            for item in value:
                yield from self.find(wanted, item, parent)
        elif isinstance(value, dict):
            if set(value) <= {"@id", "@type"}:
                return  # a reference ({"@id": …, "@type": "ClaimReview"}): found where defined
            if wanted in types(value):
                yield value, parent
                return
            inner = value if "@graph" not in value else parent
            for item in value.values():
                yield from self.find(wanted, item, inner)
