"""The one fetcher: refused schemes and addresses (also after redirects), caps, deadline, decoding.

Every server here is started by the test on 127.0.0.1; names resolve through an injected
resolver, and refused addresses are refused before any packet is sent.
"""

from __future__ import annotations

import bz2
import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

import index.fetch as fetch_module
from index.build import BuildError, build, update
from index.fetch import Fetched, Fetcher, FetchError, FetchLimits, RefusedError, refusal
from index.sources import Source, parse_spec
from index.sources.base import SourceStats
from index.sources.feeds import iter_feed
from index.sources.mediawiki import iter_mediawiki
from index.xmlsafe import UnsafeXmlError
from tests.conftest import FIXTURES, FakeEmbedder

HOSTILE = FIXTURES / "fetch"
FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Dock desk</title>'
        b'<item><title>Pier</title><link>pier.html</link><description>The pier reopened on '
        b'Monday after the storm repairs were finished.</description></item></channel></rss>')


class _Handler(BaseHTTPRequestHandler):
    """Routes: /feed, /gzip, /bomb, /endless, /trickle, /stall, /to?<url>, /cond, /missing."""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        path, _, query = self.path.partition("?")
        self.server.seen.append((path, dict(self.headers)))  # type: ignore[attr-defined]
        if path == "/feed":
            self._send(200, FEED, Content_Type="application/rss+xml; charset=utf-8")
        elif path == "/gzip":
            self._send(200, gzip.compress(b"harbour " * 1000), Content_Encoding="gzip")
        elif path == "/bomb":  # 10 MB of zeros in about 10 KB
            self._send(200, gzip.compress(bytes(10 * 1024 * 1024)), Content_Encoding="gzip")
        elif path in ("/endless", "/trickle"):
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * (65536 if path == "/endless" else 1))
                    self.wfile.flush()
                    if path == "/trickle":
                        time.sleep(0.05)
            except OSError:
                return
        elif path == "/stall":
            time.sleep(3)
        elif path == "/to":
            self._send(302, Location=unquote(query))
        elif path == "/loop":
            self._send(302, Location="/loop")
        elif path == "/cond":
            if self.headers.get("If-None-Match") == '"v1"':
                self._send(304, ETag='"v1"')
            else:
                self._send(200, b"{}", ETag='"v1"', Last_Modified="Mon, 02 Jun 2025 10:00:00 GMT")
        else:
            self._send(404, b"gone")


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _names(**mapping: str):
    def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise FetchError(f"cannot resolve {host}")
        return [mapping[host]]
    return resolve


def _local(**limits: object) -> Fetcher:
    """A fetcher that may reach the test's loopback server as news.test."""
    return Fetcher(FetchLimits(allow_private=True, **limits),  # type: ignore[arg-type]
                   resolver=_names(**{"news.test": "127.0.0.1"}))


@pytest.fixture
def public_loopback(monkeypatch):
    """127.0.0.1 counts as public (the test's server); every other address as it really is."""
    real = fetch_module.refusal
    monkeypatch.setattr(fetch_module, "refusal", lambda address, allow_private=False: (
        None if address == "127.0.0.1" else real(address, allow_private=allow_private)))


NON_GLOBAL = ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.5.4", "172.31.255.1",
              "192.168.1.1", "fc00::1", "fd12:3456::1", "169.254.169.254", "169.254.1.1",
              "fe80::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1", "100.64.0.1",
              "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"]


class _Transport:
    """A connector that records every connection attempt; only the test's own server is let
    through (``allow``), anything else fails the test: a refused address never gets a packet."""

    def __init__(self, allow: tuple[str, int] | None = None) -> None:
        self.allow = allow
        self.attempts: list[tuple[str, int]] = []

    def __call__(self, address: tuple[str, int], timeout: float | None):
        self.attempts.append(address)
        if address != self.allow:
            pytest.fail(f"the fetcher tried to connect to {address}")
        return fetch_module._connect(address, timeout)


