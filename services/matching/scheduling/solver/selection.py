"""Step 1 of `solve`: which pairs meet. Dropping the slot dimension leaves a
degree-constrained bipartite matching with a total capacity (slots x tables),
a min-cost flow whose LP is integral; its value bounds every schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from services.matching.scheduling.solver.instance import BoolArray, FloatArray, Instance, IntArray


def _slot_capacity(inst: Instance) -> int:
    """Meetings that fit at all: per slot, tables and available parties bound it."""
    per_slot = np.minimum(
        inst.tables,
        np.minimum(inst.enterprise_available.sum(axis=0), inst.participant_available.sum(axis=0)),
    )
    return int(per_slot.sum())


@dataclass(frozen=True)
class _Cuts:
    """Valid inequalities the slot-free relaxation misses: pairs that can only
    meet in one slot compete for it. Per party and slot at most one of them,
    per slot at most `tables`. Only rows that can bind are kept. `rows[g][i]` is
    the row of usable pair i in group g (enterprise-slot, participant-slot,
    slot), -1 when it is in none."""

    rows: tuple[IntArray, IntArray, IntArray]
    rhs: FloatArray


def _single_slot_cuts(inst: Instance, idx: IntArray, common: BoolArray) -> _Cuts:
    shared = common[idx]
    single = shared.sum(axis=1) == 1
    slot = shared.argmax(axis=1)
    s = inst.n_slots
    keys = [
        (inst.pair_enterprise[idx] * s + slot, 1.0),
        (inst.pair_participant[idx] * s + slot, 1.0),
        (slot, float(inst.tables)),
    ]
    rows: list[IntArray] = []
    rhs: list[FloatArray] = []
    used = 0
    for key, cap in keys:
        row = np.full(idx.size, -1, dtype=np.int64)
        if single.any():
            _, inverse, counts = np.unique(key[single], return_inverse=True, return_counts=True)
            binding = counts[inverse] > cap
            if binding.any():
                _, local = np.unique(inverse[binding], return_inverse=True)
                members = np.flatnonzero(single)[binding]
                row[members] = local + used
                rhs.append(np.full(int(local.max()) + 1, cap))
                used += rhs[-1].size
        rows.append(row)
    return _Cuts((rows[0], rows[1], rows[2]), np.concatenate(rhs) if rhs else np.zeros(0))


def _shortlist(inst: Instance, idx: IntArray, factor: int) -> BoolArray:
    """Each party's best pairs, `factor` times its cap of them: the pairs an
    optimum almost always uses (pricing adds any other it needs)."""
    cap_e, cap_p = inst.effective_caps()
    score = inst.pair_score[idx]
    keep = np.zeros(idx.size, dtype=bool)
    for side, cap in ((inst.pair_enterprise[idx], cap_e), (inst.pair_participant[idx], cap_p)):
        order = np.lexsort((-score, side))
        grouped = side[order]
        rank = np.arange(order.size) - np.searchsorted(grouped, grouped, side="left")
        keep[order[rank < factor * cap[grouped]]] = True
    return keep


_PRICING_ROUNDS = 20


@dataclass(frozen=True)
class _PairLp:
    """The slot-free relaxation over the usable pairs `idx`. Rows: enterprise
    degree (m), participant degree (n), total (1), fairness (m), then the cuts.
    Variables: y per pair of a column set, z per enterprise."""

    inst: Instance
    idx: IntArray
    cuts: _Cuts
    b: FloatArray
    target: IntArray

    @classmethod
    def of(cls, inst: Instance, idx: IntArray, common: BoolArray) -> _PairLp:
        cap_e, cap_p = inst.effective_caps()
        cuts = _single_slot_cuts(inst, idx, common)
        m = inst.n_enterprises
        b = np.concatenate([cap_e, cap_p, [_slot_capacity(inst)], np.zeros(m), cuts.rhs])
        return cls(inst, idx, cuts, b.astype(np.float64), inst.fair_targets())

    @property
    def base(self) -> int:
        """The first row of the cuts."""
        return 2 * self.inst.n_enterprises + self.inst.n_participants + 1

    def matrix(self, cols: IntArray) -> sp.csr_matrix:
        inst, m, n = self.inst, self.inst.n_enterprises, self.inst.n_participants
        k = cols.size
        e, p = inst.pair_enterprise[self.idx][cols], inst.pair_participant[self.idx][cols]
        parts_r = [e, m + p, np.full(k, m + n), m + n + 1 + e]
        parts_c = [np.arange(k)] * 4
        parts_v = [np.ones(k)] * 3 + [-np.ones(k)]
        for group in self.cuts.rows:
            member = np.flatnonzero(group[cols] >= 0)
            parts_r.append(self.base + group[cols][member])
            parts_c.append(member)
            parts_v.append(np.ones(member.size))
        a_y = sp.csr_matrix(
            (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
            shape=(self.b.size, k),
        )
        a_z = sp.vstack(
            [
                sp.csr_matrix((m + n + 1, m)),
                sp.identity(m, format="csr"),
                sp.csr_matrix((self.cuts.rhs.size, m)),
            ],
            format="csr",
        )
        return sp.hstack([a_y, a_z], format="csr")

    def solve(self, cols: IntArray) -> Any:
        inst, m, k = self.inst, self.inst.n_enterprises, cols.size
        cost = -np.concatenate([inst.pair_score[self.idx][cols], np.full(m, inst.fairness_penalty)])
        bounds = np.column_stack([np.zeros(k + m), np.concatenate([np.ones(k), self.target])])
        # Interior point then crossover gives a vertex (with basic duals for the
        # pricing). Without cuts the matrix is a network matrix and the vertex is
        # integral; with cuts a rare fractional pair is rounded, and placement
        # enforces every rule anyway. Dual simplex is far slower on this shape.
        res = linprog(cost, A_ub=self.matrix(cols), b_ub=self.b, bounds=bounds, method="highs-ipm")
        if res.status != 0:
            raise RuntimeError(f"pair selection LP failed: {res.message}")
        return res

    def entering(self, res: Any, active: BoolArray) -> IntArray:
        """Inactive pairs with a positive reduced value under the LP's duals."""
        inst, m, n = self.inst, self.inst.n_enterprises, self.inst.n_participants
        e_all, p_all = inst.pair_enterprise[self.idx], inst.pair_participant[self.idx]
        y = res.ineqlin.marginals  # <= 0: what one more unit of each row is worth
        rest = np.flatnonzero(~active)
        price = y[e_all[rest]] + y[m + p_all[rest]] + y[m + n] - y[m + n + 1 + e_all[rest]]
        for group in self.cuts.rows if self.cuts.rhs.size else ():
            row = group[rest]
            price = price + np.where(row >= 0, y[self.base + np.maximum(row, 0)], 0.0)
        entering: IntArray = rest[-inst.pair_score[self.idx][rest] - price < -1e-9]
        return entering


