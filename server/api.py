"""HTTP endpoints: the context API, health, readiness and the index summary."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from index.search import SearchOptions
from index.store import Store
from server import memory, pipeline
from server.errors import BadRequest, IndexUnavailable, UnsupportedMediaType
from server.pipeline.cache import SearchCache
from server.pipeline.rescore import Rescorer
from server.resources import get_resources
from server.schema import Limits, parse_request, sentence_dict

__all__ = ["bp", "context_response", "pipeline_options"]

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__)


def pipeline_options(
    config: Any, *, started: float | None = None, cache: SearchCache | None = None,
    rescorer: Rescorer | None = None,
) -> pipeline.Options:
    budget = config["REQUEST_BUDGET_SECONDS"]
    return pipeline.Options(
        cache=cache,
        rescorer=rescorer,
        min_confidence=config.get("MIN_CONFIDENCE"),
        deadline=started + budget if started is not None else None,
        budget_seconds=budget,
        threshold=config["THRESHOLD"],
        cards_per_sentence=config["CARDS_PER_SENTENCE"],
        max_sentences=config["MAX_SENTENCES"],
        search=SearchOptions(mode=config["SEARCH_MODE"], lexical_weight=config["LEXICAL_WEIGHT"]),
    )


def context_response(
    body: Any, config: Any, embedder: Any, store: Store, *, started: float | None = None,
    cache: SearchCache | None = None, rescorer: Rescorer | None = None,
) -> dict[str, Any]:
    """Validate a request body and answer it; shared by the API and ``aside context``.

    ``started`` (a ``time.perf_counter()`` value) starts the request's time budget.
    """
    req = parse_request(
        body, Limits(max_blocks=config["MAX_BLOCKS"], max_block_chars=config["MAX_BLOCK_CHARS"])
    )
    result = pipeline.run(req, embedder, store, pipeline_options(
        config, started=started, cache=cache, rescorer=rescorer))
    manifest = store.manifest
    return {
        "ok": True,
        "index": {"build_id": manifest.build_id, "model": manifest.model,
                  "passages": manifest.passages},
        "sentences": [sentence_dict(s, cards) for s, cards in result.sentences],
        "stats": {
            "blocks": len(req.blocks),
            "sentences": result.total_sentences,
            "searched": result.searched,
            "with_context": len(result.sentences),
            "timings_ms": result.timings_ms,
        },
    }


def _store() -> Store:
    """The build this request is answered from, start to end."""
    resources = get_resources()
    store = resources.current_store()
    if store is None:
        raise IndexUnavailable(f"no index is loaded: {resources.error}")
    return store


@bp.post("/v1/context")
def context() -> Response:
    started = time.perf_counter()
    if not request.is_json:
        raise UnsupportedMediaType("send the article as JSON with Content-Type: application/json")
    store = _store()
    try:
        body = json.loads(request.get_data(cache=False))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply to be an article") from exc
    resources = get_resources()
    answer = context_response(body, current_app.config, resources.embedder, store,
                              started=started, cache=resources.cache, rescorer=resources.rescorer)
    # Counts only, for the access log and the metrics: the service never logs page text.
    g.aside_searched = answer["stats"]["searched"]
    g.aside_cards = sum(len(s["cards"]) for s in answer["sentences"])
    response = jsonify(answer)
    response.call_on_close(memory.release)  # after the answer is sent
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"ok": True, "status": "alive"})


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    resources = get_resources()
    store = resources.current_store()
    if store is None:
        return jsonify(IndexUnavailable(f"not ready: {resources.error}").to_dict()), 503
    return jsonify({"ok": True, "status": "ready", "build_id": store.manifest.build_id})


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
            "sources": manifest.sources,
        },
    })
