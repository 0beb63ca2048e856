"""The heavy things a process loads once: the embedding model and the index store.

The store is swapped live: when a new build is published at the index
directory, the next request after the check interval opens it (checksums,
model and dimension verified) and later requests use it. A request holds one
store from start to end, so it is answered wholly from one build. A build that
fails its checks is refused with a log line, and the old one keeps serving.

The operator's blocks are followed the same way, at every request (a check
costs microseconds: see ``server.feedback.blocks.BlockWatcher``), so a block
or an unblock holds from the next answer on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedders import Embedder, load_embedder
from index.store import MANIFEST_FILE, Store, StoreError
from server.feedback.blocks import Blocklist, BlockWatcher
from server.pipeline.cache import SearchCache
from server.pipeline.rescore import DEFAULT_MODEL, Rescorer
from server.settings import Settings

if TYPE_CHECKING:  # the Flask edge (init_app, get_resources) imports Flask when it runs, so
    from flask import Flask  # the evaluation's load_resources never loads it

__all__ = ["Resources", "get_resources", "init_app", "load_rescorer", "load_resources", "warm_up"]

logger = logging.getLogger(__name__)


def _stamp(directory: Path) -> tuple[int, int] | None:
    """Identity of the published manifest: publishing renames a new directory into place."""
    try:
        stat = os.stat(directory / MANIFEST_FILE)
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


@dataclass
class Resources:
    """The model and, when it loaded, the store; ``error`` says why the store is missing."""

    embedder: Embedder
    store: Store | None
    error: str | None = None
    directory: Path | None = None
    reload_seconds: float = 2.0
    on_swap: Callable[[Store, Store | None], None] | None = None  # new build, previous build
    cache: SearchCache | None = None
    rescorer: Rescorer | None = None
    blocks: BlockWatcher | None = None  # None: feedback is off (FEEDBACK_DIR empty)
    _seen: tuple[int, int] | None = None
    _observed_pid: int = 0
    _checked: float = field(default=0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current_store(self) -> Store | None:
        """The store to answer the next request from, after picking up a newly published build."""
        now = time.monotonic()
        if self.directory is not None and now - self._checked >= self.reload_seconds:
            # One thread checks and loads; the others keep answering from the store they have.
            if self._lock.acquire(blocking=False):
                try:
                    self._checked = now
                    self._reload_if_published()
                finally:
                    self._lock.release()
        if self.store is not None and self._observed_pid != os.getpid() and self.on_swap is not None:
            # Each process reports the build it serves (a forked worker, not its master).
            self._observed_pid = os.getpid()
            self.on_swap(self.store, None)
        return self.store

    def current_blocklist(self) -> Blocklist | None:
        """The blocks the next answer honours (None when feedback is off)."""
        return self.blocks.current() if self.blocks is not None else None

    def _reload_if_published(self) -> None:
        assert self.directory is not None
        stamp = _stamp(self.directory)
        if stamp is None or stamp == self._seen:
            return
        self._seen = stamp
        old = self.store.manifest.build_id if self.store else "none"
        try:
            store = Store.open(self.directory, model=self.embedder.name, dim=self.embedder.dim)
        except StoreError as exc:
            logger.error("refused the build published at %s: %s; still serving build %s",
                         self.directory, exc, old)
            return
        previous, self.store, self.error = self.store, store, None
        logger.info("now serving build %s (was %s): %d passages", store.manifest.build_id, old,
                    store.manifest.passages)
        if self.on_swap is not None:
            self.on_swap(store, previous)


def load_resources(settings: Settings, embedder: Embedder | None = None) -> Resources:
    """Load the embedder (unless one is injected: tests, commands) and open the index store.

    The model's weights load here, but nothing is encoded: with gunicorn
    --preload this runs in the master, and running torch before fork makes
    the forked workers hang. Workers warm up after fork (``warm_up``).
    """
    if embedder is None:
        embedder = load_embedder(
            backend=settings.embed_backend, model_path=settings.model_path,
            threads=settings.torch_threads, onnx_dir=str(settings.onnx_dir),
        )
    embedder.prepare()  # before gunicorn --preload forks: the workers share what it reads
    directory = settings.index_dir
    rescorer = load_rescorer(settings.rescore_model)
    cache_size = settings.cache_sentences
    feedback = settings.feedback_dir
    resources = Resources(embedder, None, directory=directory,
                          cache=SearchCache(cache_size) if cache_size > 0 else None,
                          reload_seconds=settings.reload_seconds, rescorer=rescorer,
                          blocks=BlockWatcher(feedback, dim=embedder.dim) if feedback else None,
                          _seen=_stamp(directory))
    try:
        resources.store = Store.open(directory, model=embedder.name, dim=embedder.dim)
    except StoreError as exc:
        logger.error("index not loaded: %s", exc)
        resources.error = str(exc)
        return resources
    manifest = resources.store.manifest
    logger.info("index %s loaded from %s: %d passages, model %s", manifest.build_id, directory,
                manifest.passages, manifest.model)
    return resources


def load_rescorer(setting: str) -> Rescorer | None:
    """The rescoring model named by ``ASIDE_RESCORE_MODEL`` ("": the shipped one; "off": none).

    Raises ValueError when the file cannot be used: a service that silently fell back to
    scores alone would show other cards than its operator chose.
    """
    if setting.strip().lower() == "off":
        return None
    return Rescorer.load(Path(setting) if setting.strip() else DEFAULT_MODEL)


def init_app(app: Flask, settings: Settings) -> None:
    """Load resources once for this process and keep them in ``app.extensions``.

    An embedder injected as ``app.config["EMBEDDER"]`` (tests) is used instead of the model.
    """
    from server.metrics import observe_build

    resources = load_resources(settings, app.config.get("EMBEDDER"))
    app.extensions["aside"] = resources

    def on_swap(store: Store, previous: Store | None) -> None:
        observe_build(app, store.manifest.build_id, store.manifest.passages,
                      previous.manifest.build_id if previous else None)

    resources.on_swap = on_swap


def get_resources() -> Resources:
    """The current app's resources."""
    from flask import current_app

    resources: Resources = current_app.extensions["aside"]
    return resources


def warm_up(app: Flask) -> None:
    """Run one encode after the fork, so the first reader's request does not pay for the model's start-up."""
    resources: Resources = app.extensions["aside"]
    resources.embedder.encode(["Warm-up sentence for the embedding model."])
