"""Feeds and spreadsheet files as they are published: repeated guids, odd dates, relative
links, byte-order marks, code pages, UTF-16 and European separators."""

from __future__ import annotations

import codecs
import functools
import json
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from index.sources import SourceStats
from index.sources.csvfile import iter_csv
from index.sources.dates import day_first, read_date
from index.sources.feeds import iter_feed
from index.sources.jsonl import iter_jsonl
from server.cli import main
from tests.conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
CSV = FIXTURES / "csv"
COURIER = "https://harbourcourier.example/coast/"


def read(source_iter, **kwargs):
    stats = SourceStats("test")
    return list(source_iter(stats, **kwargs)), stats


def invoke(runner, embedder, *args):
    return runner.invoke(main, list(args), obj={"embedder": embedder}, catch_exceptions=False)


def rss(items: str, *, link: str = "https://tidewatch.example/") -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Tidewatch'
            f"</title><link>{link}</link><description>d</description>{items}</channel></rss>")


def item(title: str, *, link: str = "", guid: str = "", date: str = "") -> str:
    return (f"<item><title>{title}</title>"
            + (f"<link>{link}</link>" if link else "")
            + (f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + f"<description>The {title.lower()} story, told in one sentence.</description></item>")


# Feeds: identity ------------------------------------------------------------------------------

def test_items_that_share_one_guid_are_all_kept_under_their_own_links():
    records, stats = read(iter_feed, location=str(FEEDS / "shared-guid.rss"))
    assert stats.read == 7 and stats.skipped == 0
    ids = [r.doc_id for r in records]
    assert len(set(ids)) == 7
    assert ids[:4] == [f"feed:{COURIER}2023/09/night-ferry", f"feed:{COURIER}2023/09/sardine-quota",
                       f"feed:{COURIER}2023/09/shuttle-timetable",  # relative link, made absolute
                       f"feed:{COURIER}2023/09/lighthouse-museum"]  # no guid at all
    assert ids[4] == "feed:courier-coast-8812"  # a guid no other item has is still the id
    assert records[5].url is None and ids[5] != "feed:" + COURIER  # neither guid nor link: its text


def test_well_formed_feeds_keep_the_ids_they_had():
    gazette, _ = read(iter_feed, location=str(FEEDS / "news.rss"))
    almanac, _ = read(iter_feed, location=str(FEEDS / "updates.atom"))
    assert [r.doc_id for r in gazette + almanac] == [
        "feed:https://gazette.example/fed", "feed:https://gazette.example/wheat",
        "feed:urn:example:almanac:bridge"]


def test_items_with_neither_guid_nor_own_link_keep_their_ids_when_the_feed_is_reordered(tmp_path):
    records, _ = read(iter_feed, location=str(FEEDS / "same-link.rss"))
    assert len({r.doc_id for r in records}) == 3
    assert {r.url for r in records} == {"https://bulletin.example/"}
    items = [item(t, link="https://tidewatch.example/") for t in ("Low tide", "High tide", "Neap")]
    forward, backward = tmp_path / "forward.rss", tmp_path / "backward.rss"
    forward.write_text(rss("".join(items)), encoding="utf-8")
    backward.write_text(rss("".join(reversed(items))), encoding="utf-8")
    ids = {r.title: r.doc_id for r in read(iter_feed, location=str(forward))[0]}
    assert {r.title: r.doc_id for r in read(iter_feed, location=str(backward))[0]} == ids
    assert len(set(ids.values())) == 3


def test_a_feed_with_repeated_guids_builds_every_item(runner, fake_embedder, tmp_path):
    result = invoke(runner, fake_embedder, "index", "build", "--out", str(tmp_path / "idx"),
                    "--source", f"feed:{FEEDS / 'shared-guid.rss'}")
    assert result.exit_code == 0, result.output
    assert "shared-guid.rss: 7 records, 0 skipped" in result.output
    assert "same document id" not in result.output
    assert "no readable date: 1" in result.output and "no date: 1" in result.output


# Feeds: dates ---------------------------------------------------------------------------------

def test_odd_item_dates_are_read_as_the_item_states_them():
    records, stats = read(iter_feed, location=str(FEEDS / "shared-guid.rss"))
    assert [r.published for r in records] == [
        "2023-09-14",  # 2023/9/14 08:12:05
        "2023-09-12",  # a German weekday, "Di,"
        "2023-09-08",  # no time zone
        "2023-09-15",  # 15.09.2023
        None,          # "nächste Woche": not a date
        None,          # no date given
        "2023-09-04",  # 01:30 at +0500: the writer's day, not the day in UTC
    ]
    assert stats.notes == {"no readable date": 1, "no date": 1}


@pytest.mark.parametrize(("raw", "expected"), [
    ("2024/6/29 15:07:41", "2024-06-29"),
    ("Mo, 24 Jun 2024 11:41:36 +0200", "2024-06-24"),
    ("Montag, 24 Jun 2024", "2024-06-24"),
    ("Thu, 4 Jul 2024 19:40:17", "2024-07-04"),
    ("Wed, 26 Jul 2023 18:00:00 EST", "2023-07-26"),
    ("Sun, 30 Jun 2024 23:30:00 -0700", "2024-06-30"),
    ("2024-03-04T23:30:00-05:00", "2024-03-04"),
    ("2024-03-04", "2024-03-04"),
    ("2024-03-04 15:07 CET", "2024-03-04"),
    ("29.06.2024", "2024-06-29"),
    ("6/29/2024 3:07 PM", "2024-06-29"),
    ("June 29, 2024", "2024-06-29"),
    ("June 2024", "2024-06"),
    ("2024", "2024"),
])
def test_dates_in_many_forms_are_read(raw, expected):
    assert read_date(raw) == expected


@pytest.mark.parametrize("raw", [
    "nächste Woche", "yesterday", "Jun 24", "15:07:41", "2024-06-31", "2024-13-40",
    "Tue, 30 Feb 2024 10:00:00 GMT", "03/04/2024", "45306", "", "   ", None,
])
def test_a_date_that_cannot_be_read_is_never_invented(raw):
    assert read_date(raw) is None


def test_the_day_month_order_of_a_numeric_date_comes_from_its_neighbours(tmp_path):
    assert day_first(["31/05/2024", "03/06/2024"]) is True
    assert day_first(["05/31/2024", "2024-06-29"]) is False
    assert day_first(["31/05/2024", "05/31/2024"]) is None  # contradictory: decide nothing
    assert read_date("03/06/2024", dayfirst=True) == "2024-06-03"
    feed = tmp_path / "order.rss"
    feed.write_text(rss(item("Spring tide", guid="t1", date="31/05/2024")
                        + item("Neap tide", guid="t2", date="03/06/2024")), encoding="utf-8")
    records, stats = read(iter_feed, location=str(feed))
    assert [r.published for r in records] == ["2024-05-31", "2024-06-03"] and not stats.notes


def test_atom_entries_with_xml_base_repeated_ids_and_fallback_dates():
    records, stats = read(iter_feed, location=str(FEEDS / "relative.atom"))
    assert [r.url for r in records] == [
        "https://almanac-south.example/notes/2024/salt-flats.html",
        "https://almanac-south.example/roads/pass.html",
        "https://observatory.example/about"]
    assert [r.doc_id for r in records] == ["feed:" + r.url for r in records[:2]] + [
        "feed:urn:example:south-almanac:observatory"]
    # published first; an unreadable published gives way to the entry's own updated date
    assert [r.published for r in records] == ["2024-02-20", "2024-02-17", None]
    assert stats.notes == {"no readable date": 1}


# Feeds: links ---------------------------------------------------------------------------------

def test_relative_links_are_made_absolute_against_the_channel_link(tmp_path):
    records, _ = read(iter_feed, location=str(FEEDS / "shared-guid.rss"))
    assert records[2].url == COURIER + "2023/09/shuttle-timetable"
    feed = tmp_path / "paths.rss"
    feed.write_text(rss(item("Fog", link="fog.html") + item("Gale", link="../gale.html")
                        + item("Swell", link="//swell.example/today"),
                        link="https://tidewatch.example/desk/"), encoding="utf-8")
    assert [r.url for r in read(iter_feed, location=str(feed))[0]] == [
        "https://tidewatch.example/desk/fog.html", "https://tidewatch.example/gale.html",
        "https://swell.example/today"]


def test_a_link_with_nothing_to_resolve_it_against_is_kept_and_counted(tmp_path):
    feed = tmp_path / "bare.rss"
    feed.write_text(rss(item("Harbour fog", guid="f1", link="fog.html"), link="/"), encoding="utf-8")
    (record,), stats = read(iter_feed, location=str(feed))
    assert record.url == "fog.html" and record.doc_id == "feed:f1"
    assert stats.notes["link left relative (no feed URL to resolve it against)"] == 1


@pytest.fixture
def feed_server(tmp_path, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASIDE_FETCH_PRIVATE", "true")  # the server is on loopback
    (tmp_path / "desk").mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_fetched_feed_resolves_relative_links_against_its_own_url(feed_server):
    root, origin = feed_server
    (root / "desk" / "feed.xml").write_text(
        rss(item("Pier closed", link="pier.html") + item("Pier open", link="/news/open.html"),
            link="home/"), encoding="utf-8")
    records, _ = read(iter_feed, location=f"{origin}/desk/feed.xml")
    assert [r.url for r in records] == [f"{origin}/desk/pier.html", f"{origin}/news/open.html"]
    assert [r.doc_id for r in records] == [f"feed:{r.url}" for r in records]


# CSV ------------------------------------------------------------------------------------------

def test_excel_utf8_csv_with_bom_crlf_and_a_line_break_in_a_cell():
    raw = (CSV / "excel-bom-crlf.csv").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8) and b"\r\n" in raw  # the fixture is as Excel saves it
    records, stats = read(iter_csv, path=CSV / "excel-bom-crlf.csv")
    assert (stats.read, stats.skipped) == (3, 0)
    assert [r.title for r in records] == ["Customs record", "Tariff schedule", "Deeper channel"]
    assert records[1].text == ("Shipping lines said the new tariff schedule would apply from the "
                               "first of May,\nstarting with frozen fish, cut flowers and machine parts.")
    assert records[2].text.endswith('deepened to "fourteen metres at low tide".')
    assert [r.published for r in records] == ["2024-04-02", "2024-04-05", "2024-04-08"]
    assert records[0].url == "https://dockside.example/2024/04/customs"


def test_a_european_export_in_cp1252_with_semicolons_and_day_first_dates():
    records, stats = read(iter_csv, path=CSV / "excel-semicolon-cp1252.csv")
    assert (stats.read, stats.skipped, stats.notes) == (3, 0, {})
    assert records[0].text == ("Die Fähre nach Isla Plata kostet ab Juni 14 € statt 12 €, "
                               "teilte der Betreiber mit.")
    assert records[1].title == "Atún" and "el precio medio subió un 6 %" in records[1].text
    assert records[2].text.startswith("Señales nuevas en el muelle: «prohibido amarrar»")
    # 03/06/2024 is 3 June: the same column also has 29.05.2024 and 31/05/2024
    assert [r.published for r in records] == ["2024-05-29", "2024-05-31", "2024-06-03"]
    assert records[0].url == "https://kuestenblatt.example/faehre"


def test_excel_unicode_text_is_utf16_with_tabs():
    records, stats = read(iter_csv, path=CSV / "excel-unicode-text.txt")
    assert [r.doc_id for r in records] == ["csv:excel-unicode-text:tide-1", "csv:excel-unicode-text:tide-2"]
    assert records[1].text == ("Residents of Barrio Alto – about 2,000 people – were told to stay "
                               "indoors;\nthe warning was lifted at dawn.")
    assert [r.published for r in records] == ["2024-01-17", "2024-01-17"] and stats.skipped == 0


def test_excel_sep_line_names_the_delimiter_and_padded_rows_are_ignored():
    records, stats = read(iter_csv, path=CSV / "sep-line.csv")
    assert [r.title for r in records] == ["Fenders", "Breakwater"] and stats.skipped == 0
    assert [r.published for r in records] == [None, "2024-03-05"]  # 03/04/2024: no order known
    assert stats.notes == {"no readable date": 1}


def test_utf8_with_one_damaged_byte_keeps_every_other_character(caplog):
    records, stats = read(iter_csv, path=CSV / "damaged-utf8.csv")
    assert records[0].text.endswith("next to the café on Calle Mar.")
    assert records[1].text == "The caf\ufffd opens at six for the first crossing."
    assert records[1].title == "Café"
    assert stats.notes == {"damaged UTF-8 bytes replaced by U+FFFD": 1}
    assert "damaged-utf8.csv: UTF-8 with bytes that are not" in caplog.text


SHEET = ('Text,Title,Published\r\n"Le quai n°3 ferme à 22 h; «travaux» prévus.",Quai,2024-02-01\r\n'
         '"Ferry to Barra: 12 crossings a day",Ferry,1 Feb 2024\r\n')


@pytest.mark.parametrize("encode", [
    lambda s: s.encode("utf-8"),
    lambda s: s.encode("utf-8-sig"),
    lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le"),
    lambda s: codecs.BOM_UTF16_BE + s.encode("utf-16-be"),
    lambda s: s.encode("utf-16-le"),
    lambda s: s.encode("cp1252"),
    lambda s: s.encode("latin-1"),
], ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "cp1252", "latin-1"])
def test_the_same_sheet_reads_the_same_in_every_encoding(tmp_path, encode):
    path = tmp_path / "sheet.csv"
    path.write_bytes(encode(SHEET))
    records, stats = read(iter_csv, path=path)
    assert [(r.title, r.published) for r in records] == [("Quai", "2024-02-01"), ("Ferry", "2024-02-01")]
    assert records[0].text == "Le quai n°3 ferme à 22 h; «travaux» prévus." and stats.skipped == 0


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_found_from_the_header(tmp_path, delimiter):
    path = tmp_path / "sheet.csv"
    rows = [["title", "text", "url"], ["Moorings", "Moorings cost 40, or 35 for members.", "/m"],
            ["Cranes", "Two cranes; one idle.", "/c"]]
    path.write_text("\n".join(delimiter.join(f'"{c}"' if c[-1] == "." else c for c in row)
                              for row in rows) + "\n", encoding="utf-8")
    records, _ = read(iter_csv, path=path)
    assert [(r.title, r.text, r.url) for r in records] == [
        ("Moorings", "Moorings cost 40, or 35 for members.", "/m"), ("Cranes", "Two cranes; one idle.", "/c")]


