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
    # Venues (optional: None is one venue with all `tables`). Tables are numbered
    # across venues (venue 0's first, then venue 1's...), so a table names its venue.
    venue_tables: IntArray | None = None  # (V,) summing to `tables`
    venue_open: BoolArray | None = None  # (V, slots): the venue is in use then
    # Travel between venues: a person's two meetings at different venues leave at
    # least travel_minutes[v, w] between the end of one and the start of the other.
    slot_start: IntArray | None = None  # (slots,) minutes since any fixed origin
    slot_end: IntArray | None = None  # (slots,)
    travel_minutes: IntArray | None = None  # (V, V)
    slot_day: IntArray | None = None  # (slots,) day number (0-based); None: one day
    # Presidents host: each enterprise keeps one venue a day (visitors come to its
    # table, so only participants and interpreters travel). (E, days); None: `homes()`.
    enterprise_venue: IntArray | None = None
    # Interpreters (optional): a pair whose sides share no language needs one of
    # the interpreters able to serve it, free in its slot (one meeting at a time).
    pair_needs_interpreter: BoolArray | None = None  # (P,)
    pair_interpreters: BoolArray | None = None  # (P, I): who can serve the pair
    interpreter_available: BoolArray | None = None  # (I, slots)

    def __post_init__(self) -> None:
        self._check_pairs()
        self._check_resources()

    def _check_pairs(self) -> None:
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

    def _check_resources(self) -> None:
        s, v = self.n_slots, self.n_venues
        if self.venue_tables is not None and (
            self.venue_tables.ndim != 1 or int(self.venue_tables.sum()) != self.tables
        ):
            raise InvalidInstance("venue_tables do not sum to tables")
        if self.venue_open is not None and self.venue_open.shape != (v, s):
            raise InvalidInstance("venue_open is not (venues, slots)")
        if self.slot_day is not None and self.slot_day.shape != (s,):
            raise InvalidInstance("slot_day is not (slots,)")
        if self.enterprise_venue is not None and (
            self.enterprise_venue.shape[0] != self.n_enterprises
            or (self.enterprise_venue.size and self.enterprise_venue.max() >= v)
        ):
            raise InvalidInstance("enterprise_venue is not (enterprises, days) of venues")
        self._check_travel()
        self._check_interpreters()

    def _check_travel(self) -> None:
        s, v = self.n_slots, self.n_venues
        times = (self.slot_start, self.slot_end, self.travel_minutes)
        if any(t is not None for t in times):
            if self.slot_start is None or self.slot_end is None or self.travel_minutes is None:
                raise InvalidInstance("travel needs slot_start, slot_end and travel_minutes")
            if self.slot_start.shape != (s,) or self.slot_end.shape != (s,):
                raise InvalidInstance("slot_start or slot_end is not (slots,)")
            if self.travel_minutes.shape != (v, v):
                raise InvalidInstance("travel_minutes is not (venues, venues)")

    def _check_interpreters(self) -> None:
        s = self.n_slots
        people = (self.pair_needs_interpreter, self.pair_interpreters, self.interpreter_available)
        if any(a is not None for a in people):
            if any(a is None for a in people):
                raise InvalidInstance("interpreters need all three interpreter arrays")
            assert self.pair_needs_interpreter is not None and self.pair_interpreters is not None
            assert self.interpreter_available is not None
            i = self.interpreter_available.shape[0]
            if self.interpreter_available.shape != (i, s):
                raise InvalidInstance("interpreter_available is not (interpreters, slots)")
            if self.pair_needs_interpreter.shape != (self.n_pairs,):
                raise InvalidInstance("pair_needs_interpreter is not (pairs,)")
            if self.pair_interpreters.shape != (self.n_pairs, i):
                raise InvalidInstance("pair_interpreters is not (pairs, interpreters)")

    @property
    def n_pairs(self) -> int:
        return int(self.pair_score.size)

    @property
    def n_venues(self) -> int:
        return 1 if self.venue_tables is None else int(self.venue_tables.size)

    @property
    def n_interpreters(self) -> int:
        return 0 if self.interpreter_available is None else int(self.interpreter_available.shape[0])

    def tables_at(self) -> IntArray:
        """(V,) tables of each venue."""
        if self.venue_tables is None:
            return np.array([self.tables], dtype=np.int64)
        return self.venue_tables.astype(np.int64)

    def open_at(self) -> BoolArray:
        """(V, slots): when each venue is in use."""
        if self.venue_open is None:
            return np.ones((self.n_venues, self.n_slots), dtype=bool)
        return self.venue_open.astype(bool)

    def venue_of_table(self, table: IntArray) -> IntArray:
        """The venue of each (global) table number."""
        edges = np.cumsum(self.tables_at())
        return np.searchsorted(edges, table, side="right").astype(np.int64)

    def first_table(self) -> IntArray:
        """(V,) the global number of each venue's first table."""
        tables = self.tables_at()
        return (np.cumsum(tables) - tables).astype(np.int64)

    def homes(self) -> IntArray:
        """(E, days): each enterprise's venue per day, as given, or spread over
        the venues in use that day in proportion to their tables (enterprises
        with the most pairs first, each to the venue with most tables per
        enterprise left)."""
        n_days = int(self.days().max()) + 1 if self.n_slots else 1
        if self.enterprise_venue is not None:
            return self.enterprise_venue.astype(np.int64).reshape(self.n_enterprises, n_days)
        out = np.zeros((self.n_enterprises, n_days), dtype=np.int64)
        if self.n_venues == 1:
            return out
        demand = np.bincount(self.pair_enterprise, minlength=self.n_enterprises)
        order = np.argsort(-demand, kind="stable")
        open_at, tables = self.open_at(), self.tables_at()
        for d in range(n_days):
            in_day = self.days() == d
            capacity = (open_at[:, in_day].sum(axis=1) * tables).astype(np.float64)
            hosted = np.zeros(self.n_venues)
            for e in order:
                v = int(np.argmax(np.where(capacity > 0, capacity / (hosted + 1), -1.0)))
                out[e, d] = v
                hosted[v] += 1
        return out

    def days(self) -> IntArray:
        """(slots,) each slot's day number."""
        if self.slot_day is None:
            return np.zeros(self.n_slots, dtype=np.int64)
        return self.slot_day.astype(np.int64)

    def needs_interpreter(self) -> BoolArray:
        if self.pair_needs_interpreter is None:
            return np.zeros(self.n_pairs, dtype=bool)
        return self.pair_needs_interpreter.astype(bool)

    def travel_blocked(self) -> BoolArray | None:
        """(slots, V, slots, V): a person at (t, v) cannot also be at (u, w) —
        the same slot, or different venues with less than the travel time
        between the two meetings. None when there is no travel to respect."""
        if self.travel_minutes is None or self.n_venues == 1:
            return None
        assert self.slot_start is not None and self.slot_end is not None
        start, end = self.slot_start.astype(np.int64), self.slot_end.astype(np.int64)
        # gap[t, u]: minutes from the end of the earlier of t, u to the start of the later.
        gap = np.maximum(start[None, :] - end[:, None], start[:, None] - end[None, :])
        travel = self.travel_minutes.astype(np.int64)
        differ = ~np.eye(self.n_venues, dtype=bool)
        blocked: BoolArray = (gap[:, None, :, None] < travel[None, :, None, :]) & differ[
            None, :, None, :
        ]
        same = np.eye(self.n_slots, dtype=bool)
        blocked |= same[:, None, :, None]
        if not (blocked & ~same[:, None, :, None]).any():
            return None
        return blocked

    def has_resources(self) -> bool:
        """Whether venues, travel or interpreters constrain more than tables do."""
        return (
            self.n_venues > 1 or self.venue_open is not None or bool(self.needs_interpreter().any())
        )

    def common_slots(self) -> BoolArray:
        """(P, slots): when both sides of each pair are available, some venue is
        open, and (for a pair that needs one) an interpreter able to serve it is free."""
        out: BoolArray = (
            self.enterprise_available[self.pair_enterprise]
            & self.participant_available[self.pair_participant]
            & np.asarray(self.open_at().any(axis=0), dtype=bool)[None, :]
        )
        if self.pair_interpreters is not None and self.interpreter_available is not None:
            served = (
                self.pair_interpreters.astype(np.int64)
                @ self.interpreter_available.astype(np.int64)
            ) > 0
            out &= served | ~self.needs_interpreter()[:, None]
        return out

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
    table: IntArray  # numbered across venues (`Instance.venue_of_table`)
    bound: float | None = None  # an upper bound on the objective, when known
    stats: dict[str, float] = field(default_factory=dict)
    # The interpreter of each meeting (index into the instance's), -1 for none;
    # empty stands for none at all.
    interpreter: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if self.interpreter.size == 0 and self.pair.size:
            self.interpreter = np.full(self.pair.size, -1, dtype=np.int64)

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
        return found
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
    if not found:
        found += _resource_violations(inst, schedule)
    return found


