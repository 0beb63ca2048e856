"""The ``aside`` command: serve, context, and the ``index`` group."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import click

from index.cli import index_group
from index.settings import option_from
from server import settings
from server.errors import ApiError
from server.evaluate.cli import eval_group
from server.feedback.cli import feedback_group

__all__ = ["main"]

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@click.group()
@click.option("-v", "--verbose", count=True, help="Log progress (-v) or debug detail (-vv).")
def main(verbose: int) -> None:
    """Aside: context cards for the claims in news articles, from a self-hosted index."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


main.add_command(index_group)
main.add_command(eval_group)
main.add_command(feedback_group)


_index_option = option_from(settings.BY_NAME["INDEX_DIR"], "--index", "index_dir",
                            type=click.Path(path_type=Path, file_okay=False))


@main.command()
@option_from(settings.BY_NAME["HOST"], "--host")
@option_from(settings.BY_NAME["PORT"], "--port")
@_index_option
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes; torch threads are split between them.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, index_dir: Path, workers: int) -> None:
    """Run the HTTP service (gunicorn) on the index."""
    from server import create_app
    from server.serve import metrics_dir, run, torch_threads_per_worker

    overrides: dict[str, Any] = {"HOST": host, "PORT": port, "INDEX_DIR": index_dir}
    if settings.BY_NAME["TORCH_THREADS"].env not in os.environ:  # else the operator's choice
        overrides["TORCH_THREADS"] = torch_threads_per_worker(workers)
    if isinstance(ctx.obj, dict) and ctx.obj.get("embedder") is not None:
        overrides["EMBEDDER"] = ctx.obj["embedder"]
    try:
        if workers > 1:
            metrics_dir()  # one worker counts in its own memory; several add up through files
        app = create_app(overrides)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    resources = app.extensions["aside"]
    if resources.store is None:
        raise click.ClickException(
            f"{resources.error}\nBuild one with: aside index build --out "
            f"{app.config['INDEX_DIR']}"
        )
    click.echo(f"Aside serving index {resources.store.manifest.build_id} on http://{host}:{port}")
    run(app, host=host, port=port, workers=workers)


@main.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
@click.option("--feedback-dir", metavar="DIR", default=None,
              help="The feedback directory whose blocks the answer honours, as the service's "
              f"would; empty: none [default: ${settings.BY_NAME['FEEDBACK_DIR'].env}, else "
              "(repository)/var/feedback]. No database there: no blocks.")
@click.pass_context
def context(ctx: click.Context, file: Any, index_dir: Path, as_json: bool,
            feedback_dir: str | None) -> None:
    """Find context for an article in FILE (paragraphs separated by blank lines; - for stdin)."""
    import sqlite3

    from index.cli import make_embedder
    from server.api import context_response
    from server.feedback.blocks import load_blocklist
    from server.pipeline.language import language_check
    from server.resources import load_resources

    text = file.read()
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    if not paragraphs:
        raise click.ClickException("the article is empty")
    try:
        config = settings.load(os.environ, {"INDEX_DIR": index_dir},
                               {} if feedback_dir is None else {"FEEDBACK_DIR": feedback_dir})
        resources = load_resources(config, make_embedder(ctx.obj, config))
    except ValueError as exc:  # a wrong setting, or a rescoring model that cannot be used
        raise click.ClickException(str(exc)) from exc
    if resources.store is None:
        raise click.ClickException(str(resources.error))
    blocklist = None
    if config.feedback_dir is not None:
        try:
            blocklist = load_blocklist(config.feedback_dir, dim=resources.embedder.dim)
        except (OSError, sqlite3.Error, ValueError) as exc:
            raise click.ClickException(
                f"cannot read the blocks in {config.feedback_dir}: {exc}") from exc
    blocks = [{"id": f"p{n}", "text": p} for n, p in enumerate(paragraphs, start=1)]
    try:
        answer = context_response({"blocks": blocks}, config.to_config(), resources.embedder,
                                  resources.store, rescorer=resources.rescorer,
                                  language=language_check(config.languages), blocklist=blocklist,
                                  feedback=blocklist is not None)
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    _print_listing(answer)


def _print_listing(answer: dict[str, Any]) -> None:
    stats = answer["stats"]
    click.echo(
        f"{stats['with_context']} of {stats['sentences']} sentences have context "
        f"({stats['searched']} searched; index {answer['index']['build_id']})"
    )
    for notice in answer.get("notices", []):
        click.echo(f"note: {notice['message']}")
    for sentence in answer["sentences"]:
        click.echo("")
        click.echo(f"[{sentence['block']} {sentence['start']}-{sentence['end']}] {sentence['exact']}")
        for card in sentence["cards"]:
            dated = f", {card['published']}" if card["published"] else ""
            # The rescoring model's probability that the card helps, else the match score.
            if card.get("confidence") is not None:
                rated = f"p={card['confidence']:.2f}"
            else:
                rated = f"s={card['score']:.2f}"
            click.echo(f"    {rated}  {card['publisher']} — {card['title']}{dated}")
            click.echo(f"            {card.get('snippet') or card['text']}")
            if card["url"]:
                click.echo(f"            {card['url']}")


@main.group()
def keys() -> None:
    """Make and check API keys (the service stores only their hashes)."""


@keys.command("new")
def keys_new() -> None:
    """Print a new random API key and the hash line the service needs."""
    from server.auth import key_id, new_key

    key, hashed = new_key()
    click.echo(f"key (give it to the client, e.g. the extension's options page):\n  {key}")
    click.echo(f"hash (add to ASIDE_API_KEYS or a line of ASIDE_API_KEYS_FILE):\n  {hashed}")
    click.echo(f"key id (how logs and metrics name it): {key_id(hashed)}")


@keys.command("hash")
@click.argument("key", envvar="ASIDE_KEY")
def keys_hash(key: str) -> None:
    """Print the hash line of an existing KEY (or $ASIDE_KEY, to keep it out of shell history)."""
    from server.auth import hash_key

    if not key.strip():
        raise click.BadParameter("the key is empty", param_hint="KEY")
    click.echo(hash_key(key.strip()))


@main.group()
def model() -> None:
    """The embedding model: export it to ONNX for a faster, lighter service."""


@model.command("export")
@option_from(settings.BY_NAME["ONNX_DIR"], "--out", type=click.Path(path_type=Path, file_okay=False))
@click.option("--if-stale", is_flag=True,
              help="Do nothing when the directory already holds a current export of the installed "
              "model (in this version's format).")
def model_export(out: Path, if_stale: bool) -> None:
    """Export the packaged model to ONNX and check its vectors against sentence-transformers."""
    from index.embedders.export import export
    from index.embedders.layout import is_current

    if if_stale and is_current(out):
        click.echo(f"{out} holds a current export of the model; nothing to do.")
        return
    try:
        report = export(out)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"export failed: {exc}") from exc
    click.echo(f"Exported the model to {report.directory} in {report.seconds:.1f} s; "
               f"vectors match sentence-transformers (lowest cosine {report.min_cosine:.6f}).")
    click.echo("The service uses it (ASIDE_EMBED_BACKEND=auto, the default) from its next start.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
