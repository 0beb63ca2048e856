"""Aside next to txtai, the open embeddings + FAISS service a self-hoster would otherwise pick.

    .venv/bin/python bench/peer_txtai.py [--source SPEC] [--articles N] [--clients 1 2 4]

Both systems get the same passages (default: the Factbook profiles of 20
countries, cut into passages by Aside's builder and given to txtai as they
are), the same model (the packaged all-MiniLM-L6-v2, loaded from its path, on
the same number of threads) and the same work: the sentences of cold
40-sentence articles (LIAR statements never sent before), top 3 per sentence.
Aside answers through its whole pipeline (segmenting, cleaning, embedding,
hybrid search, ranking, cards) in-process, txtai through ``batchsearch``
(embedding and FAISS search). Prints articles per second and latency for each,
one run, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from common import liar_statements, percentile

from index.settings import load as load_settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

COUNTRIES = "mx,us,ca,ch,co,in,br,fr,gm,uk,it,sp,ja,rs,as,sf,ni,eg,id,tu"


def _articles(statements: Iterator[str], count: int) -> list[list[str]]:
    return [[next(statements) for _ in range(40)] for _ in range(count)]


def _run(label: str, answer: Callable[[list[str]], object], articles: list[list[str]], clients: int) -> float:
    times: list[float] = []
    lock = threading.Lock()
    queue = list(articles)

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                article = queue.pop()
            t0 = time.perf_counter()
            answer(article)
            with lock:
                times.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = len(times) / (time.perf_counter() - started)
    print(f"  {label:>6}, {clients} client(s): {rate:.2f} articles/s; latency p50 "
          f"{statistics.median(times):.0f} ms, p95 {percentile(times, 0.95):.0f} ms")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=f"factbook:{COUNTRIES}")
    parser.add_argument("--articles", type=int, default=30)
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--data-dir", type=Path, default=load_settings(os.environ).data_dir,
                        help="the public datasets [default: ASIDE_DATA_DIR]")
    parser.add_argument("--backend", default="auto",
                        help="Aside's embedding backend (default: the service's)")
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("no data directory: set ASIDE_DATA_DIR or pass --data-dir")
    # txtai loads the model itself, not through index.embedders: keep it from the hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    threads = os.cpu_count() or 1

    from index.build import build
    from index.embedders import SentenceTransformerEmbedder, load_embedder, packaged_model_path
    from index.sources import parse_spec
    from index.store import Store
    from server import create_app
    from server.api import context_response

    work = Path(tempfile.mkdtemp(prefix="aside-peer-"))
    report = build([parse_spec(args.source)], work / "index", SentenceTransformerEmbedder(threads=threads))
    store = Store.open(work / "index")
    passages = store.passages(range(1, store.manifest.passages + 1))
    print(f"cores: {threads}; {len(passages)} passages from {args.source} "
          f"(built in {report.seconds:.0f} s); 40-sentence articles, top 3 per sentence")

    import torch
    from txtai import Embeddings

    torch.set_num_threads(threads)
    peer = Embeddings(path=str(packaged_model_path()), content=True, backend="faiss")
    t0 = time.perf_counter()
    peer.index([(pid, p.embed_text, None) for pid, p in passages.items()])
    print(f"txtai indexed them in {time.perf_counter() - t0:.0f} s")

    embedder = load_embedder(backend=args.backend, threads=threads,
                             onnx_dir=str(ROOT / "var" / "model-onnx"))
    app = create_app({"INDEX_DIR": str(work / "index"), "EMBEDDER": embedder, "CACHE_SENTENCES": 0,
                      "RATE_LIMIT_PER_ADDRESS": ""})
    config = app.config

    def aside(article: list[str]) -> object:
        body = {"blocks": [{"id": f"p{i}", "text": s} for i, s in enumerate(article)]}
        return context_response(json.loads(json.dumps(body)), config, embedder, store)

    def txtai(article: list[str]) -> object:
        return peer.batchsearch(article, 3)

    statements = liar_statements(args.data_dir)
    aside(next(iter(_articles(statements, 1))))  # warm both up
    txtai(next(iter(_articles(statements, 1))))
    for clients in args.clients:
        print(f"{clients} client(s):")
        ours = _run("Aside", aside, _articles(statements, args.articles), clients)
        theirs = _run("txtai", txtai, _articles(statements, args.articles), clients)
        print(f"  Aside / txtai throughput: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
