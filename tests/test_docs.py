"""The docs against the code: generated tables in step, every setting documented, links that resolve."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REGENERATE = "regenerate them: .venv/bin/python docs/generate.py"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"<!-- BEGIN GENERATED: {name} -->\n(.*?)<!-- END GENERATED -->", text, re.S)
    assert match, f"{path.relative_to(ROOT)} has no generated section {name!r}"
    return match[1].rstrip("\n")


def test_settings_table_is_the_registry():
    assert _section(DOCS / "settings.md", "settings") == _generator().settings_table(), (
        f"docs/settings.md is out of step with server/settings.py; {REGENERATE}"
    )


def test_error_table_is_the_error_tree():
    assert _section(DOCS / "api.md", "errors") == _generator().errors_table(), (
        f"docs/api.md's error table is out of step with server/errors.py; {REGENERATE}"
    )


def test_no_generated_section_is_stale():
    stale = [str(path.relative_to(ROOT)) for path in _generator().stale()]
    assert not stale, f"stale generated sections in {stale}; {REGENERATE}"


def test_every_setting_is_documented():
    from server.settings import SETTINGS

    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert not missing, f"settings missing from docs/settings.md: {missing}; {REGENERATE}"


def _anchors(path: Path) -> set[str]:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))],
                         ids=lambda p: p.name)
def test_links_between_readme_and_docs_resolve(page):
    broken = []
    for target in re.findall(r"\]\((?!https?:|mailto:)([^)\s]+)\)", page.read_text(encoding="utf-8")):
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files or headings: {broken}"


def test_readme_set_up_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("serve", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.M), f"the Makefile has no {target!r} target"
