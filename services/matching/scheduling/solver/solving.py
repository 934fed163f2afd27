"""The meeting scheduler: pure functions over numpy arrays, no I/O.

An instance is a set of eligible enterprise-participant pairs with their match
scores, a number of time slots, tables per slot, per-party caps and availability,
and a fair minimum of meetings per enterprise. A schedule puts some pairs into
(slot, table) so that no party meets twice in a slot, nobody meets outside their
availability or over their cap, no slot holds more meetings than tables, each
pair meets at most once; it maximises

    objective = total score - fairness_penalty * shortfall

where shortfall counts the meetings enterprises miss below the fair minimum
(which is lowered to what each enterprise could reach at all, so it binds only
"where possible"). The penalty outweighs any score, so fairness comes first.

Where the exact MILP is cheap (`exact.fits`, the reference size) `solve`
returns its optimum, proven (`exact.py`, in stages within EXACT_SECONDS; out of
time, the better of its best and the heuristic's, with the gap). Elsewhere, and
first where there are no venues or interpreters (it takes milliseconds and
mostly proves itself optimal by reaching its bound), the heuristic works in
three steps that follow the problem's structure:

1. Which pairs meet. Dropping the slot dimension leaves a degree-constrained
   bipartite matching with a total capacity (slots x tables), i.e. a min-cost
   flow, whose LP is integral. HiGHS solves it by column generation (each
   party's best pairs first, the rest priced in with the duals), tightened by
   single-slot cuts; its value is an upper bound on any schedule
   (`Schedule.bound`).
2. When they meet. Without availability limits a bipartite graph of maximum
   degree <= slots can always be edge-coloured with that many slots and evenly
   enough to respect the tables (Koenig, de Werra), so step 1's pairs all fit.
   Placement is greedy with alternating-path (Kempe chain) recolouring.
3. Repair. A pair availability forced out frees capacity for the best remaining
   pairs (enterprises short of the fair minimum first); then a bounded local
   search swaps one or two meetings for better ones, keeping only improvements.

`baselines.py` holds the yardsticks it is measured by (the whole MILP handed
to HiGHS in one piece, a round robin); they serve the tests and the bench.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from services.matching.scheduling.solver import exact, resources
from services.matching.scheduling.solver.board import Board, finish
from services.matching.scheduling.solver.instance import (
    BoolArray,
    Instance,
    IntArray,
    Progress,
    Schedule,
    objective,
    violations,
)
from services.matching.scheduling.solver.selection import select_pairs


def _unpin_for(board: Board, k: int, priority: BoolArray, kept: dict[int, int]) -> bool:
    """A must-meet that pinned meetings keep out: free the ordinary pinned
    meetings in its way (its two sides' meetings in the slots they share, a full
    slot's meetings) and try again. Must-meets come before keeping meetings in
    place; what could not help is pinned again."""
    freed = _in_the_way(board, k, priority)
    for j in freed:
        board.pinned[j] = False
    if board.place(k):
        for j in freed:
            kept.pop(j, None)
        return True
    # A cap is full: take out the cheapest freed meeting of the capped side.
    for j in sorted(freed, key=lambda j: float(board.score[j])):
        if board.slot_of[j] < 0:
            continue
        board.begin()
        board.remove(j)
        if board.place(k):
            board.commit()
            for i in freed:
                kept.pop(i, None)
            return True
        board.rollback()
    for j in freed:
        board.pinned[j] = board.slot_of[j] >= 0
    return False


def _in_the_way(board: Board, k: int, priority: BoolArray) -> set[int]:
    """The ordinary meetings that keep pair k out: pinned ones in the slots its
    two sides share (a full slot's too), and a capped side's meetings."""
    inst = board.inst
    e, p = int(inst.pair_enterprise[k]), int(inst.pair_participant[k])
    found: set[int] = set()
    for t in np.flatnonzero(board.av_e[e] & board.av_p[p]):
        there = [int(j) for j in (board.at_e[e, t], board.at_p[p, t]) if j >= 0]
        if board.load[t] >= inst.tables:
            there += [int(j) for j in board.at_e[:, t] if j >= 0]
        found.update(j for j in there if board.pinned[j] and not priority[j])
    if board.deg_e[e] >= inst.enterprise_cap[e]:
        found.update(int(j) for j in board.at_e[e] if j >= 0 and not priority[j])
    if board.deg_p[p] >= inst.participant_cap[p]:
        found.update(int(j) for j in board.at_p[p] if j >= 0 and not priority[j])
    return found


# A must-meet pair is worth more than any fairness penalty and any set of
# ordinary pairs a party could meet instead, so the solver takes every one that fits.
MUST_MEET_BONUS = 100.0


def _pin(board: Board, fixed: tuple[IntArray, IntArray, IntArray] | None) -> dict[int, int]:
    """Put the previous schedule's still-valid meetings back where they were and
    pin them. One that no longer fits (a party's availability or cap changed,
    or another pinned meeting took its place) is left to the solver."""
    kept: dict[int, int] = {}
    if fixed is None:
        return kept
    inst = board.inst
    used: set[tuple[int, int]] = set()
    for k, t, table in zip(*(np.asarray(a, dtype=np.int64) for a in fixed), strict=True):
        k, t, table = int(k), int(t), int(table)
        e, p = int(inst.pair_enterprise[k]), int(inst.pair_participant[k])
        fits = (
            0 <= t < inst.n_slots
            and 0 <= table < inst.tables
            and (t, table) not in used
            and board.slot_of[k] < 0
            and board.av_e[e, t]
            and board.av_p[p, t]
            and board.at_e[e, t] < 0
            and board.at_p[p, t] < 0
            and board.load[t] < inst.tables
            and board.deg_e[e] < inst.enterprise_cap[e]
            and board.deg_p[p] < inst.participant_cap[p]
        )
        if fits:
            board.add(k, t)
            board.pinned[k] = True
            used.add((t, table))
            kept[k] = table
    return kept


def _open_pairs(board: Board, usable: BoolArray) -> IntArray:
    """Unplaced pairs whose two sides both have cap left, best first."""
    inst = board.inst
    rest = np.flatnonzero(usable & (board.slot_of < 0))
    e, p = inst.pair_enterprise[rest], inst.pair_participant[rest]
    rest = rest[
        (board.deg_e[e] < inst.enterprise_cap[e]) & (board.deg_p[p] < inst.participant_cap[p])
    ]
    return rest[np.argsort(-inst.pair_score[rest], kind="stable")]


def _by_side(inst: Instance, usable: BoolArray) -> tuple[list[IntArray], list[IntArray]]:
    """Usable pairs of each enterprise and of each participant, best first."""
    idx = np.flatnonzero(usable)
    idx = idx[np.argsort(-inst.pair_score[idx], kind="stable")]
    out = []
    for side, size in (
        (inst.pair_enterprise, inst.n_enterprises),
        (inst.pair_participant, inst.n_participants),
    ):
        order = idx[np.argsort(side[idx], kind="stable")]
        cuts = np.searchsorted(side[order], np.arange(1, size))
        out.append(np.split(order, cuts))
    return out[0], out[1]


Method = Literal["auto", "exact", "heuristic"]

# The reference size's budget (issue 12: under 2 s): the exact path gets
# EXACT_SECONDS in all; the heuristic's local search, where it runs beside it,
# QUICK_SECONDS (and, with venues or interpreters, their assignment ASSIGN_SECONDS).
EXACT_SECONDS = 1.6
QUICK_SECONDS = 0.2
ASSIGN_SECONDS = 0.3
# The large fair's budget (under 10 s): the local search stops this long after
# the heuristic started, whatever `improve_seconds` allows. On the scattered
# large fair it used to run its full 10 s for no improving move at all.
HEURISTIC_SECONDS = 7.0


def solve(
    inst: Instance,
    progress: Progress | None = None,
    improve_seconds: float = 10.0,
    *,
    must: BoolArray | None = None,
    fixed: tuple[IntArray, IntArray, IntArray] | None = None,
    locked: BoolArray | None = None,
    method: Method = "auto",
) -> Schedule:
    """The optimal schedule where the exact MILP is cheap (`exact.fits`, the
    reference size), else one close to the optimum; with an upper bound.
    `improve_seconds` caps the heuristic's final local search (it usually ends
    sooner, and at the latest HEURISTIC_SECONDS after the heuristic started).

    `stats["proven"]` is 1 when no schedule is better on the solver's objective
    (`objective` plus the bonuses below): its value reaches an upper bound
    (the MILP's, or the heuristic's LP bound); `stats["gap"]` is how far it is
    from that bound otherwise.

    `must` marks must-meet pairs: they carry MUST_MEET_BONUS inside the solver
    and are placed first, so all that fit are scheduled. `fixed` (pairs, slots,
    tables) is the previous schedule: those meetings are put back where they
    were and never moved (minimum change) by the heuristic, and earn KEEP_BONUS
    where they were in the MILP (a must-meet outweighs them); the solver works
    around them. `locked` marks meetings of `fixed` the organiser locked: they
    stay where they are (where that is still possible) even for a must-meet;
    the MILP gives their pair no other option and LOCK_BONUS there. Venues,
    travel and interpreters are the MILP's rules, and the heuristic's last pass
    (`resources.conform`)."""
    report = progress or (lambda _: None)
    rules = _Keep(fixed, locked)
    if method == "exact":
        return _solve_exact(inst, report, must, rules)
    if method == "heuristic" or not exact.fits(inst):
        return _solve_heuristic(inst, report, improve_seconds, must, rules)
    started = time.monotonic()
    quick = min(improve_seconds, QUICK_SECONDS)
    found: Schedule | None = None
    if not inst.has_resources():
        # Without venues or interpreters the heuristic takes milliseconds and
        # mostly proves itself optimal (it reaches its LP bound).
        found = _solve_heuristic(inst, report, quick, must, rules)
        if found.stats["proven"]:
            return found
    try:
        tried = _solve_exact(
            inst, report, must, rules, seconds=EXACT_SECONDS - (time.monotonic() - started)
        )
    except RuntimeError:  # no schedule, or one that breaks a rule
        return found if found is not None else _solve_heuristic(inst, report, quick, must, rules)
    if tried.stats["proven"]:
        return tried
    # Out of time short of a proof: the heuristic's schedule if it is better.
    if found is None:
        found = _solve_heuristic(inst, report, quick, must, rules)
    best = tried if _value(inst, tried, must, rules) >= _value(inst, found, must, rules) else found
    bounds = [b for b in (tried.bound, found.bound) if b is not None]
    best.bound = min(bounds) if bounds else None
    milp_bound = tried.stats["milp_bound"]
    value = _value(inst, best, must, rules)
    best.stats["proven"] = float(exact.reaches(value, milp_bound))
    best.stats["gap"] = max(milp_bound - value, 0.0)
    return best


@dataclass(frozen=True)
class _Keep:
    """The previous schedule's meetings, (pairs, slots, tables), and which of
    them the organiser locked."""

    fixed: tuple[IntArray, IntArray, IntArray] | None
    locked: BoolArray | None

    def places(self, *, locked_only: bool = False) -> dict[int, tuple[int, int]]:
        """Pair -> (slot, table) of the previous meetings (or the locked ones)."""
        if self.fixed is None:
            return {}
        pairs, slots, tables = (np.asarray(a, dtype=np.int64) for a in self.fixed)
        on = np.ones(pairs.size, dtype=bool)
        if locked_only:
            on = np.zeros(pairs.size, dtype=bool) if self.locked is None else self.locked
        return {
            int(k): (int(t), int(b))
            for k, t, b, o in zip(pairs, slots, tables, np.asarray(on, dtype=bool), strict=True)
            if o
        }


def _value(inst: Instance, schedule: Schedule, must: BoolArray | None, rules: _Keep) -> float:
    """The objective the exact path maximises: with the must-meet, keep and lock bonuses."""
    value = objective(inst, schedule)
    if must is not None:
        value += MUST_MEET_BONUS * float(np.asarray(must, dtype=bool)[schedule.pair].sum())
    venue = inst.venue_of_table(schedule.table)
    for places, bonus in (
        (rules.places(), exact.KEEP_BONUS),
        (rules.places(locked_only=True), exact.LOCK_BONUS),
    ):
        if not places:
            continue
        was = {k: (t, int(inst.venue_of_table(np.array([b]))[0])) for k, (t, b) in places.items()}
        value += bonus * sum(
            was.get(int(k)) == (int(t), int(v))
            for k, t, v in zip(schedule.pair, schedule.slot, venue, strict=True)
        )
    return value


def _solve_exact(
    inst: Instance,
    report: Progress,
    must: BoolArray | None,
    rules: _Keep,
    *,
    seconds: float = EXACT_SECONDS,
) -> Schedule:
    report(0.05)
    priority = np.zeros(inst.n_pairs, dtype=bool) if must is None else np.asarray(must, dtype=bool)
    prefer = rules.places() or None
    bonus = MUST_MEET_BONUS * priority if priority.any() else None
    hold = rules.places(locked_only=True)
    schedule, milp_bound, proven = exact.solve_exact(inst, bonus, seconds, prefer, hold=hold)
    broken = violations(inst, schedule)
    if broken:
        # Never trust a solver's word: a schedule that breaks a rule is not used.
        raise RuntimeError(f"the MILP's schedule breaks a rule: {broken[0]}")
    bound = milp_bound
    if bonus is not None or prefer:
        # The MILP's bound is on the boosted objective; report one on the real one.
        common = inst.common_slots()
        bound = select_pairs(inst, common.any(axis=1) & (inst.pair_score > 0), common)[1]
    schedule.bound = bound
    kept = 0
    if prefer:
        kept = sum(
            prefer.get(int(k)) == (int(t), int(table))
            for k, t, table in zip(schedule.pair, schedule.slot, schedule.table, strict=True)
        )
    value = _value(inst, schedule, must, rules)
    schedule.stats = {
        **schedule.stats,
        "exact": 1.0,
        "proven": float(proven),
        "gap": max(milp_bound - value, 0.0),
        "milp_bound": milp_bound,
        "at_bound": 0.0,
        "pinned": float(kept),
    }
    report(1.0)
    return schedule


def _solve_heuristic(
    inst: Instance,
    report: Progress,
    improve_seconds: float,
    must: BoolArray | None,
    rules: _Keep,
) -> Schedule:
    started = time.monotonic()
    report(0.05)
    priority = np.zeros(inst.n_pairs, dtype=bool) if must is None else np.asarray(must, dtype=bool)
    hold = np.zeros(inst.n_pairs, dtype=bool)
    hold[list(rules.places(locked_only=True))] = True
    original = inst
    if priority.any():
        inst = dataclasses.replace(inst, pair_score=inst.pair_score + MUST_MEET_BONUS * priority)
    common = inst.common_slots()
    usable = common.any(axis=1) & (inst.pair_score > 0)
    chosen, bound = select_pairs(inst, usable, common)
    # The reported bound is on the real objective; the boosted one steers the search.
    real_bound = select_pairs(original, usable, common)[1] if priority.any() else bound
    report(0.5)
    board = Board(inst)
    kept = _pin(board, rules.fixed)
    placed_first = _place_selected(board, chosen, priority, usable, common, kept, hold=hold)
    report(0.7)
    _fill(board, usable)
    report(0.8)
    left = HEURISTIC_SECONDS - (time.monotonic() - started)
    improved = _improve(board, usable, bound, max(min(improve_seconds, left), 0.0))
    report(1.0)
    stats = {
        "selected": float(chosen.sum()),
        "placed_from_selection": float(placed_first),
        "kempe_swaps": float(board.kempe_swaps),
        "improving_moves": float(improved),
        "pinned": float(len(kept)),
    }
    schedule = finish(board, real_bound, stats, kept)
    if original.has_resources():
        if exact.fits(original):
            prefer = {int(k): (int(board.slot_of[k]), table) for k, table in kept.items()}
            bonus = MUST_MEET_BONUS * priority if priority.any() else None
            schedule = exact.assign(original, schedule, bonus, prefer, ASSIGN_SECONDS)
            schedule.bound, schedule.stats = real_bound, stats
        schedule = resources.conform(original, schedule, usable, kept)
    # At the (boosted) bound nothing is better: the schedule is optimal.
    reached = objective(original, schedule) + MUST_MEET_BONUS * float(priority[schedule.pair].sum())
    at_bound = reached >= bound - 1e-9 * max(abs(bound), 1.0)
    schedule.stats["at_bound"] = float(at_bound)
    # Its bound knows nothing of keeping meetings in place (KEEP_BONUS), so a
    # rescheduling run is proven by the MILP only.
    schedule.stats["proven"] = float(at_bound and not rules.places())
    schedule.stats["gap"] = max(bound - reached, 0.0)
    return schedule


def _place_selected(
    board: Board,
    chosen: BoolArray,
    priority: BoolArray,
    usable: BoolArray,
    common: BoolArray,
    kept: dict[int, int],
    *,
    hold: BoolArray,
) -> int:
    """Place step 1's pairs and every must-meet; returns how many meetings are placed.
    Must-meets first; then the hardest pairs (fewest shared slots), best first
    among equals, so what availability forces out tends to be cheap. A
    must-meet may free pinned meetings in its way, but not `hold` (locked) ones."""
    score = board.inst.pair_score
    first = np.flatnonzero((chosen | (priority & usable)) & (board.slot_of < 0))
    first = first[np.lexsort((-score[first], common[first].sum(axis=1), ~priority[first]))]
    for k in first:
        if not board.place(int(k)) and priority[k] and kept:
            _unpin_for(board, int(k), priority | hold, kept)
    return int((board.slot_of >= 0).sum())


def _fill(board: Board, usable: BoolArray) -> None:
    """Fill free tables with the best open pairs, enterprises short of their
    fair minimum first."""
    inst = board.inst
    for fairness_first in (True, False):
        group = _open_pairs(board, usable)
        if fairness_first:
            owner = inst.pair_enterprise[group]
            group = group[board.deg_e[owner] < board.target[owner]]
        for k in group:
            if not (board.load < inst.tables).any():
                break
            board.place(int(k))


def _improve(board: Board, usable: BoolArray, bound: float, seconds: float) -> int:
    """The bounded local search; returns how many improving moves it kept."""
    # Within a millionth of the bound there is nothing worth searching for.
    good_enough = bound - 1e-6 * max(abs(bound), 1.0)
    if board.value >= good_enough:
        return 0
    score = board.inst.pair_score
    by_e, by_p = _by_side(board.inst, usable)
    left = np.flatnonzero(usable & (board.slot_of < 0))
    left = left[np.argsort(-score[left], kind="stable")]
    return board.improve(left, by_e, by_p, time.monotonic() + seconds, good_enough)
