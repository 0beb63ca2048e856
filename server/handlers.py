"""Flask error handlers: every error, ours or Werkzeug's, answered with ``ApiError``'s JSON shape."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, has_request_context, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response as WerkzeugResponse

from server.errors import (
    ApiError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
)

__all__ = ["error_response", "init_app"]

logger = logging.getLogger(__name__)

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
