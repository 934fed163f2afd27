"""The meeting solver: pure functions over numpy arrays (see `solving.py`).
Yardsticks for tests and the bench live in `baselines.py`, outside this API.

The solving parts (scipy.optimize and HiGHS, about 27 MB) load on first use:
the service process only builds instances and reads schedules; it solves in a
pool process (`process.py`), which preloads them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from services.matching.scheduling.solver.instance import (
    BoolArray,
    FloatArray,
    Instance,
    IntArray,
    InvalidInstance,
    Progress,
    Schedule,
    objective,
    shortfall,
    total_score,
    violations,
)

if TYPE_CHECKING:
    from services.matching.scheduling.solver.selection import select_pairs
    from services.matching.scheduling.solver.solving import EXACT_SECONDS, MUST_MEET_BONUS, solve

_SOLVING = {
    "EXACT_SECONDS": "solving",
    "MUST_MEET_BONUS": "solving",
    "solve": "solving",
    "select_pairs": "selection",
}


def __getattr__(name: str) -> Any:
    if name not in _SOLVING:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_SOLVING[name]}"), name)
    globals()[name] = value  # from now on an attribute like any other
    return value


__all__ = [
    "EXACT_SECONDS",
    "MUST_MEET_BONUS",
    "BoolArray",
    "FloatArray",
    "Instance",
    "IntArray",
    "InvalidInstance",
    "Progress",
    "Schedule",
    "objective",
    "select_pairs",
    "shortfall",
    "solve",
    "total_score",
    "violations",
]
