from __future__ import annotations

import logging

import pytest

from index.sources import Source, SourceStats, parse_spec
from index.sources.factbook import iter_factbook
from index.sources.jsonl import iter_jsonl
from index.sources.wikipedia import iter_wikipedia
from tests.conftest import FIXTURES


def read(source_iter, **kwargs):
    stats = SourceStats("test")
    return list(source_iter(stats, **kwargs)), stats


def test_factbook_one_record_per_field_with_country_context():
    records, stats = read(iter_factbook, data_dir=FIXTURES / "factbook", countries=["mx"])
    by_field = {r.doc_id.split("/", 1)[1]: r for r in records}
    partners = by_field["Exports - partners"]
    assert partners.text.startswith("USA 76%, Canada 5%")
    assert partners.context == "Mexico — Economy — Exports - partners"
    assert partners.title == "Mexico — Exports - partners"
    assert partners.url == "https://www.cia.gov/the-world-factbook/countries/mexico/"
    assert partners.publisher == "CIA World Factbook"
    assert partners.published == "2023"
    assert "drug" in by_field["Illicit drugs"].text
    assert stats.read == len(records)


def test_factbook_leaves_out_fields_without_news_context():
    records, _ = read(iter_factbook, data_dir=FIXTURES / "factbook")
    fields = {r.doc_id.split("/", 1)[1] for r in records}
    assert "Geographic coordinates" not in fields
    assert "Country name" not in fields
    assert {"Illicit drugs", "Population"} <= fields
    assert all("<" not in r.text for r in records), "HTML tags must be stripped"


def test_factbook_rejects_unknown_country_codes():
    with pytest.raises(ValueError, match="zz"):
        read(iter_factbook, data_dir=FIXTURES / "factbook", countries=["mx", "zz"])


def test_wikipedia_records_carry_url_and_licence():
    records, stats = read(iter_wikipedia, data_dir=FIXTURES / "wikipedia")
    mexico = next(r for r in records if r.title == "Mexico")
    assert mexico.url == "https://en.wikipedia.org/wiki/Mexico"
    assert mexico.license == "CC BY-SA 4.0"
    assert mexico.publisher == "Wikipedia"
    assert mexico.context == "Mexico"
    drug = next(r for r in records if r.title == "Illegal drug trade")
    assert drug.url == "https://en.wikipedia.org/wiki/Illegal_drug_trade"
    assert stats.read == len(records) == 9


def test_wikipedia_rejects_unknown_language():
    with pytest.raises(ValueError, match="language"):
        read(iter_wikipedia, language="de", data_dir=FIXTURES / "wikipedia")


def test_jsonl_skips_malformed_lines_with_their_numbers(caplog):
    path = FIXTURES / "jsonl" / "docs.jsonl"
    with caplog.at_level(logging.WARNING):
        records, stats = read(iter_jsonl, path=path)
    assert [r.doc_id for r in records][0] == "jsonl:docs:fed-rate"
    assert len(records) == 3
    assert stats.skipped == 4
    for line in (3, 4, 5, 6):
        assert f"line {line}: skipped" in caplog.text
    fed = records[0]
    assert (fed.publisher, fed.published, fed.url) == (
        "Example Gazette", "2023-07-26", "https://example.org/fed"
    )
    # A record without an id gets a stable one from its text.
    assert read(iter_jsonl, path=path)[0][1].doc_id == records[1].doc_id


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("jsonl", "needs a path"),
        ("jsonl:/no/such/file.jsonl", "no such file"),
        ("wikipedia:de", "no summaries"),
        ("rss:http://x", "unknown source"),
    ],
)
def test_parse_spec_errors_are_readable(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_parse_spec_names_sources():
    assert isinstance(parse_spec("factbook:mx,us"), Source)
    assert parse_spec("wikipedia:fr").name == "wikipedia:fr"
