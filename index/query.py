"""Clean what real pages and posts carry around a claim before it is searched.

Only the text that is embedded and matched is cleaned; the sentence a reader
sees, and its offsets, are never changed.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["clean_query"]

# "— Jane Doe (@janedoe) February 25, 2016" closing an embedded tweet.
_TWEET_TAIL = re.compile(
    r"\s*[—–-]{1,2}\s*[^—–\n]{0,80}\(@\w{1,15}\)\s*[A-Z][a-z]+\.? \d{1,2},? \d{4}\s*$"
)
_RETWEET = re.compile(r"^\s*RT\s+@\w+:?\s*")
_URL = re.compile(r"(?:https?://|www\.)\S+|\bpic\.twitter\.com/\S+|\b[\w-]+\.(?:ly|co)/\S+")
_HANDLE = re.compile(r"(?<!\w)[@#](\w+)")
_BOILERPLATE = re.compile(
    r"\s*(?:read more|click here|subscribe now|full story|watch(?: the video)?|via)\s*[:.!…]*\s*$",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def _drop_symbols(text: str) -> str:
    # Emoji and pictographs are "Symbol, other"; joiners and variation selectors glue them.
    return "".join(
        " " if unicodedata.category(ch) == "So" else ch
        for ch in text
        if ch not in "\u200d\ufe0f\ufe0e"
    )


def clean_query(text: str) -> str:
    """The claim without links, @/# marks, tweet tails, emoji and trailing boilerplate."""
    cleaned = html.unescape(text)
    cleaned = _TWEET_TAIL.sub("", cleaned)
    cleaned = _RETWEET.sub("", cleaned)
    cleaned = _URL.sub(" ", cleaned)
    cleaned = _HANDLE.sub(r"\1", cleaned)
    cleaned = _drop_symbols(cleaned)
    cleaned = _BOILERPLATE.sub("", cleaned)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    # A post that was only a link or an emoji is searched as it came.
    return cleaned or _SPACES.sub(" ", text).strip()
