"""What the whole article says about its own subject: its title, lead and the names it repeats.

A sentence alone is often ambiguous ("the attack", "the minister"); the article around it
says which country, person or event it is about. The rescoring stage reads this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from server.pipeline.names import Name, bare_name, names

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Article", "lead_text", "read_article"]

# Sentences at the start of an article that count as its lead.
LEAD_SENTENCES = 2
# Characters of title and first paragraph embedded as the article's lead (about 64 tokens).
# Longer leads helped the model a little and cost every new article time (fit-rescorer's
# out-of-fold AUC 0.859 at 300 characters, 0.863 at 600; 10 new sentences embedded in 162 ms
# with a 300-character lead, 182 ms with 600, 128 ms with none).
LEAD_CHARS = 300


@dataclass(frozen=True)
class Article:
    """The names of an article: in its title, its lead, and how many sentences name each;
    ``vector`` is the embedding of its lead (title and first paragraph), when there is one."""

    title: tuple[Name, ...] = ()
    lead: tuple[Name, ...] = ()
    sentences: int = 0
    # Sentences naming each name, keyed without particles (``bare_name``), for matching.
    mentions: dict[Name, int] = field(default_factory=dict)
    vector: NDArray[np.float32] | None = field(default=None, compare=False)

    def salience(self, forms: Sequence[Name]) -> float:
        """Share of the article's sentences that name the subject (any of its forms), 0 to 1."""
        if not self.sentences:
            return 0.0
        count = max((self.mentions.get(bare_name(form), 0) for form in forms), default=0)
        return min(1.0, count / self.sentences)

    def mentioned(self, name: Name) -> bool:
        """Whether some sentence of the article has this name (particles aside)."""
        return bare_name(name) in self.mentions


def lead_text(title: str | None, paragraphs: Sequence[str]) -> str:
    """What the article is about in a few lines: its title and first paragraph of prose."""
    first = next((p for p in paragraphs if len(p.split()) > 12), paragraphs[0] if paragraphs else "")
    text = f"{title.strip()}. {first.strip()}" if title and title.strip() else first.strip()
    return text if len(text) <= LEAD_CHARS else text[:LEAD_CHARS].rsplit(" ", 1)[0]


def read_article(
    title: str | None, sentences: Sequence[str], vector: NDArray[np.float32] | None = None
) -> Article:
    """The article's names from its title (None: the first sentence stands in) and sentences."""
    per_sentence = [set(names(s)) for s in sentences]
    mentions: Counter[Name] = Counter()
    for found in per_sentence:
        mentions.update(found)
    lead = tuple(n for found in per_sentence[:LEAD_SENTENCES] for n in sorted(found))
    heading = names(title) if title else list(per_sentence[0]) if per_sentence else []
    bare: dict[Name, int] = {}
    for name, count in mentions.items():
        key = bare_name(name)
        bare[key] = max(bare.get(key, 0), count)
    return Article(title=tuple(heading), lead=lead, sentences=len(sentences), mentions=bare,
                   vector=vector)
