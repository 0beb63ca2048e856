"""The OpenAPI 3.1 description of the HTTP API, served at /openapi.json.

Limits in the description (blocks per request, characters per block) come
from the running service's settings, so the document describes this service.
A test fuzzes the API from this document (schemathesis) and checks every
response against it.
"""

from __future__ import annotations

import types
from dataclasses import fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

from flask import Blueprint, Response, current_app, jsonify

from server.feedback import REASONS, VERDICTS
from server.feedback.reports import FIELDS
from server.schema import MAX_ID_CHARS, Card, Source

__all__ = ["bp", "describe"]

bp = Blueprint("openapi", __name__)

_NULLABLE_STRING = {"type": ["string", "null"]}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


_RATE_LIMITED = {**_error("Over a rate limit; `Retry-After` says when to try again."),
                 "headers": {"Retry-After": {"schema": {"type": "string"},
                                             "description": "Seconds to wait."}}}
_COMMON = {"401": _error("API keys are on and the request has no valid key."),
           "429": _RATE_LIMITED,
           "500": _error("A bug; the operator's log has the details.")}


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _record_schema(record: type) -> dict[str, Any]:
    """The schema of a wire dataclass's ``asdict``: every field, always sent, and nothing else."""
    hints = get_type_hints(record)
    return {"type": "object", "additionalProperties": False,
            "required": [f.name for f in fields(record)],
            "properties": {f.name: _field_schema(hints[f.name]) for f in fields(record)}}


def _field_schema(hint: Any) -> dict[str, Any]:
    """``str``, ``float | None``, ``tuple[Source, ...]`` and the like; TypeError for any other."""
    args = get_args(hint)
    if get_origin(hint) is types.UnionType and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        schema = _field_schema(inner)
        return {**schema, "type": [schema["type"], "null"]}
    if get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = args[0]
        return {"type": "array", "items": {"$ref": f"#/components/schemas/{item.__name__}"}
                if isinstance(item, type) and is_dataclass(item) else _field_schema(item)}
    if hint in _JSON_TYPES:
        return {"type": _JSON_TYPES[hint]}
    raise TypeError(f"no JSON schema for a field of type {hint!r}")


_REPORT_FIELDS = {
    "verdict": "What the reader says of the card.",
    "reason": "Why, when the reader said (null: not said).",
    "passage_id": "The card's `id` (the store's passage id in the build named; not stable).",
    "doc_id": "The card's `doc_id`.",
    "passage_hash": "The card's `passage_hash`.",
    "build": "`index.build_id` of the answer the card came in.",
    "sentence_hash": "SHA-256 (hex) of the sentence's UTF-8 text: one reader counts once per "
                     "card and sentence.",
    "install": "The extension's random install id, replaced every 30 days.",
    "reported": "When the reader reported it, by the reader's clock (ISO 8601).",
    "vector": "The sentence's embedding: base64 of its unit vector times 127 as int8, as many "
              "bytes as the model's dimensions (512 characters for 384).",
    "sentence": "The sentence's text, sent only when the reader chose to include it.",
}


def _report_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, (required, longest, pattern) in FIELDS.items():
        schema: dict[str, Any] = {"type": "string" if required else ["string", "null"],
                                  "minLength": 1, "maxLength": longest,
                                  "description": _REPORT_FIELDS[name]}
        if pattern is not None:
            schema["pattern"] = f"^{pattern.pattern}$"
        properties[name] = schema
    properties["verdict"] = {**properties["verdict"], "enum": list(VERDICTS)}
    properties["reason"] = {**properties["reason"], "enum": [*REASONS, None]}
    return {"type": "object", "additionalProperties": False,
            "required": [name for name, (required, _, _) in FIELDS.items() if required],
            "description": "A reader's report on one card. No page text unless `sentence` is sent.",
            "properties": properties}


