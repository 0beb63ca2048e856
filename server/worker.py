"""A gunicorn worker that reads each request whole before a thread takes it.

With plain gthread, a client that sends part of a request and stalls holds one of the
worker's few threads; four such clients made /healthz time out. This worker buffers the
request in its event loop, as a buffering proxy would, and answers 408 when it takes too
long. ``server.serve.gunicorn_options`` names it as the worker class.
"""

from __future__ import annotations

import json
import selectors
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

__all__ = ["COMPLETE", "CONTINUE", "HEAD_TOO_LARGE", "MORE", "BufferingWorker", "framing"]

# What framing() says of the bytes read so far.
MORE, COMPLETE, CONTINUE, HEAD_TOO_LARGE = "more", "complete", "continue", "head-too-large"
_MAX_HEAD = 64 * 1024
_DEFAULT_READ_SECONDS = 15.0


def framing(data: bytes | bytearray, cap: int) -> str:
    """Whether ``data`` holds a whole HTTP/1.1 request (head, and body by Content-Length or
    chunks), or ``cap`` bytes of body, enough for the app to refuse it with 413.

    Malformed framing counts as complete: gunicorn's parser then answers 400.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return HEAD_TOO_LARGE if len(data) > _MAX_HEAD else MORE
    length, chunked, expect = None, False, False
    for line in bytes(data[:end]).decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            if not value.isdigit() or len(value) > 15:
                return COMPLETE
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "expect":
            expect = value == "100-continue"
    start = end + 4
    if chunked:
        done = _chunks_done(data, start, cap)
    else:
        done = length is None or length > cap or len(data) - start >= length
    if done:
        return COMPLETE
    return CONTINUE if expect and len(data) == start else MORE


def _chunks_done(data: bytes | bytearray, pos: int, cap: int) -> bool:
    start = pos
    while len(data) - start <= cap:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return False
        size = bytes(data[pos:eol]).split(b";")[0].strip()
        if not size or len(size) > 15 or any(c not in b"0123456789abcdefABCDEF" for c in size):
            return True
        if int(size, 16) == 0:  # the last chunk, then trailer fields and an empty line
            return data.find(b"\r\n\r\n", eol) >= 0
        pos = eol + 2 + int(size, 16) + 2
        if pos > len(data):
            return False
    return True


def _error(status: str, code: str, message: str) -> bytes:
    body = json.dumps({"ok": False, "error": {"code": code, "message": message},
                       "status": int(status.split()[0])}).encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


@dataclass
class _Reading:
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    continued: bool = False
    registered: bool = False


class BufferingWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker, except that a request's head and body are read in the
    worker's event loop (as a buffering proxy would) and a thread takes it only when whole.

    With plain gthread a client that sends part of a request and stalls holds one of the
    worker's few threads for as long as it likes, and four of them made /healthz time out.
    Here a stalled client holds a buffer, and gets 408 when READ_TIMEOUT_SECONDS have
    passed since its request began. Written against gunicorn 27.0.1's gthread (pinned):
    ``enqueue_req`` is where every connection goes to a thread.
    """

    def init_process(self) -> None:
        self._reading: dict[Any, _Reading] = {}
        super().init_process()

    def _limits(self) -> tuple[float, int]:
        config = getattr(self.wsgi, "config", {})
        seconds = float(config.get("READ_TIMEOUT_SECONDS", _DEFAULT_READ_SECONDS))
        return seconds, int(config.get("MAX_BODY_BYTES", 1 << 20)) + 64 * 1024

    def enqueue_req(self, conn: Any) -> None:
        if (self.cfg.is_ssl or conn.is_http2 or getattr(self.cfg, "protocol", "http") != "http"
                or negotiation.prior_knowledge_allowed(self.cfg, conn.client)):
            super().enqueue_req(conn)  # TLS and HTTP/2 are read by the thread, as before
            return
        reading = _Reading(deadline=time.monotonic() + self._limits()[0])
        if conn.parser is not None:  # kept alive: what the last read took past its request
            reading.data += conn.parser.unreader.take_buffered()
        self._reading[conn] = reading
        conn.sock.setblocking(False)
        if not self._advance(conn, reading):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
            reading.registered = True

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        reading = self._reading[conn]
        try:
            data = conn.sock.recv(64 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._close(conn)
            return
        reading.data += data
        self._advance(conn, reading)

    def _advance(self, conn: Any, reading: _Reading) -> bool:
        """Hand the request to a thread once whole; True when the connection left the loop."""
        state = framing(reading.data, self._limits()[1])
        if state == CONTINUE and not reading.continued:
            # The client waits for this before its body. gunicorn sends one more when the
            # thread reads the request: a client must accept several 1xx (RFC 9110 15.2).
            reading.continued = True
            self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
        if state == HEAD_TOO_LARGE:
            self._send(conn, _error("431 Request Header Fields Too Large", "headers_too_large",
                                    "the request head is over 64 KiB"))
            self._close(conn)
            return True
        if state != COMPLETE:
            return False
        del self._reading[conn]
        if reading.registered:
            self.poller.unregister(conn.sock)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(reading.data))
        conn.data_ready = True
        super().enqueue_req(conn)
        return True

    def _send(self, conn: Any, data: bytes) -> None:
        try:
            conn.sock.send(data)  # small; a full socket buffer just loses it
        except OSError:
            pass

    def _close(self, conn: Any) -> None:
        reading = self._reading.pop(conn, None)
        if reading is not None and reading.registered:
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also close connections whose request did not arrive in time (408 if it began)."""
        super().murder_pending()
        now = time.monotonic()
        for conn, reading in list(self._reading.items()):
            if reading.deadline <= now:
                if reading.data:
                    self._send(conn, _error(
                        "408 Request Timeout", "request_timeout",
                        "the request did not arrive within this service's read timeout"))
                self._close(conn)