def select_pairs(
    inst: Instance, usable: BoolArray, common: BoolArray, shortlist: int = 3
) -> tuple[BoolArray, float]:
    """The pairs of an optimal slot-free relaxation, and its objective: an upper
    bound on every schedule. Variables: y per usable pair, z per enterprise (its
    meetings up to the fair target, each worth the fairness penalty).

    Column generation keeps the LP small: it is solved on each party's best
    pairs, then every other pair is priced with the LP's duals and the ones with
    a positive reduced value are added, until none is left; so the result is the
    optimum over all usable pairs, and the bound is valid."""
    idx = np.flatnonzero(usable)
    chosen = np.zeros(inst.n_pairs, dtype=bool)
    if idx.size == 0:
        return chosen, 0.0
    lp = _PairLp.of(inst, idx, common)
    active = _shortlist(inst, idx, shortlist) if shortlist else np.ones(idx.size, dtype=bool)
    for round_ in range(_PRICING_ROUNDS + 1):
        if round_ == _PRICING_ROUNDS:
            active[:] = True  # slow convergence: solve the whole LP once
        cols = np.flatnonzero(active)
        res = lp.solve(cols)
        entering = lp.entering(res, active)
        if entering.size == 0:
            break
        active[entering] = True
    chosen[idx[cols]] = res.x[: cols.size] > 0.5
    bound = float(-res.fun) - inst.fairness_penalty * float(lp.target.sum())
    return chosen, bound
