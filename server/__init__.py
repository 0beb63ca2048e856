"""The Aside service: a Flask app that answers article text with context cards."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported by the factory alone: server.pipeline runs without it
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ASIDE_* environment, then test_config; then load resources."""
    from flask import Flask
    from flask_cors import CORS

    from server import access, api, auth, demo, handlers, limits, metrics, openapi, resources, settings

    app = Flask(__name__, static_folder=None)
    # One checked Settings (defaults, then ASIDE_* environment, then test_config); ValueError
    # names a wrong variable. app.config mirrors it for Flask's readers; test_config's other
    # keys (TESTING, an injected EMBEDDER) go in as they are.
    aside = settings.load(os.environ, test_config or {})
    app.config.from_mapping(test_config or {})
    app.config.from_mapping(aside.to_config())
    app.extensions["aside_settings"] = aside
    app.config["MAX_CONTENT_LENGTH"] = aside.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # Hooks run in this order before a request: metrics' clock, the per-address rate limit,
    # the API key check (so key guessing is rate limited), the per-key limit.
    handlers.init_app(app)
    metrics.init_app(app)
    access.init_app(app)
    limits.init_app(app)
    auth.init_app(app)
    CORS(app, origins=list(aside.cors_origins),
         allow_headers=["Content-Type", "X-API-Key", "Authorization"],
         methods=["GET", "POST", "DELETE", "OPTIONS"], max_age=3600)
    resources.init_app(app, aside)
    from server.pipeline.language import language_check

    app.extensions["aside_language"] = language_check(aside.languages)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(demo.bp)
    return app
