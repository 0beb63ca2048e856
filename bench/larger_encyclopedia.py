"""What a larger encyclopedia would give news readers: the default index plus 27,961 Wikipedia leads.

The leads (``$ASIDE_DATA_DIR/wikipedia_leads``, English Wikipedia of May 2015, CC BY-SA) are
added as Wikipedia passages, as an operator's MediaWiki dump or ZIM would add them, to a copy of
the default index: only the leads are embedded (``aside index update``'s path). Then
``aside eval news --index OUT`` measures the cards on the news dev set; cards that nobody has
judged yet are listed with ``--unjudged``.

    .venv/bin/python bench/larger_encyclopedia.py --out var/index-leads
    .venv/bin/aside eval news --index var/index-leads --unjudged var/leads-unjudged.jsonl

The leads are for evaluation only: they are not on a fresh machine and never go into the
default index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import quote

from index.build import BuildOptions, update
from index.cli import make_embedder
from index.records import SourceRecord
from index.settings import load as load_settings
from index.sources import Source, parse_spec
from index.sources.base import SourceStats


def iter_leads(stats: SourceStats, *, folder: Path) -> Iterator[SourceRecord]:
    """One Wikipedia record per lead, as a dump of English Wikipedia would give it."""
    for path in sorted(folder.glob("leads_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            lead = json.loads(line)
            stats.read += 1
            title = str(lead["title"])
            yield SourceRecord(
                doc_id=f"wikipedia-2015:{title}", text=str(lead["text"]), source="wikipedia-2015",
                kind="wikipedia", title=title,
                url=lead.get("url") or f"https://en.wikipedia.org/wiki/{quote(title.replace(' ', '_'))}",
                publisher="Wikipedia", published="2015", language="en",
                license="CC BY-SA 3.0", context=title,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=load_settings(os.environ).index_dir,
                        help="the default index to start from (copied, never changed)")
    parser.add_argument("--out", type=Path, default=Path("var/index-leads"))
    parser.add_argument("--data-dir", type=Path, default=load_settings(os.environ).data_dir,
                        help="the public datasets [default: ASIDE_DATA_DIR]")
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("no data directory: set ASIDE_DATA_DIR or pass --data-dir")
    folder = args.data_dir / "wikipedia_leads"
    if not any(folder.glob("leads_*.jsonl")):
        raise SystemExit(f"no leads in {folder}")
    if not args.out.exists():
        shutil.copytree(args.index, args.out)
    sources = [parse_spec("factbook"), parse_spec("wikipedia"),
               Source("wikipedia-2015", partial(iter_leads, folder=folder))]
    started = time.perf_counter()
    report = update(sources, args.out, make_embedder(None), BuildOptions(progress=True))
    print(f"{args.out}: {report.manifest.passages} passages ({dict(report.passages)}) "
          f"in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
