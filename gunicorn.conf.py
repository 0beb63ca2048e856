"""gunicorn settings for the Procfile: `gunicorn 'server:create_app()' --config gunicorn.conf.py`.

PORT (set by most platforms) or ASIDE_PORT picks the port; WEB_CONCURRENCY the
number of workers. torch threads are split between workers unless
ASIDE_TORCH_THREADS says otherwise.
"""
from __future__ import annotations

import os

from server.serve import (
    child_exit,
    gunicorn_options,
    metrics_dir,
    post_worker_init,
    torch_threads_per_worker,
)

_workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
os.environ.setdefault("ASIDE_TORCH_THREADS", str(torch_threads_per_worker(_workers)))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if _workers > 1:
    metrics_dir()  # every worker writes its Prometheus metrics there; /metrics adds them up

_options = gunicorn_options(
    host=os.environ.get("ASIDE_HOST", "0.0.0.0"),
    port=int(os.environ.get("PORT", os.environ.get("ASIDE_PORT", "8080"))),
    workers=_workers,
)
bind = _options["bind"]
workers = _options["workers"]
worker_class = _options["worker_class"]
threads = _options["threads"]
preload_app = _options["preload_app"]
timeout = _options["timeout"]
post_worker_init = post_worker_init
child_exit = child_exit