@pytest.mark.parametrize("address", NON_GLOBAL)
def test_a_name_resolving_to_a_non_global_address_is_refused(address):
    transport = _Transport()
    fetcher = Fetcher(resolver=_names(**{"intranet.test": address}), connector=transport)
    with pytest.raises(RefusedError, match="refused: intranet.test is a"):
        fetcher.fetch("http://intranet.test/secret.json")
    assert transport.attempts == []


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://[::1]:8080/", "http://10.0.0.8/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/",
                                 "http://0.0.0.0:5000/", "http://[::ffff:127.0.0.1]/"])
def test_an_address_in_the_url_is_checked_too(url):
    transport = _Transport()
    with pytest.raises(RefusedError):
        Fetcher(resolver=_names(), connector=transport).fetch(url)
    assert transport.attempts == []


def test_the_private_switch_allows_an_intranet_but_never_link_local_or_multicast():
    assert refusal("10.0.0.1", allow_private=True) is None
    assert refusal("127.0.0.1", allow_private=True) is None
    assert refusal("169.254.169.254", allow_private=True) == "link-local"
    assert refusal("fe80::1", allow_private=True) == "link-local"
    assert refusal("224.0.0.1", allow_private=True) == "multicast"
    assert refusal("0.0.0.0", allow_private=True) == "unspecified"
    assert refusal("93.184.216.34") is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://news.test/feed.xml",
                                 "gopher://news.test/", "/etc/passwd", "data:text/plain,hi"])
def test_only_http_and_https_are_fetched(url):
    transport = _Transport()
    with pytest.raises(RefusedError, match="only http and https"):
        Fetcher(FetchLimits(allow_private=True), resolver=_names(**{"news.test": "127.0.0.1"}),
                connector=transport).fetch(url)
    assert transport.attempts == []


def test_a_name_is_connected_to_at_the_address_that_was_checked(server):
    port = server.server_address[1]
    fetched = _local().fetch(f"http://news.test:{port}/feed")
    assert fetched.status == 200 and fetched.body == FEED
    assert fetched.content_type == "application/rss+xml; charset=utf-8"
    path, headers = server.seen[-1]
    assert headers["Host"] == f"news.test:{port}"  # resolved once, by the injected resolver
    assert "Aside" in headers["User-Agent"]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://127.0.0.2:{port}/feed",
                                    "http://intranet.test/", "http://metadata.test/latest/",
                                    "http://[fe80::1]/", "http://[::ffff:127.0.0.1]:{port}/feed"])
def test_a_redirect_to_a_refused_url_is_refused(server, public_loopback, target):
    port = server.server_address[1]
    transport = _Transport(allow=("127.0.0.1", port))
    fetcher = Fetcher(resolver=_names(**{"news.test": "127.0.0.1", "intranet.test": "10.0.0.7",
                                         "metadata.test": "169.254.169.254"}), connector=transport)
    assert fetcher.fetch(f"http://news.test:{port}/feed").body == FEED  # the first hop is fine
    with pytest.raises(RefusedError):
        fetcher.fetch(f"http://news.test:{port}/to?{target.format(port=port)}")
    assert [p for p, _ in server.seen].count("/feed") == 1
    assert set(transport.attempts) == {("127.0.0.1", port)}  # the redirect's target: never


def test_redirects_are_followed_to_a_limit(server):
    port = server.server_address[1]
    fetched = _local().fetch(f"http://news.test:{port}/to?/feed")
    assert fetched.url == f"http://news.test:{port}/feed" and fetched.body == FEED
    with pytest.raises(FetchError, match="more than 3 redirects"):
        _local(max_redirects=3).fetch(f"http://news.test:{port}/loop")


def test_an_http_error_is_a_fetch_error(server):
    with pytest.raises(FetchError, match="HTTP 404"):
        _local().fetch(f"http://news.test:{server.server_address[1]}/missing")


