"""API errors and the one JSON shape every error takes.

    ApiError                      {"ok": false, "error": {"code", "message"}, "status"}
     ├── BadRequest               400  malformed JSON, wrong field types
     ├── Unauthorized             401  API keys are on and the request has no valid key
     ├── NotFound                 404
     │    └── FeedbackDisabled    404  this service takes no reader feedback
     ├── MethodNotAllowed         405
     ├── WithdrawalClosed         409  a report is past the window in which its reader may withdraw it
     ├── PayloadTooLarge          413  body, blocks, characters or sentences over a limit
     ├── UnsupportedMediaType     415  body is not JSON
     ├── TooManyRequests          429  over a rate limit (with Retry-After)
     ├── IndexUnavailable         503  no index loaded (missing, damaged, other model)
     ├── OverBudget               503  the request took longer than its time budget
     └── FeedbackUnavailable      503  the feedback database cannot take a report or withdrawal now

Each subclass's ``description`` says when it is answered: docs/generate.py writes the API
documentation's table of errors from it. No Flask here: the pipeline raises these too, and it
runs without Flask in ``aside eval``; ``server.handlers`` turns them into responses.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "BadRequest",
    "FeedbackDisabled",
    "FeedbackUnavailable",
    "IndexUnavailable",
    "MethodNotAllowed",
    "NotFound",
    "OverBudget",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "WithdrawalClosed",
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
                   "type, a repeated block id, a lone surrogate in a block id; in a report or a withdrawal, "
                   "a missing, unknown or malformed field")


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"
    description = "API keys are configured and the request has no valid key"


class NotFound(ApiError):
    status, code = 404, "not_found"
    description = ("unknown path; `DELETE /v1/feedback/{id}` for a report that does not exist or "
                   "that the install named did not send (the two are not told apart)")


class FeedbackDisabled(NotFound):
    code = "feedback_disabled"
    description = ("`POST /v1/feedback` or `DELETE /v1/feedback/{id}` when this service takes no "
                   "feedback (`ASIDE_FEEDBACK_DIR` empty)")


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"
    description = "e.g. `GET /v1/context`"


class WithdrawalClosed(ApiError):
    status, code = 409, "withdrawal_closed"
    description = ("`DELETE /v1/feedback/{id}` for a report its reader sent more than a day ago: it "
                   "is kept, and counts")


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


class FeedbackUnavailable(ApiError):
    status, code = 503, "feedback_unavailable"
    description = ("the feedback database cannot store or withdraw a report now (disk full, read-only, "
                   "I/O error, locked); `Retry-After` says when to try again, and no report "
                   "acknowledged before is lost")
