"""The service's settings: the index package's registry plus the service's own, one ``Settings``.

Each setting is read from the environment as ``ASIDE_<NAME>``; ``load`` checks every value
against the registry (type, bounds, choices) and raises ValueError naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index import settings as index_settings
from index.search import MODES
from index.settings import REPO_ROOT, IndexSettings, Setting, read_settings

__all__ = ["BY_NAME", "DEFAULT_CORS_ORIGINS", "SETTINGS", "Settings", "anchor_origin", "load",
           "markdown_table"]

DEFAULT_CORS_ORIGINS = (
    r"chrome-extension://[a-p]{32}",
    r"moz-extension://[0-9a-f-]{36}",
    r"http://localhost(:\d+)?",
    r"http://127\.0\.0\.1(:\d+)?",
)


def anchor_origin(pattern: str) -> str:
    """A pattern that must match the whole origin: flask-cors matches with ``re.match``, a
    prefix match, so ``http://localhost(:\\d+)?`` also let ``http://localhost.evil.example`` in.
    """
    if pattern == "*" or pattern.endswith(r"\Z") or not set("*\\]?$^[()").intersection(pattern):
        return pattern  # flask-cors compares a string without regex characters whole
    return rf"^(?:{pattern})\Z"


def _origin(pattern: str) -> str:
    anchored = anchor_origin(pattern)
    if anchored != "*":
        try:
            re.compile(anchored)
        except re.error as exc:
            raise ValueError(pattern) from exc
    return anchored


def _language(code: str) -> str:
    code = code.lower()
    if not (code.isascii() and code.isalpha() and 2 <= len(code) <= 3):
        raise ValueError(code)
    return code


SETTINGS: tuple[Setting, ...] = index_settings.SETTINGS + (
    Setting(
        name="HOST", default="127.0.0.1",
        help="Address to listen on (under the Procfile: 0.0.0.0 unless set).",
    ),
    Setting(
        name="PORT", default=8080, kind=int, minimum=1, maximum=65535,
        help="Port to listen on (under the Procfile, `PORT` wins when set).",
    ),
    Setting(
        name="MAX_BODY_BYTES", default=512 * 1024, kind=int, minimum=1,
        help="Largest request body accepted; larger gets 413.",
    ),
    Setting(
        name="MAX_BLOCKS", default=400, kind=int, minimum=1,
        help="Most blocks (paragraphs) in one request; more gets 413.",
    ),
    Setting(
        name="MAX_BLOCK_CHARS", default=20_000, kind=int, minimum=1,
        help="Most characters in one block; longer gets 413.",
    ),
    Setting(
        name="READ_TIMEOUT_SECONDS", default=15, kind=float, above=0,
        help="Time a client has to send a whole request, head and body, under gunicorn (the Procfile "
        "or `aside serve`); a slower one gets 408. Requests are read before a thread takes them, "
        "so slow clients do not hold the threads that answer /healthz.",
    ),
    Setting(
        name="MAX_SENTENCES", default=1_000, kind=int, minimum=1,
        help="Most sentences in one request after splitting; more gets 413.",
    ),
    Setting(
        name="THRESHOLD", default=0.62, kind=float, minimum=-1, maximum=1,
        help="Fused match score below which a fact-check is not shown (it must match the claim "
        "itself); with rescoring off, every card's bar. A sentence with no card above its bar "
        "gets none (\"no context\" rather than a weak match).",
    ),
    Setting(
        name="RESCORE_MODEL", default="",
        help="The rescoring model: a JSON file written by `aside eval fit-rescorer` (empty: the one "
        "shipped with Aside, fitted on editor judgments of news cards), or `off` to gate every "
        "card on THRESHOLD alone.",
    ),
    Setting(
        name="MIN_CONFIDENCE", default=None, kind=float, minimum=0, maximum=1, optional=True,
        help="Least probability of being helpful (the rescoring model's `confidence`) a reference "
        "card needs to be shown, between 0 and 1 (empty: the model's default, chosen on the "
        "news dev set for at least 80% helpful cards).",
    ),
    Setting(
        name="CARDS_PER_SENTENCE", default=3, kind=int, minimum=1,
        help="Most cards returned for one sentence.",
    ),
    Setting(
        name="CACHE_SENTENCES", default=10_000, kind=int, minimum=0,
        help="Sentences whose search results each worker keeps (under 1 kB each; 0: none), so "
        "an article seen before is neither embedded nor searched again.",
    ),
    Setting(
        name="RELOAD_SECONDS", default=2, kind=float, minimum=0,
        help="Seconds between checks for a newly published build of the index (0: every request); "
        "a new build is swapped in without a restart.",
    ),
    Setting(
        name="SEARCH_MODE", default="hybrid", choices=MODES,
        help="`hybrid` (BM25 fused with the embedding ranking), `dense` or `lexical` (BM25 alone).",
    ),
    Setting(
        name="LEXICAL_WEIGHT", default=0.2, kind=float, minimum=0, maximum=1,
        help="Weight of BM25 in the fused score, between 0 and 1; chosen on CheckThat! 2020 dev.",
    ),
    Setting(
        name="REQUEST_BUDGET_SECONDS", default=10, kind=float, above=0,
        help="Time one /v1/context request may take; a request over it fails with 503 "
        "`over_budget` and the worker goes on to the next.",
    ),
    Setting(
        name="API_KEYS", default="",
        help="Hashed API keys (`sha256:<hex>`, comma-separated; `aside keys new` makes one). "
        "When this or API_KEYS_FILE names any, /v1/ requests need `X-API-Key`.",
    ),
    Setting(
        name="API_KEYS_FILE", default="",
        help="A file of hashed API keys, one per line (`#` comments); re-read when it changes, "
        "so keys rotate without a restart.",
    ),
    Setting(
        name="RATE_LIMIT_PER_ADDRESS", default="120/minute",
        help="Requests to /v1/ per client address (flask-limiter syntax, `;` between limits; "
        "empty: none). Over it: 429 with Retry-After.",
    ),
    Setting(
        name="RATE_LIMIT_PER_KEY", default="600/minute",
        help="Requests to /v1/ per API key, when keys are configured (empty: none).",
    ),
    Setting(
        name="RATE_LIMIT_STORAGE", default="memory://",
        help="Where rate-limit counters live: `memory://` (per worker process) or "
        "`redis://host:6379` (shared; install `aside[redis]`).",
    ),
    Setting(
        name="PROXY_HOPS", default=0, kind=int, minimum=0,
        help="Reverse proxies in front of the service whose X-Forwarded-For is trusted for the "
        "client address (0: use the socket's address).",
    ),
    Setting(
        name="LANGUAGES", default=("en",), kind=tuple, parse_item=_language,
        allowed="ISO 639-1 codes such as en,de (comma-separated), or empty",
        help="Languages the embedding model reads (ISO 639-1 codes, comma-separated; empty: every "
        "language). An article in another language is not searched: its answer has no cards and "
        "a `language_unsupported` notice.",
    ),
    Setting(
        name="FEEDBACK_DIR", default=REPO_ROOT / "var" / "feedback", kind=Path, optional=True,
        help="Directory of the reader feedback database (`feedback.sqlite3`, made private to the "
        "service's user at the first report), kept apart from the index so rebuilds leave it; "
        "read by `aside feedback`. Empty: this service takes no feedback (POST /v1/feedback "
        "answers 404 `feedback_disabled`).",
    ),
    Setting(
        name="FEEDBACK_RETENTION_DAYS", default=180, kind=int, minimum=1, maximum=36500,
        help="Days a reader's report is kept; older ones are deleted by the service (at most "
        "once a day per worker, when it stores a report) and by `aside feedback prune`. Blocks "
        "are kept until removed.",
    ),
    Setting(
        name="FEEDBACK_RATE_LIMIT_PER_ADDRESS", default="10/minute;60/hour",
        help="Reader reports (POST /v1/feedback) per client address "
        "(flask-limiter syntax, `;` between limits; empty: none), counted apart from the other "
        "/v1/ requests. Over it: 429 with Retry-After.",
    ),
    Setting(
        name="FEEDBACK_RATE_LIMIT_PER_KEY", default="1200/hour",
        help="Reader reports per API key, when keys are configured (empty: none), "
        "counted apart from RATE_LIMIT_PER_KEY. A key is often shared by every reader of a "
        "newsroom, so it allows far more than one address.",
    ),
    Setting(
        name="METRICS", default=True, kind=bool,
        help="Serve Prometheus metrics at /metrics (counts and timings, never text).",
    ),
    Setting(
        name="CORS_ORIGINS", default=DEFAULT_CORS_ORIGINS, kind=tuple, parse_item=_origin,
        allowed="regular expressions, each matching a whole origin (comma-separated)",
        help="Origins allowed to call the API from a browser: comma-separated regular expressions, "
        "each matching a whole origin (default: Chrome and Firefox extension origins and "
        "localhost on any port).",
    ),
)

BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings(IndexSettings):
    """Every setting of the service, checked; one attribute per setting in ``SETTINGS``."""

    host: str
    port: int
    max_body_bytes: int
    max_blocks: int
    max_block_chars: int
    read_timeout_seconds: float
    max_sentences: int
    threshold: float
    rescore_model: str
    min_confidence: float | None
    cards_per_sentence: int
    cache_sentences: int
    reload_seconds: float
    search_mode: str
    lexical_weight: float
    request_budget_seconds: float
    api_keys: str
    api_keys_file: str
    rate_limit_per_address: str
    rate_limit_per_key: str
    rate_limit_storage: str
    proxy_hops: int
    languages: tuple[str, ...]
    feedback_dir: Path | None
    feedback_retention_days: int
    feedback_rate_limit_per_address: str
    feedback_rate_limit_per_key: str
    metrics: bool
    cors_origins: tuple[str, ...]


def load(environ: Mapping[str, str], *overrides: Mapping[str, Any]) -> Settings:
    """The settings from ``ASIDE_*`` in ``environ``, then each of ``overrides`` (keyed by NAME).

    Raises ValueError naming the variable and what it allows when a value is wrong.
    """
    return read_settings(Settings, SETTINGS, environ, *overrides)


def markdown_table() -> str:
    """Every setting as the documentation's Markdown table (a test keeps the docs in step)."""
    return index_settings.markdown_table(SETTINGS)
