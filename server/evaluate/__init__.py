"""``aside eval``: public benchmarks run through the service's own retrieval path."""

from __future__ import annotations

from server.evaluate.datasets import Dataset, load_checkthat, load_climate_fever, load_scifact
from server.evaluate.runner import SYSTEMS, EvalResult, cached_store, evaluate, threshold_curve

__all__ = [
    "SYSTEMS",
    "Dataset",
    "EvalResult",
    "cached_store",
    "evaluate",
    "load_checkthat",
    "load_climate_fever",
    "load_scifact",
    "threshold_curve",
]
