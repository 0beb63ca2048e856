"""What every source shares: the counts a build reports for it."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

__all__ = ["SourceStats", "package_data_dir"]

logger = logging.getLogger(__name__)


@dataclass
class SourceStats:
    """Records read and skipped by one source, with the reasons for skipping."""

    name: str
    read: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, *, where: str | None = None) -> None:
        """Count one skipped record and log why (and where, e.g. a line number)."""
        self.skipped += 1
        self.reasons[reason] += 1
        if where:
            logger.warning("%s: %s: skipped: %s", self.name, where, reason)
        else:
            logger.debug("%s: skipped: %s", self.name, reason)


def package_data_dir(module: str, distribution: str) -> Path:
    """The ``data`` folder of an installed package, found without importing (running) its code."""
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {distribution} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"
