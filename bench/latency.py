"""Latency of POST /v1/context on a 40-sentence article, and index build rate.

    .venv/bin/python bench/latency.py [--index DIR] [--requests N] [--skip-build]

Starts `aside serve` (gunicorn, one worker) on a free loopback port against the
index (default: ASIDE_INDEX_DIR or var/index), warms it up, then times N
requests of the article in bench/article_fentanyl_tariffs.txt. Then builds a
small index from a few Factbook countries with the real model and compares
its rate with raw encoding of the same passages.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ARTICLE, free_port, percentile, post_json, status_of

from index.settings import load as load_settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def bench_latency(index_dir: Path, requests: int) -> None:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", ARTICLE.read_text()) if p.strip()]
    body = json.dumps({"blocks": [{"id": f"p{n}", "text": p} for n, p in enumerate(paragraphs)]})
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "aside"), "serve", "--port", str(port), "--index", str(index_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while status_of(f"{base}/readyz") != 200:
            if server.poll() is not None:
                sys.exit(f"server exited: {server.stderr.read().decode() if server.stderr else ''}")
            if time.perf_counter() - started > 180:
                sys.exit("server not ready after 180 s")
            time.sleep(0.2)
        ready_s = time.perf_counter() - started
        for _ in range(3):
            answer = post_json(f"{base}/v1/context", body.encode())
        stats = answer["stats"]
        times: list[float] = []
        stages: dict[str, list[float]] = {}
        for _ in range(requests):
            t0 = time.perf_counter()
            answer = post_json(f"{base}/v1/context", body.encode())
            times.append((time.perf_counter() - t0) * 1000)
            for stage, ms in answer["stats"]["timings_ms"].items():
                stages.setdefault(stage, []).append(ms)
        print(f"article: {stats['sentences']} sentences, {stats['searched']} searched, "
              f"{stats['with_context']} with cards; index {answer['index']['passages']} passages")
        print(f"ready after start: {ready_s:.1f} s")
        print(f"/v1/context warm, {requests} requests: p50 {statistics.median(times):.0f} ms, "
              f"p95 {percentile(times, 0.95):.0f} ms, mean {statistics.fmean(times):.0f} ms")
        print("server stages (median ms): " + ", ".join(
            f"{stage} {statistics.median(v):.1f}" for stage, v in stages.items()))
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_build(spec: str) -> None:
    sys.path.insert(0, str(ROOT))
    from index.build import build
    from index.chunk import chunk
    from index.embedders import SentenceTransformerEmbedder
    from index.sources import SourceStats, parse_spec

    embedder = SentenceTransformerEmbedder()
    embedder.encode(["warm up"])
    source = parse_spec(spec)
    texts = [p.embed_text for r in source.read(SourceStats(spec)) for p in chunk(r)]
    t0 = time.perf_counter()
    embedder.encode(texts)
    raw = len(texts) / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        report = build([source], Path(tmp) / "index", embedder)
    total_rate = report.manifest.passages / report.seconds
    print(f"build {spec}: {report.manifest.passages} passages in {report.seconds:.1f} s = "
          f"{total_rate:.0f} passages/s overall, {report.embed_rate:.0f}/s embedding; "
          f"raw encoding {raw:.0f}/s (build/raw {total_rate / raw:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path,
                        default=load_settings(os.environ).index_dir)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--build-source", default="factbook:mx,us,ca,ch,co,in,br,fr")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    if not (args.index / "manifest.json").is_file():
        sys.exit(f"no index at {args.index}: run `make index` (or aside index build --out DIR) first")
    print(f"cores: {os.cpu_count()}")
    bench_latency(args.index, args.requests)
    if not args.skip_build:
        bench_build(args.build_source)


if __name__ == "__main__":
    main()
