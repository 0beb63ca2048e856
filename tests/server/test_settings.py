from __future__ import annotations

from dataclasses import fields

import pytest

from server import create_app
from server.cli import main
from server.settings import SETTINGS, Settings


def test_environment_overrides_defaults_and_test_config_wins(monkeypatch, tiny_store, fake_embedder):
    monkeypatch.setenv("ASIDE_THRESHOLD", "0.7")
    monkeypatch.setenv("ASIDE_MAX_BLOCKS", "9")
    app = create_app({"INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder, "MAX_BLOCKS": 5})
    assert app.config["THRESHOLD"] == 0.7
    assert app.config["MAX_BLOCKS"] == 5
    assert app.config["MAX_CONTENT_LENGTH"] == 512 * 1024
    assert app.extensions["aside"].store is not None


@pytest.mark.parametrize(
    ("name", "value"), [("ASIDE_THRESHOLD", "high"), ("ASIDE_MAX_BLOCKS", "0"),
                        ("ASIDE_PORT", "true"), ("ASIDE_SEARCH_MODE", "fuzzy"),
                        ("ASIDE_METRICS", "maybe"), ("ASIDE_CORS_ORIGINS", "http://(unclosed"),
                        ("ASIDE_MIN_CONFIDENCE", "1.5"), ("ASIDE_EMBED_BACKEND", "gpu")]
)
def test_bad_settings_are_refused_with_their_name(monkeypatch, tmp_path, fake_embedder, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        create_app({"INDEX_DIR": str(tmp_path), "EMBEDDER": fake_embedder})


def test_the_settings_object_has_one_attribute_per_registered_setting():
    assert [f.name for f in fields(Settings)] == [s.attr for s in SETTINGS]
    assert all(s.help.strip() for s in SETTINGS)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)


def test_the_app_config_mirrors_the_one_settings_object(monkeypatch, tiny_store, fake_embedder):
    monkeypatch.setenv("ASIDE_LANGUAGES", "EN, de")
    monkeypatch.setenv("ASIDE_MIN_CONFIDENCE", "0.5")
    app = create_app({"INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder, "METRICS": False,
                      "CORS_ORIGINS": ["http://localhost(:\\d+)?"]})
    settings = app.extensions["aside_settings"]
    assert isinstance(settings, Settings)
    assert settings.languages == ("en", "de") and app.config["LANGUAGES"] == ("en", "de")
    assert settings.min_confidence == app.config["MIN_CONFIDENCE"] == 0.5
    assert settings.metrics is False and app.config["METRICS"] is False
    assert app.config["INDEX_DIR"] == str(tiny_store)
    # A pattern must match a whole origin, not a prefix of it.
    assert settings.cors_origins == (r"^(?:http://localhost(:\d+)?)\Z",)


def test_a_command_refuses_a_wrong_setting_with_its_name(runner, fake_embedder, tiny_store):
    result = runner.invoke(main, ["context", "-", "--index", str(tiny_store)], input="Some text.\n",
                           obj={"embedder": fake_embedder}, env={"ASIDE_LANGUAGES": "english"})
    assert result.exit_code == 1 and "ASIDE_LANGUAGES must be ISO 639-1 codes" in result.output
    served = runner.invoke(main, ["serve", "--index", str(tiny_store)], obj={"embedder": fake_embedder},
                           env={"ASIDE_PORT": "80000"})
    assert served.exit_code == 2 and "ASIDE_PORT" in served.output


def test_command_options_show_their_setting_and_default(runner):
    shown = runner.invoke(main, ["serve", "--help"]).output
    assert "ASIDE_PORT" in shown and "default: 8080" in shown and "ASIDE_INDEX_DIR" in shown


def test_eval_says_which_setting_names_the_data_directory(runner, fake_embedder, monkeypatch):
    monkeypatch.delenv("ASIDE_DATA_DIR", raising=False)
    for command in (["scifact"], ["checkthat"], ["news"]):
        result = runner.invoke(main, ["eval", *command], obj={"embedder": fake_embedder})
        assert result.exit_code == 2, result.output
        assert "set ASIDE_DATA_DIR or pass --data-dir" in result.output
