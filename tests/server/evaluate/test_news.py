from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.store import Store
from server import pipeline
from server.cli import main
from server.evaluate.news import card_key, evaluate_news, load_articles, load_judgments

DEV = Path(__file__).parents[2] / "fixtures" / "news_dev"


@pytest.fixture
def articles():
    return load_articles(DEV)


@pytest.fixture
def judgments():
    return load_judgments([DEV / "judgments.jsonl"])


def test_articles_are_read_with_title_date_and_paragraphs(articles):
    first = articles[0]
    assert first.name == "001-mexico-exports"
    assert first.title.startswith("Mexico's exports rise") and first.published == "2024-03-04"
    request = first.request()
    assert request.title == first.title and [b.id for b in request.blocks] == ["p1", "p2", "p3"]
    assert len(articles) == 3


def test_counts_at_each_threshold(articles, judgments, tiny_store, fake_embedder):
    store = Store.open(tiny_store)
    options = pipeline.Options(threshold=0.46, cards_per_sentence=3, max_sentences=100)
    report = evaluate_news(articles, judgments, fake_embedder, store, options, [0.5])
    assert report.gate == "score" and [r.threshold for r in report.rows] == [0.46, 0.5]
    default, strict = report.rows
    assert default.default and not strict.default
    # 6 sentences searched (the question is not); at 0.46 four cards: one helpful, two wrong
    # (judged), one with no judgment, which is listed to be judged.
    counts = (default.searched, default.shown, default.helpful, default.wrong, default.unjudged)
    assert counts == (6, 4, 1, 2, 1)
    assert default.coverage == pytest.approx(1 / 6) and default.precision == pytest.approx(1 / 3)
    assert default.wrong_rate == pytest.approx(2 / 3) and default.articles_without_card == 1
    assert [row["card_title"] for row in report.unjudged] == ["United States"]
    assert "score" not in report.unjudged[0], "judges work blind to scores"
    assert (strict.shown, strict.articles_without_card, strict.coverage) == (0, 3, 0.0)
    # Both helpful cards are among their sentences' top hits, shown or not: the ceiling counts them.
    assert report.ceiling == 2


def test_a_later_judgments_file_never_overrides_an_earlier_one(tmp_path):
    row = json.loads((DEV / "judgments.jsonl").read_text().splitlines()[0])
    other = tmp_path / "more.jsonl"
    other.write_text(json.dumps({**row, "label": "wrong"}) + "\n")
    judgments = load_judgments([DEV / "judgments.jsonl", other, tmp_path / "missing.jsonl"])
    key = card_key(row["article"], row["sentence"], row["card_title"], row["card_text"])
    assert judgments.label(key) == "helpful"
    assert judgments.sources == {"judgments.jsonl": 4}


def test_a_malformed_judgment_names_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"article": "a", "sentence": "s", "card_title": "t", "card_text": "x", "label": "meh"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: label 'meh'"):
        load_judgments([bad])


def test_the_command_prints_the_table_and_writes_unjudged_cards(runner, fake_embedder, tiny_store, tmp_path):
    out = tmp_path / "unjudged.jsonl"
    args = ["eval", "news", "--data-dir", str(DEV), "--index", str(tiny_store), "--no-rescore",
            "--threshold", "0.5", "--unjudged", str(out)]
    env = {"ASIDE_THRESHOLD": "0.46"}
    result = runner.invoke(main, args, obj={"embedder": fake_embedder}, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "3 articles, 6 sentences searched" in result.output
    assert "(default)" in result.output and "ceiling: 2 sentences (33.3%)" in result.output
    assert [json.loads(line)["card_title"] for line in out.read_text().splitlines()] == ["United States"]
    answer = runner.invoke(main, args + ["--json"], obj={"embedder": fake_embedder}, env=env,
                           catch_exceptions=False)
    report = json.loads(answer.output[answer.output.index("{"):])
    assert report["rows"][0]["precision"] == pytest.approx(1 / 3, abs=1e-4)


def test_a_missing_dev_set_is_a_clear_error(runner, fake_embedder, tmp_path):
    result = runner.invoke(main, ["eval", "news", "--data-dir", str(tmp_path)],
                           obj={"embedder": fake_embedder})
    assert result.exit_code == 1 and "no articles in" in result.output


def test_fit_rescorer_writes_a_model_the_service_can_load(runner, fake_embedder, tiny_store, tmp_path):
    from server.pipeline.rescore import FEATURES, Rescorer

    out = tmp_path / "model.json"
    result = runner.invoke(main, ["eval", "fit-rescorer", "--data-dir", str(DEV), "--index", str(tiny_store),
                                  "--out", str(out)], obj={"embedder": fake_embedder},
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "fitted on 4 judged cards (2 helpful)" in result.output and "(chosen)" in result.output
    model = Rescorer.load(out)
    assert model.features == FEATURES and model.meta["cv"]["split"] == "by article"
    assert model.meta["data"][0]["file"] == "judgments.jsonl" and len(model.meta["data"][0]["sha256"]) == 64
    assert set(model.priors) == {"wikipedia", "factbook:Legislative branch", "factbook:Exports - partners"}


def test_fit_rescorer_needs_judged_cards_from_two_articles(runner, fake_embedder, tiny_store, tmp_path):
    lone = tmp_path / "dev"
    (lone / "articles").mkdir(parents=True)
    first = sorted((DEV / "articles").glob("*.txt"))[0]
    (lone / "articles" / first.name).write_text(first.read_text())
    (lone / "judgments.jsonl").write_text((DEV / "judgments.jsonl").read_text().splitlines()[0] + "\n")
    result = runner.invoke(main, ["eval", "fit-rescorer", "--data-dir", str(lone), "--index", str(tiny_store),
                                  "--out", str(tmp_path / "m.json")], obj={"embedder": fake_embedder})
    assert result.exit_code == 1 and "at least two articles" in result.output
    assert not (tmp_path / "m.json").exists()
