from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from server.auth import hash_key
from server.cli import main

ARTICLE = """Bridges of California

The Golden Gate Bridge opened to traffic in May 1937 and spans the strait.

Zebras rarely enjoy skateboarding during thunderstorms, zookeepers insist.
"""


def invoke(runner, embedder, *args, **kw):
    return runner.invoke(main, list(args), obj={"embedder": embedder}, catch_exceptions=False, **kw)


def test_context_lists_sentences_and_cards(runner, fake_embedder, tiny_store, tmp_path, monkeypatch):
    monkeypatch.setenv("ASIDE_THRESHOLD", "0.3")
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE)
    result = invoke(runner, fake_embedder, "context", str(article), "--index", str(tiny_store))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("1 of 3 sentences have context")
    assert "[p2 0-74] The Golden Gate Bridge opened" in result.output
    assert "Example Almanac — Golden Gate Bridge" in result.output


def test_context_json_is_the_api_answer(runner, fake_embedder, tiny_store, monkeypatch):
    monkeypatch.setenv("ASIDE_THRESHOLD", "0.3")
    result = invoke(runner, fake_embedder, "context", "-", "--json", "--index", str(tiny_store),
                    input=ARTICLE)
    answer = json.loads(result.output)
    assert answer["ok"] is True
    (sentence,) = answer["sentences"]
    assert sentence["block"] == "p2" and sentence["start"] == 0
    assert ARTICLE.split("\n\n")[1][sentence["start"] : sentence["end"]] == sentence["exact"]


def test_context_and_serve_explain_a_missing_index(runner, fake_embedder, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text(ARTICLE)
    missing = str(tmp_path / "none")
    result = invoke(runner, fake_embedder, "context", str(article), "--index", missing)
    assert result.exit_code == 1 and "no index" in result.output
    served = invoke(runner, fake_embedder, "serve", "--index", missing)
    assert served.exit_code == 1 and "aside index build --out" in served.output
    empty = invoke(runner, fake_embedder, "context", "-", "--index", missing, input="\n\n")
    assert empty.exit_code == 1 and "empty" in empty.output


def test_context_says_when_the_rescoring_model_cannot_be_used(runner, fake_embedder, tiny_store, tmp_path):
    from server.cli import main

    article = tmp_path / "a.txt"
    article.write_text("Mexico exports cars to the United States, officials said.\n")
    result = runner.invoke(main, ["context", str(article), "--index", str(tiny_store)],
                           obj={"embedder": fake_embedder},
                           env={"ASIDE_RESCORE_MODEL": str(tmp_path / "missing.json")})
    assert result.exit_code == 1
    assert "cannot read the rescoring model" in result.output and "Traceback" not in result.output


FRENCH = """Le pont du Golden Gate a été ouvert à la circulation en mai 1937 et il franchit le détroit \
qui relie la baie de San Francisco à l'océan Pacifique.

Les zèbres n'aiment guère faire de la planche à roulettes pendant les orages, affirment les gardiens \
du zoo de la ville.
"""


def test_context_says_why_an_article_in_another_language_gets_nothing(
        runner, fake_embedder, tiny_store, monkeypatch):
    monkeypatch.setenv("ASIDE_THRESHOLD", "0.0")
    result = invoke(runner, fake_embedder, "context", "-", "--index", str(tiny_store), input=FRENCH)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 of 2 sentences have context (0 searched")
    assert "(fr)" in result.output and "not searched" in result.output
    # With the check off (ASIDE_LANGUAGES empty), the same article is searched.
    monkeypatch.setenv("ASIDE_LANGUAGES", "")
    searched = invoke(runner, fake_embedder, "context", "-", "--index", str(tiny_store), input=FRENCH)
    assert "(2 searched" in searched.output and "not searched" not in searched.output


def test_python_dash_m_runs_every_command_group():
    """`python -m server.cli` sees the groups attached after main(), e.g. `keys` (it once did not)."""
    result = subprocess.run([sys.executable, "-m", "server.cli", "keys", "new"], capture_output=True,
                            text=True, timeout=60, cwd=Path(__file__).resolve().parents[2], check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    key, hashed = lines[1].strip(), lines[3].strip()
    assert key.startswith("aside_") and hashed == hash_key(key)
