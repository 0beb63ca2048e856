"""`aside index update` with state beside the index: the lock, what is read again, failures.

Remote sources come from a loopback server started here (ASIDE_FETCH_PRIVATE lets the
fetcher use it); nothing else is fetched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from index.build import BuildOptions
from index.fetch import Fetcher, FetchError, FetchLimits
from index.mirror import Mirror
from index.refresh import EX_TEMPFAIL, LockedError, Session, state_dir
from index.sources.config import load_sources_file
from index.store import Store
from server.cli import main
from tests.conftest import FIXTURES, FakeEmbedder
from tests.loopback import LoopbackServer

FEED = (FIXTURES / "feeds" / "news.rss").read_bytes()
ATOM = (FIXTURES / "feeds" / "updates.atom").read_bytes()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    monkeypatch.setenv("ASIDE_FETCH_PRIVATE", "true")
    with LoopbackServer({"/news.rss": (FEED, "application/rss+xml"),
                         "/updates.atom": (ATOM, "application/atom+xml")}) as running:
        yield running


@pytest.fixture
def operator(tmp_path: Path, server: LoopbackServer) -> dict[str, Path]:
    """A sources file with two remote feeds and one local JSONL file, and where the index goes."""
    docs = tmp_path / "docs.jsonl"
    docs.write_bytes((FIXTURES / "jsonl" / "docs.jsonl").read_bytes())
    sources = tmp_path / "sources.toml"
    sources.write_text(f"""
[[source]]
name = "gazette"
kind = "feed"
location = "{server.url('/news.rss')}"
license = "CC BY 4.0"

[[source]]
name = "bulletin"
kind = "feed"
location = "{server.url('/updates.atom')}"

