"""Build rate of the ray engine on a two-node Ray cluster on loopback, against a local build.

    .venv/bin/python bench/ray_build.py [--source factbook:mx,ca,us,br,in,cn] [--cpus 1]

Starts a head and a worker node of ``--cpus`` CPUs each on 127.0.0.1 (as the tests do:
tests/index/ray_cluster.py), builds the same sources with the real model once in this process
(one process, all cores) and once with ``--engine ray`` (one single-threaded model per CPU of
the cluster), and prints passages per second overall and per stage, then checks the two stores
agree: the same passages, the largest difference between their vectors, and how many of the
top 5 passages for a set of queries are the same. On one machine the cluster shares its cores
with this process, so it cannot be faster here: the difference is Ray's overhead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [
    "Mexico is the largest supplier of fentanyl seized at the US border.",
    "Canada's population is concentrated near the southern border.",
    "Oil exports make up a large share of government revenue.",
    "The president is elected for a single six-year term.",
    "Severe earthquakes and volcanic eruptions are natural hazards.",
    "Most of the country's trade goes to the United States.",
    "Rice is the staple food of most of the population.",
    "The monsoon brings most of the year's rain.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="factbook:mx,ca,us,br,in,cn")
    parser.add_argument("--cpus", type=int, default=1, help="CPUs of each of the two nodes")
    args = parser.parse_args()
    from index.build import BuildOptions, build
    from index.embedders import SentenceTransformerEmbedder
    from index.search import search_texts
    from index.sources import parse_spec
    from index.store import Store
    from tests.index.ray_cluster import LoopbackCluster

    cores = os.cpu_count() or 1
    embedder = SentenceTransformerEmbedder(threads=cores)
    embedder.encode(["warm up"])
    cluster = LoopbackCluster(cpus=args.cpus).start()
    os.environ.update(cluster.auth)
    print(f"cores: {cores}; cluster: 2 nodes of {args.cpus} CPU(s) on {cluster.address}; {args.source}")
    try:
        with tempfile.TemporaryDirectory() as work:
            runs = {"local": BuildOptions(),
                    "ray": BuildOptions(engine="ray", ray_address=cluster.address)}
            for name, options in runs.items():
                t0 = time.perf_counter()
                report = build([parse_spec(args.source)], Path(work) / name, embedder, options)
                seconds = time.perf_counter() - t0
                count = report.manifest.passages
                print(f"{name}: {count} passages in {seconds:.1f} s = {count / seconds:.1f}/s overall; "
                      + ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items())
                      + f"; {report.embed_rate:.1f}/s while embedding")
            local, ray = Store.open(Path(work) / "local"), Store.open(Path(work) / "ray")
            ids = np.arange(1, local.manifest.passages + 1)
            same = ([p.to_dict() for p in local.passages(ids).values()]
                    == [p.to_dict() for p in ray.passages(ids).values()])
            delta = float(np.abs(local.vectors(ids) - ray.vectors(ids)).max())
            top_local = search_texts(local, embedder, QUERIES, k=5)
            top_ray = search_texts(ray, embedder, QUERIES, k=5)
            agree = sum([h.passage.id for h in a] == [h.passage.id for h in b]
                        for a, b in zip(top_local, top_ray, strict=True))
            print(f"equal: passages {same} ({len(ids)}); max |vector difference| {delta:.2e}; "
                  f"top 5 identical for {agree}/{len(QUERIES)} queries")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
