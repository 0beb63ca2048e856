"""HTTP endpoints: the context API, readers' reports, health, readiness and the index summary."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.blueprints import BlueprintSetupState

from index.store import Store
from server import memory, pipeline
from server.errors import (
    BadRequest,
    FeedbackDisabled,
    FeedbackUnavailable,
    IndexUnavailable,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    WithdrawalClosed,
)
from server.feedback import encode_vector, sentence_hash
from server.feedback.blocks import Blocklist
from server.feedback.reports import (
    Reports,
    TooLate,
    WriteFailed,
    parse_report,
    parse_withdrawal,
    snapshot,
)
from server.handlers import error_response
from server.metrics import observe_report
from server.pipeline.cache import SearchCache
from server.pipeline.language import LanguageCheck
from server.pipeline.rescore import Rescorer
from server.resources import get_resources
from server.schema import Limits, parse_request, sentence_dict

__all__ = ["FEEDBACK_RETRY_SECONDS", "bp", "context_response", "parse_json", "source_labels",
           "unready_reason"]

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__)

# The Retry-After of a 503 for a report the database refused: when a client may try again (the
# extension does not retry by itself; it tells the reader the report was not sent).
FEEDBACK_RETRY_SECONDS = 60


@bp.record_once
def _open_feedback(state: BlueprintSetupState) -> None:
    """Name the feedback database (opened at the first report), unless feedback is off."""
    settings = state.app.extensions["aside_settings"]
    directory = settings.feedback_dir
    state.app.extensions["aside_feedback"] = None if directory is None else Reports(
        Path(directory), retention_days=settings.feedback_retention_days)


def context_response(
    body: Any, config: Any, embedder: Any, store: Store, *, started: float | None = None,
    cache: SearchCache | None = None, rescorer: Rescorer | None = None,
    language: LanguageCheck | None = None, blocklist: Blocklist | None = None,
    feedback: bool = False,
) -> dict[str, Any]:
    """Validate a request body and answer it; shared by the API and ``aside context``.

    ``started`` (a ``time.perf_counter()`` value) starts the request's time budget. No
    card shows a passage ``blocklist`` blocks for its sentence. With ``feedback`` each
    sentence carries its ``sentence_hash`` and ``vector`` for a reader's report.
    """
    req = parse_request(
        body, Limits(max_blocks=config["MAX_BLOCKS"], max_block_chars=config["MAX_BLOCK_CHARS"])
    )
    result = pipeline.run(req, embedder, store, pipeline.Options.from_config(
        config, started=started, cache=cache, rescorer=rescorer, language=language,
        blocklist=blocklist))
    manifest = store.manifest
    return {
        "ok": True,
        "index": {"build_id": manifest.build_id, "model": manifest.model,
                  "passages": manifest.passages},
        "notices": [asdict(n) for n in result.notices],
        "sentences": [
            sentence_dict(s, cards, sentence_hash=sentence_hash(s.exact),
                          vector=encode_vector(vector)) if feedback else sentence_dict(s, cards)
            for (s, cards), vector in zip(result.sentences, result.vectors, strict=True)
        ],
        "stats": {
            "blocks": len(req.blocks),
            "sentences": result.total_sentences,
            "searched": result.searched,
            "with_context": len(result.sentences),
            "timings_ms": result.timings_ms,
        },
    }


_PATH_OR_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+|(?<![\w.])(?:~|\.{1,2})?/[^\s:;,()]+")


def unready_reason(error: str | None, index_dir: str) -> str:
    """Why no index is served, for any client: the index directory named by its setting, and
    no other path or URL (the operator's log has them)."""
    reason = (error or "unknown").replace(str(Path(index_dir).resolve()), "ASIDE_INDEX_DIR")
    reason = reason.replace(index_dir, "ASIDE_INDEX_DIR")
    return _PATH_OR_URL.sub("(a path)", reason)


def _store() -> Store:
    """The build this request is answered from, start to end."""
    resources = get_resources()
    store = resources.current_store()
    if store is None:
        reason = unready_reason(resources.error, current_app.config["INDEX_DIR"])
        raise IndexUnavailable(f"no index is loaded: {reason}")
    return store


def _no_constant(name: str) -> NoReturn:
    raise BadRequest(f"the body is not valid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"the body holds a number too large for a float ({text[:20]}…)")
    return value


def _integer(text: str) -> int:
    # Python refuses to convert more than 4,300 digits (CVE-2020-10735) with a ValueError
    # that json.loads lets through; no field of an article needs a fraction of that.
    if len(text) > 100:
        raise BadRequest(f"the body holds an integer of {len(text):,} digits; the most is 100")
    return int(text)


def parse_json(data: bytes) -> Any:
    """Decode a request body as strict JSON (RFC 8259); raise BadRequest for anything else.

    NaN and Infinity (which Python's json accepts), floats that overflow and integers of more
    than 100 digits are refused.
    """
    try:
        return json.loads(data, parse_constant=_no_constant, parse_float=_finite, parse_int=_integer)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply to be an article") from exc


def _body() -> bytes:
    """The request body, within MAX_BODY_BYTES whether it came with a length or chunked."""
    limit = current_app.config["MAX_BODY_BYTES"]
    if request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return request.get_data(cache=False)  # Werkzeug answers 413 over the limit
    # A chunked body (no length; the server ends the stream): Werkzeug's stream stops quietly
    # at the limit, so the truncated JSON got 400. Read one byte past it and say 413.
    stream, parts, size = request.environ["wsgi.input"], [], 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        raise PayloadTooLarge(f"the body is over this service's limit of {limit:,} bytes")
    return b"".join(parts)


@bp.post("/v1/context")
def context() -> Response:
    started = time.perf_counter()
    if not request.is_json:
        raise UnsupportedMediaType("send the article as JSON with Content-Type: application/json")
    store = _store()
    body = parse_json(_body())
    resources = get_resources()
    answer = context_response(body, current_app.config, resources.embedder, store,
                              started=started, cache=resources.cache, rescorer=resources.rescorer,
                              language=current_app.extensions.get("aside_language"),
                              blocklist=resources.current_blocklist(),
                              feedback=current_app.extensions.get("aside_feedback") is not None)
    # Counts only, for the access log and the metrics: the service never logs page text.
    g.aside_searched = answer["stats"]["searched"]
    g.aside_cards = sum(len(s["cards"]) for s in answer["sentences"])
    response = jsonify(answer)
    response.call_on_close(memory.release)  # after the answer is sent
    return response


@bp.post("/v1/feedback")
def feedback() -> Response:
    """Store a reader's report on a card: 201 when new, 200 when the same reader, card and
    sentence were reported before (counted once); 503 with Retry-After when it cannot be stored."""
    reports = _reports()
    if not request.is_json:
        raise UnsupportedMediaType("send the report as JSON with Content-Type: application/json")
    resources = get_resources()
    report = parse_report(parse_json(_body()), dim=resources.embedder.dim)
    # The passage as the index has it now, so the operator reads what was reported later.
    found = snapshot(resources.current_store(), report)
    try:
        added = reports.add(report, found)
    except WriteFailed as exc:
        logger.error("%s", exc)  # SQLite's message and the directory: never the report's text
        observe_report(report.verdict, report.reason, "failed")
        return _feedback_unavailable("the report could not be stored now; send it again later")
    observe_report(report.verdict, report.reason, "duplicate" if added.duplicate else "stored")
    response = jsonify({"ok": True, "id": added.id, "duplicate": added.duplicate,
                        "received": added.received})
    response.status_code = 200 if added.duplicate else 201
    return response


@bp.delete("/v1/feedback/<int:id>")
def withdraw_feedback(id: int) -> Response:  # named as in the OpenAPI path, as flaskr does
    """Withdraw a report (the reader's Undo): only the install that sent it, and only within a
    day; 404 alike for an unknown id and another reader's, so ids cannot be probed."""
    reports = _reports()
    if not request.is_json:
        raise UnsupportedMediaType('send {"install": …} as JSON with Content-Type: application/json')
    install = parse_withdrawal(parse_json(_body()))
    try:
        withdrawn = reports.withdraw(id, install)
    except WriteFailed as exc:
        logger.error("%s", exc)
        return _feedback_unavailable("the report could not be withdrawn now; try again later")
    except TooLate as exc:
        raise WithdrawalClosed(str(exc)) from exc
    if withdrawn is None:
        raise NotFound(f"no report {id} from this install")
    observe_report(withdrawn.verdict, withdrawn.reason, "withdrawn")
    return jsonify({"ok": True, "id": id, "withdrawn": True})


def _reports() -> Reports:
    """The feedback database's handle; FeedbackDisabled when this service takes no feedback."""
    reports: Reports | None = current_app.extensions["aside_feedback"]
    if reports is None:
        raise FeedbackDisabled("this service does not take feedback on cards")
    return reports


def _feedback_unavailable(message: str) -> Response:
    """503 ``feedback_unavailable`` with the Retry-After a reader's extension waits for."""
    response = error_response(FeedbackUnavailable(message))
    response.headers["Retry-After"] = str(FEEDBACK_RETRY_SECONDS)
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"ok": True, "status": "alive"})