def test_gzip_is_decoded_and_a_gzip_bomb_is_cut_at_the_cap(server):
    port = server.server_address[1]
    assert _local().fetch(f"http://news.test:{port}/gzip").body == b"harbour " * 1000
    started = time.monotonic()
    with pytest.raises(FetchError, match="larger than the cap of 1048576 bytes"):
        _local(max_bytes=1024 * 1024).fetch(f"http://news.test:{port}/bomb")
    assert time.monotonic() - started < 2


def test_an_endless_body_is_cut_at_the_cap(server):
    with pytest.raises(FetchError, match="larger than the cap"):
        _local(max_bytes=256 * 1024).fetch(f"http://news.test:{server.server_address[1]}/endless")


def test_a_trickling_body_is_cut_at_the_deadline_of_the_whole_fetch(server):
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline of 0.6s"):
        _local(deadline=0.6).fetch(f"http://news.test:{server.server_address[1]}/trickle")
    assert time.monotonic() - started < 1.5


def test_a_stalled_server_is_cut_at_the_deadline(server):
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out|deadline"):
        _local(deadline=0.5).fetch(f"http://news.test:{server.server_address[1]}/stall")
    assert time.monotonic() - started < 1.5


def test_a_conditional_request_reports_not_modified_with_the_validators(server):
    url = f"http://news.test:{server.server_address[1]}/cond"
    first = _local().fetch(url)
    assert (first.not_modified, first.etag, first.last_modified) == (
        False, '"v1"', "Mon, 02 Jun 2025 10:00:00 GMT")
    again = _local().fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.body == b"" and again.etag == '"v1"'
    assert server.seen[-1][1]["If-Modified-Since"] == "Mon, 02 Jun 2025 10:00:00 GMT"


# Sources: feeds parse fetched bytes; hostile XML is refused ------------------------------------

def test_a_feed_is_parsed_from_the_bytes_the_fetcher_got(server):
    port = server.server_address[1]
    stats = SourceStats("feed")
    records = list(iter_feed(stats, f"http://news.test:{port}/to?/feed", fetch=_local().fetch))
    assert [r.url for r in records] == [f"http://news.test:{port}/pier.html"]


def test_a_feed_url_at_a_loopback_address_is_refused_by_default(server):
    with pytest.raises(RefusedError):
        list(iter_feed(SourceStats("feed"), f"http://127.0.0.1:{server.server_address[1]}/feed"))
    assert server.seen == []


def test_a_billion_laughs_feed_is_refused_quickly():
    started = time.monotonic()
    with pytest.raises(UnsafeXmlError, match="declares entities"):
        list(iter_feed(SourceStats("feed"), str(HOSTILE / "billion-laughs.xml")))
    body = (HOSTILE / "billion-laughs.xml").read_bytes()
    with pytest.raises(UnsafeXmlError):
        list(iter_feed(SourceStats("feed"), "http://news.test/feed",
                       fetch=lambda url: Fetched(url=url, status=200, body=body)))
    assert time.monotonic() - started < 1


def test_an_external_entity_in_a_feed_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN", encoding="utf-8")
    feed = tmp_path / "feed.xml"
    feed.write_text((HOSTILE / "xxe.xml").read_text().replace("SECRET_PATH", secret.as_uri()))
    with pytest.raises(UnsafeXmlError):
        list(iter_feed(SourceStats("feed"), str(feed)))


def _dump(pages: list[str]) -> bytes:
    body = "".join(f"<page><title>{t}</title><ns>0</ns><revision><text>{x}</text></revision></page>"
                   for t, x in pages)
    site = "<siteinfo><sitename>Wiki</sitename></siteinfo>"
    return f'<mediawiki xml:lang="en">{site}{body}</mediawiki>'.encode()


def _read_until_failure(stats: SourceStats, *args, **kwargs) -> tuple[list, str]:
    records: list = []
    with pytest.raises(ValueError) as failure:
        for record in iter_mediawiki(stats, *args, **kwargs):
            records.append(record)
    return records, str(failure.value)