def _withdrawal_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The body of ``DELETE /v1/feedback/{id}`` and its success answer."""
    _, longest, pattern = FIELDS["install"]
    install: dict[str, Any] = {"type": "string", "minLength": 8, "maxLength": longest,
                               "description": "The install id the report was sent with."}
    if pattern is not None:
        install["pattern"] = f"^{pattern.pattern}$"
    request = {"type": "object", "additionalProperties": False, "required": ["install"],
               "description": "Who withdraws the report: only the install that sent it may.",
               "properties": {"install": install}}
    answer = {"type": "object", "required": ["ok", "id", "withdrawn"], "additionalProperties": False,
              "properties": {"ok": {"const": True}, "id": {"type": "integer", "minimum": 1},
                             "withdrawn": {"const": True}}}
    return request, answer


def _schemas(config: Any) -> dict[str, Any]:
    source, card = _record_schema(Source), _record_schema(Card)
    offset = "Offset into the block's text in {}, so that text[start:end] == exact in {}."
    sentence = {
        "type": "object",
        "required": ["block", "start", "end", "start_utf16", "end_utf16", "exact", "prefix",
                     "suffix", "sentence_hash", "vector", "cards"],
        "description": (
            "A sentence of a block. Offsets are given twice: start/end in Unicode code points "
            "(Python str indices) and start_utf16/end_utf16 in UTF-16 code units (JavaScript "
            "String indices, text.slice(start_utf16, end_utf16) == exact). They differ after "
            "any character above U+FFFF: flags, emoji, mathematical letters. prefix and suffix "
            "are up to 32 code points of the block's text on either side of exact."),
        "properties": {
            "block": {"type": "string"},
            "start": {"type": "integer", "minimum": 0,
                      "description": offset.format("code points", "Python")},
            "end": {"type": "integer", "minimum": 0},
            "start_utf16": {"type": "integer", "minimum": 0,
                            "description": offset.format("UTF-16 code units", "JavaScript")},
            "end_utf16": {"type": "integer", "minimum": 0},
            "exact": {"type": "string"},
            "prefix": {"type": "string"}, "suffix": {"type": "string"},
            "sentence_hash": {
                "type": ["string", "null"], "pattern": "^[0-9a-f]{64}$",
                "description": "SHA-256 (hex) of exact's UTF-8 text, for a report on one of its "
                               "cards; null when the service takes no feedback."},
            "vector": {
                "type": ["string", "null"], "contentEncoding": "base64",
                "description": "The sentence's embedding, the one it was searched with: base64 of "
                               "its unit vector times 127 as int8, one byte a dimension (512 "
                               "characters for 384). A report sends it back, so a block can hold "
                               "for sentences like this one without the service keeping text; "
                               "null when the service takes no feedback."},
            "cards": {"type": "array", "items": {"$ref": "#/components/schemas/Card"}},
        },
    }
    block = {"type": "object", "required": ["id", "text"],
             "properties": {"id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
                            "text": {"type": "string", "maxLength": config["MAX_BLOCK_CHARS"]}}}
    request = {
        "type": "object", "required": ["blocks"],
        "description": (
            "The article: its paragraphs as blocks with unique ids. Other fields are ignored. "
            "Strict JSON (RFC 8259): NaN, Infinity, floats that overflow and integers of more "
            "than 100 digits get 400. Text that is valid JSON but not valid Unicode: a lone "
            "UTF-16 surrogate (\\ud83c) in text, title, url, published or lang is replaced by "
            "U+FFFD, one code point for one, so offsets do not move; in a block id it gets 400 "
            "naming the field. Control characters (NUL, C0, C1) and noncharacters (U+FFFE, "
            "U+FDD0…) are valid Unicode and kept as sent. lang (a BCP 47 tag) says the "
            "article's language when its text is too short to tell."),
        "properties": {
            "blocks": {"type": "array", "maxItems": config["MAX_BLOCKS"],
                       "items": {"$ref": "#/components/schemas/Block"}},
            "url": {"type": "string"}, "title": {"type": "string"},
            "published": {"type": "string"}, "lang": {"type": "string"},
        },
    }
    timings = {"type": "object", "additionalProperties": {"type": "number"}}
    notice = {
        "type": "object", "required": ["code", "message", "language"],
        "description": (
            "Something to tell the reader about the whole answer. language_unsupported: the "
            "article (judged as a whole, not per paragraph) is in a language the service's model "
            "cannot read (language, ISO 639-1); it was not searched and has no cards."),
        "properties": {"code": {"type": "string", "examples": ["language_unsupported"]},
                       "message": {"type": "string"}, "language": _NULLABLE_STRING},
    }
    answer = {
        "type": "object", "required": ["ok", "index", "notices", "sentences", "stats"],
        "properties": {
            "ok": {"const": True},
            "index": {"type": "object", "required": ["build_id", "model", "passages"],
                      "properties": {"build_id": {"type": "string"}, "model": {"type": "string"},
                                     "passages": {"type": "integer"}}},
            "notices": {"type": "array", "items": {"$ref": "#/components/schemas/Notice"}},
            "sentences": {"type": "array", "items": {"$ref": "#/components/schemas/Sentence"}},
            "stats": {"type": "object",
                      "required": ["blocks", "sentences", "searched", "with_context", "timings_ms"],
                      "properties": {**{k: {"type": "integer"} for k in
                                        ("blocks", "sentences", "searched", "with_context")},
                                     "timings_ms": timings}},
        },
    }
    error = {
        "type": "object", "required": ["ok", "error", "status"],
        "properties": {
            "ok": {"const": False}, "status": {"type": "integer"},
            "error": {"type": "object", "required": ["code", "message"],
                      "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
        },
    }
    index = {
        "type": "object", "required": ["ok", "index"],
        "properties": {"ok": {"const": True}, "index": {
            "type": "object",
            "required": ["build_id", "created", "model", "dim", "metric", "passages", "sources"],
            "properties": {"build_id": {"type": "string"}, "created": {"type": "string"},
                           "model": {"type": "string"}, "dim": {"type": "integer"},
                           "metric": {"type": "string"}, "passages": {"type": "integer"},
                           "sources": {"type": "array", "items": {
                               "type": "object", "required": ["name", "kind"],
                               "description": "A label and counts; never a path or URL.",
                               "properties": {"name": {"type": "string"},
                                              "kind": {"type": "string"}}}}}}},
    }
    status = {"type": "object", "required": ["ok", "status"],
              "properties": {"ok": {"const": True}, "status": {"type": "string"},
                             "build_id": {"type": "string"}}}
    stored = {"type": "object", "required": ["ok", "id", "duplicate", "received"],
              "additionalProperties": False,
              "properties": {"ok": {"const": True}, "id": {"type": "integer", "minimum": 1},
                             "duplicate": {"type": "boolean"},
                             "received": {"type": "string", "description": "When the service "
                                          "stored the report (UTC, ISO 8601)."}}}
    withdrawal, withdrawn = _withdrawal_schemas()
    return {"Source": source, "Card": card, "Sentence": sentence, "Block": block,
            "Notice": notice, "ContextRequest": request, "ContextResponse": answer, "Error": error,
            "IndexSummary": index, "Status": status, "FeedbackRequest": _report_schema(),
            "FeedbackResponse": stored, "WithdrawalRequest": withdrawal,
            "WithdrawalResponse": withdrawn}


def describe(config: Any) -> dict[str, Any]:
    """The OpenAPI document for a service with these settings."""
    keys = bool(config["API_KEYS"] or config["API_KEYS_FILE"])
    security: list[dict[str, list[str]]] = [{"apiKey": []}] if keys else []
    paths: dict[str, Any] = {
        "/v1/context": {"post": {
            "summary": "Context cards for the sentences of an article",
            "operationId": "context",
            "security": security,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ContextRequest"}}}},
            "responses": {
                "200": _ok("Every sentence that has context, with its cards.", "ContextResponse"),
                "400": _error("Malformed or non-strict JSON, a field of the wrong type, a repeated "
                              "block id, a block id that is not valid Unicode."),
                "413": _error("Body (with a length or chunked), blocks, characters per block or "
                              "sentences over their limits."),
                "415": _error("The body is not sent as application/json."),
                "503": _error("No index loaded, or the request took longer than its time budget."),
                **_COMMON,
            },
        }},
        "/v1/feedback": {"post": {
            "summary": "A reader's report on a card",
            "operationId": "feedback",
            "security": security,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/FeedbackRequest"}}}},
            "responses": {
                "201": _ok("Stored.", "FeedbackResponse"),
                "200": _ok("The same reader reported this card for this sentence before: counted "
                           "once, the first report's id.", "FeedbackResponse"),
                "400": _error("Malformed or non-strict JSON; a missing, unknown or malformed field."),
                "404": _error("This service takes no feedback."),
                "413": _error("The body is over the service's limit."),
                "415": _error("The body is not sent as application/json."),
                "503": {**_error("The report cannot be stored now; send it again after "
                                 "`Retry-After` seconds."),
                        "headers": {"Retry-After": {"schema": {"type": "string"},
                                                    "description": "Seconds to wait."}}},
                **_COMMON,
            },
        }},
        "/v1/feedback/{id}": {"delete": {
            "summary": "Withdraw a reader's report (Undo)",
            "description": "Only the install that sent the report may withdraw it, and only within "
                           "a day of when it was first stored. A repeat's id is the first report's, "
                           "so withdrawing it removes the reader's one report.",
            "operationId": "withdrawFeedback",
            "security": security,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "description": "The `id` the report's POST answered.",
                            "schema": {"type": "integer", "minimum": 1}}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/WithdrawalRequest"}}}},
            "responses": {
                "200": _ok("Withdrawn: the report is deleted.", "WithdrawalResponse"),
                "400": _error("Malformed or non-strict JSON; a missing, unknown or malformed field."),
                "404": _error("No report of this id from this install (none at all, or another "
                              "install's: the two are answered alike), or this service takes no "
                              "feedback."),
                "409": _error("The report was stored more than a day ago; it is kept."),
                "413": _error("The body is over the service's limit."),
                "415": _error("The body is not sent as application/json."),
                "503": {**_error("The report cannot be withdrawn now; try again after "
                                 "`Retry-After` seconds."),
                        "headers": {"Retry-After": {"schema": {"type": "string"},
                                                    "description": "Seconds to wait."}}},
                **_COMMON,
            },
        }},
        "/v1/index": {"get": {
            "summary": "The index being served", "operationId": "index", "security": security,
            "responses": {"200": _ok("The build, model and sources.", "IndexSummary"),
                          "503": _error("No index loaded."), **_COMMON},
        }},
        "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz", "security": [],
                             "responses": {"200": _ok("The process is alive.", "Status")}}},
        "/readyz": {"get": {"summary": "Readiness", "operationId": "readyz", "security": [],
                            "responses": {"200": _ok("Model and index loaded.", "Status"),
                                          "503": _error("Not ready, with the reason.")}}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1 document",
                                                        "content": {"application/json": {}}}}}},
    }
    if config["METRICS"]:
        paths["/metrics"] = {"get": {
            "summary": "Prometheus metrics (counts and timings, never text)", "operationId": "metrics",
            "security": [],
            "responses": {"200": {"description": "Prometheus text format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Aside", "version": "1",
                 "description": "Context next to claims on news pages, from a self-hosted, curated index."},
        "paths": paths,
        "components": {
            "schemas": _schemas(config),
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(describe(current_app.config))