def _xlsx(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")


@pytest.mark.parametrize(("write", "message"), [
    (_xlsx, "found a zip archive (an .xlsx or .ods workbook?)"),
    (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64)), "an .xls workbook?"),
    (lambda p: p.write_bytes(b"text\n\x00\x01\x02\x00\xff\x00binary"), "found NUL bytes"),
    (lambda p: p.write_bytes(codecs.BOM_UTF16_LE + "text\n".encode("utf-16-le") + b"\x00\xd8"),
     "found UTF-16 with a byte-order mark, but the bytes near offset"),
])
def test_a_file_that_is_not_readable_text_is_refused_with_what_was_found(tmp_path, write, message):
    path = tmp_path / "export.csv"
    write(path)
    with pytest.raises(ValueError, match="export.csv: ") as refused:
        read(iter_csv, path=path)
    assert message in str(refused.value)


def test_a_header_without_text_says_how_it_was_read(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes("Inhalt;Überschrift\r\nDer Kai ist gesperrt.;Kai\r\n".encode("cp1252"))
    with pytest.raises(ValueError) as refused:
        read(iter_csv, path=path)
    assert "found ['Inhalt', 'Überschrift']" in str(refused.value)
    assert "cp1252" in str(refused.value) and "';'" in str(refused.value)


def test_a_spreadsheet_csv_builds_and_a_workbook_is_refused_by_the_cli(runner, fake_embedder, tmp_path):
    built = invoke(runner, fake_embedder, "index", "build", "--out", str(tmp_path / "idx"),
                   "--source", f"csv:{CSV / 'excel-bom-crlf.csv'}",
                   "--source", f"csv:{CSV / 'excel-semicolon-cp1252.csv'}")
    assert built.exit_code == 0, built.output
    assert "excel-bom-crlf.csv: 3 records, 0 skipped" in built.output
    assert "excel-semicolon-cp1252.csv: 3 records, 0 skipped" in built.output
    workbook = tmp_path / "sheet.csv"
    _xlsx(workbook)
    refused = invoke(runner, fake_embedder, "index", "build", "--out", str(tmp_path / "other"),
                     "--source", f"csv:{workbook}")
    assert refused.exit_code == 1 and "xlsx" in refused.output and "Traceback" not in refused.output


# JSONL ----------------------------------------------------------------------------------------

LINES = [{"id": "a", "text": "The harbour office opens at seven.", "published": "Tue, 6 Feb 2024 09:00:00"},
         {"id": "b", "text": "Berths 4 and 5 are closed for repairs.", "published": "someday"}]


@pytest.mark.parametrize(("encoding", "bom"), [
    ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("cp1252", b"")])
def test_jsonl_with_a_byte_order_mark_or_another_encoding(tmp_path, encoding, bom):
    path = tmp_path / "docs.jsonl"
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in LINES + [
        {"id": "c", "text": "Café prices at the pier rose by 10 %."}]) + "\n"
    path.write_bytes(bom + text.encode(encoding))
    records, stats = read(iter_jsonl, path=path)
    assert [r.doc_id for r in records] == ["jsonl:docs:a", "jsonl:docs:b", "jsonl:docs:c"]
    assert records[2].text == "Café prices at the pier rose by 10 %." and stats.skipped == 0
    assert [r.published for r in records] == ["2024-02-06", None, None]
    assert stats.notes == {"no readable date": 1}


