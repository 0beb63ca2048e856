"""The Aside service: a Flask app that answers article text with context cards."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_cors import CORS

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ASIDE_* environment, then test_config; then load resources."""
    from server import access, api, auth, demo, errors, limits, metrics, openapi, resources, settings

    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(settings.DEFAULTS)
    app.config.from_prefixed_env("ASIDE")
    if test_config is not None:
        app.config.update(test_config)
    app.config.update(settings.check(app.config))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # Hooks run in this order before a request: metrics' clock, the per-address rate limit,
    # the API key check (so key guessing is rate limited), the per-key limit.
    errors.init_app(app)
    metrics.init_app(app)
    access.init_app(app)
    limits.init_app(app)
    auth.init_app(app)
    CORS(app, origins=app.config["CORS_ORIGINS"],
         allow_headers=["Content-Type", "X-API-Key", "Authorization"],
         methods=["GET", "POST", "OPTIONS"], max_age=3600)
    resources.init_app(app)
    from server.pipeline.language import language_check

    app.extensions["aside_language"] = language_check(app.config["LANGUAGES"])
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(demo.bp)
    return app
