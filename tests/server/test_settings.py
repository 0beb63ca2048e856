from __future__ import annotations

from pathlib import Path

import pytest

from server import create_app
from server.settings import SETTINGS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if s.env not in text]
    assert not missing, f"settings missing from README: {missing}"


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
                        ("ASIDE_PORT", "true")]
)
def test_bad_settings_are_refused_with_their_name(monkeypatch, tmp_path, fake_embedder, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        create_app({"INDEX_DIR": str(tmp_path), "EMBEDDER": fake_embedder})


def test_readme_settings_table_is_the_registry():
    from server.settings import markdown_table

    assert markdown_table() in README.read_text(encoding="utf-8"), (
        "regenerate the README table: python -c 'from server.settings import markdown_table; "
        "print(markdown_table())'"
    )
