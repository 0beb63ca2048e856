"""The ``aside eval`` commands: news, fit-rescorer, checkthat, scifact, climate-fever."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click

from index import settings as index_settings
from index.cli import load_settings, make_embedder
from index.settings import IndexSettings, option_from
from server import pipeline
from server.evaluate.datasets import Dataset, load_checkthat, load_climate_fever, load_scifact
from server.evaluate.runner import EvalResult, cached_store, evaluate
from server.feedback.blocks import Blocklist

__all__ = ["eval_group"]

_SYSTEM_LABELS = {"bm25": "BM25 alone (bm25s)", "dense": "dense alone (same model)",
                  "aside": "Aside (fused)"}


_DATA_DIR = index_settings.BY_NAME["DATA_DIR"]


def _dataset_dir(given: Path | None, folder: str, config: IndexSettings) -> Path:
    """The dataset folder: ``--data-dir``, else ``folder`` in the data directory setting."""
    if given is not None:
        return given
    if config.data_dir is None:
        raise click.UsageError(f"no data directory: set {_DATA_DIR.env} or pass --data-dir "
                               f"(the {folder} folder)")
    return config.data_dir / folder


def _data_dir_option(folder: str) -> Callable[[Any], Any]:
    return click.option(
        "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
        help=f"Dataset folder [default: ${_DATA_DIR.env}/{folder}].",
    )


_common = [
    click.option("--run-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
                 help="Write Aside's ranking as a TREC run file (top 100 per query)."),
    click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON."),
    click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                 help="Where evaluation indexes are kept [default: var/eval under the repository]."),
]


def _with(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """A decorator that adds a list of click options to a command, in the list's order."""
    def decorate(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func
    return decorate


_with_common = _with(_common)


@click.group("eval")
def eval_group() -> None:
    """Measure retrieval on public benchmarks (BM25, dense and Aside side by side)."""


def _news_setup(ctx: click.Context, data_dir: Path | None, index_dir: Path,
                extra_judgments: tuple[Path, ...], *, rescore: bool) -> tuple[Any, ...]:
    """Articles, judgments, embedder, store and the service's settings for the news commands."""
    from server import settings
    from server.evaluate.news import PROJECT_JUDGMENTS, load_articles, load_judgments
    from server.resources import load_resources

    try:
        # The service's settings, so the cards are the ones /v1/context would show.
        config = settings.load(os.environ, {"INDEX_DIR": index_dir},
                               {} if rescore else {"RESCORE_MODEL": "off"})
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    folder = _dataset_dir(data_dir, "news_dev", config)
    files = (folder / "judgments.jsonl", PROJECT_JUDGMENTS, *extra_judgments)
    try:
        articles = load_articles(folder)
        judgments = load_judgments(files)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(f"cannot read the news dev set: {exc}") from exc
    injected = ctx.obj.get("embedder") if isinstance(ctx.obj, dict) else None
    # Otherwise the service's own embedder (ASIDE_EMBED_BACKEND): the vectors /v1/context uses.
    try:
        resources = load_resources(config, injected)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if resources.store is None:
        raise click.ClickException(str(resources.error))
    return articles, judgments, files, config, resources


_news_common = [
    _data_dir_option("news_dev"),
    option_from(index_settings.BY_NAME["INDEX_DIR"], "--index", "index_dir",
                type=click.Path(path_type=Path, file_okay=False)),
    click.option("--judgments", "extra_judgments", multiple=True,
                 type=click.Path(path_type=Path, dir_okay=False, exists=True),
                 help="More judgments (JSONL, same fields); repeatable."),
]

_with_news = _with(_news_common)


@eval_group.command("news")
@_with_news
@click.option("--rescore/--no-rescore", default=True, show_default=True,
              help="Gate cards on the rescoring model's confidence, or on the fused score alone.")
@click.option("--threshold", "thresholds", multiple=True, type=float,
              help="Thresholds to report (confidence, or fused score with --no-rescore); "
              "repeatable [default: a range, and the default setting].")
@click.option("--articles", "limit", type=click.IntRange(1), default=None,
              help="Only the first N articles (a quick slice).")
@click.option("--unjudged", "unjudged_out", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Write the shown cards that have no judgment to FILE (JSONL).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--blocks", "blocks_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Honour the blocks in this feedback directory (its "
              "feedback.sqlite3), as the service would [default: none, the published figures].")
@click.pass_context
def news(
    ctx: click.Context, /, data_dir: Path | None, index_dir: Path,
    extra_judgments: tuple[Path, ...], rescore: bool, thresholds: tuple[float, ...],
    limit: int | None, unjudged_out: Path | None, as_json: bool, blocks_dir: Path | None,
) -> None:
    """Judged real news: how many sentences get a helpful card, and how many cards help."""
    from server.evaluate.news import evaluate_news, write_unjudged

    articles, judgments, _, config, resources = _news_setup(ctx, data_dir, index_dir,
                                                            extra_judgments, rescore=rescore)
    rescorer = resources.rescorer if rescore else None
    if rescore and rescorer is None:
        raise click.ClickException("rescoring is off (ASIDE_RESCORE_MODEL=off); use --no-rescore")
    blocklist = _blocklist(blocks_dir, resources.embedder.dim) if blocks_dir else None
    options = pipeline.Options.from_config(config.to_config(), rescorer=rescorer,
                                           blocklist=blocklist)
    if not thresholds:
        thresholds = ((0.3, 0.4, 0.5, 0.6, 0.7, 0.8) if rescore
                      else (0.42, 0.45, 0.5, 0.55, 0.6, 0.65))
    report = evaluate_news(articles[:limit], judgments, resources.embedder, resources.store,
                           options, thresholds)
    if unjudged_out is not None:
        count = write_unjudged(report.unjudged, unjudged_out)
        click.echo(f"wrote {count} unjudged cards to {unjudged_out}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    gate = "confidence" if rescore else "fused score"
    click.echo(f"news dev set: {report.rows[0].articles} articles, {report.searched} sentences "
               f"searched; judgments: {', '.join(f'{n} {k}' for k, n in report.judgments.items())}")
    if blocklist is not None:
        click.echo(f"with the {len(blocklist)} blocks in {blocks_dir}")
    click.echo(f"{gate:>12}  {'coverage':>9}  {'precision':>9}  {'wrong':>6}  {'shown':>6}  "
               f"{'helpful':>7}  {'unjudged':>8}  {'no card':>7}  {'cards/article':>13}")
    for row in report.rows:
        mark = " (default)" if row.default else ""
        click.echo(
            f"{row.threshold:>12.3f}  {row.coverage:>9.1%}  {row.precision:>9.1%}  "
            f"{row.wrong_rate:>6.1%}  {row.shown:>6}  {row.helpful:>7}  {row.unjudged:>8}  "
            f"{row.articles_without_card:>7}  {row.cards_per_article:>13.2f}{mark}")
    click.echo(f"ceiling: {report.ceiling} sentences ({report.ceiling_coverage:.1%}) have a "
               f"judged-helpful passage in their top 50 hits")
    click.echo("timings (ms, all articles): " + ", ".join(
        f"{k} {v:.0f}" for k, v in report.timings_ms.items()))


def _blocklist(directory: Path, dim: int) -> Blocklist:
    """The blocks in a feedback directory named on purpose: one without a database is a mistake."""
    import sqlite3

    from server.feedback import DB_FILE
    from server.feedback.blocks import load_blocklist

    if not (directory / DB_FILE).is_file():
        raise click.BadParameter(f"no feedback database ({DB_FILE}) in {directory}",
                                 param_hint="--blocks")
    try:
        return load_blocklist(directory, dim=dim)
    except (OSError, sqlite3.Error, ValueError) as exc:
        raise click.ClickException(f"cannot read the blocks in {directory}: {exc}") from exc


@eval_group.command("fit-rescorer")
@_with_news
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the model [default: the shipped server/pipeline/rescorer.json].")
@click.option("--target", type=click.FloatRange(0.0, 1.0), default=0.80, show_default=True,
              help="Precision (share of helpful cards, out of fold) the default threshold must reach.")
@click.pass_context
def fit_rescorer_command(
    ctx: click.Context, /, data_dir: Path | None, index_dir: Path,
    extra_judgments: tuple[Path, ...], out: Path | None, target: float,
) -> None:
    """Refit the rescoring model on the judged news cards (folds split by article)."""
    from server.evaluate.fit import fit_rescorer
    from server.pipeline.rescore import DEFAULT_MODEL

    articles, judgments, files, config, resources = _news_setup(ctx, data_dir, index_dir,
                                                                extra_judgments, rescore=False)
    try:
        report = fit_rescorer(articles, judgments, resources.embedder, resources.store,
                              pipeline.Options.from_config(config.to_config()), target=target,
                              judgment_files=files)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    target_path = out or DEFAULT_MODEL
    target_path.write_text(json.dumps(report.model.to_dict(), indent=2) + "\n", encoding="utf-8")
    click.echo(f"fitted on {report.rows} judged cards ({report.positives} helpful); "
               f"C={report.chosen_c:g}; out-of-fold log loss {report.cv_log_loss:.4f}, "
               f"AUC {report.cv_auc:.4f}")
    click.echo(f"out of fold (each article scored by a model that never saw it; {report.repeats} "
               "splits pooled, cards and articles a split):")
    click.echo(f"{'confidence':>10}  {'coverage':>9}  {'precision':>9}  {'wrong':>6}  "
               f"{'shown':>6}  {'unjudged':>8}  {'no card':>7}")
    for row in report.cv_rows:
        mark = " (chosen)" if row.default else ""
        n = report.repeats
        click.echo(f"{row.threshold:>10.3f}  {row.coverage:>9.1%}  {row.precision:>9.1%}  "
                   f"{row.wrong_rate:>6.1%}  {row.shown / n:>6.1f}  {row.unjudged / n:>8.1f}  "
                   f"{row.articles_without_card / n:>7.1f}{mark}")
    click.echo(f"wrote {target_path}")


@eval_group.command("checkthat")
@_data_dir_option("checkthat2020_task2")
@click.option("--split", default="test", show_default=True,
              help="Query split: train, dev, test (2020) or dev_test (2022, the 2021 test set).")
@click.option("--curve", is_flag=True, help="Also print the threshold curve (false context vs kept).")
@click.option("--train", "tune", is_flag=True,
              help="First fine-tune the model on the folder's train split (evaluation only: "
              "the weights stay in the cache and the service never uses them).")
@_with_common
@click.pass_context
def checkthat(
    ctx: click.Context, /, data_dir: Path | None, split: str, curve: bool, tune: bool, **common: Any
) -> None:
    """CLEF CheckThat! detecting previously fact-checked claims (MAP@5, MRR, P@1)."""
    if tune and split == "train":
        raise click.BadParameter("cannot report the split the model is trained on", param_hint="--train")
    config = load_settings()
    folder = _dataset_dir(data_dir, "checkthat2020_task2", config)
    _run(ctx, config, lambda: load_checkthat(folder, split), curve=curve, tune=tune, **common)


@eval_group.command("scifact")
@_data_dir_option("scifact")
@_with_common
@click.pass_context
def scifact(ctx: click.Context, /, data_dir: Path | None, **common: Any) -> None:
    """SciFact dev claims against 5,183 abstracts (nDCG@10, Recall@100)."""
    config = load_settings()
    _run(ctx, config, partial(load_scifact, _dataset_dir(data_dir, "scifact", config)), **common)


@eval_group.command("climate-fever")
@_data_dir_option("climate_fever")
@_with_common
@click.pass_context
def climate_fever(ctx: click.Context, /, data_dir: Path | None, **common: Any) -> None:
    """Climate-FEVER claims ranking evidence sentences in the pool of all of them (MRR, Recall@5)."""
    config = load_settings()
    _run(ctx, config, partial(load_climate_fever, _dataset_dir(data_dir, "climate_fever", config)),
         **common)


def _run(
    ctx: click.Context, config: IndexSettings, load: Callable[[], Dataset], *,
    run_out: Path | None, as_json: bool,
    cache_dir: Path | None, curve: bool = False, tune: bool = False,
) -> None:
    try:
        dataset = load()
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot read the dataset: {exc}") from exc
    cache = cache_dir or index_settings.REPO_ROOT / "var" / "eval"
    embedder = make_embedder(ctx.obj, config)
    if tune:
        from index.embedders import SentenceTransformerEmbedder
        from server.evaluate.train import fine_tune

        pairs = dataset.train_pairs()
        try:
            embedder = SentenceTransformerEmbedder(fine_tune(pairs, cache / "models"))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    store = cached_store(dataset, embedder, cache)
    result = evaluate(dataset, embedder, store, curve=curve)
    if tune:
        result.label += f" (model fine-tuned on {len(pairs)} train pairs)"
    if run_out is not None:
        _write_run(result, run_out)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_table(result)


def _write_run(result: EvalResult, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for qid, ranked in result.runs["aside"].items():
            for rank, (doc, score) in enumerate(ranked, start=1):
                out.write(f"{qid} Q0 {doc} {rank} {score:.6f} aside\n")


def _print_table(result: EvalResult) -> None:
    names = list(next(iter(result.scores.values())))
    click.echo(f"{result.label}: {result.queries} queries, {result.documents} documents")
    click.echo(f"{'system':<28}" + "".join(f"{n:>12}" for n in names))
    for system, scores in result.scores.items():
        click.echo(f"{_SYSTEM_LABELS[system]:<28}" + "".join(f"{scores[n]:>12.4f}" for n in names))
    if result.curve:
        click.echo("")
        click.echo("threshold   false context   kept (gold present, top card right)")
        for row in result.curve:
            click.echo(f"{row['threshold']:>9.2f}   {row['false_context']:>13.1%}   {row['kept']:>6.1%}")
