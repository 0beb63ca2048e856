"""Property-based fuzzing of the API from its own OpenAPI description (schemathesis).

Every generated request, valid or not, must get an answer that the description
allows: no 5xx, a documented status code, the documented content type, and a
body that matches the response schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server import create_app
from server.auth import hash_key
from tests.conftest import FakeEmbedder

KEY = "aside_fuzz-key"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


def _schema(tiny_store):
    # Small limits so the fuzzer reaches them; keys on so 401 is exercised too.
    app = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": FakeEmbedder(),
                      "THRESHOLD": 0.3, "MAX_BLOCKS": 20, "MAX_BLOCK_CHARS": 2000,
                      "RATE_LIMIT_PER_ADDRESS": "", "API_KEYS": hash_key(KEY)})
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


# schemathesis's own pytest plugin does not run under pytest 9 here ('Function' object has
# no attribute '_nodeid'), so the cases are drawn from its strategies with hypothesis directly.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_response_matches_the_description(tiny_store, mode):
    schema = _schema(tiny_store)
    operations = [result.ok() for result in schema.get_all_operations()]
    # (schemathesis leaves out the path it read the description from)
    assert {op.label for op in operations} == {"POST /v1/context", "GET /v1/index", "GET /healthz",
                                               "GET /readyz", "GET /metrics"}
    if mode == GenerationMode.NEGATIVE:  # only the context call takes input that can be invalid
        operations = [op for op in operations if op.label == "POST /v1/context"]
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode), with_key=st.booleans())
        @settings(max_examples=60 if operation.label == "POST /v1/context" else 10, deadline=None,
                  database=None, suppress_health_check=list(HealthCheck))
        def check(case, with_key):
            case.call_and_validate(headers={"X-API-Key": KEY} if with_key else None, checks=CHECKS)

        check()


def test_a_response_with_cards_matches_the_description(tiny_store):
    """Random text rarely matches the index: check a real answer with cards as well."""
    from tests.server.test_api import ARTICLE

    operation = _schema(tiny_store)["/v1/context"]["POST"]
    case = operation.Case(body={"url": "https://news.example/a", "blocks": ARTICLE},
                          media_type="application/json")
    response = case.call_and_validate(headers={"X-API-Key": KEY}, checks=CHECKS)
    assert response.json()["sentences"][0]["cards"], "the example gets cards"
