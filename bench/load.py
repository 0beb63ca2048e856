"""Sustained load on loopback against gunicorn with the Procfile settings.

    .venv/bin/python bench/load.py [--index DIR] [--seconds 600] [--clients 4] [--workers N]
                                   [--no-cache | --new-text [--data-dir DIR]]

Starts `gunicorn 'server:create_app()' --config gunicorn.conf.py` (the Procfile's
command) on a free loopback port, waits until it is ready, then runs CLIENTS
keep-alive connections that POST articles to /v1/context for SECONDS (each
request a different arrangement of the bench article's paragraphs, so no two
bodies are alike, though their sentences repeat: with the search cache on,
this measures answers from the cache; ``--no-cache`` makes every request
embed and search all its sentences; ``--new-text`` sends text never sent before instead,
LIAR statements, 10, 40 and 120 sentences a request in turn). Prints sustained requests
per second, latency percentiles, errors, and the memory of the master and each worker at
the start, every minute, and at the end. The per-address rate limit is turned off for the run:
all the load comes from one address.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
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

from index.settings import load as load_settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _bodies(count: int) -> list[bytes]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", ARTICLE.read_text()) if p.strip()]
    bodies = []
    for n in range(count):
        shift = n % len(paragraphs)
        order = paragraphs[shift:] + paragraphs[:shift]
        if (n // len(paragraphs)) % 2:
            order.reverse()
        bodies.append(json.dumps({"blocks": [{"id": f"p{i}", "text": p}
                                             for i, p in enumerate(order)]}).encode())
    return bodies


def _snapshot(master: int) -> str:
    parts = []
    for label, pid in [("master", master)] + [(f"worker {p}", p) for p in children(master)]:
        try:
            rss, pss = memory_mb(pid)
        except OSError:
            continue
        parts.append(f"{label} RSS {rss:.0f} MB / PSS {pss:.0f} MB")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path,
                        default=load_settings(os.environ).index_dir)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    parser.add_argument("--no-cache", action="store_true",
                        help="Turn the search cache off, so every request is embedded and searched "
                        "(the bodies repeat the bench article's sentences).")
    parser.add_argument("--new-text", action="store_true",
                        help="Send text never sent before: LIAR statements (research data, used as "
                        "load only), 10, 40 and 120 sentences a request in turn.")
    parser.add_argument("--data-dir", type=Path, default=load_settings(os.environ).data_dir,
                        help="the public datasets [default: ASIDE_DATA_DIR]")
    args = parser.parse_args()
    if args.new_text and args.data_dir is None:
        parser.error("--new-text reads LIAR: set ASIDE_DATA_DIR or pass --data-dir")
    if args.no_cache and args.new_text:
        sys.exit("--no-cache and --new-text are two different loads; choose one")
    if not (args.index / "manifest.json").is_file():
        sys.exit(f"no index at {args.index}: run `make index` first")
    port = free_port()
    env = {**os.environ, "ASIDE_PORT": str(port), "ASIDE_HOST": "127.0.0.1",
           "ASIDE_INDEX_DIR": str(args.index), "WEB_CONCURRENCY": str(args.workers),
           "ASIDE_RATE_LIMIT_PER_ADDRESS": ""}
    if args.no_cache:
        env["ASIDE_CACHE_SENTENCES"] = "0"
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "server:create_app()", "--config", "gunicorn.conf.py"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        started = time.perf_counter()
        while status_of(f"http://127.0.0.1:{port}/readyz") != 200 or len(children(server.pid)) < args.workers:
            if server.poll() is not None or time.perf_counter() - started > 300:
                sys.exit("gunicorn did not start")
            time.sleep(0.5)
        time.sleep(3 * args.workers)  # let every worker warm up
        bodies = _bodies(997)
        statements = liar_statements(args.data_dir) if args.new_text else None
        text = "new text of 10, 40 and 120 sentences" if args.new_text else "the bench article rearranged"
        print(f"cores: {os.cpu_count()}; workers: {args.workers}; clients: {args.clients}; {text}; "
              f"search cache {'off' if args.no_cache else 'on'}; {args.seconds:.0f} s on 127.0.0.1:{port}")
        print(f"memory at start: {_snapshot(server.pid)}")
        latencies: list[float] = []
        errors: dict[str, int] = {}
        lock = threading.Lock()
        stop = time.perf_counter() + args.seconds

        def client(number: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            n = number
            while time.perf_counter() < stop:
                if statements is None:
                    body = bodies[n % len(bodies)]
                else:
                    with lock:
                        body = context_body([next(statements) for _ in range((10, 40, 120)[n % 3])])
                n += args.clients
                t0 = time.perf_counter()
                try:
                    connection.request("POST", "/v1/context", body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    response.read()
                    outcome = None if response.status == 200 else str(response.status)
                except (OSError, http.client.HTTPException) as exc:
                    outcome = type(exc).__name__
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    if outcome is None:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors[outcome] = errors.get(outcome, 0) + 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        next_sample = t0 + 60
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.perf_counter() >= next_sample:
                with lock:
                    done = len(latencies)
                print(f"  {time.perf_counter() - t0:.0f} s: {done} answered; {_snapshot(server.pid)}",
                      flush=True)
                next_sample += 60
        elapsed = time.perf_counter() - t0
        total = len(latencies) + sum(errors.values())
        print(f"requests: {total} in {elapsed:.0f} s = {len(latencies) / elapsed:.2f} answered/s sustained")
        if latencies:
            p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
            print(f"latency: p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
                  f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms")
        print(f"errors: {sum(errors.values())}" + (f" {errors}" if errors else ""))
        print(f"memory at end: {_snapshot(server.pid)}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
