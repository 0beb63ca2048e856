"""Search latency, recall and memory for the default index and for a 1,000,000-passage index.

    .venv/bin/python bench/index_size.py [--index DIR] [--size 1000000] [--data-dir DIR] [--reuse]

Encoding a million passages takes about two hours here, so the large index is
made from the default index's real vectors: passage i is real vector i mod n
plus Gaussian noise (per dimension sigma 0.02, so each copy keeps cosine ~0.93
with its origin and copies of one passage are ~0.87 apart), normalised. The
builder then picks the index type as it would for a real build of that size
(IVF from 100,000 passages) and its nprobe for recall@10 >= 0.97.

Queries are real: 400 LIAR statements and the bench article's sentences,
embedded with the model, searched 40 at a time as one article's sentences are.
Prints p50/p95 search time per 40-query batch, recall@10 against exact search,
and the resident memory of a process holding the index memory-mapped, alone
and as one of two processes (PSS).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ARTICLE, memory_mb, percentile

from index.settings import load as load_settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

_HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from pathlib import Path
from index.vectors import IndexInfo, load_index
index = load_index(Path({path!r}), IndexInfo.from_dict({info!r}))
queries = np.load({queries!r})
for _ in range(20):
    index.search(queries[:40], 10)
print("ready", flush=True)
time.sleep(600)
"""



def _queries(data: Path, embedder) -> np.ndarray:
    with gzip.open(data / "liar" / "test.tsv.gz", "rt", encoding="utf-8") as rows:
        texts = [line.split("\t")[2] for line in rows][:400]
    texts += [line.strip() for line in ARTICLE.read_text().splitlines() if line.strip()]
    return embedder.encode(texts)


def _measure(label: str, index, exact, queries: np.ndarray, path: Path, info: dict) -> None:
    import faiss

    faiss.cvar.distance_compute_blas_threshold = 20
    batches = [queries[i:i + 40] for i in range(0, len(queries) - 39, 40)]
    # The first pass touches the mapped index for the first time (page faults): its own figure.
    first = []
    for batch in batches:
        t0 = time.perf_counter()
        index.search(batch, 10)
        first.append((time.perf_counter() - t0) * 1000)
    times = []
    for _ in range(5):
        for batch in batches:
            t0 = time.perf_counter()
            index.search(batch, 10)
            times.append((time.perf_counter() - t0) * 1000)
    _, truth = exact.search(queries, 10)
    _, found = index.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    print(f"{label}: {index.ntotal:,} vectors, {info}; search of 40 queries: "
          f"p50 {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms; "
          f"recall@10 against exact {recall:.4f} ({len(queries)} real queries); first pass over "
          f"the mapped file: p50 {statistics.median(first):.1f} ms, max {max(first):.1f} ms")
    with tempfile.NamedTemporaryFile(suffix=".npy") as handle:
        np.save(handle.name, queries)
        holders = []
        try:
            for _ in range(2):
                holder = subprocess.Popen(
                    [sys.executable, "-c", _HOLDER.format(root=str(ROOT), path=str(path), info=info,
                                                          queries=handle.name)],
                    stdout=subprocess.PIPE, text=True)
                assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
                holders.append(holder)
                rss_pss = [memory_mb(h.pid) for h in holders]
                print(f"  {len(holders)} process(es) holding it: "
                      + "; ".join(f"RSS {r:.0f} MB / PSS {p:.0f} MB" for r, p in rss_pss))
        finally:
            for holder in holders:
                holder.kill()
                holder.wait()
                if holder.stdout is not None:
                    holder.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path,
                        default=load_settings(os.environ).index_dir)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=load_settings(os.environ).data_dir,
                        help="the public datasets [default: ASIDE_DATA_DIR]")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "million")
    parser.add_argument("--reuse", action="store_true",
                        help="search the large index the last run built in --work instead of building it")
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("no data directory: set ASIDE_DATA_DIR or pass --data-dir")
    import faiss

    from index.embedders import SentenceTransformerEmbedder
    from index.store import INDEX_FILE, Store
    from index.vectors import make_index

    store = Store.open(args.index)
    real = store.vectors(list(range(1, store.manifest.passages + 1)))
    queries = _queries(args.data_dir, SentenceTransformerEmbedder(threads=os.cpu_count() or 1))
    print(f"cores: {os.cpu_count()}")
    _measure("default index", store._index, _idmap(real, np.arange(1, len(real) + 1)),
             queries, args.index / INDEX_FILE, store.manifest.index)

    # The large index: real vectors plus small noise.
    rng = np.random.default_rng(5)
    vectors = np.empty((args.size, real.shape[1]), dtype=np.float32)
    for start in range(0, args.size, 100_000):
        rows = np.arange(start, min(args.size, start + 100_000))
        noise = rng.normal(0, 0.02, size=(len(rows), real.shape[1])).astype(np.float32)
        block = real[rows % len(real)] + noise
        faiss.normalize_L2(block)
        vectors[rows] = block
    ids = np.arange(1, args.size + 1, dtype=np.int64)
    path = args.work / INDEX_FILE
    from index.vectors import IndexInfo, load_index

    if args.reuse:
        info = IndexInfo.from_dict(json.loads((args.work / "info.json").read_text()))
        print(f"reusing the {args.size:,}-vector index in {args.work} ({info.to_dict()})")
    else:
        t0 = time.perf_counter()
        index, info = make_index(vectors, ids)
        print(f"built the {args.size:,}-vector index ({info.to_dict()}) in "
              f"{time.perf_counter() - t0:.0f} s")
        args.work.mkdir(parents=True, exist_ok=True)
        faiss.write_index(index, str(path))
        (args.work / "info.json").write_text(json.dumps(info.to_dict()))
        del index
    loaded = load_index(path, info)
    _measure("1M index", loaded, _idmap(vectors, ids), queries, path, info.to_dict())


def _idmap(vectors: np.ndarray, ids: np.ndarray):
    import faiss

    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    exact.add_with_ids(vectors, ids)
    return exact


if __name__ == "__main__":
    main()
