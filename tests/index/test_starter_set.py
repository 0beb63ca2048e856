"""The starter set of live sources: docs/sources.example.toml, and each of its formats end to end.

The example file names real public sources; the build tests serve invented samples of the same
formats (tests/fixtures/starter/) from a loopback server and build through the CLI as an
operator would. Nothing here reaches the internet: name resolution of any host but the
loopback server is refused for the whole module.
"""

from __future__ import annotations

import bz2
import json
import socket
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from index.fetch import Fetcher, FetchError, FetchLimits
from index.mirror import Mirror
from index.records import Passage
from index.sources.config import load_sources_file
from index.store import Store
from server.cli import main
from tests.conftest import FIXTURES, FakeEmbedder
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "sources.example.toml"
STARTER = FIXTURES / "starter"
MB = 1_000_000

# Where the loopback server serves each sample, mirroring the real URL's shape.
CLAIMREVIEW = "/datacommons-feeds/claimreview/latest/data.json"
ZIM = "/zim/wikipedia_en_top_nopic.zim"
DUMP = "/simplewiki/latest/simplewiki-latest-pages-articles.xml.bz2"
RSS = "/feed/bls_latest.rss"
ATOM = "/statistics/releases.atom"
CURRENT_EVENTS = "/wiki/Portal:Current_events"
PATHS = (CLAIMREVIEW, ZIM, DUMP, RSS, ATOM, CURRENT_EVENTS)


# The example file --------------------------------------------------------------------------

def _example_entries() -> list[dict[str, Any]]:
    entries = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["source"]
    assert isinstance(entries, list)
    return entries


def test_the_example_sources_file_is_read_by_the_sources_loader(tmp_path):
    # As `aside index build|update` reads it: URLs of file kinds are downloaded through a
    # mirror beside the index (nothing is fetched until a source is read).
    mirror = Mirror(tmp_path / "index.state" / "downloads", Fetcher())
    sources = load_sources_file(EXAMPLE, remote=mirror)
    assert [s.name for s in sources] == [e["name"] for e in _example_entries()]


def test_every_example_source_is_packaged_or_an_https_url_with_a_licence_and_a_name():
    for entry in _example_entries():
        where = entry.get("name", entry)
        if entry["kind"] in ("factbook", "wikipedia"):  # packaged data: nothing to fetch
            assert "location" not in entry, where
        else:
            assert entry["location"].startswith("https://"), where
        assert isinstance(entry.get("license"), str) and entry["license"].strip(), where
        assert isinstance(entry.get("name"), str) and entry["name"].strip(), where
    names = [entry["name"] for entry in _example_entries()]
    assert len(set(names)) == len(names), "names label update state: they must be unique"


def test_the_example_has_each_kind_of_the_starter_set():
    entries = _example_entries()
    kinds = Counter(entry["kind"] for entry in entries)
    assert kinds["factbook"] == kinds["wikipedia"] == 1  # the default sources stay
    assert kinds["claimreview"] >= 1
    assert kinds["zim"] + kinds["mediawiki"] >= 1
    assert kinds["feed"] >= 2
    assert any(e["kind"] == "html" and "Portal:Current_events" in e.get("location", "")
               for e in entries)


def test_large_downloads_have_room_to_grow():
    for entry in _example_entries():
        if entry["kind"] == "claimreview":  # about 200 MB in 2026, and growing
            assert entry.get("max_bytes", 0) >= 400 * MB, entry["name"]
        if entry["kind"] in ("zim", "mediawiki"):  # 0.3 to 3 GB
            assert entry.get("max_bytes", 0) >= 3_000 * MB, entry["name"]
            assert entry.get("deadline", 0) >= 3_600, entry["name"]


def test_the_claim_search_api_is_left_out():
    # Its terms forbid building a database from what it returns; see the file's comment.
    for entry in _example_entries():
        assert "factchecktools.googleapis.com" not in entry.get("location", "")
    assert "factchecktools.googleapis.com" in EXAMPLE.read_text(encoding="utf-8")


# The loopback server, as index.fetch sees it --------------------------------------------------

