"""The ``aside index`` commands: build, update, remove, stats, query; thin wrappers over
index.build and index.refresh (the lock and state beside the index).

Exit status of build, update and remove: 0 done; 1 failed, nothing changed; 2 a usage
error; 3 done, but some sources failed (their documents were kept) or the state beside the
index could not be saved; 75 another run of the same index holds its lock (nothing done).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from index import settings
from index.build import BuildError, BuildOptions, BuildReport, remove
from index.embedders import Embedder, load_embedder
from index.mirror import Mirror
from index.refresh import EX_TEMPFAIL, LockedError, Outcome, Session
from index.search import search_texts
from index.settings import IndexSettings
from index.sources import DEFAULT_SPECS, Source, parse_spec
from index.store import Store, StoreError
from index.vectors import INDEX_TYPES, IVF_MIN_PASSAGES

__all__ = ["index_group", "load_settings", "make_embedder"]

T = TypeVar("T")

logger = logging.getLogger(__name__)


def make_embedder(obj: Any, config: IndexSettings | None = None, *, build: bool = False) -> Embedder:
    """The embedder a command uses: one injected through the click context (tests), else the model.

    ``config``: the command's settings when it has read them, else read here from ``ASIDE_*``.
    ``build``: for ``index build|update``, the backend ASIDE_EMBED_BACKEND names (else torch).
    """
    if isinstance(obj, dict) and obj.get("embedder") is not None:
        embedder: Embedder = obj["embedder"]
        return embedder
    config = config or load_settings()
    if not build:
        return load_embedder(backend="torch", model_path=config.model_path, threads=config.torch_threads)
    # Builds embed with the export as the service does: about twice torch's rate, the same
    # vectors, and the same model name in the manifest, so a store built either way serves
    # with either. Under auto a build takes torch, saying why, when the export cannot run
    # or fails its vector check.
    return load_embedder(backend=config.embed_backend, model_path=config.model_path,
                         threads=config.torch_threads, onnx_dir=str(config.onnx_dir), build=True)


def load_settings() -> IndexSettings:
    """The index settings from ``ASIDE_*``; a wrong one is a click error naming it (exit code 1)."""
    try:
        return settings.load(os.environ)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


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


_SPEC_HELP = (
    "factbook[:CODES], wikipedia[:LANG], jsonl:PATH, csv:PATH, feed:URL-OR-PATH, html:URL-OR-PATH, "
    "claimreview:URL-OR-PATH, mediawiki:PATH or zim:PATH (a URL in place of a PATH is "
    "downloaded into the state beside the index); repeatable."
)


def _source_options(command: Any) -> Any:
    command = click.option(
        "--sources", "sources_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
        default=None, help="A sources.toml declaring the sources (with --source, both are used).",
    )(command)
    return click.option("--source", "specs", multiple=True, metavar="SPEC", help=_SPEC_HELP)(command)


def _sources(specs: tuple[str, ...], sources_file: Path | None, remote: Mirror) -> list[Source]:
    from index.sources.config import load_sources_file

    try:
        sources = [parse_spec(s, remote=remote) for s in specs]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    if sources_file is not None:
        try:
            sources += load_sources_file(sources_file, remote=remote)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sources") from exc
    names = [s.name for s in sources]
    if len(set(names)) < len(names):
        raise click.UsageError("a source is given twice: " + ", ".join(
            sorted({n for n in names if names.count(n) > 1})))
    return sources


def _build_options(max_sentences: int, index_type: str, workers: int, engine: str = "local",
                   address: str | None = None) -> BuildOptions:
    if address is not None and engine != "ray":
        raise click.UsageError("--address names a Ray cluster: it needs --engine ray")
    return BuildOptions(max_sentences=max_sentences, index_type=index_type, progress=True,
                        workers=workers, engine=engine, ray_address=address)


_max_sentences = click.option(
    "--max-sentences", type=click.IntRange(min=1), default=3, show_default=True,
    help="Sentences per passage, at most.",
)
_index_type = click.option(
    "--index-type", type=click.Choice(INDEX_TYPES), default="auto", show_default=True,
    help=f"FAISS index: exact (flat), approximate (ivf), or auto: ivf from {IVF_MIN_PASSAGES:,} "
    "passages on.",
)


_workers = click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True,
    help="Embedding processes, each with an equal share of the cores (1: one process using "
    "all of them). `--workers $(nproc)` runs one single-threaded model per core.",
)


def _engine_options(command: Any) -> Any:
    command = click.option(
        "--address", default=None, metavar="ADDR",
        help="With --engine ray: the Ray cluster's address, HOST:PORT of its head (e.g. "
        "127.0.0.1:6379) or ray://HOST:PORT; without it, Ray is started on this machine.",
    )(command)
    return click.option(
        "--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
        help="Where sources are read and cut and passages embedded: this machine, or a Ray "
        "cluster (pip install 'aside[ray]'); the store is written here either way.",
    )(command)


@index_group.command("build")
@click.option(
    "--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
    help="Directory to write the store to (replaced atomically when the build succeeds).",
)
@_source_options
@_max_sentences
@_index_type
@_workers
@_engine_options
@click.pass_context
def build_command(
    ctx: click.Context, out: Path, specs: tuple[str, ...], sources_file: Path | None,
    max_sentences: int, index_type: str, workers: int, engine: str, address: str | None,
) -> None:
    """Build an index store from sources (default: the Factbook and Wikipedia summaries).

    Remote sources are downloaded beside the store (OUT.state/) for the next update.
    """
    options = _build_options(max_sentences, index_type, workers, engine, address)

    def work(session: Session) -> Outcome:
        sources = (_sources(specs, sources_file, session.mirror)
                   or [parse_spec(s, remote=session.mirror) for s in DEFAULT_SPECS])
        return session.build(sources, lambda: make_embedder(ctx.obj, build=True), options)

    outcome = _locked("build", out, work)
    assert outcome.report is not None
    _echo_report(f"Built index {outcome.build_id} at {out}", outcome.report)
    _exit_for(outcome)


@index_group.command("update")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@_source_options
@_max_sentences
@_index_type
@_workers
@_engine_options
@click.pass_context
def update_command(
    ctx: click.Context, directory: Path, specs: tuple[str, ...], sources_file: Path | None,
    max_sentences: int, index_type: str, workers: int, engine: str, address: str | None,
) -> None:
    """Bring the store up to date with its sources; build it if there is none yet.

    Each source is checked first: a conditional request (ETag, Last-Modified) for a remote
    one, size and time for files. A source that has not changed is not read and nothing of
    it is embedded; only new or changed text is. Documents no longer in the sources are
    removed. A source that fails is reported and its documents are kept. State (copies of
    remote sources, fingerprints, a lock) lives beside the store, in DIRECTORY.state/.

    Exit status: 0 up to date; 1 failed (nothing changed); 3 up to date but for the sources
    that failed (their documents kept), or the state could not be saved; 75 another build or
    update of DIRECTORY is running.
    """
    options = _build_options(max_sentences, index_type, workers, engine, address)

    def work(session: Session) -> Outcome:
        sources = _sources(specs, sources_file, session.mirror)
        if not sources:
            raise click.UsageError(
                "say which sources the index is built from: --sources FILE or --source SPEC")
        return session.update(sources, lambda: make_embedder(ctx.obj, build=True), options)

    outcome = _locked("update", directory, work)
    _echo_outcome(directory, outcome)
    _exit_for(outcome)


@index_group.command("remove")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--doc", "doc_ids", multiple=True, required=True, metavar="ID",
              help="Document id to remove (see `aside index query --json`); repeatable.")
@_index_type
def remove_command(directory: Path, doc_ids: tuple[str, ...], index_type: str) -> None:
    """Write a new build of the store without the given documents.

    A document still in the sources comes back at the next `aside index update`.
    """
    if not (directory / "manifest.json").is_file():  # and leave no state beside nothing
        raise click.ClickException(f"remove failed: there is no index at {directory}")

    def work(session: Session) -> BuildReport:
        return remove(directory, doc_ids, BuildOptions(index_type=index_type, progress=True))

    report = _locked("remove", directory, work)
    _echo_report(f"Removed {len(set(doc_ids))} document(s) from {directory}: "
                 f"build {report.manifest.build_id}", report)


def _locked(action: str, directory: Path, work: Callable[[Session], T]) -> T:
    """Run a build step holding the index's lock; a failure is the user's to read, and the
    store is untouched. Exits with 75 when another run holds the lock."""
    if not directory.name and directory.resolve() == Path.cwd():  # "" or "."
        raise click.UsageError(f"name the index directory ({str(directory)!r} is the current "
                               "directory, which a build would replace)")
    try:
        with Session(directory) as session:
            return work(session)
    except LockedError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    except (BuildError, StoreError, ValueError, OSError, ImportError) as exc:
        # ImportError: a source kind whose optional library is not installed says which
        raise click.ClickException(f"{action} failed, nothing was changed at {directory}: {exc}") from exc


def _exit_for(outcome: Outcome) -> None:
    if outcome.state_error:
        click.echo(f"Warning: build {outcome.build_id} is served, but the state beside it could "
                   f"not be saved ({outcome.state_error}): the next update reads every source "
                   "again", err=True)
    if outcome.failed:
        click.echo(f"{len(outcome.failed)} source(s) failed: their documents from the previous "
                   "build were kept", err=True)
    if outcome.failed or outcome.state_error:
        sys.exit(3)


_DOCS = ("new", "changed", "removed", "unchanged")


def _echo_outcome(directory: Path, outcome: Outcome) -> None:
    """What an update did: per source, then the build's own report (if one was written)."""
    if outcome.report is None:
        click.echo(f"Nothing changed at {directory}: build {outcome.build_id} kept, nothing written")
    elif outcome.previous_build_id is None:
        click.echo(f"Built index {outcome.build_id} at {directory} (there was none)")
    else:
        click.echo(f"Updated {directory}: build {outcome.build_id} replaces {outcome.previous_build_id}")
    for source in outcome.sources:
        counts = ", ".join(f"{source.documents[k]} {k}" for k in _DOCS if source.documents[k])
        total = sum(source.documents[k] for k in _DOCS)
        counts += (" document" if total == 1 else " documents") if counts else ""
        if source.status == "new":
            counts = f"{total} document" + ("" if total == 1 else "s")
        if source.status == "failed":
            line = f"FAILED: {source.detail}"
            kept = source.documents["unchanged"]
            line += (f"; its {kept} documents were kept" if kept else
                     "; the documents it had are kept" if outcome.report is None else "")
        elif source.status == "unchanged":
            line = f"unchanged, not read: {source.detail}" + (f"; {counts}" if counts else "")
        elif source.status == "read":
            line = f"read again, no change ({counts or 'no documents'})"
        elif source.status == "removed" and not counts:
            line = "removed: no longer declared (its documents are another source's now)"
        else:
            line = f"{source.status}: {counts or 'no documents'}"
        click.echo(f"  {source.name}: {line}")
    if outcome.report is not None:
        _echo_report("Details:", outcome.report)


