"""The wire contract of ``POST /v1/context``: request parsing and the response records.

Request:  {"url"?, "title"?, "published"?, "lang"?, "blocks": [{"id", "text"}, ...]}
Response: {"ok": true, "index": {"build_id", "model", "passages"},
           "sentences": [{"block", "start", "end", "exact", "prefix", "suffix",
                          "cards": [{"id", "text", "title", "url", "publisher",
                                     "published", "kind", "license", "score",
                                     "claimant", "rating", "confidence",
                                     "snippet", "section",
                                     "sources": [{"publisher", "title", "url", "published"}]}]}],
           "stats": {"blocks", "sentences", "searched", "with_context"}}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from server.errors import BadRequest, PayloadTooLarge

__all__ = [
    "MAX_ID_CHARS", "Block", "Card", "ContextRequest", "Limits", "Sentence", "Source", "parse_request",
]

MAX_ID_CHARS = 200
_META_FIELDS = ("url", "title", "published", "lang")


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
class Sentence:
    """A sentence located in its block: ``block_text[start:end] == exact``."""

    block: str
    start: int
    end: int
    exact: str
    prefix: str
    suffix: str


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sentence_dict(sentence: Sentence, cards: list[Card]) -> dict[str, Any]:
    return {**asdict(sentence), "cards": [c.to_dict() for c in cards]}


def parse_request(body: Any, limits: Limits) -> ContextRequest:
    """Check a decoded JSON body against the contract; raise BadRequest or PayloadTooLarge."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with a 'blocks' list")
    meta: dict[str, str | None] = {}
    for name in _META_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"'{name}' must be a string")
        meta[name] = value
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
        blocks.append(Block(block_id, text))
    return ContextRequest(blocks=tuple(blocks), **meta)
