"""Wiki markup to an article's readable text, the templates that carry text rendered.

Templates are rendered by ``templates.py``; references, tables, files,
categories and language links go; the text of other links stays; the article
ends at its "References"/"See also"/… sections. A template that cannot be
rendered, or a ``<math>`` formula, would leave a hole in its sentence ("a
population of at the 2020 census"): the parenthetical aside that holds it, or
else the sentence, is left out and counted. A template that stands alone on its lines (a box, a hatnote)
is not part of a sentence and goes without a trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from index.sources.templates import language_name, make_call, render_template
from index.text import normalise_whitespace, split_sentences

__all__ = ["CATEGORY_NAMESPACES", "FILE_NAMESPACES", "ArticleText", "article_text", "wikitext_to_text"]

logger = logging.getLogger(__name__)

_DROP_TAGS = {"ref", "references", "table", "gallery", "timeline", "syntaxhighlight",
              "imagemap", "templatedata", "noinclude", "pre"}
# Formulas and scores are part of their sentence but have no plain text: holes, like a
# template that cannot be rendered ("the energy is <math>mc^2</math>" is not "the energy is").
_HOLE_TAGS = {"math", "chem", "ce", "score"}
FILE_NAMESPACES = frozenset({"file", "image"})
CATEGORY_NAMESPACES = frozenset({"category"})
# Wikipedia language editions whose codes are not ISO 639 codes (Babel knows the rest).
_WIKI_LANGUAGES = {"simple", "be-tarask", "zh-min-nan", "zh-yue", "zh-classical", "nds-nl",
                   "roa-rup", "map-bms", "bat-smg", "fiu-vro", "cbk-zam", "roa-tara", "als"}
_STOP_SECTIONS = {"references", "notes", "see also", "external links", "further reading",
                  "bibliography", "sources", "citations", "footnotes", "notes and references"}
# Stands for a template that could not be rendered, until its sentence is left out; a
# private-use code point, removed from the wikitext first so that it marks nothing else.
_HOLE = "\ue000"
_ASIDE_WITH_HOLE = re.compile(r"\s*\([^()]*\ue000[^()]*\)")


@dataclass(frozen=True)
class ArticleText:
    """An article's text, and what was left out of it because a template could not be rendered."""

    text: str
    sentences_left_out: int = 0
    asides_left_out: int = 0  # parenthetical asides such as "(pronounced …)", the sentence kept


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
    return article_text(wikitext).text


def article_text(
    wikitext: str, *, title: str = "", language: str | None = None,
    files: frozenset[str] = FILE_NAMESPACES, categories: frozenset[str] = CATEGORY_NAMESPACES,
) -> ArticleText:
    """An article's readable text: templates rendered (``templates.py``), the rest of the markup
    removed, and any sentence in which a template could not be rendered left out.

    ``files``/``categories`` are the lower-case names of namespaces 6 and 14 (the dump's own,
    e.g. "fichier" in a French dump, besides the English ones).
    """
    mw = _parser()
    files, categories = files | FILE_NAMESPACES, categories | CATEGORY_NAMESPACES
    # 1. Parse.
    code = mw.parse(wikitext.replace(_HOLE, ""))
    # 2. Drop references, tables and links that show nothing; render templates, innermost first.
    _render(mw, code, title, lambda link: _shows_nothing(link, files, categories), top=True)
    # 3. Keep the article up to its closing sections, as plain text.
    kept: list[Any] = []
    for node in code.nodes:
        if isinstance(node, mw.nodes.Heading):
            if node.title.strip_code().strip().lower() in _STOP_SECTIONS:
                break
            kept.append(mw.nodes.Text("\n\n"))
            continue
        kept.append(node)
    text = mw.wikicode.Wikicode(mw.smart_list.SmartList(kept)).strip_code(normalize=True, collapse=True)
    # 4. Leave out what still holds a hole: a parenthetical aside, else the sentence.
    paragraphs, sentences, asides = [], 0, 0
    for raw in re.split(r"\n\s*\n", text):
        paragraph, lost_asides, lost_sentences = _fill_holes(normalise_whitespace(raw), language)
        sentences, asides = sentences + lost_sentences, asides + lost_asides
        if paragraph:
            paragraphs.append(paragraph)
    return ArticleText("\n\n".join(paragraphs), sentences, asides)


def _shows_nothing(title: str, files: frozenset[str], categories: frozenset[str]) -> bool:
    """Whether a link shows nothing in the article's prose: a file, a category, or a link to
    the article in another language ([[es:Puerto Almara]]). "[[Ana: A Life at Sea|…]]" is an
    ordinary link whose text stays, as are [[wikt:…]], [[:fr:…]] and [[:Category:…]] links."""
    if title.startswith(":") or ":" not in title:
        return False
    prefix = title.split(":", 1)[0].strip()
    lowered = prefix.lower()
    if lowered in files or lowered in categories:
        return True
    # Language links are written in lower case; "War: A Novel" is an article title.
    return prefix == lowered and (lowered in _WIKI_LANGUAGES or (
        re.fullmatch(r"[a-z]{2,3}(-[a-z]+)?", lowered) is not None
        and language_name(lowered) is not None))


