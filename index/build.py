"""Build an index store from sources: read, chunk, dedupe, embed, write, publish."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from index.chunk import Deduper, chunk
from index.embed import Embedder
from index.sources import Source, SourceStats
from index.store import Manifest, StoreWriter, check_target, new_build_id, publish

__all__ = ["BuildError", "BuildOptions", "BuildReport", "build"]

logger = logging.getLogger(__name__)


class BuildError(Exception):
    """The build could not produce a store (nothing was published)."""


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How passages are cut and embedded."""

    max_sentences: int = 3
    max_chars: int = 600
    encode_batch: int = 64
    embed_step: int = 256
    progress: bool = False


@dataclass
class BuildReport:
    """What a build read, skipped and wrote."""

    manifest: Manifest
    sources: list[SourceStats]
    passages_by_source: dict[str, int]
    duplicates: int
    seconds: float
    embed_seconds: float

    @property
    def skipped(self) -> int:
        return sum(s.skipped for s in self.sources)

    @property
    def embed_rate(self) -> float:
        return self.manifest.passages / self.embed_seconds if self.embed_seconds else 0.0


def build(
    sources: Sequence[Source],
    out: Path,
    embedder: Embedder,
    options: BuildOptions | None = None,
) -> BuildReport:
    """Build a store at ``out`` from sources; the previous store stays until the new one is whole."""
    options = options or BuildOptions()
    started = time.perf_counter()
    build_id = new_build_id()
    # 1. Stage beside the target, so the final rename stays on one filesystem.
    out = out.resolve()
    check_target(out)  # fail now, not after minutes of embedding
    staged = out.with_name(f".{out.name}.tmp-{build_id}")
    writer = StoreWriter(staged, model=embedder.name, dim=embedder.dim)
    try:
        # 2. Read each source, cut records into passages, drop duplicates, spool to SQLite.
        deduper = Deduper()
        all_stats: list[SourceStats] = []
        per_source: dict[str, int] = {}
        for source in sources:
            stats = SourceStats(source.name)
            all_stats.append(stats)
            t0 = time.perf_counter()
            records = tqdm(
                source.read(stats), desc=f"read {source.name}", unit=" records",
                disable=None if options.progress else True, leave=False,
            )
            passages = (
                p for r in records
                for p in chunk(r, max_sentences=options.max_sentences, max_chars=options.max_chars)
            )
            per_source[source.name] = writer.add_passages(deduper.filter(passages))
            logger.info(
                "%s: %d records, %d skipped, %d passages in %.1fs",
                source.name, stats.read, stats.skipped, per_source[source.name],
                time.perf_counter() - t0,
            )
        total = writer.count()
        if total == 0:
            raise BuildError("the sources gave no passages; nothing to index")
        logger.info("%d passages (%d duplicates dropped)", total, deduper.dropped)

        # 3. Embed the spooled passages in steps, with a progress bar (rate and ETA).
        t0 = time.perf_counter()
        with tqdm(total=total, desc="embed", unit=" passages",
                  disable=None if options.progress else True) as bar:
            for ids, texts in writer.iter_embed_texts(options.embed_step):
                writer.add_vectors(ids, embedder.encode(texts, batch_size=options.encode_batch))
                bar.update(len(ids))
        embed_seconds = time.perf_counter() - t0
        logger.info("embedded %d passages in %.1fs (%.0f/s)", total, embed_seconds,
                    total / embed_seconds if embed_seconds else 0.0)

        # 4. Write index and manifest, then swap the new store into place.
        manifest = writer.finish(
            [
                {"name": s.name, "records": s.read, "skipped": s.skipped,
                 "passages": per_source[s.name]}
                for s in all_stats
            ],
            build_id=build_id,
        )
        publish(staged, out)
    except BaseException:
        # Interrupted or failed: remove the partial store, leave `out` untouched.
        writer.abort()
        raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return BuildReport(
        manifest=manifest,
        sources=all_stats,
        passages_by_source=per_source,
        duplicates=deduper.dropped,
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
    )
