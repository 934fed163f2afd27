"""The exact schedule: a time-indexed MILP solved by HiGHS (scipy.optimize.milp).

One binary per option — a pair meeting in a slot at a venue, with one of the
interpreters able to serve it when it needs one — and one continuous variable
per enterprise counting its meetings up to the fair target. It models every
rule of `violations`: one meeting per person and slot, pairs once, caps, tables
per venue and slot, venues in use, interpreters one meeting at a time, and the
travel time between venues for participants and interpreters. Enterprises
stay at their venue of the day (`Instance.homes`), so an option's venue
follows from its slot.

At the reference size (16 x 64, a few thousand options) it is solved in
stages (`_staged`: the LP relaxation, dives on its support, then the whole
MILP with reduced-cost fixing), which prove the optimum in tenths of a second;
`solve` uses it wherever the options are few (`fits`, `EXACT_OPTIONS`), and
large fairs go to the heuristic. `baselines.exact_schedule` hands the whole
MILP to HiGHS in one piece instead: the yardstick the stages are checked against.
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import maximum_bipartite_matching

from services.matching.scheduling.solver.board import table_numbers
from services.matching.scheduling.solver.instance import (
    BoolArray,
    FloatArray,
    Instance,
    IntArray,
    Schedule,
    objective,
)

# Above this many options the MILP is left to large fairs' heuristic.
EXACT_OPTIONS = 60_000

# Keeping a meeting where it was outweighs a few meetings elsewhere (and their
# fairness), but not a must-meet (MUST_MEET_BONUS = 100): the order the heuristic
# follows when it pins the previous schedule.
KEEP_BONUS = 30.0

# A meeting the organiser locked stays where it is: the MILP has no other
# option for its pair, and keeping it there is worth more than anything it
# could stand in the way of (a few meetings' worth of slots, tables and travel,
# must-meets included).
LOCK_BONUS = 10_000.0


@dataclass(frozen=True)
class Options:
    """Every way a pair can meet: parallel arrays over options."""

    pair: IntArray
    slot: IntArray
    venue: IntArray
    # The interpreter, or -1: none needed, or (without travel) none chosen yet,
    # the MILP then finds one for each such meeting that needs one (`_interpreting`).
    interpreter: IntArray

    @property
    def size(self) -> int:
        return int(self.pair.size)


def options(inst: Instance) -> Options:
    """The options of an instance: pairs with a positive score, in slots both
    sides are free, at venues in use then, with a capable free interpreter if needed."""
    usable = inst.pair_score > 0
    common = inst.common_slots() & usable[:, None]
    # A pair meets at its enterprise's venue of the day, when that venue is in use.
    pk, tk = np.nonzero(common)
    venue = inst.homes()[inst.pair_enterprise[pk], inst.days()[tk]]
    there = inst.open_at()[venue, tk]
    pair, slot, venue = pk[there], tk[there], venue[there]
    interpreter = np.full(pair.size, -1, dtype=np.int64)
    needs = inst.needs_interpreter()[pair]
    # With travel an interpreter's meetings in different slots depend on each
    # other, so each option names its interpreter. Without, an interpreter's
    # only rule is one meeting a slot: who serves whom is a matching per slot,
    # kept apart from the options (one per pair and slot, not per interpreter).
    if needs.any() and inst.travel_blocked() is not None:
        assert inst.pair_interpreters is not None and inst.interpreter_available is not None
        can = inst.pair_interpreters[pair[needs]] & inst.interpreter_available[:, slot[needs]].T
        rows, who = np.nonzero(can)
        served = np.flatnonzero(needs)[rows]
        keep = np.flatnonzero(~needs)
        pair = np.concatenate([pair[keep], pair[served]])
        slot = np.concatenate([slot[keep], slot[served]])
        venue = np.concatenate([venue[keep], venue[served]])
        interpreter = np.concatenate([interpreter[keep], who.astype(np.int64)])
    return Options(
        pair.astype(np.int64), slot.astype(np.int64), venue.astype(np.int64), interpreter
    )


def fits(inst: Instance) -> bool:
    """Whether the MILP is small enough to solve in production (a cheap estimate)."""
    common = int(inst.common_slots().sum())
    return common * inst.n_venues * max(inst.n_interpreters, 1) <= EXACT_OPTIONS or (
        common * inst.n_venues <= EXACT_OPTIONS and options(inst).size <= EXACT_OPTIONS
    )


class _Rows:
    """The constraint matrix, built as groups of rows: each option's row in a
    group (or -1), and the group's right-hand sides."""

    def __init__(self, n_options: int) -> None:
        self.n = n_options
        self.r: list[IntArray] = []
        self.c: list[IntArray] = []
        self.rhs: list[FloatArray] = []
        self.count = 0

    def group(self, key: IntArray, cap: FloatArray | float, cols: IntArray | None = None) -> None:
        """Rows `sum of x over options with one key <= cap`, keys 0..(len(cap)-1)
        or any when cap is a number (then only keys with two options or more)."""
        cols = np.arange(self.n) if cols is None else cols
        if isinstance(cap, float):
            _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
            binding = counts[inverse] > cap
            _, local = np.unique(inverse[binding], return_inverse=True)
            size = int(local.max()) + 1 if local.size else 0
            self.r.append(local.astype(np.int64) + self.count)
            self.c.append(cols[binding])
            self.rhs.append(np.full(size, cap))
            self.count += size
            return
        self.r.append(key.astype(np.int64) + self.count)
        self.c.append(cols)
        self.rhs.append(np.asarray(cap, dtype=np.float64))
        self.count += len(cap)

    def pairs_of_groups(self, members: list[IntArray], couples: list[tuple[int, int]]) -> None:
        """Rows `sum over group a + sum over group b <= 1` for each couple (a, b)."""
        for a, b in couples:
            both = np.concatenate([members[a], members[b]])
            self.r.append(np.full(both.size, self.count, dtype=np.int64))
            self.c.append(both)
            self.rhs.append(np.ones(1))
            self.count += 1

    def matrix(self) -> tuple[sp.csr_matrix, FloatArray]:
        rows = np.concatenate(self.r) if self.r else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(self.c) if self.c else np.zeros(0, dtype=np.int64)
        a = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(self.count, self.n))
        return a, np.concatenate(self.rhs) if self.rhs else np.zeros(0)


