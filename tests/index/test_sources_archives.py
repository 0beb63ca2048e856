"""ClaimReview fact-checks, MediaWiki XML dumps and ZIM files, on fixtures the tests write."""

from __future__ import annotations

import bz2
import json
import logging
from pathlib import Path

import pytest

from index.build import build
from index.cli import index_group
from index.fetch import Fetched, FetchError
from index.search import search_texts
from index.sources import SourceStats, parse_spec
from index.sources.claimreview import iter_claimreviews
from index.sources.mediawiki import iter_mediawiki, wikitext_to_text
from index.sources.zim import iter_zim
from index.store import Store
from tests.conftest import FIXTURES, FakeEmbedder

REVIEW = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "url": "https://factcheck.example/2024/bridge-toll",
    "datePublished": "2024-03-02",
    "headline": "No, the bridge toll did not triple",
    "claimReviewed": "The Golden Gate Bridge toll tripled overnight in 2024.",
    "itemReviewed": {"@type": "Claim", "author": {"@type": "Person", "name": "Jane Poster"},
                     "datePublished": "2024-02-28"},
    "author": {"@type": "Organization", "name": "Example Fact Check"},
    "reviewRating": {"@type": "Rating", "ratingValue": 1, "bestRating": 5, "alternateName": "False"},
}


def _page(*scripts: str) -> str:
    blocks = "".join(f'<script type="application/ld+json">{s}</script>' for s in scripts)
    return f"<html><head><title>t</title>{blocks}</head><body><p>Article</p></body></html>"


