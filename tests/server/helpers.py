"""What the API tests share: an article to post, the POST itself, and the error-shape check."""

from __future__ import annotations

import json

ARTICLE = [
    {"id": "h1", "text": "Trade tensions"},
    {
        "id": "p1",
        "text": (
            "The Golden Gate Bridge opened to traffic in May 1937 and spans the strait. "
            "Will the bridge close for repairs?"
        ),
    },
    {"id": "p2", "text": "Some people said nothing at all about it today, really."},
]


def post(client, body, **kw):
    """POST body as JSON to /v1/context through a Flask test client."""
    return client.post("/v1/context", data=json.dumps(body), content_type="application/json", **kw)


def assert_error(response, status, code):
    """The one error shape: {"ok": false, "status", "error": {"code", "message"}}."""
    assert response.status_code == status
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status
    assert body["error"]["code"] == code and body["error"]["message"]
