"""Clients that stall or trickle, against real gunicorn with the Procfile's settings, on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from server.worker import COMPLETE, CONTINUE, HEAD_TOO_LARGE, MORE, framing
from tests.faults.test_faults import ROOT, _free_port, _post
from tests.server.helpers import ARTICLE

READ_SECONDS = 3
BODY = json.dumps({"blocks": ARTICLE}).encode()


@pytest.fixture(scope="module")
def one_worker(tiny_store, tmp_path_factory):
    """The default deployment: one worker, four threads; a short read timeout; 4 kB bodies."""
    port = _free_port()
    env = {**os.environ, "ASIDE_PORT": str(port), "ASIDE_HOST": "127.0.0.1",
           "ASIDE_INDEX_DIR": str(tiny_store), "ASIDE_READ_TIMEOUT_SECONDS": str(READ_SECONDS),
           "ASIDE_MAX_BODY_BYTES": "4000",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("metrics"))}
    env.pop("WEB_CONCURRENCY", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.faults.app:create()", "--config", "gunicorn.conf.py"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while _post(base) != 200:
        assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.2)
    yield port
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


def _connect(port: int, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """Read a response to the end (the server closes, or Content-Length says); skip 1xx."""
    data = b""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep and head.startswith(b"HTTP/1.1 1"):
            data = rest
            continue
        if sep:
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), None)
            if length is not None and len(rest) >= length:
                return int(head.split()[1]), rest[:length]
        chunk = sock.recv(65536)
        if not chunk:
            return (int(head.split()[1]) if sep else 0), rest
        data += chunk


def _request(port: int, raw: bytes) -> tuple[int, bytes]:
    with _connect(port, raw) as sock:
        return _answer(sock)


def _post_head(length: int | None = None, extra: str = "") -> bytes:
    framing_header = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"POST /v1/context HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"{framing_header}\r\n{extra}\r\n").encode()


def _chunked(body: bytes, size: int = 700) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def test_health_and_articles_are_answered_while_stalled_clients_hold_connections(one_worker):
    port = one_worker
    stalled = [_connect(port, _post_head(len(BODY)) + BODY[:40]) for _ in range(6)]  # part of a body
    stalled += [_connect(port, b"POST /v1/context HTTP/1.1\r\nHost: te") for _ in range(3)]  # of a head
    stalled += [_connect(port) for _ in range(2)]  # nothing at all
    try:
        time.sleep(0.3)
        for _ in range(3):
            started = time.monotonic()
            status, body = _request(port, b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            assert status == 200 and json.loads(body)["status"] == "alive"
            assert time.monotonic() - started < 1.0, "a probe waits for no stalled client"
        status, body = _request(port, _post_head(len(BODY), "Connection: close\r\n") + BODY)
        assert status == 200 and json.loads(body)["sentences"]
        # Past the read timeout each client that began a request gets 408 and is closed.
        for sock in stalled[:9]:
            status, body = _answer(sock)
            assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
        for sock in stalled[9:]:
            assert sock.recv(100) == b"", "an idle connection is closed without an answer"
    finally:
        for sock in stalled:
            sock.close()


def test_a_client_that_trickles_its_body_gets_408_at_the_read_timeout(one_worker):
    with _connect(one_worker, _post_head(len(BODY))) as sock:
        started = time.monotonic()
        with pytest.raises(OSError):  # the server closes while the client still sends
            for byte in BODY:
                sock.sendall(bytes([byte]))
                time.sleep(0.25)
        assert READ_SECONDS - 0.5 < time.monotonic() - started < READ_SECONDS + 3


@pytest.mark.parametrize("size", [5_000, 50_000, 2_000_000])
def test_a_chunked_body_over_the_limit_gets_413(one_worker, size):
    body = json.dumps({"blocks": [{"id": "a", "text": "word " * (size // 5)}]}).encode()
    status, answer = _request(one_worker, _post_head(None, "Connection: close\r\n") + _chunked(body))
    assert status == 413 and json.loads(answer)["error"]["code"] == "payload_too_large"


def test_chunked_and_expect_continue_bodies_within_the_limit_are_answered(one_worker):
    status, answer = _request(one_worker, _post_head(None, "Connection: close\r\n") + _chunked(BODY))
    assert status == 200 and json.loads(answer)["sentences"]
    with _connect(one_worker, _post_head(len(BODY), "Expect: 100-continue\r\nConnection: close\r\n")) as sock:
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue"), "asked for the body"
        sock.sendall(BODY)
        status, answer = _answer(sock)
    assert status == 200 and json.loads(answer)["sentences"]


def test_requests_on_a_kept_alive_connection_are_each_answered(one_worker):
    with _connect(one_worker) as sock:
        for _ in range(3):
            sock.sendall(_post_head(len(BODY)) + BODY)
            status, answer = _answer(sock)
            assert status == 200 and json.loads(answer)["ok"] is True


@pytest.mark.parametrize("data, state", [
    (b"GET /healthz HTTP/1.1\r\nHost: a\r\n", MORE),
    (b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", COMPLETE),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", MORE),
    (b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nabcde", COMPLETE),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", CONTINUE),
    (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", COMPLETE),   # over the cap: the app says 413
    (b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", COMPLETE),
    (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", COMPLETE),        # malformed: gunicorn says 400
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", MORE),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n", COMPLETE),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n", MORE),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", COMPLETE),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"x" * 1024 + b"\r\n", COMPLETE),
    (b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70_000, HEAD_TOO_LARGE),
])
def test_framing_says_when_a_request_is_whole(data, state):
    assert framing(data, cap=1000) == state
