"""Running the app under gunicorn: worker/thread sizing and the per-worker warm-up (the
worker class, which reads each request whole before a thread takes it, is in worker.py).

Used by ``aside serve`` and by ``gunicorn.conf.py`` (the Procfile), so both
start the service the same way.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from server import memory
from server.resources import warm_up

__all__ = ["child_exit", "gunicorn_options", "metrics_dir",
           "post_worker_init", "run", "torch_threads_per_worker"]

logger = logging.getLogger(__name__)


def torch_threads_per_worker(workers: int) -> int:
    """Split the cores between workers so threads x workers matches the machine."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: warm the model up inside each worker, after the fork."""
    memory.limit_arenas(2)  # before the model's and the requests' threads start
    app = worker.wsgi
    if isinstance(app, Flask) and app.extensions["aside"].store is not None:
        warm_up(app)
        logger.info("worker %s warmed up", worker.pid)


def metrics_dir() -> str:
    """Name a fresh directory where every worker writes its metrics, unless one is named."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aside-metrics-")
    return os.environ["PROMETHEUS_MULTIPROC_DIR"]


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: a dead worker's live gauges (the build it served) stop counting."""
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def gunicorn_options(*, host: str, port: int, workers: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        # Threads let /healthz answer while a worker embeds an article; the worker reads
        # each request whole before a thread takes it, so slow clients hold no thread.
        "worker_class": "server.worker.BufferingWorker",
        "threads": 4,
        "preload_app": True,
        "timeout": 60,
        "post_worker_init": post_worker_init,
        "child_exit": child_exit,
    }


class _Application(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def run(app: Flask, *, host: str, port: int, workers: int) -> None:
    """Serve an already created app (loaded once, shared by forked workers).

    Call ``metrics_dir()`` before creating the app, so workers' metrics add up.
    """
    _Application(app, gunicorn_options(host=host, port=port, workers=workers)).run()
