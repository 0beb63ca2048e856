"""The segmenter against its golden fixtures (regenerate them with tests/fixtures/make_golden.py)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES
from tests.fixtures.make_golden import SEGMENT_CASES, segment_output


@pytest.mark.parametrize("name", sorted(SEGMENT_CASES))
def test_segmenter_gives_its_golden_output(name):
    folder = FIXTURES / "segment" / name
    given = json.loads((folder / "input.json").read_text("utf-8"))
    expected = json.loads((folder / "expected.json").read_text("utf-8"))
    assert [b["text"] for b in given["blocks"]] == SEGMENT_CASES[name], "input.json is the script's"
    assert segment_output(given) == expected
