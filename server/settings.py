"""The service's settings: one registry for defaults, checks and the README.

Each setting is read from the environment as ``ASIDE_<NAME>`` (Flask's
``from_prefixed_env``, which parses JSON values such as numbers and lists).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from index import settings as index_settings
from index.embed import BACKENDS
from index.settings import Setting

__all__ = ["DEFAULTS", "SETTINGS", "anchor_origin", "check", "for_command", "from_environ",
           "markdown_table"]

DEFAULT_CORS_ORIGINS = (
    r"chrome-extension://[a-p]{32}",
    r"moz-extension://[0-9a-f-]{36}",
    r"http://localhost(:\d+)?",
    r"http://127\.0\.0\.1(:\d+)?",
)

SETTINGS: tuple[Setting, ...] = index_settings.SETTINGS + (
    Setting("HOST", "127.0.0.1", "Address to listen on (under the Procfile: 0.0.0.0 unless set)."),
    Setting("PORT", 8080, "Port to listen on (under the Procfile, `PORT` wins when set)."),
    Setting("MAX_BODY_BYTES", 512 * 1024, "Largest request body accepted; larger gets 413."),
    Setting("MAX_BLOCKS", 400, "Most blocks (paragraphs) in one request; more gets 413."),
    Setting("MAX_BLOCK_CHARS", 20_000, "Most characters in one block; longer gets 413."),
    Setting(
        "READ_TIMEOUT_SECONDS", 15,
        "Time a client has to send a whole request, head and body, under gunicorn (the Procfile "
        "or `aside serve`); a slower one gets 408. Requests are read before a thread takes them, "
        "so slow clients do not hold the threads that answer /healthz.",
    ),
    Setting("MAX_SENTENCES", 1_000, "Most sentences in one request after splitting; more gets 413."),
    Setting(
        "THRESHOLD", 0.62,
        "Fused match score below which a fact-check is not shown (it must match the claim "
        "itself); with rescoring off, every card's bar. A sentence with no card above its bar "
        "gets none (\"no context\" rather than a weak match).",
    ),
    Setting(
        "RESCORE_MODEL", "",
        "The rescoring model: a JSON file written by `aside eval fit-rescorer` (empty: the one "
        "shipped with Aside, fitted on editor judgments of news cards), or `off` to gate every "
        "card on THRESHOLD alone.",
    ),
    Setting(
        "MIN_CONFIDENCE", "",
        "Least probability of being helpful (the rescoring model's `confidence`) a reference "
        "card needs to be shown, between 0 and 1 (empty: the model's default, chosen on the "
        "news dev set for at least 80% helpful cards).",
    ),
    Setting("CARDS_PER_SENTENCE", 3, "Most cards returned for one sentence."),
    Setting(
        "CACHE_SENTENCES", 10_000,
        "Sentences whose search results each worker keeps (under 1 kB each; 0: none), so "
        "an article seen before is neither embedded nor searched again.",
    ),
    Setting(
        "RELOAD_SECONDS", 2,
        "Seconds between checks for a newly published build of the index (0: every request); "
        "a new build is swapped in without a restart.",
    ),
    Setting(
        "SEARCH_MODE", "hybrid",
        "`hybrid` (BM25 fused with the embedding ranking), `dense` or `lexical` (BM25 alone).",
    ),
    Setting(
        "LEXICAL_WEIGHT", 0.2,
        "Weight of BM25 in the fused score, between 0 and 1; chosen on CheckThat! 2020 dev.",
    ),
    Setting(
        "REQUEST_BUDGET_SECONDS", 10,
        "Time one /v1/context request may take; a request over it fails with 503 "
        "`over_budget` and the worker goes on to the next.",
    ),
    Setting(
        "API_KEYS", "",
        "Hashed API keys (`sha256:<hex>`, comma-separated; `aside keys new` makes one). "
        "When this or API_KEYS_FILE names any, /v1/ requests need `X-API-Key`.",
    ),
    Setting(
        "API_KEYS_FILE", "",
        "A file of hashed API keys, one per line (`#` comments); re-read when it changes, "
        "so keys rotate without a restart.",
    ),
    Setting(
        "RATE_LIMIT_PER_ADDRESS", "120/minute",
        "Requests to /v1/ per client address (flask-limiter syntax, `;` between limits; "
        "empty: none). Over it: 429 with Retry-After.",
    ),
    Setting(
        "RATE_LIMIT_PER_KEY", "600/minute",
        "Requests to /v1/ per API key, when keys are configured (empty: none).",
    ),
    Setting(
        "RATE_LIMIT_STORAGE", "memory://",
        "Where rate-limit counters live: `memory://` (per worker process) or "
        "`redis://host:6379` (shared; install `aside[redis]`).",
    ),
    Setting(
        "PROXY_HOPS", 0,
        "Reverse proxies in front of the service whose X-Forwarded-For is trusted for the "
        "client address (0: use the socket's address).",
    ),
    Setting(
        "LANGUAGES", "en",
        "Languages the embedding model reads (ISO 639-1 codes, comma-separated; empty: every "
        "language). An article in another language is not searched: its answer has no cards and "
        "a `language_unsupported` notice.",
    ),
    Setting("METRICS", True, "Serve Prometheus metrics at /metrics (counts and timings, never text)."),
    Setting(
        "CORS_ORIGINS", ",".join(DEFAULT_CORS_ORIGINS),
        "Origins allowed to call the API from a browser: comma-separated regular expressions, "
        "each matching a whole origin (default: Chrome and Firefox extension origins and "
        "localhost on any port).",
    ),
)

DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}

_POSITIVE_INTS = ("PORT", "MAX_BODY_BYTES", "MAX_BLOCKS", "MAX_BLOCK_CHARS", "MAX_SENTENCES",
                  "CARDS_PER_SENTENCE")
_COUNTS = ("CACHE_SENTENCES",)


def check(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the settings with their types checked and normalised; raise ValueError if wrong."""
    values = {s.name: config.get(s.name, s.default) for s in SETTINGS}
    for name in _POSITIVE_INTS:
        if isinstance(values[name], bool) or not isinstance(values[name], int) or values[name] < 1:
            raise ValueError(f"ASIDE_{name} must be a positive integer, got {values[name]!r}")
    for name in _COUNTS:
        if isinstance(values[name], bool) or not isinstance(values[name], int) or values[name] < 0:
            raise ValueError(f"ASIDE_{name} must be an integer >= 0, got {values[name]!r}")
    threshold = values["THRESHOLD"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not (
        -1.0 <= threshold <= 1.0
    ):
        raise ValueError(f"ASIDE_THRESHOLD must be a number between -1 and 1, got {threshold!r}")
    values["THRESHOLD"] = float(threshold)
    confidence = values["MIN_CONFIDENCE"]
    if confidence == "" or confidence is None:
        values["MIN_CONFIDENCE"] = None
    elif isinstance(confidence, bool) or not isinstance(confidence, int | float) or not (
        0.0 <= confidence <= 1.0
    ):
        raise ValueError(f"ASIDE_MIN_CONFIDENCE must be a number between 0 and 1, got {confidence!r}")
    else:
        values["MIN_CONFIDENCE"] = float(confidence)
    if not isinstance(values["RESCORE_MODEL"], str):
        raise ValueError(f"ASIDE_RESCORE_MODEL must be a path or off, got {values['RESCORE_MODEL']!r}")
    weight = values["LEXICAL_WEIGHT"]
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
        raise ValueError(f"ASIDE_LEXICAL_WEIGHT must be a number between 0 and 1, got {weight!r}")
    values["LEXICAL_WEIGHT"] = float(weight)
    reload_seconds = values["RELOAD_SECONDS"]
    if isinstance(reload_seconds, bool) or not isinstance(reload_seconds, int | float) or (
        reload_seconds < 0
    ):
        raise ValueError(f"ASIDE_RELOAD_SECONDS must be a number of seconds >= 0, got {reload_seconds!r}")
    if values["EMBED_BACKEND"] not in BACKENDS:
        raise ValueError(f"ASIDE_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, "
                         f"got {values['EMBED_BACKEND']!r}")
    if values["SEARCH_MODE"] not in ("hybrid", "dense", "lexical"):
        raise ValueError(
            f"ASIDE_SEARCH_MODE must be hybrid, dense or lexical, got {values['SEARCH_MODE']!r}"
        )
    read = values["READ_TIMEOUT_SECONDS"]
    if isinstance(read, bool) or not isinstance(read, int | float) or read <= 0:
        raise ValueError(f"ASIDE_READ_TIMEOUT_SECONDS must be a number of seconds > 0, got {read!r}")
    budget = values["REQUEST_BUDGET_SECONDS"]
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        raise ValueError(f"ASIDE_REQUEST_BUDGET_SECONDS must be a number of seconds > 0, got {budget!r}")
    values["REQUEST_BUDGET_SECONDS"] = float(budget)
    hops = values["PROXY_HOPS"]
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise ValueError(f"ASIDE_PROXY_HOPS must be an integer >= 0, got {hops!r}")
    for name in ("API_KEYS", "API_KEYS_FILE", "RATE_LIMIT_PER_ADDRESS", "RATE_LIMIT_PER_KEY",
                 "RATE_LIMIT_STORAGE"):
        if not isinstance(values[name], str):
            raise ValueError(f"ASIDE_{name} must be a string, got {values[name]!r}")
    if not isinstance(values["METRICS"], bool):
        raise ValueError(f"ASIDE_METRICS must be true or false, got {values['METRICS']!r}")
    origins = values["CORS_ORIGINS"]
    if isinstance(origins, str):
        origins = [o.strip() for o in origins.split(",") if o.strip()]
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ValueError("ASIDE_CORS_ORIGINS must be a comma-separated list of origins")
    values["CORS_ORIGINS"] = [anchor_origin(o) for o in origins]
    languages = values["LANGUAGES"]
    if isinstance(languages, str):
        languages = [x.strip().lower() for x in languages.split(",") if x.strip()]
    if not isinstance(languages, list) or not all(
        isinstance(x, str) and x.isascii() and x.isalpha() and 2 <= len(x) <= 3 for x in languages
    ):
        raise ValueError(f"ASIDE_LANGUAGES must be ISO 639-1 codes such as en,de; got {languages!r}")
    values["LANGUAGES"] = languages
    values["TORCH_THREADS"] = int(values["TORCH_THREADS"])
    values["INDEX_DIR"] = str(values["INDEX_DIR"])
    return values


def anchor_origin(pattern: str) -> str:
    """A pattern that must match the whole origin: flask-cors matches with ``re.match``, a
    prefix match, so ``http://localhost(:\\d+)?`` also let ``http://localhost.evil.example`` in.
    """
    if pattern == "*" or pattern.endswith(r"\Z") or not set("*\\]?$^[()").intersection(pattern):
        return pattern  # flask-cors compares a string without regex characters whole
    return rf"^(?:{pattern})\Z"


def for_command(index_dir: str | None = None) -> dict[str, Any]:
    """The checked settings of a command run from the shell, with its ``--index`` when given.

    Raises ValueError, as ``check`` does, for a setting that is wrong.
    """
    config = check(from_environ(os.environ))
    if index_dir is not None:
        config["INDEX_DIR"] = str(index_dir)
    return config


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from ``ASIDE_*`` variables, parsed as Flask's ``from_prefixed_env`` does."""
    import json

    values: dict[str, Any] = dict(DEFAULTS)
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None:
            continue
        try:
            values[setting.name] = json.loads(raw)
        except json.JSONDecodeError:
            values[setting.name] = raw
    return values


def markdown_table() -> str:
    """The settings as the README's Markdown table (a test keeps the README in step)."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = {"INDEX_DIR": "(repository)/var/index",
                   "ONNX_DIR": "(repository)/var/model-onnx",
                   "DATA_DIR": "(repository)/../shared/data"}.get(s.name, str(s.default))
        default = default.replace("|", "\\|") if default else "(empty)"
        rows.append(f"| `{s.env}` | `{default}` | {s.help} |")
    return "\n".join(rows)
