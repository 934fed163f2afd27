"""The meeting solver: pure functions over numpy arrays (see `solve.py`).
Yardsticks for tests and the bench live in `baselines.py`, outside this API."""

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
from services.matching.scheduling.solver.selection import select_pairs
from services.matching.scheduling.solver.solve import EXACT_SECONDS, MUST_MEET_BONUS, solve

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
