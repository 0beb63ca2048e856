"""Faults: a worker killed under load, a build killed part way, a disk that fills up."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from index.build import build
from index.cli import index_group
from index.store import Store
from tests.conftest import FakeEmbedder, fixture_sources
from tests.server.helpers import ARTICLE

ROOT = Path(__file__).resolve().parents[2]
BODY = json.dumps({"blocks": ARTICLE}).encode()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _post(base: str) -> int:
    request = urllib.request.Request(f"{base}/v1/context", data=BODY,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


@pytest.fixture
def gunicorn(tiny_store, tmp_path):
    """gunicorn with the Procfile's settings (gunicorn.conf.py), two workers, the fake model."""
    port = _free_port()
    env = {**os.environ, "WEB_CONCURRENCY": "2", "ASIDE_PORT": str(port), "ASIDE_HOST": "127.0.0.1",
           "ASIDE_INDEX_DIR": str(tiny_store), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.faults.app:create()", "--config", "gunicorn.conf.py"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while _post(base) != 200 or len(_children(server.pid)) < 2:
        assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.2)
    yield server, base
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


def test_a_worker_killed_under_load_is_replaced_and_only_its_requests_fail(gunicorn):
    server, base = gunicorn
    results: list[tuple[float, int]] = []
    stop = time.monotonic() + 6
    clients = 4

    def load() -> None:
        while time.monotonic() < stop:
            results.append((time.monotonic(), _post(base)))

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    victim = _children(server.pid)[0]
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    for thread in threads:
        thread.join()
    failed = [(t, s) for t, s in results if s != 200]
    assert len(results) > 50
    # Only requests in flight on the killed worker may fail: at most one per client.
    assert len(failed) <= clients, failed
    assert all(abs(t - killed_at) < 2 for t, _ in failed), "failures only around the kill"
    assert all(s == 200 for t, s in results if t > killed_at + 2), "served normally afterwards"
    workers = _children(server.pid)
    assert len(workers) == 2 and victim not in workers, "gunicorn replaced the worker"
    metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    assert 'aside_requests_total{method="POST",route="/v1/context",status="200"}' in metrics


SLOW_BUILD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from index.build import build
from tests.conftest import FakeEmbedder, fixture_sources

class Slow(FakeEmbedder):
    def encode(self, texts, *, batch_size=64):
        print("embedding", flush=True)
        time.sleep(60)
        return super().encode(texts, batch_size=batch_size)

build(fixture_sources(), Path({out!r}), Slow(), )
"""


def test_a_build_killed_part_way_leaves_the_served_index_intact(tmp_path):
    out = tmp_path / "index"
    before = build(fixture_sources(), out, FakeEmbedder()).manifest
    process = subprocess.Popen([sys.executable, "-c", SLOW_BUILD.format(root=str(ROOT), out=str(out))],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None and process.stdout.readline().strip() == "embedding"
    staged = list(tmp_path.glob(".index.tmp-*"))
    assert staged, "the killed build was writing beside the index"
    process.kill()
    process.wait()
    process.stdout.close()
    store = Store.open(out)  # checksums verified
    assert store.manifest.build_id == before.build_id and store.manifest.passages == before.passages
    # The next build removes what the killed one left.
    build(fixture_sources(), out, FakeEmbedder())
    assert not any(p.exists() for p in staged)


def test_a_full_disk_during_a_build_is_reported_and_the_index_is_kept(tmp_path, runner, monkeypatch):
    out = tmp_path / "index"
    before = build(fixture_sources(), out, FakeEmbedder()).manifest

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("index.writer.faiss.write_index", full)
    jsonl = ROOT / "tests" / "fixtures" / "jsonl" / "docs.jsonl"
    result = runner.invoke(index_group, ["build", "--out", str(out), "--source", f"jsonl:{jsonl}"],
                           obj={"embedder": FakeEmbedder()})
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "nothing was changed" in result.output
    assert Store.open(out).manifest.build_id == before.build_id
    assert not list(tmp_path.glob(".index.tmp-*"))


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def test_a_really_full_disk_is_reported_and_the_index_is_kept(tmp_path, runner):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "600k"):
        pytest.skip("mounting a small tmpfs needs privileges this machine does not give "
                    "(the simulated full disk above still runs)")
    try:
        out = disk / "index"
        jsonl = ROOT / "tests" / "fixtures" / "jsonl" / "docs.jsonl"
        runner.invoke(index_group, ["build", "--out", str(out), "--source", f"jsonl:{jsonl}"],
                      obj={"embedder": FakeEmbedder()})
        before = Store.open(out).manifest
        result = runner.invoke(index_group, ["build", "--out", str(out)], obj={"embedder": FakeEmbedder()})
        assert result.exit_code == 1, result.output
        assert "No space left on device" in result.output or "disk is full" in result.output
        assert Store.open(out).manifest.build_id == before.build_id
        assert not list(disk.glob(".index.tmp-*"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)
