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
from server import settings
from server.errors import ApiError
from server.evaluate.cli import eval_group

__all__ = ["main"]

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@click.group()
@click.option("-v", "--verbose", count=True, help="Log progress (-v) or debug detail (-vv).")
def main(verbose: int) -> None:
    """Aside: context cards for the claims in news articles, from a self-hosted index."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


main.add_command(index_group)
main.add_command(eval_group)


@main.command()
@click.option("--host", default=None, help="Address to listen on [default: ASIDE_HOST or 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: ASIDE_PORT or 8080].")
@click.option("--index", "index_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Index directory [default: ASIDE_INDEX_DIR or var/index].")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes; torch threads are split between them.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, index_dir: Path | None, workers: int
) -> None:
    """Run the HTTP service (gunicorn) on the index."""
    from server import create_app
    from server.serve import metrics_dir, run, torch_threads_per_worker

    config = settings.from_environ(os.environ)
    overrides: dict[str, Any] = {}
    if index_dir is not None:
        overrides["INDEX_DIR"] = str(index_dir)
    if "ASIDE_TORCH_THREADS" not in os.environ:
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
    host = host or str(config["HOST"])
    port = port or int(config["PORT"])
    click.echo(f"Aside serving index {resources.store.manifest.build_id} on http://{host}:{port}")
    run(app, host=host, port=port, workers=workers)


@main.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--index", "index_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Index directory [default: ASIDE_INDEX_DIR or var/index].")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
@click.pass_context
def context(ctx: click.Context, file: Any, index_dir: Path | None, as_json: bool) -> None:
    """Find context for an article in FILE (paragraphs separated by blank lines; - for stdin)."""
    from index.cli import make_embedder
    from server.api import context_response
    from server.pipeline.language import language_check
    from server.resources import load_resources

    text = file.read()
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    if not paragraphs:
        raise click.ClickException("the article is empty")
    try:
        config = settings.for_command(None if index_dir is None else str(index_dir))
        config["EMBEDDER"] = make_embedder(ctx.obj)
        resources = load_resources(config)
    except ValueError as exc:  # a wrong setting, or a rescoring model that cannot be used
        raise click.ClickException(str(exc)) from exc
    if resources.store is None:
        raise click.ClickException(str(resources.error))
    blocks = [{"id": f"p{n}", "text": p} for n, p in enumerate(paragraphs, start=1)]
    try:
        answer = context_response({"blocks": blocks}, config, resources.embedder, resources.store,
                                  rescorer=resources.rescorer,
                                  language=language_check(config["LANGUAGES"]))
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


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
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Directory to write [default: ASIDE_ONNX_DIR or var/model-onnx].")
@click.option("--if-stale", is_flag=True,
              help="Do nothing when the directory already holds a current export of the installed "
              "model (in this version's format).")
def model_export(out: Path | None, if_stale: bool) -> None:
    """Export the packaged model to ONNX and check its vectors against sentence-transformers."""
    from index import settings as index_settings
    from index.onnx_model import export, is_current

    target = out or Path(index_settings.get("ONNX_DIR"))
    if if_stale and is_current(target):
        click.echo(f"{target} holds a current export of the model; nothing to do.")
        return
    try:
        report = export(target)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"export failed: {exc}") from exc
    click.echo(f"Exported the model to {report.directory} in {report.seconds:.1f} s; "
               f"vectors match sentence-transformers (lowest cosine {report.min_cosine:.6f}).")
    click.echo("The service uses it (ASIDE_EMBED_BACKEND=auto, the default) from its next start.")
