"""Prometheus metrics at /metrics: requests, latency, cards, errors, the build in use, readers'
reports. Never text: every label is a route, a method, a status, an error code, a build id or
one of a fixed set of words.

Under gunicorn each worker is a process of its own: gunicorn.conf.py sets
``PROMETHEUS_MULTIPROC_DIR`` so every worker writes its counts there and
/metrics (answered by any worker) adds them up.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

__all__ = ["bp", "init_app", "method_label", "observe_build", "observe_report", "route_label"]

bp = Blueprint("metrics", __name__)

_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)
_CARD_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200)
# RFC 9110's methods and PATCH; any other a client invents is one label, not a new series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("aside_requests", "HTTP requests answered, by route, method and status.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("aside_request_seconds", "Time to answer a request, by route.",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.cards = Histogram("aside_cards_per_request", "Cards returned by one /v1/context request.",
                               buckets=_CARD_BUCKETS, registry=r)
        self.sentences = Counter("aside_sentences_searched", "Sentences embedded and searched.",
                                 registry=r)
        self.errors = Counter("aside_errors", "Error responses, by error code.", ["code"], registry=r)
        self.build = Gauge("aside_index_build", "1 for the index build a worker serves, by build id.",
                           ["build_id"], multiprocess_mode="livemax", registry=r)
        self.reports = Counter(
            "aside_feedback_reports", "Readers' reports on cards, by verdict, reason ('none' when "
            "not given) and outcome: stored, duplicate (the same reader, card and sentence again, "
            "counted once), failed (the database could not take it; the reader got 503) or "
            "withdrawn (its reader took it back within a day).",
            ["verdict", "reason", "outcome"], registry=r)
        self.passages = Gauge("aside_index_passages", "Passages in the index build being served.",
                              multiprocess_mode="livemax", registry=r)


def route_label() -> str:
    """The matched route (never the raw path, which a client could fill with anything)."""
    rule = request.url_rule
    return rule.rule if rule is not None else "(unmatched)"


def method_label() -> str:
    """The request's method, or ``OTHER`` for one outside the standard set."""
    return request.method if request.method in _METHODS else "OTHER"


def _metrics() -> _Metrics:
    found: _Metrics = current_app.extensions["aside_metrics"]
    return found


def observe_build(app: Flask, build_id: str, passages: int, previous: str | None = None) -> None:
    """Record the build this process now serves (called at start and on every swap)."""
    metrics: _Metrics = app.extensions["aside_metrics"]
    if previous and previous != build_id:
        metrics.build.labels(previous).set(0)
    metrics.build.labels(build_id).set(1)
    metrics.passages.set(passages)


def observe_report(verdict: str, reason: str | None, outcome: str) -> None:
    """Count one report: ``outcome`` is ``stored``, ``duplicate``, ``failed`` or ``withdrawn``;
    ``verdict`` and ``reason`` are from the fixed lists in ``server.feedback`` (checked before this
    is called, or read back from the database, which allows no others)."""
    _metrics().reports.labels(verdict, reason or "none", outcome).inc()


def _start() -> None:
    g.aside_started = time.perf_counter()


def _record(response: Response) -> Response:
    metrics = _metrics()
    route = route_label()
    metrics.requests.labels(route, method_label(), str(response.status_code)).inc()
    started = g.get("aside_started")
    if started is not None:
        metrics.latency.labels(route).observe(time.perf_counter() - started)
    if g.get("aside_cards") is not None:
        metrics.cards.observe(g.aside_cards)
        metrics.sentences.inc(g.get("aside_searched", 0))
    if response.status_code >= 400:
        metrics.errors.labels(g.get("aside_error_code") or str(response.status_code)).inc()
    return response


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = _metrics().registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Count every request; serve /metrics when the METRICS setting is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus_client picks its value class when first imported; the directory may
        # have been named after that (aside serve, gunicorn.conf.py), so pick again.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    app.extensions["aside_metrics"] = _Metrics()
    app.before_request(_start)
    app.after_request(_record)
    if app.config["METRICS"]:
        app.register_blueprint(bp)
