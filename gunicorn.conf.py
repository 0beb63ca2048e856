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
from server.settings import BY_NAME

_workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
os.environ.setdefault(BY_NAME["TORCH_THREADS"].env, str(torch_threads_per_worker(_workers)))
if _workers > 1:
    metrics_dir()  # every worker writes its Prometheus metrics there; /metrics adds them up

# Read through the registry, so a wrong value stops gunicorn with the variable's name.
_host, _port = BY_NAME["HOST"], BY_NAME["PORT"]
_options = gunicorn_options(
    host=_host.convert(os.environ.get(_host.env, "0.0.0.0")),  # all addresses on a platform
    port=int(os.environ["PORT"]) if "PORT" in os.environ
    else _port.convert(os.environ.get(_port.env, _port.default)),
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
