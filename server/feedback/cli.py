"""``aside feedback``: read readers' reports on cards, block passages, export and prune.

Every command reads the database in ``--feedback-dir`` (default: ``ASIDE_FEEDBACK_DIR``). A
card is named by a number: the id of its first report (``list`` shows it); ``show`` and
``block`` take any report id of the card.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import textwrap
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import numpy as np

from index.mirror import write_atomically
from index.settings import option_from
from server import settings
from server.feedback import DB_FILE, connect, from_codes
from server.feedback.blocks import DEFAULT_RADIUS, Block, add_block, list_blocks, remove_block
from server.feedback.reports import (
    CardReports,
    StoredReport,
    WriteFailed,
    card_of,
    cards,
    export_lines,
    prune,
)

__all__ = ["feedback_group"]

_SAME_VECTOR = 0.999  # cosine at which two int8-coded sentence vectors are the same sentence
# Ids and counts SQLite can hold (its integers are signed 64-bit): a larger one is a click error,
# not an OverflowError from the driver.
_INT64 = click.IntRange(1, 2**63 - 1)
# prune's cutoff is compared as text, which sorts right only while its year has four digits; no
# report is a century old.
_MOST_DAYS = 36_500
# What a terminal acts on rather than shows: the C0 and C1 controls (Unicode category Cc: ESC,
# NUL, the newlines), the line and paragraph separators, and the bidi controls that reorder
# what is on screen (https://trojansource.codes, CVE-2021-42574).
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                         r"\u2066-\u2069]")


@click.group("feedback")
def feedback_group() -> None:
    """Readers' reports on cards, and the blocks you decide on them."""


_dir_option = option_from(settings.BY_NAME["FEEDBACK_DIR"], "--feedback-dir", "directory",
                          type=click.Path(path_type=Path, file_okay=False),
                          help="The directory of the feedback database: the service's.")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@contextmanager
def _database(directory: Path) -> Iterator[sqlite3.Connection]:
    """The feedback database, or a ClickException that says why there is none to read."""
    try:
        db = connect(directory, create=False)
    except FileNotFoundError as exc:
        raise click.ClickException(
            f"no feedback database in {directory}: no reader has reported a card to a service "
            "using it yet (the service's ASIDE_FEEDBACK_DIR names its directory)") from exc
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(f"cannot open the feedback database in {directory}: {exc}") from exc
    try:
        yield db
    except (WriteFailed, sqlite3.Error) as exc:
        raise click.ClickException(f"the feedback database in {directory}: {exc}") from exc
    finally:
        db.close()


def _shown(text: str) -> str:
    """Text from the database (a reader's report, the index's passage, a block), safe to print.

    Each character a terminal would act on becomes its Python escape (``\\x1b``, ``\\n``,
    ``\\u202e``); readers write these fields freely. ``--json`` and ``export`` print the
    exact text, JSON-escaped.
    """
    return _UNSHOWABLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def _card(db: sqlite3.Connection, report_id: int) -> tuple[CardReports, list[StoredReport]]:
    found = card_of(db, report_id)
    if found is None:
        raise click.ClickException(f"no report {report_id}; `aside feedback list` shows the cards")
    return found


def _blocks_by_card(db: sqlite3.Connection) -> dict[tuple[str, str], list[Block]]:
    by_card: dict[tuple[str, str], list[Block]] = {}
    for block in list_blocks(db):
        by_card.setdefault(block.key, []).append(block)
    return by_card


def _blocked(blocks: list[Block]) -> str:
    if any(b.vector is None for b in blocks):
        return "blocked everywhere"
    if blocks:
        return f"blocked for sentences like {len(blocks)} reported"
    return "not blocked"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{'no reason' if name == 'none' else _shown(name)} {n}"
                     for name, n in counts.items())


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _source(card: CardReports) -> str:
    shot = card.snapshot
    named = " — ".join(_shown(x) for x in (shot.publisher, shot.title) if x) or "(source unknown)"
    return f"{named}, {_shown(shot.url)}" if shot.url else named


def _card_dict(card: CardReports, blocks: list[Block]) -> dict[str, Any]:
    return {**asdict(card), "blocked": _blocked(blocks), "blocks": [_block_dict(b) for b in blocks]}


def _block_dict(block: Block) -> dict[str, Any]:
    return {"id": block.id, "created": block.created, "doc_id": block.doc_id,
            "passage_hash": block.passage_hash, "like_sentence": block.vector is not None,
            "radius": block.radius, "note": block.note}


def _describe(block: Block) -> str:
    scope = ("every sentence" if block.vector is None
             else f"sentences within cosine {block.radius:g} of a reported one")
    note = f" — {_shown(block.note)}" if block.note else ""
    return (f"block {block.id} ({_shown(block.created)}): {_shown(block.doc_id)} "
            f"{_shown(block.passage_hash[:12])}…, {scope}{note}")


