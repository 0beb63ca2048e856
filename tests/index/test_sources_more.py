from __future__ import annotations

import logging

import pytest

from index.sources import SourceStats, parse_spec
from index.sources.csvfile import iter_csv
from index.sources.feeds import iter_feed
from tests.conftest import FIXTURES


def read(source_iter, **kwargs):
    stats = SourceStats("test")
    return list(source_iter(stats, **kwargs)), stats


def test_rss_entries_become_records_with_link_date_and_text():
    records, stats = read(iter_feed, location=str(FIXTURES / "feeds" / "news.rss"))
    assert [r.title for r in records] == ["Fed raises rates again", "Kansas wheat harvest falls"]
    fed = records[0]
    assert fed.text == (
        "The Federal Reserve raised its benchmark rate by a quarter point. "
        "It was the eleventh increase since March 2022."
    )
    assert (fed.url, fed.published, fed.publisher, fed.language) == (
        "https://gazette.example/fed", "2023-07-26", "Example Gazette", "en-us")
    assert fed.doc_id == "feed:https://gazette.example/fed"
    assert records[1].text == "Wheat harvests in Kansas fell sharply after a dry spring."
    assert stats.skipped == 1 and stats.reasons["entry has no text"] == 1


def test_atom_entries_too():
    (record,), _ = read(iter_feed, location=str(FIXTURES / "feeds" / "updates.atom"))
    assert record.text == "The Golden Gate Bridge opened to traffic in May 1937."
    assert record.url == "https://almanac.example/bridge" and record.published == "2024-05-01"
    assert record.publisher == "Example Almanac updates"


def test_a_file_that_is_not_a_feed_is_refused(tmp_path):
    junk = tmp_path / "junk.xml"
    junk.write_text("this is <not a feed")
    with pytest.raises(ValueError, match="not a readable RSS or Atom feed"):
        read(iter_feed, location=str(junk))


def test_csv_rows_with_malformed_ones_reported_by_line(caplog):
    with caplog.at_level(logging.WARNING):
        records, stats = read(iter_csv, path=FIXTURES / "csv" / "docs.csv")
    assert [r.doc_id.split(":")[-1] for r in records][0] == "fed-rate"
    assert len(records) == 3 and stats.skipped == 2
    assert "line 4: skipped: 'text' is missing" in caplog.text
    assert "line 5: skipped: 6 columns expected" in caplog.text
    assert records[0].publisher == "Example Gazette" and records[0].published == "2023-07-26"
    assert records[1].title is None, "empty cells are absent fields"
    assert records[2].text.endswith('"locals say".')


def test_csv_without_a_text_column_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body\n1,hello\n")
    with pytest.raises(ValueError, match="'text' column"):
        read(iter_csv, path=bad)


def test_specs_for_the_new_kinds(tmp_path):
    assert parse_spec(f"csv:{FIXTURES / 'csv' / 'docs.csv'}").name.startswith("csv:")
    assert parse_spec(f"feed:{FIXTURES / 'feeds' / 'news.rss'}").name.startswith("feed:")
    assert parse_spec("feed:https://gazette.example/rss").name == "feed:https://gazette.example/rss"
    with pytest.raises(ValueError, match="no such file"):
        parse_spec(f"feed:{tmp_path / 'missing.rss'}")
    with pytest.raises(ValueError, match="csv needs a path"):
        parse_spec("csv:")
