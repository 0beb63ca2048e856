"""The ``aside index`` commands: build, stats, query. Thin wrappers over index.build and index.store."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from index import settings
from index.build import BuildError, BuildOptions, build
from index.embed import Embedder, SentenceTransformerEmbedder
from index.search import search_texts
from index.sources import DEFAULT_SPECS, parse_spec
from index.store import Store, StoreError

__all__ = ["index_group", "make_embedder"]

logger = logging.getLogger(__name__)


def make_embedder(obj: Any) -> Embedder:
    """The embedder a command uses: one injected through the click context (tests), else the model."""
    if isinstance(obj, dict) and obj.get("embedder") is not None:
        embedder: Embedder = obj["embedder"]
        return embedder
    path = settings.get("MODEL_PATH")
    return SentenceTransformerEmbedder(
        Path(path) if path else None, threads=int(settings.get("TORCH_THREADS"))
    )


def _open_store(directory: Path, embedder: Embedder | None = None) -> Store:
    try:
        if embedder is None:
            return Store.open(directory)
        return Store.open(directory, model=embedder.name, dim=embedder.dim)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("index")
def index_group() -> None:
    """Build and inspect index stores."""


@index_group.command("build")
@click.option(
    "--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
    help="Directory to write the store to (replaced atomically when the build succeeds).",
)
@click.option(
    "--source", "specs", multiple=True, metavar="SPEC",
    help="factbook[:CODES], wikipedia[:LANG], jsonl:PATH, csv:PATH, feed:URL-OR-PATH or "
    "html:URL-OR-PATH; repeatable. "
    f"Default: {' and '.join(DEFAULT_SPECS)}.",
)
@click.option(
    "--sources", "sources_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None, help="A sources.toml declaring the sources (with --source, both are used).",
)
@click.option("--max-sentences", default=3, show_default=True, help="Sentences per passage, at most.")
@click.pass_context
def build_command(
    ctx: click.Context, out: Path, specs: tuple[str, ...], sources_file: Path | None,
    max_sentences: int,
) -> None:
    """Build an index store from sources."""
    from index.sources.config import load_sources_file

    try:
        sources = [parse_spec(s) for s in specs]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    if sources_file is not None:
        try:
            sources += load_sources_file(sources_file)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sources") from exc
    if not sources:
        sources = [parse_spec(s) for s in DEFAULT_SPECS]
    embedder = make_embedder(ctx.obj)
    try:
        report = build(
            sources, out, embedder,
            BuildOptions(max_sentences=max_sentences, progress=True),
        )
    except (BuildError, StoreError, ValueError, OSError) as exc:
        raise click.ClickException(f"build failed, nothing was changed at {out}: {exc}") from exc
    manifest = report.manifest
    click.echo(f"Built index {manifest.build_id} at {out}")
    for stats in report.sources:
        click.echo(
            f"  {stats.name}: {stats.read} records, {stats.skipped} skipped, "
            f"{report.passages_by_source[stats.name]} passages"
        )
        for reason, count in stats.reasons.most_common(5):
            click.echo(f"      skipped {count}: {reason}")
    click.echo(f"  duplicates dropped: {report.duplicates}")
    click.echo(
        f"  {manifest.passages} passages, model {manifest.model} ({manifest.dim}d), "
        f"embedded at {report.embed_rate:.0f} passages/s, {report.seconds:.1f}s in all"
    )


@index_group.command("stats")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def stats_command(directory: Path, as_json: bool) -> None:
    """Describe a store and check its files against the manifest."""
    store = _open_store(directory)
    manifest = store.manifest
    if as_json:
        click.echo(json.dumps(manifest.to_dict(), indent=2))
        return
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    click.echo(f"index     {directory}")
    click.echo(f"build     {manifest.build_id} (created {manifest.created})")
    click.echo(f"model     {manifest.model}, {manifest.dim} dimensions, {manifest.metric}")
    click.echo(f"passages  {manifest.passages}")
    click.echo(f"size      {size / 1e6:.1f} MB; checksums ok")
    for source in manifest.sources:
        click.echo(
            f"  {source['name']}: {source.get('records', '?')} records, "
            f"{source.get('skipped', 0)} skipped, {source.get('passages', '?')} passages"
        )


@index_group.command("query")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.argument("text")
@click.option("-k", "k", default=5, show_default=True, help="Passages to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@click.pass_context
def query_command(ctx: click.Context, directory: Path, text: str, k: int, as_json: bool) -> None:
    """Show the passages closest to TEXT, with their cosine scores."""
    if not text.strip():
        raise click.BadParameter("the query text is empty", param_hint="TEXT")
    embedder = make_embedder(ctx.obj)
    store = _open_store(directory, embedder)
    hits = search_texts(store, embedder, [text], k=k)[0]
    if as_json:
        click.echo(json.dumps(
            [{"score": round(h.score, 4), **h.passage.to_dict()} for h in hits], indent=2
        ))
        return
    for rank, hit in enumerate(hits, start=1):
        p = hit.passage
        click.echo(f"{rank}. {hit.score:.3f}  {p.publisher or p.source} — {p.title or p.doc_id}")
        click.echo(f"   {p.text}")
        if p.url:
            click.echo(f"   {p.url}")