@bp.get("/readyz")
def readyz() -> Response:
    resources = get_resources()
    store = resources.current_store()
    if store is None:
        reason = unready_reason(resources.error, current_app.config["INDEX_DIR"])
        raise IndexUnavailable(f"not ready: {reason}")
    return jsonify({"ok": True, "status": "ready", "build_id": store.manifest.build_id})


def source_labels(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The index's sources as labels and counts: never a path, URL or query string.

    A source named by a path or URL (which may carry a token) shows as its kind alone,
    numbered when several share it.
    """
    labels: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for source in sources:
        spec = str(source.get("name", ""))
        kind = spec.partition(":")[0].strip().lower() or "source"
        label = spec if kind in ("factbook", "wikipedia") and "/" not in spec else kind
        seen[label] = seen.get(label, 0) + 1
        counts = {k: v for k, v in source.items()
                  if isinstance(v, int) or (isinstance(v, dict) and all(
                      isinstance(n, int) for n in v.values()))}
        labels.append({**counts, "name": label if seen[label] == 1 else f"{label} {seen[label]}",
                       "kind": kind})
    return labels


@bp.get("/v1/index")
def index_summary() -> Response:
    manifest = _store().manifest
    return jsonify({
        "ok": True,
        "index": {
            "build_id": manifest.build_id,
            "created": manifest.created,
            "model": manifest.model,
            "dim": manifest.dim,
            "metric": manifest.metric,
            "passages": manifest.passages,
            "sources": source_labels(manifest.sources),
        },
    })