def test_jsonl_files_concatenated_with_their_marks(tmp_path):
    path = tmp_path / "joined.jsonl"
    first, second = (json.dumps(line).encode() + b"\n" for line in LINES)
    path.write_bytes(codecs.BOM_UTF8 + first + codecs.BOM_UTF8 + second)
    records, stats = read(iter_jsonl, path=path)
    assert [r.doc_id for r in records] == ["jsonl:joined:a", "jsonl:joined:b"] and stats.skipped == 0


@pytest.mark.parametrize(("encoding", "text", "title"), [
    ("cp1251", "Экспорт зерна через порт вырос на 12 % за год.", "Зерно"),
    ("cp1250", "Eksport zboża przez port wzrósł o 12 %; źródła mówią o rekordzie.", "Zboże"),
    ("cp932", "東京港のコンテナ取扱量は前年比で5%増加した。", "港湾"),
    ("mac_roman", "Les exportations françaises ont progressé de 3 % au deuxième trimestre.", "Commerce"),
])
def test_other_locales_code_pages_are_detected(tmp_path, encoding, text, title):
    path = tmp_path / "export.csv"
    path.write_bytes(f'text;title\r\n"{text}";{title}\r\n'.encode(encoding))
    (record,), _ = read(iter_csv, path=path)
    assert (record.text, record.title) == (text, title)