[[source]]
name = "desk"
kind = "jsonl"
location = "docs.jsonl"
""", encoding="utf-8")
    return {"sources": sources, "docs": docs, "index": tmp_path / "index"}


def _update(operator: dict[str, Path], embedder: FakeEmbedder | None = None) -> Any:
    return CliRunner().invoke(
        main, ["index", "update", str(operator["index"]), "--sources", str(operator["sources"])],
        obj={"embedder": embedder or FakeEmbedder()}, catch_exceptions=False)


def _build_id(index: Path) -> str:
    return str(json.loads((index / "manifest.json").read_text())["build_id"])


def _doc_ids(index: Path) -> dict[str, str]:
    return {doc_id: doc.source for doc_id, doc in Store.open(index).documents().items()}


def test_the_first_update_builds_the_index_and_says_each_source_is_new(operator):
    result = _update(operator)
    assert result.exit_code == 0, result.output
    assert "(there was none)" in result.output
    for name in ("gazette", "bulletin", "desk"):
        assert f"  {name}: new: " in result.output
    sources = set(_doc_ids(operator["index"]).values())
    assert sources == {"gazette", "bulletin", "desk"}
    assert (state_dir(operator["index"]) / "state.json").is_file()


def test_nothing_changed_writes_nothing_and_never_loads_the_model(operator, server):
    assert _update(operator).exit_code == 0
    build_id = _build_id(operator["index"])
    before = len(server.requests)
    with Session(operator["index"]) as session:
        sources = load_sources_file(operator["sources"], remote=session.mirror)
        outcome = session.update(sources, lambda: pytest.fail("the model was loaded"))
    assert outcome.report is None and outcome.build_id == build_id
    assert [s.status for s in outcome.sources] == ["unchanged"] * 3
    assert outcome.sources[0].detail == "not modified (HTTP 304)"
    assert outcome.sources[2].detail == "the same files"
    assert [r.status for r in server.requests[before:]] == [304, 304]
    assert _build_id(operator["index"]) == build_id


def test_a_local_file_that_changed_is_read_again_and_only_its_new_text_embedded(operator):
    assert _update(operator).exit_code == 0
    with operator["docs"].open("a", encoding="utf-8") as docs:
        docs.write(json.dumps({"id": "new-note", "title": "Harbour",
                               "text": "The harbour ferry timetable changed in spring."}) + "\n")
    embedder = FakeEmbedder()
    result = _update(operator, embedder)
    assert result.exit_code == 0, result.output
    assert "  desk: changed: 1 new" in result.output
    assert "  gazette: unchanged, not read: not modified (HTTP 304)" in result.output
    embedded = [t for call in embedder.calls for t in call]
    assert embedded and all("harbour ferry" in t for t in embedded)


def test_an_edited_entry_is_read_again_even_when_its_content_is_not(operator):
    assert _update(operator).exit_code == 0
    text = operator["sources"].read_text(encoding="utf-8")
    operator["sources"].write_text(text.replace('license = "CC BY 4.0"', 'license = "CC0"'),
                                   encoding="utf-8")
    result = _update(operator)
    assert result.exit_code == 0, result.output
    assert "  gazette: changed: " in result.output  # every document: its licence changed
    assert "  bulletin: unchanged, not read" in result.output


def test_a_source_no_longer_declared_is_removed_and_reported(operator):
    assert _update(operator).exit_code == 0
    text = operator["sources"].read_text(encoding="utf-8")
    operator["sources"].write_text(text.split('[[source]]\nname = "desk"')[0], encoding="utf-8")
    result = _update(operator)
    assert result.exit_code == 0, result.output
    assert "  desk: removed: " in result.output
    assert "desk" not in set(_doc_ids(operator["index"]).values())


def test_a_failed_source_is_reported_its_documents_kept_and_the_rest_updated(operator, server):
    assert _update(operator).exit_code == 0
    gazette = {d for d, s in _doc_ids(operator["index"]).items() if s == "gazette"}
    server.remove("/news.rss")
    server.put("/updates.atom", ATOM.replace(b"</feed>", b"""<entry>
      <title>Harbour levy approved</title><id>urn:levy</id>
      <updated>2026-11-20T10:00:00Z</updated>
      <summary>The council approved a harbour levy of two percent on ferry tickets.</summary>
    </entry></feed>"""))
    result = _update(operator)
    assert result.exit_code == 3, result.output
    assert "  gazette: FAILED: " in result.output and "HTTP 404" in result.output
    assert f"its {len(gazette)} documents were kept" in result.output
    assert "  bulletin: changed: 1 new" in result.output
    assert "1 source(s) failed" in result.output
    after = _doc_ids(operator["index"])
    assert gazette <= after.keys() and "urn:levy" in "".join(after)

    # Back again with the same feed: unchanged against what the index holds, nothing read.
    server.put("/news.rss", FEED, "application/rss+xml")
    result = _update(operator)
    assert result.exit_code == 0, result.output
    assert "  gazette: unchanged, not read: fetched again: the same bytes" in result.output


def test_when_every_source_fails_nothing_is_written(operator, server):
    assert _update(operator).exit_code == 0
    build_id = _build_id(operator["index"])
    operator["sources"].write_text(f"""