@feedback_group.command("list")
@_dir_option
@click.option("--limit", type=_INT64, default=20, show_default=True,
              help="Most cards to list.")
@_json_option
def list_command(directory: Path, limit: int, as_json: bool) -> None:
    """The most reported cards first: readers by verdict and reason, the passage, its source."""
    with _database(directory) as db:
        found, blocks = cards(db, limit=limit), _blocks_by_card(db)
    if as_json:
        click.echo(json.dumps([_card_dict(c, blocks.get((c.doc_id, c.passage_hash), []))
                               for c in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("No reports.")
    for card in found:
        text = textwrap.shorten(card.snapshot.passage_text or "(passage not found in the index)",
                                160, placeholder=" …")
        click.echo(f"#{card.id}  {_many(card.readers, 'reader')}, {_many(card.reports, 'report')} "
                   f"({_counts(card.verdicts)}; {_counts(card.reasons)}); last {_shown(card.last)}; "
                   f"{_blocked(blocks.get((card.doc_id, card.passage_hash), []))}")
        click.echo(f"    {_shown(text)}")
        click.echo(f"    {_source(card)}  [{_shown(card.doc_id)} {_shown(card.passage_hash[:12])}…]")


@feedback_group.command("show")
@click.argument("report_id", metavar="ID", type=_INT64)
@_dir_option
@_json_option
def show_command(report_id: int, directory: Path, as_json: bool) -> None:
    """One card's reports (any report id of it) and its blocks."""
    with _database(directory) as db:
        card, reports = _card(db, report_id)
        blocks = _blocks_by_card(db).get((card.doc_id, card.passage_hash), [])
    if as_json:
        click.echo(json.dumps({**_card_dict(card, blocks), "reports": [r.to_dict() for r in reports]},
                              indent=2, ensure_ascii=False))
        return
    click.echo(f"Card #{card.id}: {_shown(card.doc_id)} {_shown(card.passage_hash)}; "
               f"{_many(card.readers, 'reader')}, {_many(card.reports, 'report')}; {_blocked(blocks)}")
    click.echo(f"  {_source(card)}")
    # Wrapped before it is escaped: a line break in the passage wraps like a space, as in `list`.
    for line in textwrap.wrap(card.snapshot.passage_text or "(passage not found in the index)", 96):
        click.echo(f"  | {_shown(line)}")
    click.echo("Reports:")
    for report in reports:
        reason = f" ({_shown(report.reason)})" if report.reason else ""
        click.echo(f"  #{report.id} {_shown(report.received)} {_shown(report.verdict)}{reason}; "
                   f"build {_shown(report.build)}; vector {'sent' if report.vector else 'not sent'}; "
                   f"sentence {'sent' if report.sentence is not None else 'not sent'}")
        if report.sentence is not None:
            click.echo(f"      \"{_shown(report.sentence)}\"")
    click.echo("Blocks:" if blocks else "Blocks: none")
    for block in blocks:
        click.echo(f"  {_describe(block)}")


def _a_number(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    # FloatRange lets NaN through: every comparison with it is false.
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number")
    return value


@feedback_group.command("block")
@click.argument("report_id", metavar="ID", type=_INT64)
@_dir_option
@click.option("--like-sentence", is_flag=True,
              help="Block it only for sentences like the reported ones (one block per distinct "
              "sentence vector the card's reports sent), not everywhere.")
@click.option("--radius", type=click.FloatRange(0, 1, min_open=True), default=None, callback=_a_number,
              help=f"With --like-sentence: the cosine from which a sentence is like a reported "
              f"one [default: {DEFAULT_RADIUS}].")
@click.option("--note", default="", help="Why, for whoever reads the blocks later.")
def block_command(report_id: int, directory: Path, like_sentence: bool, radius: float | None,
                  note: str) -> None:
    """Stop showing a card's passage: everywhere, or for sentences like the reported ones.

    The block names the passage by document and text, so it holds across rebuilds; the
    service follows it from its next answer.
    """
    if radius is not None and not like_sentence:
        raise click.UsageError("--radius applies only with --like-sentence")
    with _database(directory) as db:
        card, reports = _card(db, report_id)
        existing = _blocks_by_card(db).get((card.doc_id, card.passage_hash), [])
        if any(b.vector is None for b in existing):
            click.echo(f"Card #{card.id} is already blocked everywhere; nothing to do.")
            return
        if not like_sentence:
            made = [add_block(db, doc_id=card.doc_id, passage_hash=card.passage_hash, note=note)]
            click.echo(f"Blocked card #{card.id} everywhere (block {made[0]}).")
            return
        vectors = _distinct_vectors(reports)
        if not vectors:
            raise click.ClickException(
                f"no report on card #{card.id} sent a sentence vector; block it everywhere "
                "(without --like-sentence)")
        chosen = DEFAULT_RADIUS if radius is None else radius
        new = [v for v in vectors if not any(
            b.vector is not None and b.radius == chosen and float(b.vector @ from_codes(v)) >= _SAME_VECTOR
            for b in existing)]
        made = [add_block(db, doc_id=card.doc_id, passage_hash=card.passage_hash, vector=v,
                          radius=chosen, note=note) for v in new]
    if not made:
        click.echo(f"Card #{card.id} is already blocked for these sentences; nothing to do.")
        return
    click.echo(f"Blocked card #{card.id} for sentences within cosine {chosen:g} of "
               f"{len(made)} reported sentence(s) (blocks {', '.join(map(str, made))}).")


def _distinct_vectors(reports: list[StoredReport]) -> list[bytes]:
    """The reports' sentence vectors, one per sentence (near-identical codes count once)."""
    kept: list[bytes] = []
    for report in reports:
        if report.vector is None:
            continue
        unit = from_codes(report.vector)
        if all(float(np.dot(unit, from_codes(k))) < _SAME_VECTOR for k in kept):
            kept.append(report.vector)
    return kept


@feedback_group.command("unblock")
@click.argument("block_id", metavar="BLOCK_ID", type=_INT64)
@_dir_option
def unblock_command(block_id: int, directory: Path) -> None:
    """Remove a block (`aside feedback blocks` lists them); the passage shows again."""
    with _database(directory) as db:
        removed = remove_block(db, block_id)
    if not removed:
        raise click.ClickException(f"no block {block_id}; `aside feedback blocks` lists them")
    click.echo(f"Removed block {block_id}.")


@feedback_group.command("blocks")
@_dir_option
@_json_option
def blocks_command(directory: Path, as_json: bool) -> None:
    """List the blocks, oldest first."""
    with _database(directory) as db:
        blocks = list_blocks(db)
    if as_json:
        click.echo(json.dumps([_block_dict(b) for b in blocks], indent=2, ensure_ascii=False))
        return
    if not blocks:
        click.echo("No blocks.")
    for block in blocks:
        click.echo(_describe(block))


@feedback_group.command("export")
@_dir_option
@click.option("--out", type=click.Path(dir_okay=False, writable=True, allow_dash=True), default="-",
              help="File to write (default: standard output).")
def export_command(directory: Path, out: str) -> None:
    """Every report as JSON lines (the sentence vector as base64), for review elsewhere."""
    # realpath, not Path.resolve: on Python 3.11 that raises RuntimeError at a symlink loop.
    target = None if out == "-" else Path(os.path.realpath(out))
    if target in {Path(os.path.realpath(directory / name)) for name in
                  (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal")}:
        raise click.BadParameter("that is the feedback database; name another file",
                                 param_hint="'--out'")
    with _database(directory) as db:
        lines = (line + "\n" for line in export_lines(db))
        if target is None:
            with click.open_file("-", "w", encoding="utf-8") as sink:
                count = _write(sink.write, lines)
        else:
            try:
                count = _write_file(target, lines)
            except OSError as exc:
                raise click.ClickException(
                    f"cannot write the export to {out}: {exc.strerror or exc}") from exc
    if target is not None:
        click.echo(f"Exported {_many(count, 'report')} to {out}.")


def _write(write: Callable[[str], object], lines: Iterable[str]) -> int:
    count = 0
    for line in lines:
        write(line)
        count += 1
    return count


def _write_file(target: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` to a new file beside ``target``, then rename it over ``target``.

    A failed export leaves ``target`` as it was and no partial file. The file is private to
    its owner, as the database is: it holds the sentences readers sent. A device or pipe
    (``/dev/null``) has nothing to replace and is written directly.
    """
    if target.exists() and not target.is_file():
        with target.open("w", encoding="utf-8") as sink:
            return _write(sink.write, lines)
    return write_atomically(target, lambda sink: _write(sink.write, lines))


@feedback_group.command("prune")
@_dir_option
@option_from(settings.BY_NAME["FEEDBACK_RETENTION_DAYS"], "--older-than", "days",
             type=click.IntRange(1, _MOST_DAYS),
             help="Delete reports received more than this many days ago.")
def prune_command(directory: Path, days: int) -> None:
    """Delete old reports (blocks are your decisions and stay)."""
    with _database(directory) as db:
        removed = prune(db, days)
    click.echo(f"Removed {_many(removed, 'report')} received more than {days} days ago; blocks are kept.")
