from __future__ import annotations

import json

from server.cli import main
from tests.conftest import FIXTURES


def invoke(runner, embedder, *args):
    return runner.invoke(main, list(args), obj={"embedder": embedder}, catch_exceptions=False)


def test_build_stats_query(runner, fake_embedder, tmp_path):
    out = tmp_path / "idx"
    jsonl = FIXTURES / "jsonl" / "docs.jsonl"
    result = invoke(runner, fake_embedder, "index", "build", "--out", str(out),
                    "--source", f"jsonl:{jsonl}")
    assert result.exit_code == 0, result.output
    assert "3 records, 4 skipped, 3 passages" in result.output
    assert "skipped 1: not valid JSON" in result.output

    stats = invoke(runner, fake_embedder, "index", "stats", str(out))
    assert stats.exit_code == 0
    assert "passages  3" in stats.output and "test/hashed-words" in stats.output
    manifest = json.loads(invoke(runner, fake_embedder, "index", "stats", str(out), "--json").output)
    assert manifest["passages"] == 3

    query = invoke(runner, fake_embedder, "index", "query", str(out), "Federal Reserve interest rate")
    assert query.exit_code == 0
    assert query.output.startswith("1. ") and "Fed raises rates" in query.output.splitlines()[0]
    hits = json.loads(invoke(runner, fake_embedder, "index", "query", str(out), "wheat Kansas",
                             "--json", "-k", "1").output)
    assert len(hits) == 1 and "Kansas" in hits[0]["text"]


def test_user_mistakes_exit_with_a_message(runner, fake_embedder, tmp_path):
    bad_spec = invoke(runner, fake_embedder, "index", "build", "--out", str(tmp_path / "x"),
                      "--source", "rss:feed.xml")
    assert bad_spec.exit_code == 2 and "unknown source" in bad_spec.output
    missing = invoke(runner, fake_embedder, "index", "stats", str(tmp_path / "absent"))
    assert missing.exit_code == 1 and "no index" in missing.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not json\n")
    nothing = invoke(runner, fake_embedder, "index", "build", "--out", str(tmp_path / "y"),
                     "--source", f"jsonl:{empty}")
    assert nothing.exit_code == 1 and "no passages" in nothing.output
    assert not (tmp_path / "y").exists()


def test_query_refuses_store_of_another_model(runner, fake_embedder, tiny_store):
    from tests.conftest import FakeEmbedder

    other = FakeEmbedder(dim=128, name="other/model")
    result = invoke(runner, other, "index", "query", str(tiny_store), "anything at all")
    assert result.exit_code == 1 and "built with model" in result.output


def test_build_from_csv_and_a_feed(runner, fake_embedder, tmp_path):
    out = tmp_path / "idx"
    result = invoke(runner, fake_embedder, "index", "build", "--out", str(out),
                    "--source", f"csv:{FIXTURES / 'csv' / 'docs.csv'}",
                    "--source", f"feed:{FIXTURES / 'feeds' / 'news.rss'}")
    assert result.exit_code == 0, result.output
    assert "docs.csv: 3 records, 2 skipped, 3 passages" in result.output
    assert "news.rss: 2 records, 1 skipped" in result.output
    hits = json.loads(invoke(runner, fake_embedder, "index", "query", str(out),
                             "eleventh increase since March 2022", "--json", "-k", "1").output)
    assert hits[0]["url"] == "https://gazette.example/fed" and hits[0]["kind"] == "article"


def test_query_lists_a_fact_checks_claim_rating_reviewer_and_claimant(runner, fake_embedder, tmp_path):
    out = tmp_path / "idx"
    result = invoke(runner, fake_embedder, "index", "build", "--out", str(out),
                    "--source", f"claimreview:{FIXTURES / 'claimreview' / 'graph-refs.html'}",
                    "--source", f"claimreview:{FIXTURES / 'claimreview' / 'feed-no-headlines.json'}")
    assert result.exit_code == 0, result.output
    query = invoke(runner, fake_embedder, "index", "query", str(out),
                   "Ferry crossings doubled after the fare cut", "-k", "5")
    assert query.exit_code == 0
    lines = query.output.splitlines()
    at = lines.index("   Claim: Ferry crossings doubled after the fare cut.")
    assert lines[at - 1].endswith("Quayside Checks — Three claims from the harbour debate, checked")
    assert lines[at + 1] == "   Fact-check: rated “Half true” by Quayside Checks; claimed by Otto Brenn"
    assert "claimreview:" not in query.output  # no document id stands in for a title
    assert "Fact-check by Beacon Check" in query.output


def test_build_summary_counts_sentences_left_out_for_unrendered_templates(runner, fake_embedder, tmp_path):
    result = invoke(runner, fake_embedder, "index", "build", "--out", str(tmp_path / "idx"),
                    "--source", f"mediawiki:{FIXTURES / 'mediawiki' / 'unrendered.xml'}")
    assert result.exit_code == 0, result.output
    assert "sentences left out: unrendered template: 2" in result.output
    assert "asides in parentheses left out: unrendered template: 1" in result.output
