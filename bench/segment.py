"""Sentence splitting: score on the news-style case set, and time of the segment stage.

    .venv/bin/python bench/segment.py [--root DIR] [--runs N] [--pysbd]

1. Score: every case of tests/fixtures/segmentation/en_news.jsonl split with
   index.text.split_sentences; cases fully right / total, and precision and
   recall of the boundaries between sentences (a boundary is where one
   expected sentence ends; it counts when a predicted sentence ends there).
2. Time: server.pipeline.segment.segment over a 40-sentence article (the
   paragraphs of bench/article_fentanyl_tariffs.txt, 39 sentences, then case
   paragraphs until 40 expected sentences), p50 and p95 over N runs, in ms.

--root imports index/ and server/ from another checkout of Aside (e.g. a
`git worktree` of HEAD) so the code before a change can be measured on the
same cases. --pysbd scores pySBD as well, when it is installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE.parent / "tests" / "fixtures" / "segmentation" / "en_news.jsonl"
ARTICLE = HERE / "article_fentanyl_tariffs.txt"
ARTICLE_SENTENCES = 39  # its thirteen paragraphs, counted by hand
TARGET_SENTENCES = 40

Splitter = Callable[[str], list[str]]


def _boundaries(text: str, sentences: list[str]) -> set[int]:
    """Offsets where each sentence but the last ends, found in order in the text."""
    ends, cursor = [], 0
    for sentence in sentences:
        cursor = text.index(sentence, cursor) + len(sentence)
        ends.append(cursor)
    return set(ends[:-1])


def score(cases: list[dict], split: Splitter) -> tuple[int, float, float, list[dict]]:
    """(cases fully right, boundary precision, boundary recall, the wrong cases)."""
    right, hits, predicted, expected, wrong = 0, 0, 0, 0, []
    for case in cases:
        got = split(case["text"])
        if got == case["sentences"]:
            right += 1
        else:
            wrong.append({**case, "got": got})
        gold = _boundaries(case["text"], case["sentences"])
        mine = _boundaries(case["text"], got)
        hits, predicted, expected = hits + len(gold & mine), predicted + len(mine), expected + len(gold)
    precision = hits / predicted if predicted else 1.0
    recall = hits / expected if expected else 1.0
    return right, precision, recall, wrong


def _article_blocks(cases: list[dict]) -> list[str]:
    lines = ARTICLE.read_text(encoding="utf-8").split("\n\n")
    blocks, count = [p.strip() for p in lines[1:] if p.strip()], ARTICLE_SENTENCES
    for case in cases:
        if count >= TARGET_SENTENCES:
            break
        blocks.append(case["text"])
        count += len(case["sentences"])
    return blocks


def time_segment(blocks: list[str], runs: int) -> tuple[int, float, float]:
    """(sentences, p50 ms, p95 ms) of segment() over the blocks."""
    from server.pipeline.segment import segment
    from server.schema import Block

    article = [Block(f"b{n}", text) for n, text in enumerate(blocks)]
    sentences = len(list(segment(article)))
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        list(segment(article))
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return sentences, statistics.median(times), times[int(0.95 * (len(times) - 1))]


def _report(name: str, cases: list[dict], split: Splitter, *, show: bool) -> None:
    right, precision, recall, wrong = score(cases, split)
    print(f"{name}: {right}/{len(cases)} cases right; boundaries precision {precision:.3f}, "
          f"recall {recall:.3f}")
    for case in wrong if show else []:
        print(f"  [{case['kind']}] {case['text']!r}\n    got {case['got']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE.parent,
                        help="checkout of Aside whose index/ and server/ are measured")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--pysbd", action="store_true", help="score pySBD too, if installed")
    parser.add_argument("--show", action="store_true", help="print the cases split wrongly")
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from index.text import split_sentences

    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line]
    print(f"code: {args.root.resolve()}")
    _report("split_sentences", cases,
            lambda t: [t[s.start:s.end] for s in split_sentences(t, "en")], show=args.show)
    blocks = _article_blocks(cases)
    sentences, p50, p95 = time_segment(blocks, args.runs)
    print(f"segment(): {len(blocks)} blocks, {sentences} sentences, {args.runs} runs: "
          f"p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    if args.pysbd:
        try:
            import pysbd
        except ImportError:
            print("pysbd is not installed; skipped")
            return
        seg = pysbd.Segmenter(language="en", clean=False)
        _report("pysbd", cases, lambda t: [s.strip() for s in seg.segment(t) if s.strip()],
                show=args.show)
        text = "\n\n".join(blocks)
        times = []
        for _ in range(max(1, args.runs // 20)):
            began = time.perf_counter()
            for block in blocks:
                seg.segment(block)
            times.append((time.perf_counter() - began) * 1000)
        print(f"pysbd over the same blocks ({len(text)} characters): "
              f"p50 {statistics.median(times):.3f} ms")


if __name__ == "__main__":
    main()
