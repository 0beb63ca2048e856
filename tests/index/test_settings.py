from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from index.settings import SETTINGS, IndexSettings, Setting, load, option_from


def test_the_settings_object_has_one_attribute_per_registered_setting():
    assert [f.name for f in fields(IndexSettings)] == [s.attr for s in SETTINGS]
    assert all(s.help.strip() for s in SETTINGS)


def test_environment_text_becomes_typed_values_and_overrides_win():
    loaded = load({"ASIDE_TORCH_THREADS": "4", "ASIDE_INDEX_DIR": "/srv/index",
                   "ASIDE_DATA_DIR": "/srv/data"}, {"TORCH_THREADS": 2})
    assert loaded.torch_threads == 2
    assert loaded.index_dir == Path("/srv/index") and loaded.data_dir == Path("/srv/data")
    assert loaded.to_config()["INDEX_DIR"] == "/srv/index"


def test_the_data_directory_has_no_default():
    assert load({}).data_dir is None
    assert load({"ASIDE_DATA_DIR": ""}).data_dir is None


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("ASIDE_TORCH_THREADS", "-1", "an integer >= 0"),
    ("ASIDE_TORCH_THREADS", "two", "an integer >= 0"),
    ("ASIDE_EMBED_BACKEND", "gpu", "one of torch, onnx, openvino, auto"),
])
def test_a_wrong_value_names_the_variable_and_what_it_allows(name, value, allowed):
    with pytest.raises(ValueError, match=f"^{name} must be {allowed}, got '{value}'$"):
        load({name: value})


@pytest.mark.parametrize(("setting", "value", "expected"), [
    (Setting(name="ON", default=True, help="h", kind=bool), "off", False),
    (Setting(name="ON", default=True, help="h", kind=bool), "TRUE", True),
    (Setting(name="SECONDS", default=1, help="h", kind=float, above=0), "0.5", 0.5),
    (Setting(name="LIST", default=(), help="h", kind=tuple), " a, ,b ", ("a", "b")),
    (Setting(name="LIST", default=(), help="h", kind=tuple), '["a{1,2}", "b"]', ("a{1,2}", "b")),
    (Setting(name="LIST", default=(), help="h", kind=tuple, parse_item=str.upper), ["x"], ("X",)),
    (Setting(name="SHARE", default=None, help="h", kind=float, optional=True), "", None),
])
def test_one_parser_reads_every_kind(setting, value, expected):
    assert setting.convert(value) == expected


@pytest.mark.parametrize(("setting", "value", "message"), [
    (Setting(name="ON", default=True, help="h", kind=bool), "maybe", "ASIDE_ON must be true or false"),
    (Setting(name="SECONDS", default=1, help="h", kind=float, above=0), "0",
     "ASIDE_SECONDS must be a number > 0"),
    (Setting(name="COUNT", default=1, help="h", kind=int, minimum=1), True,
     "ASIDE_COUNT must be an integer >= 1"),
    (Setting(name="SHARE", default=0, help="h", kind=float, minimum=0, maximum=1), 1.5,
     "ASIDE_SHARE must be a number from 0 to 1"),
    (Setting(name="LIST", default=(), help="h", kind=tuple, allowed="codes"), 7,
     "ASIDE_LIST must be codes"),
])
def test_one_checker_refuses_every_kind(setting, value, message):
    with pytest.raises(ValueError, match=message):
        setting.convert(value)


_THREADS = Setting(name="THREADS", default=3, help="Threads to use.", kind=int, minimum=1)


@click.command()
@option_from(_THREADS, "--threads")
def _show(threads: int) -> None:
    click.echo(f"threads={threads!r}")


def test_a_click_option_takes_its_env_var_default_bounds_and_help_from_the_registry():
    runner = CliRunner()
    assert runner.invoke(_show, []).output == "threads=3\n"
    assert runner.invoke(_show, [], env={"ASIDE_THREADS": "5"}).output == "threads=5\n"
    assert runner.invoke(_show, ["--threads", "6"], env={"ASIDE_THREADS": "5"}).output == "threads=6\n"
    shown = runner.invoke(_show, ["--help"]).output
    assert "Threads to use." in shown and "ASIDE_THREADS" in shown and "default: 3" in shown
    wrong = runner.invoke(_show, [], env={"ASIDE_THREADS": "0"})
    assert wrong.exit_code == 2 and "ASIDE_THREADS" in wrong.output
