"""The fast path, end to end through gunicorn: article latency, throughput, start-up and memory.

    .venv/bin/python bench/fast_path.py [--index DIR] [--requests N] [--backend torch|onnx]
                                        [--skip-throughput] [--skip-startup] [--blocks N]

1. Article latency: /v1/context for articles of 10, 40 and 120 sentences, cold
   (text never seen: each request is made of LIAR statements not sent before, a
   real political claim per sentence) and warm (the same article again); p50,
   p95 and p99 over N requests each, one worker, the Procfile's settings.
2. Throughput: 1, 2, 4 and 8 concurrent clients sending cold 40-sentence
   articles; articles per second at saturation, then the latency when clients
   send at half that rate.
3. Memory: the worker's RSS and PSS after all of the above; then, for 1, 2 and 4
   workers, seconds from starting gunicorn to ready workers, and each worker's
   memory after it answered 12 cold articles (10, 40 and 120 sentences) on a
   connection of its own, all workers at once; and the master's.

With ``--blocks N`` the service answers with N blocks in place (a temporary feedback
directory, written while it runs, so it also picks them up live): a block on the first card
of every third sentence of the 40-sentence article that has one, every other of them only
near that sentence's vector, and the rest on passages drawn from the index, 60% for every
sentence and 40% near the passage's own vector (a stand-in for a reported sentence's).
Without it the feedback directory is empty: sentences still carry their hash and vector.

LIAR is research data (../shared/data/liar); it is load here, never an index.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from common import (
    ARTICLE,
    children,
    context_body,
    free_port,
    liar_statements,
    memory_mb,
    percentile,
    status_of,
)

from index.records import passage_hash
from index.settings import load as load_settings
from index.store import Store
from server.feedback import connect, decode_vector
from server.feedback.blocks import add_block

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _article(count: int) -> bytes:
    text = re.sub(r"\s+", " ", ARTICLE.read_text())
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
    while len(sentences) < count:
        sentences += sentences
    return context_body(sentences[:count])


class Server:
    """gunicorn with the Procfile's command and config on a free loopback port."""

    def __init__(self, index: Path, workers: int, backend: str, feedback: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "ASIDE_PORT": str(self.port), "ASIDE_HOST": "127.0.0.1",
               "ASIDE_INDEX_DIR": str(index), "WEB_CONCURRENCY": str(workers),
               "ASIDE_EMBED_BACKEND": backend, "ASIDE_RATE_LIMIT_PER_ADDRESS": "",
               "ASIDE_FEEDBACK_DIR": str(feedback)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "server:create_app()", "--config",
             "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready = f"http://127.0.0.1:{self.port}/readyz"
        while status_of(ready) != 200 or len(children(self.process.pid)) < workers:
            if self.process.poll() is not None or time.perf_counter() - self.started > 300:
                sys.exit("gunicorn did not start")
            time.sleep(0.05)
        self.ready_s = time.perf_counter() - self.started

    def post(self, connection: http.client.HTTPConnection, body: bytes) -> float:
        return self.answer(connection, body)[0]

    def answer(self, connection: http.client.HTTPConnection, body: bytes) -> tuple[float, bytes]:
        """Milliseconds to the whole answer, and the answer."""
        t0 = time.perf_counter()
        connection.request("POST", "/v1/context", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        return (time.perf_counter() - t0) * 1000, data

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def memory(self) -> list[tuple[float, float]]:
        return [memory_mb(pid) for pid in children(self.process.pid)]

    def connection_per_worker(self) -> list[http.client.HTTPConnection]:
        """One open connection held by each worker (which worker accepts one is up to chance)."""
        workers = children(self.process.pid)
        held: dict[int, http.client.HTTPConnection] = {}
        spare = []
        deadline = time.perf_counter() + 60  # a worker still warming up accepts nothing
        while time.perf_counter() < deadline:
            connection = self.connection()
            connection.connect()
            assert connection.sock is not None
            client_port = connection.sock.getsockname()[1]
            holder = None
            for _ in range(200):
                holder = _holder(workers, self.port, client_port)
                if holder is not None:
                    break
                time.sleep(0.005)
            if holder is not None and holder not in held:
                held[holder] = connection
            else:
                spare.append(connection)
            # gunicorn closes a connection that waits 2 s for a request (keepalive): a small
            # request keeps each held one open, and one found closed is looked for again.
            held = {pid: c for pid, c in held.items() if _answers(c)}
            if len(held) == len(workers):
                break
            time.sleep(0.02)
        for connection in spare:
            connection.close()
        if len(held) < len(workers):
            sys.exit(f"only {len(held)} of {len(workers)} workers took a connection")
        return list(held.values())

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def _stats(times: list[float]) -> str:
    return (f"p50 {statistics.median(times):.0f} ms, p95 {percentile(times, 0.95):.0f} ms, "
            f"p99 {percentile(times, 0.99):.0f} ms")


def bench_latency(server: Server, statements: Iterator[str], requests: int) -> None:
    connection = server.connection()
    server.post(connection, _article(40))  # first request pays for lazy loading
    for count in (10, 40, 120):
        cold = [server.post(connection, context_body([next(statements) for _ in range(count)]))
                for _ in range(requests)]
        body = _article(count)
        server.post(connection, body)
        warm = [server.post(connection, body) for _ in range(requests)]
        print(f"{count:>3} sentences: cold {_stats(cold)}; warm {_stats(warm)}")


def _run_clients(server: Server, statements: Iterator[str], clients: int, seconds: float,
                 interval: float | None = None) -> tuple[int, list[float]]:
    lock = threading.Lock()
    times: list[float] = []
    stop = time.perf_counter() + seconds

    def client() -> None:
        connection = server.connection()
        next_send = time.perf_counter()
        while time.perf_counter() < stop:
            if interval is not None:
                time.sleep(max(0.0, next_send - time.perf_counter()))
                next_send += interval
            with lock:
                body = context_body([next(statements) for _ in range(40)])
            elapsed = server.post(connection, body)
            with lock:
                times.append(elapsed)

    _concurrently(client, clients)
    return len(times), times


def add_blocks(server: Server, index: Path, feedback: Path, count: int) -> None:
    """``count`` blocks in the service's feedback directory, some on the article's own cards."""
    connection = server.connection()
    _, data = server.answer(connection, _article(40))
    sentences = json.loads(data)["sentences"]
    store = Store.open(index)
    db = connect(feedback)
    on_article = 0
    for n, sentence in enumerate(sentences[::3][:count]):
        card = sentence["cards"][0]
        vector = decode_vector(sentence["vector"], store.manifest.dim) if n % 2 else None
        add_block(db, doc_id=card["doc_id"], passage_hash=card["passage_hash"], vector=vector)
        on_article += 1
    drawn = random.Random(19).sample(range(1, store.manifest.passages + 1), count - on_article)
    passages = store.passages(drawn)
    ids = sorted(passages)
    for pid, vector in zip(ids, store.vectors(ids), strict=True):
        near = random.Random(pid).random() < 0.4
        add_block(db, doc_id=passages[pid].doc_id, passage_hash=passage_hash(passages[pid].text),
                  vector=vector if near else None)
    total = db.execute("SELECT count(*), count(vector) FROM blocks").fetchone()
    db.close()
    _, after = server.answer(connection, _article(40))
    cards = sum(len(s["cards"]) for s in sentences)
    stage = json.loads(after)["stats"]["timings_ms"].get("blocks", 0.0)
    print(f"blocks: {total[0]} ({total[1]} near a sentence), {on_article} on the 40-sentence "
          f"article's cards; its answer {len(data):,} bytes with {cards} cards before, "
          f"{len(after):,} bytes after; its hits checked against them in {stage:.1f} ms")


def bench_throughput(server: Server, statements: Iterator[str], seconds: float) -> None:
    best = 0.0
    for clients in (1, 2, 4, 8):
        done, times = _run_clients(server, statements, clients, seconds)
        rate = done / seconds
        best = max(best, rate)
        print(f"throughput, {clients} clients: {rate:.2f} articles/s ({_stats(times)})")
    half = best / 2
    done, times = _run_clients(server, statements, 2, seconds, interval=2 / half)
    print(f"at half of saturation ({half:.2f} articles/s): {_stats(times)}")


def _mixed_load(server: Server, statements: Iterator[str]) -> None:
    """12 cold articles of 10, 40 and 120 sentences to each worker, all workers at once."""
    lock = threading.Lock()
    held = server.connection_per_worker()
    connections = iter(held)

    def client() -> None:
        with lock:
            connection = next(connections)
        for count in (10, 40, 120) * 4:
            with lock:
                body = context_body([next(statements) for _ in range(count)])
            server.post(connection, body)

    _concurrently(client, len(held))


def _answers(connection: http.client.HTTPConnection) -> bool:
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return False
    return response.status == 200


def _holder(workers: list[int], server_port: int, client_port: int) -> int | None:
    """The worker holding the server end of the loopback connection from ``client_port``."""
    ends = f":{server_port:04X}", f":{client_port:04X}"
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[1].endswith(ends[0]) and cols[2].endswith(ends[1]):
                inode = cols[9]
    if inode is None:
        return None
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def _concurrently(client: Callable[[], None], clients: int) -> None:
    """Run ``clients`` threads of ``client`` at once and wait for all of them."""
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path,
                        default=load_settings(os.environ).index_dir)
    parser.add_argument("--data-dir", type=Path, default=load_settings(os.environ).data_dir,
                        help="the public datasets [default: ASIDE_DATA_DIR]")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--backend", default="auto",
                        help="torch, onnx, openvino or auto (the service's default)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--blocks", type=int, default=0,
                        help="answer with this many blocks in place (see above) [default: none]")
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("no data directory: set ASIDE_DATA_DIR or pass --data-dir")
    statements = liar_statements(args.data_dir)
    print(f"cores: {os.cpu_count()}; backend: {args.backend}; index: {args.index}")
    with tempfile.TemporaryDirectory(prefix="aside-feedback-") as feedback:
        _bench(args, statements, Path(feedback))


def _bench(args: argparse.Namespace, statements: Iterator[str], feedback: Path) -> None:
    server = Server(args.index, 1, args.backend, feedback)
    try:
        print(f"ready after {server.ready_s:.1f} s (1 worker)")
        if args.blocks:
            add_blocks(server, args.index, feedback, args.blocks)
        bench_latency(server, statements, args.requests)
        if not args.skip_throughput:
            bench_throughput(server, statements, args.seconds)
        (rss, pss), = server.memory()
        print(f"the worker after these requests: RSS {rss:.0f} MB / PSS {pss:.0f} MB")
    finally:
        server.stop()
    if not args.skip_startup:
        for workers in (1, 2, 4):
            server = Server(args.index, workers, args.backend, feedback)
            try:
                _mixed_load(server, statements)
                memory = server.memory()
                master = memory_mb(server.process.pid)
                print(f"{workers} worker(s): ready after {server.ready_s:.1f} s; workers "
                      + "; ".join(f"RSS {r:.0f} MB / PSS {p:.0f} MB" for r, p in memory)
                      + f"; master PSS {master[1]:.0f} MB; all PSS "
                      + f"{master[1] + sum(p for _, p in memory):.0f} MB")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
