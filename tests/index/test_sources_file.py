from __future__ import annotations

import json
import re
import shutil

import pytest

from index.sources import SourceStats
from index.sources.config import load_sources_file
from server.cli import main
from tests.conftest import FIXTURES

SOURCES = f"""
[[source]]
kind = "csv"
location = "{FIXTURES / 'csv' / 'docs.csv'}"
publisher = "Operator Archive"
include = ["federal reserve", "wheat"]

[[source]]
kind = "feed"
location = "feeds/news.rss"
exclude = ["kansas"]
"""


def read_all(sources):
    out = []
    for source in sources:
        stats = SourceStats(source.name)
        out.append((list(source.read(stats)), stats))
    return out


def test_sources_file_labels_filters_and_relative_paths(tmp_path):
    (tmp_path / "feeds").mkdir()
    shutil.copy(FIXTURES / "feeds" / "news.rss", tmp_path / "feeds" / "news.rss")
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)  # the feed's location is relative to this file
    (csv_records, csv_stats), (feed_records, feed_stats) = read_all(load_sources_file(path))
    assert [r.publisher for r in csv_records] == ["Operator Archive", "Operator Archive"]
    assert csv_stats.reasons["not matched by include"] == 1
    assert [r.title for r in feed_records] == ["Fed raises rates again"]
    assert feed_stats.reasons["matched by exclude"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[source]]\nkind = 'rss'\n", "source 1: kind must be one of"),
        ("[[source]]\nkind = 'csv'\nlocation = 'nope.csv'\n", "source 1: csv: no such file"),
        ("[[source]]\nkind = 'factbook'\ncolour = 'red'\n", "unknown key(s) colour"),
        ("[[source]]\nkind = 'factbook'\ninclude = '(unclosed'\n", "include must be a list"),
        ("[[source]]\nkind = 'factbook'\ninclude = ['(unclosed']\n", "bad pattern"),
        ("title = 'no sources'\n", "at least one [[source]]"),
        ("[[source]\n", "not valid TOML"),
    ],
)
def test_mistakes_in_the_sources_file_are_named(tmp_path, text, message):
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_sources_file(path)


def test_build_from_a_sources_file(runner, fake_embedder, tmp_path):
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nkind = "jsonl"\nlocation = "{FIXTURES / "jsonl" / "docs.jsonl"}"\n'
                       'publisher = "Desk"\n')
    out = tmp_path / "idx"
    result = runner.invoke(main, ["index", "build", "--out", str(out), "--sources", str(sources)],
                           obj={"embedder": fake_embedder}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    hits = json.loads(runner.invoke(main, ["index", "query", str(out), "Golden Gate", "--json"],
                                    obj={"embedder": fake_embedder}).output)
    assert {h["publisher"] for h in hits} == {"Desk"}
    bad = tmp_path / "bad.toml"
    bad.write_text("[[source]]\nkind = 'rss'\n")
    refused = runner.invoke(main, ["index", "build", "--out", str(out), "--sources", str(bad)],
                            obj={"embedder": fake_embedder})
    assert refused.exit_code == 2 and "kind must be one of" in refused.output
