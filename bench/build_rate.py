"""Index build rate against the model's raw encoding rate, per backend, with 1 and more workers.

    .venv/bin/python bench/build_rate.py [--passages 3000] [--workers 1 2]
        [--backend torch openvino onnx] [--rounds 1]

Takes N passages of the default index (real Factbook and Wikipedia text),
writes them as an operator JSONL file and builds an index from it the way
`ASIDE_EMBED_BACKEND=B aside index build --source jsonl:FILE --workers W` does,
with the real model (sentence-transformers, or its export in ASIDE_ONNX_DIR run
by onnxruntime or OpenVINO). Prints, for each backend and worker count, the
build's passages per second overall and while embedding, beside the raw rate
of encoding the same texts in one call in this process: the build's
overhead (reading, chunking, SQLite, BM25, FAISS) is the difference. Backends
take turns within each round, so a busy machine slows them alike.
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
    parser.add_argument("--backend", nargs="+", default=["torch"],
                        choices=["torch", "onnx", "openvino", "auto"])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    from index.build import BuildOptions, build
    from index.embedders import load_embedder
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
        onnx_dir = str(load_settings(os.environ).onnx_dir)
        texts = [p.embed_text for p in rows]
        for _ in range(args.rounds):
            for backend in args.backend:
                embedder = load_embedder(backend=backend, onnx_dir=onnx_dir,
                                         threads=os.cpu_count() or 1)
                embedder.encode(["warm up"])
                t0 = time.perf_counter()
                embedder.encode(texts)
                raw = len(texts) / (time.perf_counter() - t0)
                print(f"{backend}: raw encoding, one process, {os.cpu_count()} threads: "
                      f"{raw:.1f} passages/s")
                for workers in args.workers:
                    t0 = time.perf_counter()
                    report = build([parse_spec(f"jsonl:{source}")],
                                   Path(work) / f"index-{backend}-{workers}",
                                   embedder, BuildOptions(workers=workers))
                    seconds = time.perf_counter() - t0
                    count = report.manifest.passages
                    print(f"{backend}: build, {workers} worker(s): {count} passages in "
                          f"{seconds:.1f} s = {count / seconds:.1f}/s overall (build / raw: "
                          f"{count / seconds / raw:.2f}), {report.embed_rate:.1f}/s while "
                          "embedding; stages "
                          + ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items()))

if __name__ == "__main__":
    main()