def test_the_loopback_server_answers_conditional_requests_and_gzip(no_internet):
    fetcher = Fetcher(FetchLimits(allow_private=True))
    with LoopbackServer({"/a.rss": (b"<rss>one</rss>", "application/rss+xml")}, gzip=True) as server:
        first = fetcher.fetch(server.url("/a.rss"))
        assert (first.status, first.body, first.content_type) == (200, b"<rss>one</rss>",
                                                                 "application/rss+xml")
        by_tag = fetcher.fetch(server.url("/a.rss"), etag=first.etag)
        by_date = fetcher.fetch(server.url("/a.rss"), last_modified=first.last_modified)
        assert by_tag.not_modified and by_date.not_modified and by_tag.etag == first.etag
        server.put("/a.rss", b"<rss>two</rss>")
        second = fetcher.fetch(server.url("/a.rss"), etag=first.etag, last_modified=first.last_modified)
        assert (second.status, second.body) == (200, b"<rss>two</rss>") and second.etag != first.etag
        assert [(r.conditional, r.status) for r in server.requests_for("/a.rss")] == [
            (False, 200), (True, 304), (True, 304), (True, 200)]
        with pytest.raises(FetchError, match="404"):
            fetcher.fetch(server.url("/missing"))


# The samples, served from loopback -----------------------------------------------------------

def _write_zim(path: Path) -> None:
    """A ZIM like Kiwix's Wikipedia ones, from the invented articles in zim-articles.json."""
    from libzim.writer import Creator, Hint, Item, StringProvider

    sample = json.loads((STARTER / "zim-articles.json").read_text(encoding="utf-8"))

    class Article(Item):  # type: ignore[misc]
        def __init__(self, entry_path: str, title: str, html: str) -> None:
            super().__init__()
            self.entry_path, self.entry_title, self.html = entry_path, title, html

        def get_path(self) -> str:
            return self.entry_path

        def get_title(self) -> str:
            return self.entry_title

        def get_mimetype(self) -> str:
            return "text/html"

        def get_contentprovider(self) -> StringProvider:
            return StringProvider(self.html)

        def get_hints(self) -> dict[Any, bool]:
            return {Hint.FRONT_ARTICLE: True}

    with Creator(str(path)).config_indexing(False, "eng") as creator:
        articles = sample["articles"]
        creator.set_mainpath(next(iter(articles)))
        for entry_path, (title, html) in articles.items():
            creator.add_item(Article(entry_path, title, html))
        for key, value in sample["metadata"].items():
            creator.add_metadata(key, value)


def _samples(tmp: Path) -> dict[str, tuple[bytes, str]]:
    zim = tmp / "sample.zim"
    _write_zim(zim)
    dump = (STARTER / "simplewiki-pages-articles.xml").read_bytes()
    return {
        CLAIMREVIEW: ((STARTER / "claimreview-datafeed.json").read_bytes(), "application/json"),
        ZIM: (zim.read_bytes(), "application/octet-stream"),
        DUMP: (bz2.compress(dump), "application/x-bzip2"),
        RSS: ((STARTER / "bls-latest.rss").read_bytes(), "application/rss+xml"),
        ATOM: ((STARTER / "releases.atom").read_bytes(), "application/atom+xml"),
        CURRENT_EVENTS: ((STARTER / "current-events.html").read_bytes(), "text/html; charset=UTF-8"),
    }


def _sources_file(path: Path, server: LoopbackServer) -> Path:
    """The starter set's entries, pointed at the loopback server (same kinds and keys)."""
    path.write_text(f"""
[[source]]
name = "factchecks"
kind = "claimreview"
location = "{server.url(CLAIMREVIEW)}"
license = "CC BY"
max_bytes = 400_000_000

[[source]]
name = "encyclopedia"
kind = "zim"
location = "{server.url(ZIM)}"
publisher = "Rivopedia"
license = "CC BY-SA 4.0"
max_bytes = 4_000_000_000
deadline = 7200

[[source]]
name = "simple-encyclopedia"
kind = "mediawiki"
location = "{server.url(DUMP)}"
license = "CC BY-SA 4.0"
max_bytes = 4_000_000_000
deadline = 7200

[[source]]
name = "labour-figures"
kind = "feed"
location = "{server.url(RSS)}"
publisher = "Bureau of Labour Figures"
language = "en"
license = "Public domain"

[[source]]
name = "castelva-statistics"
kind = "feed"
location = "{server.url(ATOM)}"
license = "CC BY 4.0"

[[source]]
name = "current-events"
kind = "html"
location = "{server.url(CURRENT_EVENTS)}"
publisher = "Rivopedia"
language = "en"
license = "CC BY-SA 4.0"
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def no_internet() -> Iterator[list[str]]:
    """Refuse to resolve any host but loopback, and record the attempts."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host) not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"tests do not reach the internet ({host})")
        return real(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", loopback_only)
        yield attempts
    assert not attempts, f"a test tried to reach the internet: {attempts}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, no_internet: list[str]) -> Iterator[LoopbackServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASIDE_FETCH_PRIVATE", "true")  # the server is on loopback
        with LoopbackServer(_samples(tmp_path_factory.mktemp("samples"))) as server:
            yield server


def _invoke(embedder: FakeEmbedder, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), obj={"embedder": embedder}, catch_exceptions=False)