def test_a_bz2_bomb_page_in_a_dump_fails_the_source_after_the_pages_before(tmp_path):
    good = "The harbour of Port Alder was rebuilt in 1904 after the great storm. " * 2
    dump = tmp_path / "bomb.xml.bz2"
    dump.write_bytes(bz2.compress(_dump([("Harbour", good), ("Bomb", "a" * 40_000_000)])))
    assert dump.stat().st_size < 10_000
    records, why = _read_until_failure(SourceStats("mediawiki"), dump, page_max_bytes=1024 * 1024,
                                       expand_max_ratio=10_000)
    assert [r.title for r in records] == ["Harbour"]
    assert "a page is larger than 1048576 bytes" in why and "the rest of the dump was not read" in why
    _, why = _read_until_failure(SourceStats("mediawiki"), dump, page_max_bytes=100_000_000,
                                 expand_max_ratio=100)
    assert "likely a decompression bomb" in why


def test_a_cut_download_of_a_dump_fails_the_source(tmp_path):
    whole = bz2.compress(_dump([(f"Page {n}", f"Port Alder has {n} piers and a ferry. " * 30)
                                for n in range(200)]))
    dump = tmp_path / "cut.xml.bz2"
    dump.write_bytes(whole[: len(whole) // 2])
    _, why = _read_until_failure(SourceStats("mediawiki"), dump)
    assert "cut.xml.bz2" in why and "the rest of the dump was not read" in why


def test_a_dump_declaring_entities_is_refused(tmp_path):
    dump = tmp_path / "laughs.xml"
    dump.write_bytes(b'<?xml version="1.0"?><!DOCTYPE mediawiki [<!ENTITY a "aaaa">]>' + _dump(
        [("Harbour", "&a;" * 10)]))
    records, why = _read_until_failure(SourceStats("mediawiki"), dump)
    assert records == [] and "declares entities" in why


# Build: one failing source does not stop the others -------------------------------------------

def test_a_failing_source_is_reported_and_the_good_one_built(tmp_path):
    good = parse_spec(f"jsonl:{FIXTURES / 'jsonl' / 'docs.jsonl'}")
    refused = parse_spec("feed:http://127.0.0.1:9/feed.xml")  # loopback: refused, never sent
    report = build([refused, good], tmp_path / "index", FakeEmbedder())
    failed = {s.name: s.failed for s in report.sources}
    assert failed[good.name] is None and "refused" in (failed[refused.name] or "")
    assert report.passages_by_source[good.name] > 0
    with pytest.raises(BuildError, match="every source failed"):
        build([refused, Source("claimreview:x", _broken)], tmp_path / "other", FakeEmbedder())
    assert not (tmp_path / "other").exists()


def _broken(stats: SourceStats):
    raise ValueError("not a readable file")
    yield



def test_an_update_keeps_the_documents_of_a_source_that_failed(tmp_path):
    good = parse_spec(f"jsonl:{FIXTURES / 'jsonl' / 'docs.jsonl'}")
    desk = tmp_path / "desk.xml"
    desk.write_bytes(FEED)
    feed = parse_spec(f"feed:{desk}")
    out = tmp_path / "index"
    first = build([feed, good], out, FakeEmbedder())
    desk.write_bytes((HOSTILE / "billion-laughs.xml").read_bytes())  # now refused
    report = update([feed, good], out, FakeEmbedder())
    assert "declares entities" in ([s.failed for s in report.sources if s.name == feed.name][0] or "")
    assert report.documents["removed"] == 0
    assert report.manifest.passages == first.manifest.passages


def test_no_test_can_open_a_connection_beyond_loopback():
    # tests/conftest.py guards socket.connect for the whole run: whatever a test's code does,
    # nothing leaves the machine (a public address that the fetcher itself would allow).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, \
            pytest.raises(OSError, match="loopback only"):
        sock.connect(("93.184.216.34", 80))
    with pytest.raises(FetchError, match="loopback only"):
        Fetcher().fetch("http://93.184.216.34/feed.xml")
