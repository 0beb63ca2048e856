"""API errors and the one JSON shape every error takes.

    ApiError                      {"ok": false, "error": {"code", "message"}, "status"}
     ├── BadRequest               400  malformed JSON, wrong field types
     ├── Unauthorized             401  API keys are on and the request has no valid key
     ├── NotFound                 404
     ├── MethodNotAllowed         405
     ├── PayloadTooLarge          413  body, blocks, characters or sentences over a limit
     ├── UnsupportedMediaType     415  body is not JSON
     ├── TooManyRequests          429  over a rate limit (with Retry-After)
     ├── IndexUnavailable         503  no index loaded (missing, damaged, other model)
     └── OverBudget               503  the request took longer than its time budget
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response as WerkzeugResponse

__all__ = [
    "ApiError",
    "BadRequest",
    "IndexUnavailable",
    "MethodNotAllowed",
    "NotFound",
    "OverBudget",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_response",
    "init_app",
]

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client as JSON with an HTTP status."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": False,
            "error": {"code": self.code, "message": self.message},
            "status": self.status,
        }


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


class IndexUnavailable(ApiError):
    status, code = 503, "index_unavailable"


class OverBudget(ApiError):
    status, code = 503, "over_budget"


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (BadRequest, Unauthorized, NotFound, MethodNotAllowed, PayloadTooLarge,
                UnsupportedMediaType, TooManyRequests)
}


def error_response(error: ApiError) -> Response:
    """The JSON answer for an error (and its code noted for the access log and metrics)."""
    if has_request_context():
        g.aside_error_code = error.code  # for the access log and the metrics
    response = jsonify(error.to_dict())
    response.status_code = error.status
    return response


def _from_http(exc: HTTPException) -> Response | WerkzeugResponse:
    if exc.response is not None:  # built with error_response by whoever raised it (server.limits)
        return exc.response
    status = exc.code or 500
    cls = _BY_STATUS.get(status)
    if cls is None:
        error = ApiError(exc.description or exc.name)
        error.status, error.code = status, exc.name.lower().replace(" ", "_")
    else:
        error = cls(exc.description or exc.name)
    response = error_response(error)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def _unexpected(exc: Exception) -> Response:
    # A bug: log it (with the traceback, never the request body) and answer 500.
    logger.exception("unhandled error: %s", type(exc).__name__)
    return error_response(ApiError("internal error; the operator's log has the details"))


def init_app(app: Flask) -> None:
    """Answer every error, ours or Werkzeug's, with the JSON error shape."""
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _unexpected)