@pytest.fixture(scope="module")
def built(served: LoopbackServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("starter")
    sources = _sources_file(work / "sources.toml", served)
    out = work / "index"
    result = _invoke(FakeEmbedder(), "index", "build", "--out", str(out), "--sources", str(sources))
    assert result.exit_code == 0, result.output
    return out


def _passages(out: Path, prefix: str, publisher: str | None = None) -> dict[str, list[Passage]]:
    """Each document whose id starts with ``prefix`` (and of ``publisher``), with its passages."""
    store = Store.open(out)
    found = {doc: store.document_passages(doc) for doc in store.documents() if doc.startswith(prefix)}
    return {doc: ps for doc, ps in found.items()
            if publisher is None or {p.publisher for p in ps} == {publisher}}


def _one_per_document(found: dict[str, list[Passage]]) -> list[Passage]:
    return sorted((ps[0] for ps in found.values()), key=lambda p: p.url or "")


def test_fact_checks_keep_reviewer_link_date_language_rating_and_licence(built):
    checks = _one_per_document(_passages(built, "claimreview:"))
    assert [(p.publisher, p.url, p.published, p.language, p.rating) for p in checks] == [
        ("Harbour Fact Desk", "https://harbourfacts.example/2026/11/ferry-fares-doubled",
         "2026-11-02", "en", "Mostly false"),
        ("Harbour Fact Desk", "https://harbourfacts.example/2026/11/grain-silo-capacity",
         "2026-11-20", "en", "Half true"),
        ("Verificado Andino", "https://verificadoandino.example/2026/11/exportaciones-de-cobre",
         "2026-11-09", "es", "Falso"),
    ]
    assert {p.kind for p in checks} == {"fact-check"} and {p.license for p in checks} == {"CC BY"}
    assert checks[0].claimant == "Councillor Mara Vell"


def test_zim_articles_keep_their_link_the_archive_date_and_the_licence(built):
    articles = _one_per_document(_passages(built, "zim:"))
    assert [(p.title, p.url, p.published, p.publisher, p.language, p.license) for p in articles] == [
        ("Castel (currency)", "https://rivopedia.example/wiki/Castel_(currency)", "2026-06-01",
         "Rivopedia", "en", "CC BY-SA 4.0"),
        ("Valdomar port", "https://rivopedia.example/wiki/Valdomar_port", "2026-06-01",
         "Rivopedia", "en", "CC BY-SA 4.0"),
    ]


def test_dump_articles_keep_their_link_revision_date_and_licence(built):
    articles = _one_per_document(_passages(built, "mediawiki:"))
    assert [(p.title, p.url, p.published, p.license) for p in articles] == [
        ("Castelva", "https://simple.rivopedia.example/wiki/Castelva", "2026-11-01", "CC BY-SA 4.0"),
        ("Isla Plata", "https://simple.rivopedia.example/wiki/Isla_Plata", "2026-10-14", "CC BY-SA 4.0"),
    ]


def test_an_rss_release_feed_gives_one_document_per_release(built):
    releases = _one_per_document(_passages(built, "feed:", publisher="Bureau of Labour Figures"))
    assert [(p.title, p.published) for p in releases] == [
        ("Consumer Price Index: October 2026", "2026-11-12"),
        ("The Employment Situation: October 2026", "2026-11-06"),
        ("Job Openings and Labor Turnover: September 2026", "2026-11-03"),
    ]
    assert {p.url for p in releases} == {
        f"https://labourfigures.example/news.release/{name}.nr0.htm" for name in ("cpi", "empsit", "jolts")}
    assert {(p.license, p.language) for p in releases} == {("Public domain", "en")}


def test_an_atom_release_feed_takes_its_title_as_publisher(built):
    publisher = "Castelva Statistics Office: releases (invented sample)"
    releases = _one_per_document(_passages(built, "feed:", publisher=publisher))
    assert [(p.url, p.published, p.license) for p in releases] == [
        ("https://statistics.castelva.example/releases/2026-11-17-hicp", "2026-11-17", "CC BY 4.0"),
        ("https://statistics.castelva.example/releases/2026-11-26-unemployment", "2026-11-26",
         "CC BY 4.0"),
    ]


def test_current_events_are_one_page_cut_into_passages_of_events(built):
    (passages,) = _passages(built, "html:").values()
    page = passages[0]
    assert (page.url, page.publisher, page.license) == (
        "https://rivopedia.example/wiki/Portal:Current_events", "Rivopedia", "CC BY-SA 4.0")
    assert page.published  # the page's date as trafilatura reads it, not each event's day
    text = " ".join(p.text for p in passages)
    assert "the Harbour Party wins 61 of the 120 seats" in text
    assert "Main page" not in text and "Privacy policy" not in text


def test_a_query_finds_the_fact_check_with_its_rating(built):
    result = _invoke(FakeEmbedder(), "index", "query", str(built), "ferry fares Isla Plata privatised",
                     "--json", "-k", "1")
    assert result.exit_code == 0, result.output
    (hit,) = json.loads(result.output)
    assert (hit["publisher"], hit["rating"], hit["license"]) == ("Harbour Fact Desk", "Mostly false", "CC BY")


def test_the_build_fetched_each_sample_once_from_loopback_only(served, built):
    for path in PATHS:
        assert [r.status for r in served.requests_for(path)] == [200], path


# Keeping the index fresh: aside index update -------------------------------------------------

@pytest.fixture
def fresh(served: LoopbackServer, tmp_path: Path) -> Iterator[tuple[LoopbackServer, Path, Path]]:
    """An index made by a first ``update`` (none existed), and the server's log from then on."""
    sources = _sources_file(tmp_path / "sources.toml", served)
    out = tmp_path / "index"
    seen = len(served.requests)
    first = _invoke(FakeEmbedder(), "index", "update", str(out), "--sources", str(sources))
    assert first.exit_code == 0, first.output
    assert (out / "manifest.json").is_file()
    original = {path: served.get(path) for path in PATHS}
    yield served, sources, out
    del served.requests[seen:]  # leave the module's build log as it was
    for path, (body, content_type) in original.items():  # and every sample as it was
        if served.get(path)[0] != body:
            served.put(path, body, content_type)


def test_an_unchanged_source_costs_one_conditional_request_and_no_embedding(fresh):
    served, sources, out = fresh
    before = len(served.requests)
    embedder = FakeEmbedder()
    result = _invoke(embedder, "index", "update", str(out), "--sources", str(sources))
    assert result.exit_code == 0, result.output
    again = served.requests[before:]
    assert sorted(r.path for r in again) == sorted(PATHS)
    assert all(r.conditional and r.status == 304 for r in again), again
    assert embedder.calls == []


def test_a_changed_feed_is_read_again_and_the_other_sources_kept(fresh):
    served, sources, out = fresh
    feed = (STARTER / "bls-latest.rss").read_text(encoding="utf-8")
    item = """<item>
      <title>Producer Price Index: October 2026</title>
      <link>https://labourfigures.example/news.release/ppi.nr0.htm</link>
      <guid isPermaLink="false">lbf-ppi-2026-10</guid>
      <pubDate>Fri, 13 Nov 2026 08:30:00 EST</pubDate>
      <description>The Producer Price Index for final demand rose 0.2 percent in October.</description>
    </item>
    <item>"""
    served.put(RSS, feed.replace("<item>", item, 1).encode())
    before = len(served.requests)
    embedder = FakeEmbedder()
    result = _invoke(embedder, "index", "update", str(out), "--sources", str(sources))
    assert result.exit_code == 0, result.output
    statuses = {r.path: r.status for r in served.requests[before:]}
    assert statuses == {path: 200 if path == RSS else 304 for path in PATHS}
    embedded = [text for call in embedder.calls for text in call]
    assert embedded and all("Producer Price Index" in text for text in embedded)
    titles = {p.title for p in _one_per_document(_passages(out, "feed:", "Bureau of Labour Figures"))}
    assert "Producer Price Index: October 2026" in titles and len(titles) == 4
    assert len(_passages(out, "claimreview:")) == 3 and len(_passages(out, "zim:")) == 2
