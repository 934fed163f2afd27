"""The exact schedule: a time-indexed MILP solved by HiGHS (scipy.optimize.milp).

One binary per option — a pair meeting in a slot at a venue, with one of the
interpreters able to serve it when it needs one — and one continuous variable
per enterprise counting its meetings up to the fair target. It models every
rule of `violations`: one meeting per person and slot, pairs once, caps, tables
per venue and slot, venues in use, interpreters one meeting at a time, and the
travel time between venues for enterprises, participants and interpreters
alike. At the reference size (16 x 64, a few thousand options) HiGHS proves the
optimum in well under a second, so `solve` uses it wherever the options are few
(see `EXACT_OPTIONS`); large fairs go to the heuristic.
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


@dataclass(frozen=True)
class Options:
    """Every way a pair can meet: parallel arrays over options."""

    pair: IntArray
    slot: IntArray
    venue: IntArray
    interpreter: IntArray  # -1: none needed

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
    if needs.any():
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


def _matrix(inst: Instance, opts: Options, rows: _Rows) -> tuple[sp.csr_matrix, FloatArray]:
    """The whole constraint matrix over x (options) and z (enterprises' meetings
    up to the fair target: z <= meetings), and its right-hand side."""
    m, n_x = inst.n_enterprises, opts.size
    e = inst.pair_enterprise[opts.pair]
    a_x, ub = rows.matrix()
    fair_x = sp.csr_matrix((-np.ones(n_x), (e, np.arange(n_x))), shape=(m, n_x))
    a = sp.vstack(
        [
            sp.hstack([a_x, sp.csr_matrix((a_x.shape[0], m))], format="csr"),
            sp.hstack([fair_x, sp.identity(m, format="csr")], format="csr"),
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
        z = np.minimum(self.upper[self.n_x :], self.meetings @ x)
        return float(self.value[: self.n_x] @ x + self.value[self.n_x :] @ z) + self.offset


def _model(
    inst: Instance,
    opts: Options,
    bonus: FloatArray | None,
    prefer: dict[int, tuple[int, int]] | None,
) -> tuple[_Model, BoolArray]:
    """The MILP of the options, and which options keep a `prefer`red place."""
    m = inst.n_enterprises
    value = inst.pair_score[opts.pair].astype(np.float64)
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
    a, rhs = _matrix(inst, opts, rows)
    target = inst.fair_targets().astype(np.float64)
    model = _Model(
        value=np.concatenate([value, np.full(m, inst.fairness_penalty)]),
        a=a,
        rhs=rhs,
        lower=np.zeros(opts.size + m),
        upper=np.concatenate([np.ones(opts.size), target]),
        n_x=opts.size,
        offset=-inst.fairness_penalty * float(target.sum()),
        meetings=sp.csr_matrix((np.ones(opts.size), (e, np.arange(opts.size))), shape=(m, opts.size)),
    )
    return model, kept_option


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

    def offer(self, model: _Model, res: Any) -> None:
        if res.x is not None:
            x = np.round(res.x[: model.n_x])
            if model.of(x) > self.value:
                self.x, self.value = x, model.of(x)

    @property
    def proven(self) -> bool:
        return reaches(self.value, self.bound)


def _staged(model: _Model, seconds: float) -> _Search:
    """The MILP in stages, each cheap where the next would be dear:

    1. the LP relaxation: an upper bound (`bound`), often the optimum itself
       here; an integral LP solution is an optimal schedule at once;
    2. a dive: the MILP with the LP's meetings fixed in and the options the LP
       prices out (negative reduced value) fixed out, a few hundred free
       binaries; reaching the LP bound proves it optimal;
    3. else the whole MILP, with every option whose reduced value shows it
       cannot be in a schedule better than the dive's fixed out (reduced-cost
       fixing: valid for any feasible schedule), with what time is left. Its
       optimum, or the dive's if better, is then the optimum.

    HiGHS finds the same optimum on the whole MILP alone, but spends most of
    its time looking for the schedule the LP already points at."""
    deadline = time.monotonic() + seconds
    lp = linprog(
        -model.value,
        A_ub=model.a,
        b_ub=model.rhs,
        bounds=np.column_stack([model.lower, model.upper]),
        method="highs",
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
    for stage, (fix_out, fix_in) in enumerate(
        (
            (zeros, ones),  # only the LP's fractional options free (a few dozen)
            (priced_out > PROOF_GAP, ones),  # and every other option the LP does not price out
        )
    ):
        lower, upper = model.lower.copy(), model.upper.copy()
        upper[:n][fix_out] = 0.0
        lower[:n][fix_in] = 1.0
        share = (0.3, 0.6)[stage]
        left = deadline - time.monotonic()
        search.offer(model, _milp(model, lower, upper, share * left, search.value if stage else None))
        if search.proven or time.monotonic() >= deadline:
            return search
    gap = search.bound - search.value + PROOF_GAP
    lower, upper = model.lower.copy(), model.upper.copy()
    upper[:n][priced_out > gap] = 0.0
    lower[:n][priced_in > gap] = 1.0
    res = _milp(model, lower, upper, deadline - time.monotonic(), search.value)
    search.offer(model, res)
    if res.status == 0:
        search.bound = search.value  # the fixed-out options could not do better
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
) -> tuple[Schedule, float, bool]:
    """The optimum of the MILP: (schedule, best bound, proven optimal). `bonus`
    adds to each pair's score inside the model (must-meets); `prefer` maps a
    pair to the (slot, table) it had, and that exact option earns KEEP_BONUS.
    The bound is on the boosted objective when a bonus is given. `opts` limits
    the options (all by default). `staged` solves it in stages (`_staged`);
    without, HiGHS gets the whole MILP as it is."""
    opts = options(inst) if opts is None else opts
    if opts.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        bound = objective(inst, Schedule(empty, empty, empty))
        return Schedule(empty, empty, empty, bound=bound), bound, True
    model, kept_option = _model(inst, opts, bonus, prefer)
    search = (_staged if staged else _plain)(model, time_limit)
    on_x = np.flatnonzero(search.x > 0.5)
    pair, slot, venue = opts.pair[on_x], opts.slot[on_x], opts.venue[on_x]
    kept = {int(opts.pair[o]): (prefer or {})[int(opts.pair[o])][1] for o in on_x if kept_option[o]}
    table = table_numbers(inst, pair, slot, venue, kept)
    schedule = Schedule(
        pair, slot, table, bound=search.bound, interpreter=opts.interpreter[on_x].copy()
    )
    return schedule, search.bound, search.proven


def has_options(inst: Instance) -> BoolArray:
    """Per pair: whether it can meet at all."""
    opts = options(inst)
    out = np.zeros(inst.n_pairs, dtype=bool)
    out[opts.pair] = True
    return out
