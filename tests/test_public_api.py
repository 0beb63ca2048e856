"""Every module says what it exports, and everything it says it exports exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import index
import server

MODULES = sorted(
    name
    for package in (index, server)
    for _, name, _ in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
)


@pytest.mark.parametrize("name", MODULES)
def test_module_all_is_declared_and_true(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing objects: {missing}"
    assert len(set(exported)) == len(exported)


def test_index_never_imports_server():
    for name in [m for m in MODULES if m.startswith("index")]:
        with open(importlib.util.find_spec(name).origin, encoding="utf-8") as handle:
            source = handle.read()
        assert "from server" not in source and "import server" not in source, name
