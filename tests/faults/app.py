"""The service with the fake embedder, for fault tests that run real gunicorn processes."""

from __future__ import annotations

import os

from flask import Flask

from server import create_app
from tests.conftest import FakeEmbedder


def create() -> Flask:
    return create_app({"EMBEDDER": FakeEmbedder(), "INDEX_DIR": os.environ["ASIDE_INDEX_DIR"],
                       "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": ""})