def _render(mw: Any, code: Any, page: str, hidden: Callable[[str], bool], *, top: bool = False) -> None:
    """Replace, in place, what shows nothing (references, tables, file/category/language links)
    by "" and every template by its text; a template that cannot be rendered becomes a hole,
    unless it stands alone on its lines at the top level (a box, not part of a sentence)."""
    nodes = code.nodes
    # Nodes are replaced where they stand: Wikicode.remove searches the whole tree each time.
    for i, node in enumerate(nodes):
        tag = str(node.tag).strip().lower() if isinstance(node, mw.nodes.Tag) else ""
        if tag in _DROP_TAGS or (isinstance(node, mw.nodes.Wikilink) and hidden(str(node.title).strip())):
            nodes[i] = mw.nodes.Text("")
        elif tag in _HOLE_TAGS:
            nodes[i] = mw.nodes.Text(_HOLE)
    alone = {i for i, n in enumerate(nodes) if top and isinstance(n, mw.nodes.Template)
             and _alone(mw, nodes, i, -1) and _alone(mw, nodes, i, 1)}
    for i, node in enumerate(nodes):
        for child in _children(mw, node):
            _render(mw, child, page, hidden)
        if not isinstance(node, mw.nodes.Template):
            continue
        positions: dict[int, str] = {}
        named: dict[str, str] = {}
        for param in node.params:
            key = str(param.name).strip()
            value = param.value.strip_code(normalize=True, collapse=True).strip()
            if key.isdigit():
                positions[int(key)] = value
            else:
                named[key.lower()] = value
        positional = [positions.get(n, "") for n in range(1, max(positions, default=0) + 1)]
        rendered = render_template(make_call(str(node.name), positional, named, page=page))
        if rendered is None:
            logger.debug("template not rendered: %s", str(node.name).strip())
            rendered = "" if i in alone else _HOLE
        elif i and isinstance(nodes[i - 1], mw.nodes.Text):
            rendered = _without_repeat(str(nodes[i - 1]), rendered)
        nodes[i] = mw.nodes.Text(rendered)


def _children(mw: Any, node: Any) -> list[Any]:
    """The wikicode inside a node that is shown (or passed to a template)."""
    if isinstance(node, mw.nodes.Template):
        return [p.value for p in node.params]
    if isinstance(node, mw.nodes.Wikilink | mw.nodes.ExternalLink):
        inner = node.text if isinstance(node, mw.nodes.Wikilink) else node.title
        return [inner] if inner is not None else []
    if isinstance(node, mw.nodes.Tag) and node.contents is not None:
        return [node.contents]
    if isinstance(node, mw.nodes.Heading):
        return [node.title]
    return []


def _alone(mw: Any, nodes: Any, index: int, step: int) -> bool:
    """Whether only templates, comments and spaces lie between a node and its line's end."""
    index += step
    while 0 <= index < len(nodes):
        node = nodes[index]
        if isinstance(node, mw.nodes.Text):
            text = str(node)
            if "\n" in text:
                return not (text.rsplit("\n", 1)[1] if step < 0 else text.split("\n", 1)[0]).strip()
            if text.strip():
                return False
        elif isinstance(node, mw.nodes.Heading):
            return True
        elif not isinstance(node, mw.nodes.Template | mw.nodes.Comment):
            return False
        index += step
    return True


def _without_repeat(before: str, rendered: str) -> str:
    """"As of {{as of|2024|lc=y}}" shows "As of" once: a template's words that repeat the
    words just before it are dropped."""
    words = rendered.split()
    for size in range(min(len(words) - 1, 4), 1, -1):
        lead = " ".join(words[:size])
        if " ".join(before.split()[-size:]).lower() == lead.lower() and before[-1:].isspace():
            return rendered.lstrip()[len(lead):].lstrip()
    return rendered


def _fill_holes(paragraph: str, language: str | None) -> tuple[str, int, int]:
    """(paragraph without holes, asides left out, sentences left out)."""
    asides = 0
    while _HOLE in paragraph:
        paragraph, count = _ASIDE_WITH_HOLE.subn("", paragraph)
        if not count:
            break
        asides += count
    if _HOLE not in paragraph:
        return paragraph, asides, 0
    sentences = [paragraph[s.start:s.end] for s in split_sentences(paragraph, language)]
    kept = [s for s in sentences if _HOLE not in s]
    return " ".join(kept), asides, len(sentences) - len(kept)
