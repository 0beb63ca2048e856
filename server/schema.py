"""The wire contract of ``POST /v1/context``: request parsing and the response records.

Request:  {"url"?, "title"?, "published"?, "lang"?, "blocks": [{"id", "text"}, ...]}
Response: {"ok": true, "index": {"build_id", "model", "passages"},
           "notices": [{"code", "message", "language"}],
           "sentences": [{"block", "start", "end", "start_utf16", "end_utf16", "exact",
                          "prefix", "suffix", "sentence_hash", "vector",
                          "cards": [{"id", "text", "title", "url", "publisher",
                                     "published", "kind", "license", "score",
                                     "claimant", "rating", "confidence",
                                     "snippet", "section",
                                     "sources": [{"publisher", "title", "url", "published"}]}]}],
           "stats": {"blocks", "sentences", "searched", "with_context"}}
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from index.records import Provenance, provenance_of
from server.errors import BadRequest, PayloadTooLarge

__all__ = [
    "MAX_ID_CHARS", "Block", "Card", "ContextRequest", "Limits", "Notice", "Sentence", "Source",
    "parse_request", "repair_text", "sentence_dict", "shown_provenance",
]

MAX_ID_CHARS = 200
_META_FIELDS = ("url", "title", "published", "lang")
# Valid JSON, not valid Unicode: "\ud83c" alone decodes to a lone surrogate, which cannot be
# encoded as UTF-8 (the tokenizer, SQLite and the sentence splitter fail on it). A paired
# escape decodes to one astral code point, so whatever surrogate is left here is lone.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Block:
    """One paragraph of the article as the client sent it."""

    id: str
    text: str


@dataclass(frozen=True)
class ContextRequest:
    blocks: tuple[Block, ...]
    url: str | None = None
    title: str | None = None
    published: str | None = None
    lang: str | None = None


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_blocks: int
    max_block_chars: int


@dataclass(frozen=True)
class Notice:
    """Something the client should tell its user about the whole answer.

    ``language_unsupported``: the article's language (``language``, ISO 639-1) is not one the
    embedding model reads, so it was not searched and has no cards.
    """

    code: str
    message: str
    language: str | None = None


@dataclass(frozen=True)
class Sentence:
    """A sentence located in its block: ``block_text[start:end] == exact``.

    ``start``/``end`` count code points (Python's ``str``); ``start_utf16``/``end_utf16``
    count UTF-16 code units (JavaScript's ``String``), which differ after any character
    above U+FFFF (flags, emoji, mathematical letters). The segmenter always sets both.
    """

    block: str
    start: int
    end: int
    exact: str
    prefix: str
    suffix: str
    start_utf16: int | None = None
    end_utf16: int | None = None


@dataclass(frozen=True)
class Source:
    """Where a card's passage was published; a card may name several."""

    publisher: str | None
    title: str | None
    url: str | None
    published: str | None


@dataclass(frozen=True)
class Card:
    """A passage shown next to a sentence, with its provenance and match score.

    ``sources`` names every source of a near-identical passage, the card's own first.
    A fact-check (kind ``fact-check``) shows the claim reviewed as ``text``, the
    reviewer as ``publisher``, the review's ``url`` and date, and ``claimant`` and
    ``rating`` (the reviewer's textual rating); other cards have them null.
    ``confidence`` is the rescoring stage's probability that an editor would judge the
    card helpful for its sentence (null for cards it does not score: fact-checks, or all
    cards when rescoring is off). ``snippet`` is what the card shows first: the passage's
    sentences that match, at most about 300 characters ("…" where cut); ``section`` the
    field or section of the source it comes from (a Factbook field), or null.
    ``doc_id`` and ``passage_hash`` (``index.records.passage_hash``) name the passage across
    builds, as reader feedback and blocks do. ``category`` is what the card is to a reader:
    ``fact-check``, ``statistic`` (a figure from a statistical source) or ``reference``.
    ``matched`` lists the passage's words that the sentence shares (stemmed, stopwords
    left out), in passage order, as the passage spells them: why it matched.
    The provenance fields are the passage's (``index.records.Provenance``), all but its
    language, with a readable ``title``: see ``shown_provenance``.
    """

    id: str
    text: str
    title: str | None
    url: str | None
    publisher: str | None
    published: str | None
    kind: str
    license: str | None
    score: float
    sources: tuple[Source, ...] = ()
    claimant: str | None = None
    rating: str | None = None
    confidence: float | None = None
    snippet: str = ""
    section: str | None = None
    doc_id: str = ""
    passage_hash: str = ""
    category: str = "reference"
    matched: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def shown_provenance(
    shape: type[Card] | type[Source], provenance: Provenance, *, title: str
) -> dict[str, Any]:
    """Keywords for a Card or Source: the provenance fields it shows, by name, under ``title``.

    A card shows every provenance field but the language, which only picks how its snippet
    is cut; a source shows its publisher, url and date.
    """
    shows = {f.name for f in fields(shape)}
    return {k: v for k, v in provenance_of(provenance).items() if k in shows} | {"title": title}


def sentence_dict(sentence: Sentence, cards: list[Card], *, sentence_hash: str | None = None,
                  vector: str | None = None) -> dict[str, Any]:
    """A sentence of the answer with its cards.

    ``sentence_hash`` (``server.feedback.sentence_hash`` of ``exact``) and ``vector`` (its
    embedding, ``server.feedback.encode_vector``) are what a reader's report sends back, so
    the service need not keep the text; null when the service takes no feedback.
    """
    return {**asdict(sentence), "sentence_hash": sentence_hash, "vector": vector,
            "cards": [c.to_dict() for c in cards]}


def repair_text(text: str) -> str:
    """Replace each lone UTF-16 surrogate by U+FFFD: one code point (and one UTF-16 unit) for
    one, so every offset into the text stays where it was."""
    return _SURROGATE.sub("\ufffd", text)


def parse_request(body: Any, limits: Limits) -> ContextRequest:
    """Check a decoded JSON body against the contract; raise BadRequest or PayloadTooLarge."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with a 'blocks' list")
    meta: dict[str, str | None] = {}
    for name in _META_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"'{name}' must be a string")
        meta[name] = repair_text(value) if value is not None else None
    raw_blocks = body.get("blocks")
    if not isinstance(raw_blocks, list):
        raise BadRequest("'blocks' must be a list of {\"id\": string, \"text\": string}")
    if len(raw_blocks) > limits.max_blocks:
        raise PayloadTooLarge(
            f"{len(raw_blocks)} blocks; this service accepts at most {limits.max_blocks}"
        )
    blocks: list[Block] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_blocks):
        if not isinstance(raw, dict):
            raise BadRequest(f"blocks[{position}] must be an object with 'id' and 'text'")
        block_id, text = raw.get("id"), raw.get("text")
        if not isinstance(block_id, str) or not block_id or len(block_id) > MAX_ID_CHARS:
            raise BadRequest(
                f"blocks[{position}].id must be a non-empty string of at most {MAX_ID_CHARS} "
                "characters"
            )
        if _SURROGATE.search(block_id):
            # An id is echoed back for the client to find its block: a repaired id would not
            # match, and one sent back unrepaired is not valid Unicode for the next reader.
            raise BadRequest(f"blocks[{position}].id is not valid Unicode (a lone UTF-16 surrogate)")
        if block_id in seen:
            raise BadRequest(f"blocks[{position}].id {block_id!r} is used twice")
        if not isinstance(text, str):
            raise BadRequest(f"blocks[{position}].text must be a string")
        if len(text) > limits.max_block_chars:
            raise PayloadTooLarge(
                f"blocks[{position}] has {len(text)} characters; "
                f"this service accepts at most {limits.max_block_chars} per block"
            )
        seen.add(block_id)
        blocks.append(Block(block_id, repair_text(text)))
    return ContextRequest(blocks=tuple(blocks), **meta)
