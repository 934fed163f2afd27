"""A scheduling instance and a schedule as numpy arrays, and what any schedule
is measured by: its total score, its fairness shortfall, its objective, and the
rules it breaks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Progress = Callable[[float], None]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class InvalidInstance(ValueError):
    """The arrays of an instance do not fit together."""


@dataclass(frozen=True)
class Instance:
    n_enterprises: int
    n_participants: int
    n_slots: int
    tables: int
    pair_enterprise: IntArray  # (P,) index of the pair's enterprise
    pair_participant: IntArray  # (P,) index of the pair's participant
    pair_score: FloatArray  # (P,) match score in (0, 1]
    enterprise_cap: IntArray  # (E,) most meetings per enterprise
    participant_cap: IntArray  # (N,)
    enterprise_available: BoolArray  # (E, slots)
    participant_available: BoolArray  # (N, slots)
    fair_minimum: int = 0
    fairness_penalty: float = 10.0

    def __post_init__(self) -> None:
        p = self.pair_score.shape
        if self.pair_enterprise.shape != p or self.pair_participant.shape != p:
            raise InvalidInstance("pair arrays differ in length")
        if self.enterprise_available.shape != (self.n_enterprises, self.n_slots):
            raise InvalidInstance("enterprise_available is not (enterprises, slots)")
        if self.participant_available.shape != (self.n_participants, self.n_slots):
            raise InvalidInstance("participant_available is not (participants, slots)")
        if self.enterprise_cap.shape != (self.n_enterprises,):
            raise InvalidInstance("enterprise_cap is not (enterprises,)")
        if self.participant_cap.shape != (self.n_participants,):
            raise InvalidInstance("participant_cap is not (participants,)")
        if p[0] and (
            self.pair_enterprise.min() < 0
            or self.pair_enterprise.max() >= self.n_enterprises
            or self.pair_participant.min() < 0
            or self.pair_participant.max() >= self.n_participants
        ):
            raise InvalidInstance("a pair names an unknown party")
        if p[0]:
            keys = self.pair_enterprise * self.n_participants + self.pair_participant
            if np.unique(keys).size != keys.size:
                raise InvalidInstance("a pair appears twice")

    @property
    def n_pairs(self) -> int:
        return int(self.pair_score.size)

    def common_slots(self) -> BoolArray:
        """(P, slots): when both sides of each pair are available."""
        return (
            self.enterprise_available[self.pair_enterprise]
            & self.participant_available[self.pair_participant]
        )

    def effective_caps(self) -> tuple[IntArray, IntArray]:
        """Caps lowered to the number of slots each party is available in."""
        e = np.minimum(self.enterprise_cap, self.enterprise_available.sum(axis=1))
        p = np.minimum(self.participant_cap, self.participant_available.sum(axis=1))
        return e.astype(np.int64), p.astype(np.int64)

    def fair_targets(self) -> IntArray:
        """Each enterprise's fair minimum, lowered to what it could reach at all
        (its cap, its availability, how many partners share a slot with it)."""
        cap_e, cap_p = self.effective_caps()
        usable = self.common_slots().any(axis=1) & (cap_p[self.pair_participant] > 0)
        partners = np.bincount(self.pair_enterprise[usable], minlength=self.n_enterprises)
        return np.minimum(np.minimum(cap_e, partners), self.fair_minimum).astype(np.int64)


@dataclass
class Schedule:
    """Meetings as parallel arrays: the pair (index into the instance's pairs),
    its slot and its table (0-based)."""

    pair: IntArray
    slot: IntArray
    table: IntArray
    bound: float | None = None  # an upper bound on the objective, when known
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.pair.size)


def total_score(inst: Instance, schedule: Schedule) -> float:
    return float(inst.pair_score[schedule.pair].sum())


def shortfall(inst: Instance, schedule: Schedule) -> int:
    met = np.bincount(inst.pair_enterprise[schedule.pair], minlength=inst.n_enterprises)
    return int(np.maximum(inst.fair_targets() - met, 0).sum())


def objective(inst: Instance, schedule: Schedule) -> float:
    return total_score(inst, schedule) - inst.fairness_penalty * shortfall(inst, schedule)


def violations(inst: Instance, schedule: Schedule) -> list[str]:
    """Every rule a schedule breaks (empty when it is valid)."""
    found: list[str] = []
    pair, slot, table = schedule.pair, schedule.slot, schedule.table
    if pair.size == 0:
        return found
    if np.unique(pair).size != pair.size:
        found.append("a pair meets twice")
    if slot.min() < 0 or slot.max() >= inst.n_slots:
        found.append("a meeting outside the slots")
        return found
    if table.min() < 0 or table.max() >= inst.tables:
        found.append("a meeting at a table that does not exist")
    e, p = inst.pair_enterprise[pair], inst.pair_participant[pair]
    if np.unique(e * inst.n_slots + slot).size != pair.size:
        found.append("an enterprise double-booked")
    if np.unique(p * inst.n_slots + slot).size != pair.size:
        found.append("a participant double-booked")
    if np.unique(slot * inst.tables + table).size != pair.size:
        found.append("two meetings at one table")
    if not (inst.enterprise_available[e, slot] & inst.participant_available[p, slot]).all():
        found.append("a meeting outside availability")
    if (np.bincount(e, minlength=inst.n_enterprises) > inst.enterprise_cap).any():
        found.append("an enterprise over its cap")
    if (np.bincount(p, minlength=inst.n_participants) > inst.participant_cap).any():
        found.append("a participant over its cap")
    return found