def _echo_report(title: str, report: BuildReport) -> None:
    manifest = report.manifest
    click.echo(title)
    for stats in report.sources:
        if stats.failed:
            click.echo(f"  {stats.name}: FAILED: {stats.failed}")
            continue
        click.echo(
            f"  {stats.name}: {stats.read} records, {stats.skipped} skipped, "
            f"{report.passages_by_source.get(stats.name, 0)} passages"
        )
        for reason, count in stats.reasons.most_common(5):
            click.echo(f"      skipped {count}: {reason}")
        for what, count in stats.notes.most_common():
            click.echo(f"      {what}: {count}")
    docs, passages = report.documents, report.passages
    click.echo(
        f"  documents: {docs['new']} new, {docs['changed']} changed, {docs['unchanged']} unchanged, "
        f"{docs['removed']} removed, {report.skipped} skipped"
    )
    click.echo(
        f"  passages: {passages['added']} added, {passages['removed']} removed, "
        f"{passages['unchanged']} unchanged ({report.duplicates} duplicates dropped); "
        f"{passages['embedded']} embedded"
        + (f" at {report.embed_rate:.0f}/s" if passages["embedded"] else "")
    )
    index = manifest.index
    recall = f", recall@10 {index['recall_at_10']:.3f} vs exact" if "recall_at_10" in index else ""
    click.echo(f"  index: {manifest.passages} passages, {index.get('type', 'flat')}{recall}; "
               f"model {manifest.model} ({manifest.dim}d)")
    stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in report.stages.items())
    click.echo(f"  time: {report.seconds:.1f}s ({stages})")


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
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    click.echo(f"index     {directory}")
    click.echo(f"build     {manifest.build_id} (created {manifest.created})")
    click.echo(f"model     {manifest.model}, {manifest.dim} dimensions, {manifest.metric}")
    click.echo(f"passages  {manifest.passages}")
    index = manifest.index
    if index.get("type") == "ivf":
        codes = ", 8-bit codes re-scored exactly" if index.get("codes") == "sq8" else ""
        click.echo(f"vectors   IVF, {index.get('nlist')} lists{codes}, nprobe {index.get('nprobe')}, "
                   f"recall@10 {index.get('recall_at_10')} against exact search (measured at build)")
    else:
        click.echo("vectors   flat (exact search)")
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
        # A fact-check always shows its claim, rating and reviewer, as a card does; a store
        # built before fact-checks had titles shows "Fact-check by" its reviewer, not its id.
        fact_check = p.kind == "fact-check"
        title = p.title or (f"Fact-check by {p.publisher}" if fact_check and p.publisher else p.doc_id)
        click.echo(f"{rank}. {hit.score:.3f}  {p.publisher or p.source} — {title}")
        click.echo(f"   {'Claim: ' if fact_check else ''}{p.text}")
        if fact_check:
            verdict = f"rated “{p.rating}”" if p.rating else "no rating"
            reviewer = f" by {p.publisher}" if p.publisher else ""
            claimant = f"; claimed by {p.claimant}" if p.claimant else ""
            click.echo(f"   Fact-check: {verdict}{reviewer}{claimant}")
        if p.url:
            click.echo(f"   {p.url}")
