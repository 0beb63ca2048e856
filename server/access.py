"""One JSON line per request on the ``aside.access`` logger: what an operator needs, no text.

    {"time": "...", "method": "POST", "route": "/v1/context", "status": 200,
     "duration_ms": 291.4, "request_bytes": 8421, "response_bytes": 5120,
     "sentences": 40, "cards": 9, "key_id": null, "error": null}

Never the page text, the query string, the client's address or an API key:
``route`` is the matched route (not the raw path), and ``key_id`` is the short
public id of the key (a prefix of its stored hash), never the key.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from flask import Flask, Response, g, request

from server.auth import request_key_id
from server.metrics import method_label, route_label

__all__ = ["ACCESS_LOGGER", "init_app"]

ACCESS_LOGGER = "aside.access"
logger = logging.getLogger(ACCESS_LOGGER)


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return str(record.getMessage())


def _configure() -> None:
    """Access lines go to stderr as bare JSON, not through the root logger's text format."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonLines())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _log(response: Response) -> Response:
    started = g.get("aside_started")
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "method": method_label(),
        "route": route_label(),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "request_bytes": request.content_length or 0,
        "response_bytes": response.calculate_content_length() or 0,
        "sentences": g.get("aside_searched"),
        "cards": g.get("aside_cards"),
        "key_id": request_key_id(),
        "error": g.get("aside_error_code"),
    }
    logger.info("%s", json.dumps(line, separators=(",", ":")))
    return response


def init_app(app: Flask) -> None:
    """Log every request as one JSON line (after metrics, so both see the same request)."""
    _configure()
    app.after_request(_log)
