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

Each subclass's ``description`` says when it is answered: docs/generate.py writes the API
documentation's table of errors from it. No Flask here: the pipeline raises these too, and it
runs without Flask in ``aside eval``; ``server.handlers`` turns them into responses.
"""

from __future__ import annotations

from typing import Any

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
]


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
    description = ("malformed, non-strict or too deeply nested JSON, invalid UTF-8, a field of the wrong "
                   "type, a repeated block id, a lone surrogate in a block id")


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"
    description = "API keys are configured and the request has no valid key"


class NotFound(ApiError):
    status, code = 404, "not_found"
    description = "unknown path"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"
    description = "e.g. `GET /v1/context`"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"
    description = ("body (with a `Content-Length` or chunked), blocks, characters per block or "
                   "sentences over their limits")


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"
    description = "the body is not sent as `application/json`"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"
    description = "over a rate limit; `Retry-After` says how many seconds to wait"


class IndexUnavailable(ApiError):
    status, code = 503, "index_unavailable"
    description = "no index loaded (missing, damaged, or built with another model)"


class OverBudget(ApiError):
    status, code = 503, "over_budget"
    description = "the request took longer than `ASIDE_REQUEST_BUDGET_SECONDS`"
