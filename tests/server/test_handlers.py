"""Every error reaches the client through one handler, which names its code for the logs."""

from __future__ import annotations

import json
import logging

from server import create_app
from server.access import ACCESS_LOGGER
from tests.server.helpers import assert_error


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


def test_readyz_without_an_index_is_counted_and_logged_by_its_error_code(tmp_path, fake_embedder):
    app = create_app({"INDEX_DIR": str(tmp_path / "missing"), "EMBEDDER": fake_embedder})
    client = app.test_client()
    access = _Lines()
    logging.getLogger(ACCESS_LOGGER).addHandler(access)
    try:
        assert_error(client.get("/readyz"), 503, "index_unavailable")
    finally:
        logging.getLogger(ACCESS_LOGGER).removeHandler(access)
    assert [(line["route"], line["error"]) for line in access.lines] == [("/readyz", "index_unavailable")]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'aside_errors_total{code="index_unavailable"} 1.0' in metrics
