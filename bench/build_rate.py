"""Index build rate against the model's raw encoding rate, with 1 and more embedding workers.

    .venv/bin/python bench/build_rate.py [--passages 3000] [--workers 1 2]

Takes N passages of the default index (real Factbook and Wikipedia text),
writes them as an operator JSONL file and builds an index from it the way
`aside index build --source jsonl:FILE --workers W` does, with the real model
(sentence-transformers, as builds use). Prints, for each worker count, the
build's passages per second overall and while embedding, beside the raw rate
of encoding the same texts in one call in this process: the build's
overhead (reading, chunking, SQLite, BM25, FAISS) is the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from index.settings import load as load_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path,
                        default=load_settings(os.environ).index_dir)
    parser.add_argument("--passages", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    from index.build import BuildOptions, build
    from index.embedders import SentenceTransformerEmbedder
    from index.sources import parse_spec
    from index.store import Store

    store = Store.open(args.index)
    step = max(1, store.manifest.passages // args.passages)
    passages = store.passages(range(1, store.manifest.passages + 1, step))
    rows = list(passages.values())[:args.passages]
    print(f"cores: {os.cpu_count()}; {len(rows)} passages of {args.index}")
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "passages.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for n, p in enumerate(rows):
                out.write(json.dumps({"id": f"p{n}", "text": p.text, "title": p.title,
                                      "url": p.url or "https://example.org/"}) + "\n")
        embedder = SentenceTransformerEmbedder(threads=os.cpu_count() or 1)
        embedder.encode(["warm up"])
        texts = [p.embed_text for p in rows]
        t0 = time.perf_counter()
        embedder.encode(texts)
        raw = len(texts) / (time.perf_counter() - t0)
        print(f"raw encoding, one process, {os.cpu_count()} threads: {raw:.1f} passages/s")
        for workers in args.workers:
            t0 = time.perf_counter()
            report = build([parse_spec(f"jsonl:{source}")], Path(work) / f"index-{workers}",
                           embedder, BuildOptions(workers=workers))
            seconds = time.perf_counter() - t0
            count = report.manifest.passages
            print(f"build, {workers} worker(s): {count} passages in {seconds:.1f} s = "
                  f"{count / seconds:.1f}/s overall (build / raw: {count / seconds / raw:.2f}), "
                  f"{report.embed_rate:.1f}/s while embedding; stages "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items()))


if __name__ == "__main__":
    main()
