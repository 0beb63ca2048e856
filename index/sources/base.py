"""What every source shares: the counts a build reports for it."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["SourceStats"]

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