def test_claimreview_from_json_ld_in_a_page_keeps_claim_claimant_rating_reviewer(tmp_path):
    page = tmp_path / "review.html"
    page.write_text(_page(json.dumps({"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "name": "x"}, REVIEW]})), encoding="utf-8")
    stats = SourceStats("claimreview")
    [record] = list(iter_claimreviews(stats, str(page)))
    assert record.text == REVIEW["claimReviewed"]
    assert record.claimant == "Jane Poster" and record.rating == "False"
    assert record.publisher == "Example Fact Check" and record.url == REVIEW["url"]
    assert record.published == "2024-03-02" and record.kind == "fact-check"
    assert record.title == "No, the bridge toll did not triple"
    assert stats.read == 1 and stats.skipped == 0


def test_claimreview_feed_and_broken_records_are_reported_and_skipped(tmp_path, caplog):
    other = {**REVIEW, "claimReviewed": "Mount Etna erupted every day in 2023.",
             "reviewRating": {"@type": "Rating", "alternateName": "Mostly false"},
             "itemReviewed": {"author": [{"name": "A"}, {"name": "B"}]}}
    feed = {"@context": "https://schema.org", "@type": "DataFeed", "dataFeedElement": [
        {"@type": "DataFeedItem", "item": [REVIEW]},
        {"@type": "DataFeedItem", "item": [{"@type": "ClaimReview", "url": "https://x.example/no-claim"}]},
        {"@type": "DataFeedItem", "item": [other]},
    ]}
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    (folder / "broken.html").write_text(_page("{not json", json.dumps(REVIEW)), encoding="utf-8")
    stats = SourceStats("claimreview")
    with caplog.at_level(logging.WARNING):
        records = list(iter_claimreviews(stats, str(folder)))
    assert [r.rating for r in records] == ["False", "False", "Mostly false"]
    assert records[2].claimant == "A, B"
    assert stats.skipped == 2
    assert "broken.html: JSON-LD block 1" in caplog.text
    assert "feed.json: item 2: review 1" in caplog.text and "claimReviewed" in caplog.text


def test_claimreview_url_is_fetched_through_the_injected_fetch():
    pages = {"https://factcheck.example/a": _page(json.dumps(REVIEW))}

    def fetch(url):
        if url not in pages:
            raise FetchError(f"{url}: HTTP 404 Not Found")
        return Fetched(url=url, status=200, body=pages[url].encode(), content_type="text/html")

    stats = SourceStats("claimreview")
    records = list(iter_claimreviews(stats, "https://factcheck.example/a", fetch=fetch))
    assert [r.rating for r in records] == ["False"]
    # the source's own URL failing is the source failing: the build reports it and keeps the
    # documents it had, instead of reading it as "no reviews any more"
    with pytest.raises(FetchError, match="404"):
        list(iter_claimreviews(stats, "https://factcheck.example/gone", fetch=fetch))


def test_fact_check_cards_carry_claimant_and_rating(tmp_path, runner):
    (tmp_path / "r.json").write_text(json.dumps([REVIEW]), encoding="utf-8")
    out = tmp_path / "index"
    build([parse_spec(f"claimreview:{tmp_path / 'r.json'}")], out, FakeEmbedder())
    hit = search_texts(Store.open(out), FakeEmbedder(), ["Golden Gate Bridge toll tripled"], k=1)[0][0]
    assert (hit.passage.claimant, hit.passage.rating, hit.passage.publisher) == (
        "Jane Poster", "False", "Example Fact Check")


WIKI_NS = "http://www.mediawiki.org/xml/export-0.11/"


def _dump(pages: list[tuple[str, int, str]], *, tail: str = "</mediawiki>") -> str:
    body = "".join(
        f"<page><title>{title}</title><ns>{ns}</ns><id>{n}</id>"
        + ('<redirect title="Paris" />' if text.startswith("#REDIRECT") else "")
        + f"<revision><id>{n}</id><timestamp>2024-05-0{n}T10:00:00Z</timestamp>"
        f'<text xml:space="preserve">{text}</text></revision></page>'
        for n, (title, ns, text) in enumerate(pages, start=1)
    )
    return (
        f'<mediawiki xmlns="{WIKI_NS}" version="0.11" xml:lang="en"><siteinfo>'
        "<sitename>Wikipedia</sitename><base>https://en.wikipedia.org/wiki/Main_Page</base>"
        f"</siteinfo>{body}{tail}"
    )


PARIS = (
    "'''Paris''' is the [[capital city|capital]] of [[France]].&lt;ref&gt;Cite {{cite web|url=x}}"
    "&lt;/ref&gt; {{Infobox city|name=Paris}}\n[[File:Paris.jpg|thumb|A caption]]\n"
    "== History ==\nIt was founded in the [[3rd century BC]].\n{| class=wikitable\n|a||b\n|}\n"
    "== References ==\n{{reflist}}\n[[Category:Cities]] [[fr:Paris]]"
)


def test_wikitext_is_reduced_to_the_article_text():
    assert wikitext_to_text(PARIS.replace("&lt;", "<").replace("&gt;", ">")) == (
        "Paris is the capital of France.\n\nIt was founded in the 3rd century BC."
    )


def test_mediawiki_dump_bz2_streams_articles_and_skips_the_rest(tmp_path):
    dump = tmp_path / "enwiki-test.xml.bz2"
    dump.write_bytes(bz2.compress(_dump([
        ("Paris", 0, PARIS),
        ("Talk:Paris", 1, "Discussion about Paris and its many bridges over the Seine."),
        ("Paname", 0, "#REDIRECT [[Paris]]"),
        ("Stub", 0, "{{stub}}"),
        ("Danube", 0, "The '''Danube''' flows through ten countries to the [[Black Sea]]."),
    ]).encode()))
    stats = SourceStats("mediawiki")
    records = list(iter_mediawiki(stats, dump))
    assert [r.title for r in records] == ["Paris", "Danube"]
    paris = records[0]
    assert paris.url == "https://en.wikipedia.org/wiki/Paris" and paris.published == "2024-05-01"
    assert paris.license == "CC BY-SA 4.0" and paris.language == "en"
    assert paris.doc_id == "mediawiki:Wikipedia:Paris"
    assert stats.read == 2 and stats.skipped == 3
    assert set(stats.reasons) == {"not an article (namespace is not 0)", "redirect",
                                  "no article text after removing markup"}


def test_malformed_dump_keeps_the_pages_before_the_break_and_the_build_completes(tmp_path, caplog):
    dump = tmp_path / "broken.xml"
    danube = "The Danube flows through ten countries to the Black Sea."
    text = _dump([("Paris", 0, PARIS), ("Danube", 0, danube)],
                 tail="<page><title>Broken</title><revision><text>unclosed")
    dump.write_text(text, encoding="utf-8")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "x", "text": "An operator's own document about rivers."}) + "\n")
    out = tmp_path / "index"
    with caplog.at_level(logging.WARNING):
        report = build([parse_spec(f"mediawiki:{dump}"), parse_spec(f"jsonl:{docs}")], out, FakeEmbedder())
    assert [s.read for s in report.sources] == [2, 1]
    assert "broken.xml: malformed XML at line 10, column" in caplog.text
    assert report.sources[0].failed  # cut short: the source failed (an update keeps the rest)


def _write_zim(path: Path, pages: dict[str, tuple[str, str]]) -> None:
    from libzim.writer import Creator, Hint, Item, StringProvider

    class Page(Item):  # type: ignore[misc]
        def __init__(self, entry_path: str, title: str, html: str, mimetype: str) -> None:
            super().__init__()
            self.entry_path, self.entry_title, self.html, self.mime = entry_path, title, html, mimetype

        def get_path(self) -> str:
            return self.entry_path

        def get_title(self) -> str:
            return self.entry_title

        def get_mimetype(self) -> str:
            return self.mime

        def get_contentprovider(self) -> StringProvider:
            return StringProvider(self.html)

        def get_hints(self) -> dict:
            return {Hint.FRONT_ARTICLE: True}

    with Creator(str(path)).config_indexing(False, "eng") as creator:
        creator.set_mainpath(next(iter(pages)))
        for entry_path, (title, html) in pages.items():
            mimetype = "text/css" if entry_path.endswith(".css") else "text/html"
            creator.add_item(Page(entry_path, title, html, mimetype))
        creator.add_redirection("Paname", "Paname", "Paris", {Hint.FRONT_ARTICLE: False})
        for key, value in {"Title": "Test Wikipedia", "Name": "wikipedia_en_test", "Language": "eng",
                           "Publisher": "Kiwix", "Date": "2024-06-01",
                           "Source": "https://en.wikipedia.org/wiki"}.items():
            creator.add_metadata(key, value)


def test_zim_archive_articles_become_records(tmp_path):
    zim = tmp_path / "test.zim"
    _write_zim(zim, {
        "Paris": ("Paris", "<html><body><nav><p>Menu item</p></nav><h1>Paris</h1>"
                  "<p>Paris is the capital of France.<sup>[1]</sup></p><table><tr><td><p>cell</p></td>"
                  "</tr></table><p>It lies on the Seine.</p><script>var x = 1;</script></body></html>"),
        "Empty": ("Empty", "<html><body><div>nothing in paragraphs</div></body></html>"),
        "style.css": ("", "p { color: red }"),
    })
    stats = SourceStats("zim")
    records = list(iter_zim(stats, zim))
    assert [r.title for r in records] == ["Paris"]
    paris = records[0]
    assert paris.text == "Paris is the capital of France.\n\nIt lies on the Seine."
    assert paris.doc_id == "zim:wikipedia_en_test:Paris"
    assert (paris.publisher, paris.language, paris.published) == ("Kiwix", "en", "2024-06-01")
    assert paris.url == "https://en.wikipedia.org/wiki/Paris"
    assert stats.reasons["redirect"] == 1 and stats.reasons["not an HTML article"] == 1
    assert stats.reasons["no article text"] == 1


def test_a_file_that_is_not_a_zim_is_refused_with_a_clear_message(tmp_path, runner):
    fake = tmp_path / "fake.zim"
    fake.write_text("not a zim")
    result = runner.invoke(index_group, ["build", "--out", str(tmp_path / "i"), "--source", f"zim:{fake}"],
                           obj={"embedder": FakeEmbedder()})
    assert result.exit_code == 1 and "not a readable ZIM file" in result.output
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("kind", ["claimreview", "mediawiki", "zim"])
def test_new_kinds_need_a_location(kind):
    with pytest.raises(ValueError, match=f"{kind} needs"):
        parse_spec(f"{kind}:")


def test_a_data_feed_is_read_item_by_item_with_the_same_records_as_a_list(tmp_path):
    feed = json.loads((FIXTURES / "starter" / "claimreview-datafeed.json").read_text(encoding="utf-8"))
    reviews = [review for element in feed["dataFeedElement"] for review in element["item"]]
    (tmp_path / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    (tmp_path / "list.json").write_text(json.dumps(reviews), encoding="utf-8")
    streamed = list(iter_claimreviews(SourceStats("a"), str(tmp_path / "feed.json")))
    whole = list(iter_claimreviews(SourceStats("b"), str(tmp_path / "list.json")))
    assert streamed and [(r.doc_id, r.text, r.rating, r.publisher, r.published) for r in streamed] == [
        (r.doc_id, r.text, r.rating, r.publisher, r.published) for r in whole]


def test_a_data_feed_cut_short_fails_after_the_items_before(tmp_path):
    items = [{"@type": "DataFeedItem", "item": [dict(REVIEW, url=f"https://factcheck.example/{n}")]}
             for n in range(50)]
    text = json.dumps({"@type": "DataFeed", "dataFeedElement": items})
    (tmp_path / "feed.json").write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    records = []
    with pytest.raises(ValueError, match="the rest of it was not read"):
        for record in iter_claimreviews(SourceStats("c"), str(tmp_path / "feed.json")):
            records.append(record)
    assert 20 < len(records) < 50
