"""Venues, travel and interpreters for the heuristic (large fairs): the board
places pairs into slots against the total tables; this pass then gives each
meeting a venue and, when it needs one, an interpreter, moving it to another
slot or dropping it when it cannot have them, and fills what is left with the
best open pairs. It is greedy; at the reference size `solve` uses the exact MILP
(`exact.py`), which models the same rules."""

from __future__ import annotations

import time

import numpy as np

from services.matching.scheduling.solver.board import table_numbers
from services.matching.scheduling.solver.instance import BoolArray, Instance, IntArray, Schedule


class Ledger:
    """Where each person is in each slot (a venue, or -1), and each venue's load."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        s = inst.n_slots
        self.tables = inst.tables_at()
        self.open = inst.open_at()
        self.load = np.zeros((inst.n_venues, s), dtype=np.int64)
        self.at_e = np.full((inst.n_enterprises, s), -1, dtype=np.int64)
        self.at_p = np.full((inst.n_participants, s), -1, dtype=np.int64)
        self.at_i = np.full((max(inst.n_interpreters, 1), s), -1, dtype=np.int64)
        self.deg_e = np.zeros(inst.n_enterprises, dtype=np.int64)
        self.deg_p = np.zeros(inst.n_participants, dtype=np.int64)
        self.blocked = inst.travel_blocked()
        self.needs = inst.needs_interpreter()
        self.homes = inst.homes()
        self.day = inst.days()
        self.placed: dict[int, tuple[int, int, int]] = {}  # pair -> (slot, venue, interpreter)

    def _free(self, row: IntArray, t: int, v: int) -> bool:
        """Whether a person whose day is `row` (venue per slot) can be at (t, v)."""
        if row[t] >= 0:
            return False
        if self.blocked is None:
            return True
        busy = np.flatnonzero(row >= 0)
        return not self.blocked[t, v, busy, row[busy]].any()

    def option(self, k: int, t: int) -> tuple[int, int] | None:
        """A (venue, interpreter) for pair k in slot t, or None: the enterprise's
        venue of the day, with the first able interpreter who can be there."""
        inst = self.inst
        v = int(self.homes[int(inst.pair_enterprise[k]), self.day[t]])
        if not self.fits(k, t, v, -1, interpreter_aside=True):
            return None
        if not self.needs[k]:
            return v, -1
        assert inst.pair_interpreters is not None and inst.interpreter_available is not None
        able = np.flatnonzero(inst.pair_interpreters[k] & inst.interpreter_available[:, t])
        for i in able:
            if self._free(self.at_i[i], t, v):
                return v, int(i)
        return None

    def fits(self, k: int, t: int, v: int, i: int, *, interpreter_aside: bool = False) -> bool:
        """Whether pair k can meet in slot t at venue v with interpreter i (-1:
        none); `interpreter_aside` checks everything but the interpreter."""
        inst = self.inst
        e, p = int(inst.pair_enterprise[k]), int(inst.pair_participant[k])
        if not interpreter_aside and bool(self.needs[k]) != (i >= 0):
            return False
        if i >= 0:
            assert inst.pair_interpreters is not None and inst.interpreter_available is not None
            if not (
                inst.pair_interpreters[k, i]
                and inst.interpreter_available[i, t]
                and self._free(self.at_i[i], t, v)
            ):
                return False
        return bool(
            v == self.homes[e, self.day[t]]
            and inst.enterprise_available[e, t]
            and inst.participant_available[p, t]
            and self.deg_e[e] < inst.enterprise_cap[e]
            and self.deg_p[p] < inst.participant_cap[p]
            and self.open[v, t]
            and self.load[v, t] < self.tables[v]
            and self.at_e[e, t] < 0
            and self._free(self.at_p[p], t, v)
        )

    def add(self, k: int, t: int, v: int, i: int) -> None:
        inst = self.inst
        e, p = int(inst.pair_enterprise[k]), int(inst.pair_participant[k])
        self.at_e[e, t] = v
        self.at_p[p, t] = v
        if i >= 0:
            self.at_i[i, t] = v
        self.load[v, t] += 1
        self.deg_e[e] += 1
        self.deg_p[p] += 1
        self.placed[k] = (t, v, i)

    def try_place(self, k: int, slots: IntArray) -> bool:
        for t in slots:
            found = self.option(k, int(t))
            if found is not None:
                self.add(k, int(t), *found)
                return True
        return False


def conform(
    inst: Instance,
    schedule: Schedule,
    usable: BoolArray,
    fixed: dict[int, int],
    seconds: float = 5.0,
) -> Schedule:
    """A schedule that keeps the rules of venues, travel and interpreters:
    `schedule`'s meetings in their slots where they can have a venue (the pinned
    ones, `fixed` pair -> table, at their previous venue) and an interpreter,
    else in another slot, else dropped; then the best open pairs fill what is
    left (enterprises short of their fair minimum first), until `seconds` pass."""
    ledger = Ledger(inst)
    deadline = time.monotonic() + seconds
    common = inst.common_slots()
    venue_of = inst.venue_of_table(np.asarray(list(fixed.values()), dtype=np.int64))
    pinned_venue = dict(zip(fixed, venue_of.tolist(), strict=True))
    order = sorted(
        range(schedule.size),
        key=lambda j: (
            int(schedule.pair[j]) not in fixed,
            -float(inst.pair_score[schedule.pair[j]]),
        ),
    )
    given = inst.venue_of_table(schedule.table)
    for j in order:
        k, t = int(schedule.pair[j]), int(schedule.slot[j])
        v, i = int(given[j]), int(schedule.interpreter[j])
        if ledger.fits(k, t, v, i):
            ledger.add(k, t, v, i)  # as given (by `exact.assign`, say), if it keeps the rules
        elif not ledger.try_place(k, np.array([t])):
            ledger.try_place(k, np.flatnonzero(common[k]))
    target = inst.fair_targets()
    rest = np.flatnonzero(usable)
    rest = rest[np.argsort(-inst.pair_score[rest], kind="stable")]
    for short_first in (True, False):
        for pair in rest:
            if time.monotonic() > deadline:
                break
            k = int(pair)
            e = int(inst.pair_enterprise[k])
            if k in ledger.placed or (short_first and ledger.deg_e[e] >= target[e]):
                continue
            ledger.try_place(k, np.flatnonzero(common[k]))
    was = dict(zip(schedule.pair.tolist(), schedule.slot.tolist(), strict=True))
    kept = {
        k: table
        for k, table in fixed.items()
        if k in ledger.placed and ledger.placed[k][:2] == (was.get(k), pinned_venue[k])
    }
    pairs = np.array(sorted(ledger.placed), dtype=np.int64)
    where = np.array([ledger.placed[int(k)] for k in pairs], dtype=np.int64).reshape(-1, 3)
    slot, venue, who = where[:, 0], where[:, 1], where[:, 2]
    table = table_numbers(inst, pairs, slot, venue, kept)
    return Schedule(pairs, slot, table, bound=schedule.bound, stats=schedule.stats, interpreter=who)
