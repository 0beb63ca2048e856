"""Rate limits on /v1/ (``flask-limiter``): per client address, and per API key.

Reader reports (``POST /v1/feedback``, and ``DELETE /v1/feedback/<id>`` that withdraws one)
have limits of their own, counted apart: a reader who reports a card uses none of the
allowance for reading articles, and the reverse.

The address limit runs before the key check, so guessing keys is limited too.
A request over a limit gets 429 in the usual JSON error shape with
``Retry-After`` (seconds). Counters live in memory (each worker process
counts for itself) or, with ``ASIDE_RATE_LIMIT_STORAGE=redis://…``, in Redis,
shared by every worker and host. Behind reverse proxies, ``ASIDE_PROXY_HOPS``
says how many ``X-Forwarded-For`` entries to trust for the client address.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter, RequestLimit
from limits.errors import ConfigurationError
from werkzeug.middleware.proxy_fix import ProxyFix

from server.auth import is_protected, presented_key
from server.errors import TooManyRequests
from server.handlers import error_response

__all__ = ["init_app"]

def _address() -> str:
    return request.remote_addr or "unknown"


def _key_bucket() -> str:
    """A name for the key the request presents (valid or not): a hash prefix, never the key."""
    return hashlib.sha256((presented_key() or "").encode("utf-8")).hexdigest()[:16]


_FEEDBACK = "/v1/feedback"


def _is_feedback() -> bool:
    """A report (``POST /v1/feedback``). A withdrawal (``DELETE /v1/feedback/<id>``, the card's
    Undo) counts with the other API requests instead: a reader who just hit the report limit
    can still take their last report back."""
    return request.path == _FEEDBACK


def _not_api() -> bool:
    return not is_protected() or _is_feedback()


def _no_key() -> bool:
    return _not_api() or presented_key() is None


def _not_feedback() -> bool:
    return not is_protected() or not _is_feedback()


def _feedback_no_key() -> bool:
    return _not_feedback() or presented_key() is None


def _breach(limit: RequestLimit) -> Response:
    retry = max(1, int(limit.reset_at - time.time()))  # reset_at is already rounded up
    response = error_response(TooManyRequests(f"rate limit of {limit.limit} reached; retry in {retry} s"))
    response.headers["Retry-After"] = str(retry)
    return response


def init_app(app: Flask) -> None:
    """Trust the configured proxies, then limit /v1/ by address and by key."""
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    limits: list[str | Callable[[], str] | ApplicationLimit] = []
    if app.config["RATE_LIMIT_PER_ADDRESS"]:
        limits.append(ApplicationLimit(app.config["RATE_LIMIT_PER_ADDRESS"], key_function=_address,
                            scope="address", exempt_when=_not_api, on_breach=_breach))
    if app.config["RATE_LIMIT_PER_KEY"]:
        limits.append(ApplicationLimit(app.config["RATE_LIMIT_PER_KEY"], key_function=_key_bucket,
                            scope="key", exempt_when=_no_key, on_breach=_breach))
    if app.config["FEEDBACK_RATE_LIMIT_PER_ADDRESS"]:
        limits.append(ApplicationLimit(app.config["FEEDBACK_RATE_LIMIT_PER_ADDRESS"],
                                       key_function=_address, scope="feedback-address",
                                       exempt_when=_not_feedback, on_breach=_breach))
    if app.config["FEEDBACK_RATE_LIMIT_PER_KEY"]:
        limits.append(ApplicationLimit(app.config["FEEDBACK_RATE_LIMIT_PER_KEY"],
                                       key_function=_key_bucket, scope="feedback-key",
                                       exempt_when=_feedback_no_key, on_breach=_breach))
    try:
        # An unreachable Redis falls back to counting in memory (logged) rather than failing
        # requests: the service keeps answering.
        app.extensions["aside_limiter"] = Limiter(
            _address, app=app, application_limits=limits, storage_uri=app.config["RATE_LIMIT_STORAGE"],
            strategy="moving-window", headers_enabled=False, key_prefix="aside",
            in_memory_fallback_enabled=True, enabled=bool(limits),
        )
    except ConfigurationError as exc:
        raise ValueError(f"ASIDE_RATE_LIMIT_STORAGE: {exc}") from exc
