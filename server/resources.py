"""The heavy things a process loads once: the embedding model and the index store."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from index.embed import Embedder, SentenceTransformerEmbedder
from index.store import Store, StoreError

__all__ = ["Resources", "get_resources", "init_app", "load_resources", "warm_up"]

logger = logging.getLogger(__name__)


@dataclass
class Resources:
    """The model and, when it loaded, the store; ``error`` says why the store is missing."""

    embedder: Embedder
    store: Store | None
    error: str | None = None


def load_resources(config: Mapping[str, Any]) -> Resources:
    """Load the embedder (injected as config["EMBEDDER"] in tests) and open the index store.

    The model's weights load here, but nothing is encoded: with gunicorn
    --preload this runs in the master, and running torch before fork makes
    the forked workers hang. Workers warm up after fork (``warm_up``).
    """
    embedder = config.get("EMBEDDER")
    if embedder is None:
        path = config.get("MODEL_PATH") or ""
        embedder = SentenceTransformerEmbedder(
            Path(path) if path else None, threads=int(config.get("TORCH_THREADS") or 0)
        )
    directory = Path(config["INDEX_DIR"])
    try:
        store = Store.open(directory, model=embedder.name, dim=embedder.dim)
    except StoreError as exc:
        logger.error("index not loaded: %s", exc)
        return Resources(embedder, None, str(exc))
    manifest = store.manifest
    logger.info("index %s loaded from %s: %d passages, model %s", manifest.build_id, directory,
                manifest.passages, manifest.model)
    return Resources(embedder, store)


def init_app(app: Flask) -> None:
    """Load resources once for this process and keep them in ``app.extensions``."""
    app.extensions["aside"] = load_resources(app.config)


def get_resources() -> Resources:
    """The current app's resources."""
    resources: Resources = current_app.extensions["aside"]
    return resources


def warm_up(app: Flask) -> None:
    """Run one encode so the first reader's request does not pay for torch's start-up."""
    resources: Resources = app.extensions["aside"]
    resources.embedder.encode(["Warm-up sentence for the embedding model."])