[[source]]
kind = "feed"
location = "{server.url('/gone.rss')}"
""", encoding="utf-8")
    result = _update(operator)
    assert result.exit_code == 1
    assert "every source failed" in result.output and "HTTP 404" in result.output
    assert _build_id(operator["index"]) == build_id


def test_a_second_run_while_one_holds_the_lock_says_so_and_exits_75(operator):
    assert _update(operator).exit_code == 0
    build_id = _build_id(operator["index"])
    with Session(operator["index"]):
        result = _update(operator)
        assert result.exit_code == EX_TEMPFAIL
        assert "another build or update of" in result.output and f"pid {os.getpid()}" in result.output
        with pytest.raises(LockedError):
            Session(operator["index"]).__enter__()
        build = CliRunner().invoke(main, ["index", "build", "--out", str(operator["index"]),
                                          "--source", f"jsonl:{operator['docs']}"],
                                   obj={"embedder": FakeEmbedder()})
        assert build.exit_code == EX_TEMPFAIL
    assert _build_id(operator["index"]) == build_id
    assert _update(operator).exit_code == 0  # the lock went with the run that held it


def test_a_failed_build_leaves_the_index_and_the_state_as_they_were(operator, server):
    assert _update(operator).exit_code == 0
    build_id = _build_id(operator["index"])
    state = (state_dir(operator["index"]) / "state.json").read_bytes()
    server.put("/news.rss", FEED.replace(b"</channel>", b"""<item><title>Ferry strike</title>
      <link>https://gazette.example/strike</link><description>Ferry crews walked out over
      pay on Monday.</description></item></channel>"""))

    class Broken(FakeEmbedder):
        def encode(self, texts: Any, *, batch_size: int = 64) -> Any:
            raise OSError("No space left on device")

    result = _update(operator, Broken())
    assert result.exit_code == 1 and "nothing was changed" in result.output
    assert _build_id(operator["index"]) == build_id
    assert (state_dir(operator["index"]) / "state.json").read_bytes() == state
    result = _update(operator)  # the changed feed is still seen as changed
    assert result.exit_code == 0 and "  gazette: changed: 1 new" in result.output


def test_a_build_made_without_the_state_makes_the_update_read_everything(operator):
    assert _update(operator).exit_code == 0
    removed = next(d for d, s in _doc_ids(operator["index"]).items() if s == "desk")
    result = CliRunner().invoke(main, ["index", "remove", str(operator["index"]), "--doc", removed])
    assert result.exit_code == 0, result.output
    result = _update(operator)
    assert result.exit_code == 0, result.output
    assert "  desk: changed: 1 new" in result.output  # the removed document is back
    assert removed in _doc_ids(operator["index"])


def test_a_download_cut_at_its_cap_keeps_the_copy_it_had(tmp_path, server):
    mirror = Mirror(tmp_path / "downloads", Fetcher(FetchLimits(allow_private=True)))
    first = mirror.download(server.url("/news.rss"))
    assert first.read_bytes() == FEED and mirror.outcome(server.url("/news.rss")) == "new"
    mirror.save()
    server.put("/news.rss", FEED * 50)
    small = Mirror(tmp_path / "downloads", Fetcher(FetchLimits(allow_private=True, max_bytes=len(FEED) * 2)))
    with pytest.raises(FetchError, match="cap"):
        small.download(server.url("/news.rss"))
    with pytest.raises(FetchError, match="cap"):  # remembered: the run does not ask twice
        small.download(server.url("/news.rss"))
    assert len(server.requests_for("/news.rss")) == 2
    small.save()
    assert first.read_bytes() == FEED  # the good copy stays, and no partial file is left
    left = sorted(p.relative_to(tmp_path / "downloads").as_posix()
                  for p in (tmp_path / "downloads").rglob("*") if p.is_file())
    assert left == sorted(["copies.json", f"{first.parent.name}/news.rss"])


def test_a_file_kind_given_a_url_is_downloaded_and_read_from_the_copy(tmp_path, server):
    server.put("/docs.jsonl", (FIXTURES / "jsonl" / "docs.jsonl").read_bytes(), "application/jsonl")
    result = CliRunner().invoke(
        main, ["index", "build", "--out", str(tmp_path / "index"),
               "--source", f"jsonl:{server.url('/docs.jsonl')}"],
        obj={"embedder": FakeEmbedder()}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    copies = json.loads((state_dir(tmp_path / "index") / "downloads" / "copies.json").read_text())
    assert [c["url"] for c in copies["copies"]] == [server.url("/docs.jsonl")]
    assert copies["copies"][0]["file"].endswith("/docs.jsonl")
    # named after the URL's file, not the content: ids stay put when the content changes
    assert sorted(_doc_ids(tmp_path / "index")) == sorted(_doc_ids(local_build(tmp_path)))


def local_build(tmp_path: Path) -> Path:
    """The same JSONL file built from disk, for comparison."""
    local = tmp_path / "local" / "docs.jsonl"
    local.parent.mkdir()
    local.write_bytes((FIXTURES / "jsonl" / "docs.jsonl").read_bytes())
    out = tmp_path / "local-index"
    result = CliRunner().invoke(main, ["index", "build", "--out", str(out), "--source", f"jsonl:{local}"],
                                obj={"embedder": FakeEmbedder()}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_without_a_mirror_a_file_kind_refuses_a_url():
    from index.sources import parse_spec

    with pytest.raises(ValueError, match="download it and give its path"):
        parse_spec("zim:https://download.example/wiki.zim")


def test_options_that_change_passages_make_every_source_read_again(operator):
    assert _update(operator).exit_code == 0
    with Session(operator["index"]) as session:
        sources = load_sources_file(operator["sources"], remote=session.mirror)
        outcome = session.update(sources, FakeEmbedder, BuildOptions(max_sentences=1))
    assert outcome.report is not None
    # read again, and cut again: every document is changed
    assert {s.name: s.status for s in outcome.sources} == {
        "gazette": "changed", "bulletin": "changed", "desk": "changed"}
    assert all(not s.documents["unchanged"] for s in outcome.sources)


def test_a_source_that_breaks_while_read_stays_failed_until_it_is_fixed(operator, server):
    # A 200 with an error page in place of the feed: it had documents, it gives none.
    assert _update(operator).exit_code == 0
    gazette = {d for d, s in _doc_ids(operator["index"]).items() if s == "gazette"}
    server.put("/news.rss", b"<html><body><h1>Down for maintenance</h1></body></html>", "text/html")
    for _ in range(2):  # and the next run says so again: its fingerprint was not recorded
        result = _update(operator)
        assert result.exit_code == 3, result.output
        assert "  gazette: FAILED: " in result.output
        assert gazette <= _doc_ids(operator["index"]).keys()
    server.put("/news.rss", FEED, "application/rss+xml")
    result = _update(operator)
    assert result.exit_code == 0 and "  gazette: unchanged" in result.output


def test_a_jsonl_file_replaced_by_an_error_page_keeps_its_documents(operator):
    assert _update(operator).exit_code == 0
    desk = {d for d, s in _doc_ids(operator["index"]).items() if s == "desk"}
    operator["docs"].write_text("<html>Service unavailable</html>\n", encoding="utf-8")
    result = _update(operator)
    assert result.exit_code == 3, result.output
    assert "  desk: FAILED: it gave no documents" in result.output
    assert desk <= _doc_ids(operator["index"]).keys()


def test_when_every_source_fails_before_reading_nothing_is_written_and_it_says_so(operator, server):
    assert _update(operator).exit_code == 0
    build_id = _build_id(operator["index"])
    server.remove("/news.rss")
    server.remove("/updates.atom")
    operator["docs"].unlink()
    result = _update(operator)
    assert result.exit_code == 2  # the sources file names a file that is gone: a usage error
    operator["sources"].write_text(operator["sources"].read_text().split('[[source]]\nname = "desk"')[0])
    result = _update(operator)
    assert result.exit_code == 1 and "every source failed" in result.output
    assert _build_id(operator["index"]) == build_id


def test_state_that_cannot_be_saved_is_told_and_the_published_build_named(operator):
    assert _update(operator).exit_code == 0
    state = state_dir(operator["index"]) / "state.json"
    state.unlink()
    state.mkdir()  # stands for a state disk that will not take the write
    (operator["docs"]).write_text((FIXTURES / "jsonl" / "docs.jsonl").read_text() + json.dumps(
        {"id": "late", "text": "The ferry timetable changed again in summer."}) + "\n")
    result = CliRunner().invoke(
        main, ["index", "update", str(operator["index"]), "--sources", str(operator["sources"])],
        obj={"embedder": FakeEmbedder()})
    assert result.exit_code == 3
    build_id = _build_id(operator["index"])
    assert f"build {build_id} is served, but the state beside it could not be saved" in result.stderr
    assert "late" in "".join(_doc_ids(operator["index"]))


def test_state_written_by_hand_in_another_shape_is_ignored(operator):
    assert _update(operator).exit_code == 0
    state = state_dir(operator["index"]) / "state.json"
    for broken in ('{"build_id": "x", "sources": ["gazette"]}', '{"sources": {"gazette": "x"}}',
                   "[1, 2]", "{not json"):
        state.write_text(broken)
        result = _update(operator)
        assert result.exit_code == 0, result.output
        assert "  gazette: read again, no change" in result.output


def test_a_list_of_pages_is_unchanged_when_every_page_is_and_failed_when_one_fails(tmp_path, server):
    page = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1><p>{t} reopened on "
            "Monday after repairs that took most of the winter, the harbour office said.</p>"
            "</article></body></html>")
    for name in ("pier", "quay"):
        server.put(f"/{name}.html", page.format(t=name.title()).encode(), "text/html; charset=utf-8")
    pages = tmp_path / "pages.txt"
    pages.write_text(f"{server.url('/pier.html')}\n{server.url('/quay.html')}\n")
    args = ["index", "update", str(tmp_path / "index"), "--source", f"html:{pages}",
            "--source", f"jsonl:{FIXTURES / 'jsonl' / 'docs.jsonl'}"]

    def run() -> Any:
        return CliRunner().invoke(main, args, obj={"embedder": FakeEmbedder()}, catch_exceptions=False)

    assert run().exit_code == 0
    again = run()
    assert again.exit_code == 0 and "Nothing changed" in again.output
    server.remove("/quay.html")
    failed = run()
    assert failed.exit_code == 3 and "HTTP 404" in failed.output
    kept = [d for d, source in _doc_ids(tmp_path / "index").items() if source.startswith("html:")]
    assert len(kept) == 2  # the quay page's document is kept


@pytest.mark.parametrize("entry", ["max_bytes = inf", "max_bytes = nan", "max_bytes = 0.5",
                                   "max_bytes = 0", "deadline = inf", "deadline = nan",
                                   "deadline = 1e300", "deadline = -1", 'deadline = "60"'])
def test_a_limit_out_of_range_in_a_sources_file_is_a_clear_usage_error(tmp_path, entry):
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nkind = "feed"\nlocation = "https://news.example/rss"\n{entry}\n')
    result = CliRunner().invoke(main, ["index", "update", str(tmp_path / "index"), "--sources",
                                       str(sources)], obj={"embedder": FakeEmbedder()})
    assert result.exit_code == 2, result.output
    assert "source 1:" in result.output and entry.split()[0] in result.output


def test_loopback_is_allowed_by_the_private_switch_in_either_family():
    from index.fetch import refusal

    assert refusal("::1") == refusal("127.0.0.1") == "loopback"
    assert refusal("::1", allow_private=True) is None


def test_a_first_index_of_some_countries_grows_without_embedding_them_again(tmp_path):
    # make serve's first step: a few countries first, then the whole source by another name.
    out = tmp_path / "index"
    first = CliRunner().invoke(main, ["index", "build", "--out", str(out), "--source", "factbook:mx"],
                               obj={"embedder": FakeEmbedder()}, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    mexico = set(_doc_ids(out))
    embedder = FakeEmbedder()
    grown = CliRunner().invoke(main, ["index", "update", str(out), "--source", "factbook:mx,ca"],
                               obj={"embedder": embedder}, catch_exceptions=False)
    assert grown.exit_code == 0, grown.output
    assert "  factbook:mx: removed: no longer declared" in grown.output
    assert "  factbook:mx,ca: changed: 91 new, 94 unchanged documents" in grown.output
    documents = _doc_ids(out)
    assert mexico < documents.keys() and set(documents.values()) == {"factbook:mx,ca"}
    embedded = [t for call in embedder.calls for t in call]
    assert embedded and all(t.startswith("Canada — ") for t in embedded)  # Canada's only


@pytest.mark.parametrize("command", [["index", "update", "", "--source", "factbook:mx"],
                                     ["index", "build", "--out", ".", "--source", "factbook:mx"],
                                     ["index", "remove", "{missing}", "--doc", "x"]])
def test_no_state_is_left_beside_an_index_that_is_not_there(tmp_path, monkeypatch, command):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = [a.format(missing=tmp_path / "missing") for a in command]
    result = CliRunner().invoke(main, args, obj={"embedder": FakeEmbedder()})
    assert result.exit_code in (1, 2), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"] and not any(work.iterdir())


def test_a_source_kind_whose_library_is_missing_is_a_clear_error(tmp_path, monkeypatch):
    import index.sources.webpages as webpages

    def missing() -> None:
        raise ImportError("web pages need trafilatura: pip install 'aside[html]'")

    monkeypatch.setattr(webpages, "_trafilatura", missing)
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>The harbour reopened.</p></body></html>")
    result = CliRunner().invoke(main, ["index", "build", "--out", str(tmp_path / "index"),
                                       "--source", f"html:{page}"], obj={"embedder": FakeEmbedder()})
    assert result.exit_code == 1
    assert "build failed, nothing was changed" in result.output and "aside[html]" in result.output
