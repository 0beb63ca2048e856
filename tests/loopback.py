"""A small HTTP server on 127.0.0.1 for tests that fetch: named resources, validators, a log.

    with LoopbackServer({"/feed.rss": (body, "application/rss+xml")}) as server:
        url = server.url("/feed.rss")
        ...
        server.put("/feed.rss", new_body)           # a new version: new ETag and Last-Modified
        assert [r.status for r in server.requests_for("/feed.rss")] == [200, 304]

Every response carries an ``ETag`` and a ``Last-Modified``; a GET or HEAD whose
``If-None-Match`` matches (or, without one, whose ``If-Modified-Since`` is not older than the
resource) is answered 304, as RFC 9110 section 13.2.2 orders the two. ``gzip=True`` compresses
bodies for clients that accept it. Paths are matched with their query string first, then
without it; anything else is a 404. Tests that fetch from it through ``index.fetch`` must set
``ASIDE_FETCH_PRIVATE=true`` (loopback is refused otherwise).
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["LoopbackServer", "Request"]

# Versions are dated from here, an hour apart, so Last-Modified always moves forward by more
# than HTTP dates' one-second resolution, whatever the test's timing.
_EPOCH = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it, and the status it answered."""

    method: str
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int

    @property
    def conditional(self) -> bool:
        return bool(self.if_none_match or self.if_modified_since)


@dataclass(frozen=True)
class _Resource:
    body: bytes
    content_type: str
    etag: str
    modified: datetime


class LoopbackServer:
    """A threaded HTTP server serving ``{path: (body, content type)}``; use it as a context manager."""

    def __init__(self, resources: Mapping[str, tuple[bytes, str]] | None = None, *,
                 gzip: bool = False) -> None:
        self.gzip = gzip
        self.requests: list[Request] = []
        self._resources: dict[str, _Resource] = {}
        self._versions = 0
        self._lock = threading.Lock()
        for path, (body, content_type) in (resources or {}).items():
            self.put(path, body, content_type)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.origin + path

    def put(self, path: str, body: bytes, content_type: str | None = None) -> None:
        """Serve ``body`` at ``path`` as a new version (the content type kept unless given)."""
        with self._lock:
            self._versions += 1
            old = self._resources.get(path)
            digest = hashlib.sha256(body).hexdigest()[:16]
            self._resources[path] = _Resource(
                body=body,
                content_type=content_type or (old.content_type if old else "application/octet-stream"),
                etag=f'"{digest}-{self._versions}"',
                modified=_EPOCH + timedelta(hours=self._versions),
            )

    def remove(self, path: str) -> None:
        """Stop serving ``path``: it is a 404 from now on."""
        with self._lock:
            del self._resources[path]

    def get(self, path: str) -> tuple[bytes, str]:
        """What ``path`` serves now: its body and content type (KeyError if nothing)."""
        with self._lock:
            resource = self._resources[path]
        return resource.body, resource.content_type

    def requests_for(self, path: str) -> list[Request]:
        """The requests made for ``path`` (query string included), in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # What the handler asks of the server -------------------------------------------------

    def _lookup(self, path: str) -> _Resource | None:
        with self._lock:
            return self._resources.get(path) or self._resources.get(path.split("?", 1)[0])

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def _not_modified(resource: _Resource, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:  # when both are sent, If-None-Match decides (RFC 9110 13.2.2)
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or resource.etag in tags
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return resource.modified <= since
    return False


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            self._answer(with_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(with_body=False)

        def _answer(self, *, with_body: bool) -> None:
            if_none_match = self.headers.get("If-None-Match")
            if_modified_since = self.headers.get("If-Modified-Since")
            resource = server._lookup(self.path)
            if resource is None:
                status, body, headers = 404, b"not found", {"Content-Type": "text/plain"}
            else:
                headers = {"ETag": resource.etag,
                           "Last-Modified": format_datetime(resource.modified, usegmt=True)}
                if _not_modified(resource, if_none_match, if_modified_since):
                    status, body = 304, b""
                else:
                    status, body = 200, resource.body
                    headers["Content-Type"] = resource.content_type
                    accepts = self.headers.get("Accept-Encoding", "")
                    if server.gzip and "gzip" in accepts:
                        body = gzip_module.compress(body)
                        headers["Content-Encoding"] = "gzip"
                        headers["Vary"] = "Accept-Encoding"
            server._log(Request(self.command, self.path, if_none_match, if_modified_since, status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body and status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass  # the request log above is what tests read

    return Handler
