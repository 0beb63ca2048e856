"""The ``aside eval`` commands: checkthat, scifact, climate-fever."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from index import settings as index_settings
from index.cli import make_embedder
from server.evaluate.datasets import Dataset, load_checkthat, load_climate_fever, load_scifact
from server.evaluate.runner import EvalResult, cached_store, evaluate

__all__ = ["eval_group"]

_SYSTEM_LABELS = {"bm25": "BM25 alone (bm25s)", "dense": "dense alone (same model)",
                  "aside": "Aside (fused)"}


def _default_dir(folder: str) -> Path:
    return Path(index_settings.get("DATA_DIR")) / folder


def _data_dir_option(folder: str) -> Callable[[Any], Any]:
    return click.option(
        "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
        help=f"Dataset folder [default: $ASIDE_DATA_DIR/{folder}].",
    )


_common = [
    click.option("--run-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
                 help="Write Aside's ranking as a TREC run file (top 100 per query)."),
    click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON."),
    click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                 help="Where evaluation indexes are kept [default: var/eval under the repository]."),
]


def _with_common(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@click.group("eval")
def eval_group() -> None:
    """Measure retrieval on public benchmarks (BM25, dense and Aside side by side)."""


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
    folder = data_dir or _default_dir("checkthat2020_task2")
    if tune and split == "train":
        raise click.BadParameter("cannot report the split the model is trained on", param_hint="--train")
    _run(ctx, lambda: load_checkthat(folder, split), curve=curve, tune=tune, **common)


@eval_group.command("scifact")
@_data_dir_option("scifact")
@_with_common
@click.pass_context
def scifact(ctx: click.Context, /, data_dir: Path | None, **common: Any) -> None:
    """SciFact dev claims against 5,183 abstracts (nDCG@10, Recall@100)."""
    folder = data_dir or _default_dir("scifact")
    _run(ctx, lambda: load_scifact(folder), **common)


@eval_group.command("climate-fever")
@_data_dir_option("climate_fever")
@_with_common
@click.pass_context
def climate_fever(ctx: click.Context, /, data_dir: Path | None, **common: Any) -> None:
    """Climate-FEVER claims ranking evidence sentences in the pool of all of them (MRR, Recall@5)."""
    folder = data_dir or _default_dir("climate_fever")
    _run(ctx, lambda: load_climate_fever(folder), **common)


def _run(
    ctx: click.Context, load: Callable[[], Dataset], *, run_out: Path | None, as_json: bool,
    cache_dir: Path | None, curve: bool = False, tune: bool = False,
) -> None:
    try:
        dataset = load()
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot read the dataset: {exc}") from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = cache_dir or index_settings.REPO_ROOT / "var" / "eval"
    embedder = make_embedder(ctx.obj)
    if tune:
        from index.embed import SentenceTransformerEmbedder
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