def _matrix(rows: _Rows, meetings: sp.csr_matrix) -> tuple[sp.csr_matrix, FloatArray]:
    """The whole constraint matrix over x (options) and z (enterprises' meetings
    up to the fair target: z <= meetings), and its right-hand side."""
    m = meetings.shape[0]
    a_x, ub = rows.matrix()
    a = sp.vstack(
        [
            sp.hstack([a_x, sp.csr_matrix((a_x.shape[0], m))], format="csr"),
            sp.hstack([-meetings, sp.identity(m, format="csr")], format="csr"),
        ],
        format="csr",
    )
    return a, np.concatenate([ub, np.zeros(m)])


def _travel_rows(inst: Instance, opts: Options, rows: _Rows) -> None:
    """A person's meetings at (t, v) and (u, w) that leave less than the travel
    time between venues v and w exclude each other."""
    blocked = inst.travel_blocked()
    if blocked is None:
        return
    s, v = inst.n_slots, inst.n_venues
    cell = opts.slot * v + opts.venue
    # Enterprises keep one venue a day (`_home_rows`): only visitors travel.
    base = inst.n_participants
    on = np.flatnonzero(opts.interpreter >= 0)
    person = np.concatenate([inst.pair_participant[opts.pair], base + opts.interpreter[on]])
    option = np.concatenate([np.arange(opts.size), on])
    cells = np.concatenate([cell, cell[on]])
    key = person * (s * v) + cells
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    members = np.split(option[order], starts[1:])
    flat = blocked.reshape(s * v, s * v)
    group_person, group_cell = keys // (s * v), keys % (s * v)
    couples: list[tuple[int, int]] = []
    bounds = np.searchsorted(group_person, np.unique(group_person))
    edges = [*bounds.tolist(), keys.size]
    for lo, hi in itertools.pairwise(edges):
        mine = group_cell[lo:hi]
        clash = flat[mine[:, None], mine[None, :]]
        same_slot = (mine[:, None] // v) == (mine[None, :] // v)
        # Same-slot clashes are the one-meeting-per-slot rows already.
        a, b = np.nonzero(np.triu(clash & ~same_slot, k=1))
        couples += [(lo + int(i), lo + int(j)) for i, j in zip(a, b, strict=True)]
    rows.pairs_of_groups(members, couples)


def assign(
    inst: Instance,
    schedule: Schedule,
    bonus: FloatArray | None = None,
    prefer: dict[int, tuple[int, int]] | None = None,
    time_limit: float = 1.0,
) -> Schedule:
    """Venues and interpreters for a schedule whose slots are decided (the
    heuristic's): the same MILP over those meetings in their slots only, so a
    few hundred binaries. What cannot have a venue or an interpreter is left out."""
    slot_of = np.full(inst.n_pairs, -1, dtype=np.int64)
    slot_of[schedule.pair] = schedule.slot
    opts = options(inst)
    found, _, _ = solve_exact(
        inst, bonus, time_limit, prefer, opts=subset(opts, slot_of[opts.pair] == opts.slot)
    )
    return found


def _held(inst: Instance, opts: Options, hold: dict[int, tuple[int, int]]) -> IntArray:
    """Per option: 1 at a locked meeting's place, 0 for an option free to
    take, -1 for another option of a locked pair whose place is still an option."""
    out = np.zeros(opts.size, dtype=np.int64)
    if not hold:
        return out
    place = np.array([hold.get(int(k), (-1, -1)) for k in opts.pair], dtype=np.int64)
    locked = place[:, 0] >= 0
    there = (
        locked
        & (place[:, 0] == opts.slot)
        & (inst.venue_of_table(np.maximum(place[:, 1], 0)) == opts.venue)
    )
    out[there] = 1
    placeable = np.isin(opts.pair, opts.pair[there])
    out[placeable & ~there] = -1
    return out


def subset(opts: Options, keep: BoolArray) -> Options:
    """The options where `keep` (per option) holds."""
    return Options(opts.pair[keep], opts.slot[keep], opts.venue[keep], opts.interpreter[keep])


@dataclass(frozen=True)
class _Model:
    """The MILP in maximising form over w = (x per option, z per enterprise):
    maximise value @ w + offset subject to a @ w <= rhs, lower <= w <= upper,
    x binary. `offset` is minus the fairness penalty of every target, so the
    objective is `objective` (plus the bonuses) of the schedule w stands for."""

    value: FloatArray
    a: sp.csr_matrix
    rhs: FloatArray
    lower: FloatArray
    upper: FloatArray
    n_x: int
    offset: float
    meetings: sp.csr_matrix  # (enterprises, options): whose meeting each option is

    def integrality(self) -> FloatArray:
        return np.concatenate([np.ones(self.n_x), np.zeros(self.value.size - self.n_x)])

    def of(self, x: FloatArray) -> float:
        """The objective of the binaries x (each enterprise's z as large as it may be)."""
        m = self.meetings.shape[0]
        z = np.minimum(self.upper[self.n_x : self.n_x + m], self.meetings @ x)
        return float(self.value[: self.n_x] @ x + self.value[self.n_x : self.n_x + m] @ z) + (
            self.offset
        )


def _model(
    inst: Instance,
    opts: Options,
    bonus: FloatArray | None,
    prefer: dict[int, tuple[int, int]] | None,
    held: BoolArray | None = None,
) -> tuple[_Model, BoolArray]:
    """The MILP of the options, and which options keep a `prefer`red place.
    `held` options (locked meetings' places) earn LOCK_BONUS."""
    m = inst.n_enterprises
    value = inst.pair_score[opts.pair].astype(np.float64)
    if held is not None:
        value = value + LOCK_BONUS * held
    if bonus is not None:
        value = value + bonus[opts.pair]
    kept_option = np.zeros(opts.size, dtype=bool)
    if prefer:
        wanted = np.array([prefer.get(int(k), (-1, -1)) for k in opts.pair], dtype=np.int64)
        venue_then = inst.venue_of_table(np.maximum(wanted[:, 1], 0))
        kept_option = (wanted[:, 0] == opts.slot) & (venue_then == opts.venue)
        value = value + KEEP_BONUS * kept_option
    rows = _Rows(opts.size)
    e, p = inst.pair_enterprise[opts.pair], inst.pair_participant[opts.pair]
    s = inst.n_slots
    rows.group(e * s + opts.slot, 1.0)
    rows.group(p * s + opts.slot, 1.0)
    rows.group(opts.pair, 1.0)
    rows.group(opts.venue * s + opts.slot, np.repeat(inst.tables_at(), s).astype(np.float64))
    rows.group(e, inst.enterprise_cap.astype(np.float64))
    rows.group(p, inst.participant_cap.astype(np.float64))
    on = np.flatnonzero(opts.interpreter >= 0)
    if on.size:
        rows.group(opts.interpreter[on] * s + opts.slot[on], 1.0, cols=on)
    _travel_rows(inst, opts, rows)
    meetings = sp.csr_matrix((np.ones(opts.size), (e, np.arange(opts.size))), shape=(m, opts.size))
    a, rhs = _matrix(rows, meetings)
    a, rhs, n_f = _interpreting(inst, opts, a, rhs)
    target = inst.fair_targets().astype(np.float64)
    model = _Model(
        value=np.concatenate([value, np.full(m, inst.fairness_penalty), np.zeros(n_f)]),
        a=a,
        rhs=rhs,
        lower=np.zeros(opts.size + m + n_f),
        upper=np.concatenate([np.ones(opts.size), target, np.ones(n_f)]),
        n_x=opts.size,
        offset=-inst.fairness_penalty * float(target.sum()),
        meetings=meetings,
    )
    return model, kept_option


def _served(inst: Instance, opts: Options) -> tuple[IntArray, IntArray]:
    """The options that need an interpreter none of them names, and for each
    an interpreter able to serve it and free then: (option, interpreter) arcs."""
    waiting = np.flatnonzero(inst.needs_interpreter()[opts.pair] & (opts.interpreter < 0))
    if waiting.size == 0:
        return waiting, waiting
    assert inst.pair_interpreters is not None and inst.interpreter_available is not None
    can = (
        inst.pair_interpreters[opts.pair[waiting]]
        & inst.interpreter_available[:, opts.slot[waiting]].T
    )
    rows, who = np.nonzero(can)
    return waiting[rows].astype(np.int64), who.astype(np.int64)


def _interpreting(
    inst: Instance, opts: Options, a: sp.csr_matrix, rhs: FloatArray
) -> tuple[sp.csr_matrix, FloatArray, int]:
    """The matrix with a continuous flow f per arc of `_served` appended: each
    meeting that needs an interpreter gets one unit (x - sum of its f <= 0),
    each interpreter gives at most one a slot. For binaries x the rest is a
    bipartite matching per slot, whose polytope is integral: whenever the
    flow exists, so does an assignment (`_assigned` finds it)."""
    option, who = _served(inst, opts)
    n_f = option.size
    if n_f == 0:
        return a, rhs, 0
    arcs = np.arange(n_f)
    waiting, need_row = np.unique(option, return_inverse=True)
    cell, give_row = np.unique(who * inst.n_slots + opts.slot[option], return_inverse=True)
    n_rest = a.shape[1] - opts.size
    x_part = sp.csr_matrix(
        (np.ones(waiting.size), (np.arange(waiting.size), waiting)),
        shape=(waiting.size, opts.size),
    )
    need = sp.hstack(
        [
            x_part,
            sp.csr_matrix((waiting.size, n_rest)),
            sp.csr_matrix((-np.ones(n_f), (need_row, arcs)), shape=(waiting.size, n_f)),
        ]
    )
    give = sp.hstack(
        [
            sp.csr_matrix((cell.size, a.shape[1])),
            sp.csr_matrix((np.ones(n_f), (give_row, arcs)), shape=(cell.size, n_f)),
        ]
    )
    top = sp.hstack([a, sp.csr_matrix((a.shape[0], n_f))])
    matrix = sp.vstack([top, need, give], format="csr")
    return matrix, np.concatenate([rhs, np.zeros(waiting.size), np.ones(cell.size)]), n_f


def _assigned(inst: Instance, opts: Options, chosen: IntArray) -> IntArray:
    """The interpreter of each chosen option: the one it names, or one found by
    a maximum bipartite matching per slot for those that need one named by none
    (-1 where none is needed, or none could be found, which `violations` refuses)."""
    out = opts.interpreter[chosen].copy()
    option, who = _served(inst, opts)
    if option.size == 0:
        return out
    row_of = {int(o): j for j, o in enumerate(chosen)}
    for t in np.unique(opts.slot[chosen]):
        mine = [j for j, o in enumerate(chosen) if opts.slot[o] == t and opts.interpreter[o] < 0]
        arcs = np.flatnonzero(np.isin(option, chosen[mine]))
        if arcs.size == 0:
            continue
        local = np.array([mine.index(row_of[int(o)]) for o in option[arcs]], dtype=np.int64)
        graph = sp.csr_matrix(
            (np.ones(arcs.size), (local, who[arcs])), shape=(len(mine), inst.n_interpreters)
        )
        match = maximum_bipartite_matching(graph, perm_type="column")
        for j, i in zip(mine, match, strict=True):
            out[j] = int(i)
    return out


# A schedule within this much of an upper bound is optimal: objectives are sums
# of scores and bonuses, and HiGHS's own absolute gap tolerance is the same.
PROOF_GAP = 1e-6


def reaches(value: float, bound: float) -> bool:
    """Whether `value` is the optimum, given an upper `bound` on it."""
    return value >= bound - PROOF_GAP - 1e-9 * abs(bound)


def _milp(
    model: _Model, lower: FloatArray, upper: FloatArray, seconds: float, floor: float | None = None
) -> Any:
    """HiGHS on the model with these bounds. `floor` is the objective of a
    schedule already found (feasible here): HiGHS prunes whatever cannot reach
    it, as it would with that schedule as its incumbent, and still finds one
    at least as good (it is not cut off)."""
    options: dict[str, Any] = {
        "time_limit": max(seconds, 0.01),
        "disp": False,
        # A zero relative gap: HiGHS's default (1e-4) is relative to the shifted
        # objective (penalties included), so it would stop up to 0.1% short.
        "mip_rel_gap": 0.0,
    }
    if floor is not None:
        # HiGHS minimises -value; its option `objective_bound` is an upper
        # limit on that objective (scipy passes it on verbatim, with a warning).
        options["objective_bound"] = -(floor - model.offset) + PROOF_GAP / 10
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unrecognized options", RuntimeWarning)
        return milp(
            -model.value,
            constraints=LinearConstraint(model.a, -np.inf, model.rhs),
            integrality=model.integrality(),
            bounds=Bounds(lower, upper),
            options=options,
        )


@dataclass
class _Search:
    """The best binaries found so far, their objective, and the best upper bound."""

    x: FloatArray
    value: float
    bound: float
    stage: int = 0  # the last stage run: 0 the LP, 1-3 the dives, 4 the whole MILP

    def offer(self, model: _Model, res: Any) -> None:
        if res.x is not None:
            x = np.round(res.x[: model.n_x])
            if model.of(x) > self.value:
                self.x, self.value = x, model.of(x)

    @property
    def proven(self) -> bool:
        return reaches(self.value, self.bound)


def _staged(model: _Model, seconds: float) -> _Search:
    """The MILP in stages, each cheap where the next would be dear. On the
    bench's instances the LP relaxation is mostly as good as the optimum, and
    HiGHS given the whole MILP spends most of its time looking for a schedule
    the LP already points at.

    0. The LP relaxation: an upper bound (`bound`) on every schedule; an
       integral LP solution is an optimal schedule at once.
    1. A dive: the MILP with only the LP's fractional options free (the LP's
       meetings fixed in, the rest out), a few dozen binaries.
    2. A wider dive: the LP's meetings fixed in, the options the LP prices out
       (a negative reduced value) fixed out, every other one free; HiGHS gets
       the first dive's objective as a cutoff (what its incumbent would be).
       A dive that reaches the LP bound is optimal.
    3. Else the whole MILP, with every option whose reduced value shows it
       cannot be in a schedule better than the best dive's fixed (reduced-cost
       fixing, valid for every feasible schedule) and that dive's objective as
       the cutoff, with the time left. Its optimum (or the dive's, when
       nothing beats it) is the optimum.

    Every stage's schedule is feasible for the whole MILP, and the proof is
    always against a bound on the whole MILP (the LP's, or stage 3's)."""
    deadline = time.monotonic() + seconds
    lp = linprog(
        -model.value,
        A_ub=model.a,
        b_ub=model.rhs,
        bounds=np.column_stack([model.lower, model.upper]),
        method="highs",
        options={"time_limit": max(seconds, 0.01)},
    )
    if lp.status != 0:
        raise RuntimeError(f"MILP relaxation failed: {lp.message}")
    n = model.n_x
    x_lp = lp.x[:n]
    ones, zeros = x_lp > 1 - 1e-6, x_lp < 1e-6
    # The LP's meetings alone are a schedule (every row is a packing row).
    search = _Search(ones.astype(np.float64), model.of(ones.astype(np.float64)), 0.0)
    search.bound = float(-lp.fun) + model.offset
    if search.proven or (zeros | ones).all():
        search.offer(model, lp)
        return search
    # Reduced values: what moving an option off its LP bound costs at least.
    priced_out = np.asarray(lp.lower.marginals[:n], dtype=np.float64)  # >= 0 at 0
    priced_in = -np.asarray(lp.upper.marginals[:n], dtype=np.float64)  # >= 0 at 1
    nothing = np.zeros(n, dtype=bool)
    dives = (
        (zeros, ones, 0.25),  # only the LP's fractional options free (a few dozen)
        (priced_out > PROOF_GAP, ones, 0.4),  # and every option the LP does not price out
        (priced_out > PROOF_GAP, nothing, 0.5),  # the LP's meetings free too
    )
    for stage, (fix_out, fix_in, share) in enumerate(dives, start=1):
        lower, upper = model.lower.copy(), model.upper.copy()
        upper[:n][fix_out] = 0.0
        lower[:n][fix_in] = 1.0
        floor = search.value if stage > 1 else None
        search.stage = stage
        search.offer(
            model, _milp(model, lower, upper, share * (deadline - time.monotonic()), floor)
        )
        if search.proven or time.monotonic() >= deadline:
            return search
    gap = search.bound - search.value + PROOF_GAP
    lower, upper = model.lower.copy(), model.upper.copy()
    upper[:n][priced_out > gap] = 0.0
    lower[:n][priced_in > gap] = 1.0
    search.stage = len(dives) + 1
    res = _milp(model, lower, upper, deadline - time.monotonic(), search.value)
    search.offer(model, res)
    # Optimal, or (numerically) nothing at the cutoff: what is fixed out could
    # not do better than the dive either, so the best found is the optimum.
    if res.status in (0, 2):
        search.bound = search.value
    else:
        dual = getattr(res, "mip_dual_bound", None)
        if dual is not None and np.isfinite(dual):
            search.bound = min(search.bound, max(-float(dual) + model.offset, search.value))
    return search


def _plain(model: _Model, seconds: float) -> _Search:
    """The whole MILP handed to HiGHS as it is (the yardstick of the bench and tests)."""
    res = _milp(model, model.lower, model.upper, seconds)
    if res.x is None:
        raise RuntimeError(f"MILP found no solution: {res.message}")
    x = np.round(res.x[: model.n_x])
    value = model.of(x)
    dual = getattr(res, "mip_dual_bound", None)
    bound = value
    if res.status != 0:
        bound = np.inf if dual is None or not np.isfinite(dual) else -float(dual) + model.offset
    return _Search(x, value, max(bound, value))


def solve_exact(
    inst: Instance,
    bonus: FloatArray | None = None,
    time_limit: float = 60.0,
    prefer: dict[int, tuple[int, int]] | None = None,
    opts: Options | None = None,
    *,
    staged: bool = True,
    hold: dict[int, tuple[int, int]] | None = None,
) -> tuple[Schedule, float, bool]:
    """The optimum of the MILP: (schedule, best bound, proven optimal). `bonus`
    adds to each pair's score inside the model (must-meets); `prefer` maps a
    pair to the (slot, table) it had, and that exact option earns KEEP_BONUS.
    The bound is on the boosted objective when a bonus is given. `opts` limits
    the options (all by default). `staged` solves it in stages (`_staged`);
    without, HiGHS gets the whole MILP as it is. `hold` maps a locked meeting's
    pair to its (slot, table): where that place is still an option, it is the
    pair's only one, and earns LOCK_BONUS."""
    opts = options(inst) if opts is None else opts
    held = _held(inst, opts, hold or {})
    opts = subset(opts, held >= 0)
    at_lock: BoolArray = held[held >= 0] == 1
    if opts.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        bound = objective(inst, Schedule(empty, empty, empty))
        return Schedule(empty, empty, empty, bound=bound), bound, True
    model, kept_option = _model(inst, opts, bonus, prefer, at_lock)
    search = (_staged if staged else _plain)(model, time_limit)
    on_x = np.flatnonzero(search.x > 0.5)
    pair, slot, venue = opts.pair[on_x], opts.slot[on_x], opts.venue[on_x]
    kept = {int(opts.pair[o]): (prefer or {})[int(opts.pair[o])][1] for o in on_x if kept_option[o]}
    table = table_numbers(inst, pair, slot, venue, kept)
    schedule = Schedule(
        pair,
        slot,
        table,
        bound=search.bound,
        stats={"exact_stage": float(search.stage)},
        interpreter=_assigned(inst, opts, on_x),
    )
    return schedule, search.bound, search.proven


def has_options(inst: Instance) -> BoolArray:
    """Per pair: whether it can meet at all."""
    opts = options(inst)
    out = np.zeros(inst.n_pairs, dtype=bool)
    out[opts.pair] = True
    return out