def _resource_violations(inst: Instance, schedule: Schedule) -> list[str]:
    if schedule.interpreter.shape != schedule.pair.shape:
        return ["interpreters do not match meetings"]
    return _venue_violations(inst, schedule) + _interpreter_violations(inst, schedule)


def _venue_violations(inst: Instance, schedule: Schedule) -> list[str]:
    """The rules of venues and travel a schedule breaks."""
    found: list[str] = []
    pair, slot, table, who = schedule.pair, schedule.slot, schedule.table, schedule.interpreter
    venue = inst.venue_of_table(table)
    if not inst.open_at()[venue, slot].all():
        found.append("a meeting at a venue not in use then")
    if (inst.homes()[inst.pair_enterprise[pair], inst.days()[slot]] != venue).any():
        found.append("a meeting away from its enterprise's venue of the day")
    blocked = inst.travel_blocked()
    if blocked is not None:
        on = who >= 0
        person = np.concatenate([inst.pair_participant[pair], inst.n_participants + who[on]])
        t = np.concatenate([slot, slot[on]])
        v = np.concatenate([venue, venue[on]])
        for x in np.unique(person):
            mine = np.flatnonzero(person == x)
            tt, vv = t[mine], v[mine]
            clash = blocked[tt[:, None], vv[:, None], tt[None, :], vv[None, :]]
            np.fill_diagonal(clash, False)
            if clash.any():
                found.append("a person without the travel time between venues")
                break
    return found


def _interpreter_violations(inst: Instance, schedule: Schedule) -> list[str]:
    found: list[str] = []
    pair, slot, who = schedule.pair, schedule.slot, schedule.interpreter
    needs = inst.needs_interpreter()[pair]
    if (who[~needs] >= 0).any():
        found.append("an interpreter where none is needed")
    if needs.any():
        if (who[needs] < 0).any():
            found.append("a meeting without the interpreter it needs")
            return found
        assert inst.pair_interpreters is not None and inst.interpreter_available is not None
        k, t, i = pair[needs], slot[needs], who[needs]
        if (i >= inst.n_interpreters).any():
            found.append("an interpreter that does not exist")
            return found
        if not inst.pair_interpreters[k, i].all():
            found.append("an interpreter who does not speak both sides' languages")
        if not inst.interpreter_available[i, t].all():
            found.append("an interpreter outside availability")
        if np.unique(i * inst.n_slots + t).size != i.size:
            found.append("an interpreter double-booked")
    return found
