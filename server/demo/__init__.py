"""The demo page at ``/``: paste an article, see the extension's highlights and cards.

It loads the extension's own rendering scripts from ``extension/src`` so the
demo and the extension cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

from server.errors import NotFound

__all__ = ["bp"]

HERE = Path(__file__).resolve().parent
EXTENSION_SRC = HERE.parent.parent / "extension" / "src"
# Only what the page needs is served; the rest of the extension stays private.
SHARED_FILES = frozenset({
    "shared/render.js", "content/anchor.js", "content/highlight.js", "content/card.js",
    "content/controller.js", "content/highlight.css",
})
DEMO_FILES = frozenset({"demo.js", "demo.css"})
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

bp = Blueprint("demo", __name__)


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/")
def page() -> Response:
    return _secured(send_from_directory(HERE, "index.html", max_age=0))


@bp.get("/demo/<path:name>")
def asset(name: str) -> Response:
    if name in DEMO_FILES:
        return _secured(send_from_directory(HERE, name, max_age=0))
    if name in SHARED_FILES:
        if not (EXTENSION_SRC / name).is_file():
            raise NotFound(f"{name} is missing: the demo needs the repository's extension/src")
        return _secured(send_from_directory(EXTENSION_SRC, name, max_age=0))
    raise NotFound(f"no demo file {name!r}")
