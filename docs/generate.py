"""Rewrite the docs' generated sections from the code: the settings table and the API's errors.

    .venv/bin/python docs/generate.py          # rewrite the sections in docs/*.md
    .venv/bin/python docs/generate.py --check  # rewrite nothing; exit 1 naming the stale files

A generated section lies between ``<!-- BEGIN GENERATED: NAME -->`` and ``<!-- END GENERATED -->``;
NAME is a key of ``SECTIONS``. Everything outside the markers is written by hand.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Run as a script, Python puts docs/ on the path, not the repository.
sys.path.insert(0, str(ROOT))

__all__ = ["SECTIONS", "errors_table", "render", "settings_table", "stale"]

_SECTION = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED -->)", re.S
)


def settings_table() -> str:
    """The ``ASIDE_*`` settings table, as the settings registry renders it."""
    from server.settings import markdown_table

    return markdown_table()


def errors_table() -> str:
    """Status, code and when, for every ``ApiError`` subclass in ``server/errors.py``."""
    from server import errors

    classes = [
        value for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, errors.ApiError)
        and value is not errors.ApiError and value.__module__ == errors.__name__
    ]
    rows = ["| status | code | when |", "| --- | --- | --- |"]
    for cls in sorted(classes, key=lambda c: c.status):  # stable: definition order within a status
        rows.append(f"| {cls.status} | `{cls.code}` | {_description(cls)} |")
    return "\n".join(rows)


def _description(cls: type) -> str:
    # The class's own ``description``, else the first paragraph of its own docstring (neither
    # is taken from a base class, whose words would describe another error).
    text = cls.__dict__.get("description") or cls.__dict__.get("__doc__")
    if not text:
        raise ValueError(f"server/errors.py: {cls.__name__} needs a description or a docstring "
                         "saying when it is answered")
    first = inspect.cleandoc(text).split("\n\n")[0]
    return " ".join(first.split()).replace("|", "\\|")


SECTIONS: dict[str, Callable[[], str]] = {"settings": settings_table, "errors": errors_table}


def render(text: str) -> str:
    """The text with each generated section's body replaced by what its generator gives now."""
    def body(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in SECTIONS:
            raise ValueError(f"unknown generated section {name!r}; known: {sorted(SECTIONS)}")
        return f"{match[1]}{SECTIONS[name]()}\n{match[4]}"

    return _SECTION.sub(body, text)


def stale() -> dict[Path, str]:
    """Docs whose generated sections differ from the code, with their regenerated text."""
    changed = {}
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            changed[path] = new
    return changed


def main(argv: list[str] | None = None) -> int:
    """Rewrite stale docs (or, with --check, only name them): 1 when --check finds any, 2 on error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale docs")
    args = parser.parse_args(argv)
    try:
        changed = stale()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, text in changed.items():
        if not args.check:
            path.write_text(text, encoding="utf-8")
        print(f"{'stale' if args.check else 'rewrote'}: {path.relative_to(ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
