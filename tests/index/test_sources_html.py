from __future__ import annotations

from index.fetch import Fetched, FetchError
from index.sources import SourceStats, parse_spec
from index.sources.webpages import iter_pages
from tests.conftest import FIXTURES


def read(location):
    stats = SourceStats("test")
    return list(iter_pages(stats, location)), stats


def test_saved_page_gives_main_text_title_date_and_canonical_url():
    (record,), _ = read(str(FIXTURES / "html" / "tariffs.html"))
    assert record.url == "https://news.example/2025/03/tariffs"
    assert record.doc_id == "html:https://news.example/2025/03/tariffs"
    assert record.title == "US tariffs on Mexico tied to fentanyl crackdown"
    assert record.published == "2025-03-03" and record.publisher == "News Example"
    assert "Mexico is the largest trading partner" in record.text
    assert "All rights reserved" not in record.text and "Opinion" not in record.text


def test_a_folder_of_pages_reports_pages_without_main_text():
    records, stats = read(str(FIXTURES / "html"))
    assert len(records) == 1
    assert stats.skipped == 1 and stats.reasons["no main text found"] == 1


def test_a_list_of_urls_is_fetched_and_failures_reported(tmp_path):
    pages = {"https://news.example/a": (FIXTURES / "html" / "tariffs.html").read_text()}
    urls = tmp_path / "urls.txt"
    urls.write_text("# pages to index\nhttps://news.example/a\nhttps://news.example/gone\n")
    stats = SourceStats("test")

    def fetch(url):
        if url not in pages:
            raise FetchError(f"{url}: HTTP 404 Not Found")
        return Fetched(url=url, status=200, body=pages[url].encode(), content_type="text/html")

    records = list(iter_pages(stats, str(urls), fetch=fetch))
    assert [r.url for r in records] == ["https://news.example/2025/03/tariffs"]
    assert stats.reasons["could not fetch the page"] == 1
    assert parse_spec(f"html:{urls}").name == f"html:{urls}"
