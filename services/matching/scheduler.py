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

`solve` works in three steps that follow the problem's structure:

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

`exact_schedule` (a time-indexed MILP) and `round_robin` exist to measure it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

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


# --- step 1: which pairs meet (a flow LP) ----------------------------------------------


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
    m, n = inst.n_enterprises, inst.n_participants
    chosen = np.zeros(inst.n_pairs, dtype=bool)
    if idx.size == 0:
        return chosen, 0.0
    cap_e, cap_p = inst.effective_caps()
    target = inst.fair_targets()
    e_all, p_all = inst.pair_enterprise[idx], inst.pair_participant[idx]
    score_all = inst.pair_score[idx]
    cuts = _single_slot_cuts(inst, idx, common)
    base = 2 * m + n + 1
    b = np.concatenate([cap_e, cap_p, [_slot_capacity(inst)], np.zeros(m), cuts.rhs])
    active = _shortlist(inst, idx, shortlist) if shortlist else np.ones(idx.size, dtype=bool)
    for round_ in range(_PRICING_ROUNDS + 1):
        if round_ == _PRICING_ROUNDS:
            active[:] = True  # slow convergence: solve the whole LP once
        cols = np.flatnonzero(active)
        k = cols.size
        e, p = e_all[cols], p_all[cols]
        # Rows: enterprise degree (m), participant degree (n), total (1),
        # fairness (m), then the cuts.
        parts_r = [e, m + p, np.full(k, m + n), m + n + 1 + e]
        parts_c = [np.arange(k)] * 4
        parts_v = [np.ones(k)] * 3 + [-np.ones(k)]
        for group in cuts.rows:
            member = np.flatnonzero(group[cols] >= 0)
            parts_r.append(base + group[cols][member])
            parts_c.append(member)
            parts_v.append(np.ones(member.size))
        a_y = sp.csr_matrix(
            (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
            shape=(b.size, k),
        )
        a_z = sp.vstack(
            [
                sp.csr_matrix((m + n + 1, m)),
                sp.identity(m, format="csr"),
                sp.csr_matrix((cuts.rhs.size, m)),
            ],
            format="csr",
        )
        a = sp.hstack([a_y, a_z], format="csr")
        cost = -np.concatenate([score_all[cols], np.full(m, inst.fairness_penalty)])
        bounds = np.column_stack([np.zeros(k + m), np.concatenate([np.ones(k), target])])
        # Interior point then crossover gives a vertex (with basic duals for the
        # pricing). Without cuts the matrix is a network matrix and the vertex is
        # integral; with cuts a rare fractional pair is rounded, and placement
        # enforces every rule anyway. Dual simplex is far slower on this shape.
        res = linprog(cost, A_ub=a, b_ub=b, bounds=bounds, method="highs-ipm")
        if res.status != 0:
            raise RuntimeError(f"pair selection LP failed: {res.message}")
        y = res.ineqlin.marginals  # <= 0: what one more unit of each row is worth
        rest = np.flatnonzero(~active)
        price = y[e_all[rest]] + y[m + p_all[rest]] + y[m + n] - y[m + n + 1 + e_all[rest]]
        for group in cuts.rows if cuts.rhs.size else ():
            row = group[rest]
            price = price + np.where(row >= 0, y[base + np.maximum(row, 0)], 0.0)
        entering = rest[-score_all[rest] - price < -1e-9]
        if entering.size == 0:
            break
        active[entering] = True
    chosen[idx[cols]] = res.x[:k] > 0.5
    bound = float(-res.fun) - inst.fairness_penalty * float(target.sum())
    return chosen, bound


# --- step 2: when they meet (edge colouring) ---------------------------------------------


class _Board:
    """Mutable slot assignment with the indexes placement needs. It tracks the
    objective as it changes and can journal changes, so a trial move is undone
    exactly (`begin`/`rollback`)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.e_of = inst.pair_enterprise
        self.p_of = inst.pair_participant
        self.score = inst.pair_score
        self.at_e = np.full((inst.n_enterprises, inst.n_slots), -1, dtype=np.int64)
        self.at_p = np.full((inst.n_participants, inst.n_slots), -1, dtype=np.int64)
        self.slot_of = np.full(inst.n_pairs, -1, dtype=np.int64)
        self.load = np.zeros(inst.n_slots, dtype=np.int64)
        self.deg_e = np.zeros(inst.n_enterprises, dtype=np.int64)
        self.deg_p = np.zeros(inst.n_participants, dtype=np.int64)
        self.av_e = inst.enterprise_available
        self.av_p = inst.participant_available
        self.target = inst.fair_targets()
        self.value = -inst.fairness_penalty * float(self.target.sum())
        self.kempe_swaps = 0
        # Meetings kept from the previous schedule: never moved or taken out.
        self.pinned = np.zeros(inst.n_pairs, dtype=bool)
        self._journal: list[tuple[int, int, int]] | None = None

    def _set(self, k: int, t: int, log: bool = True) -> None:
        self.slot_of[k] = t
        self.at_e[self.e_of[k], t] = k
        self.at_p[self.p_of[k], t] = k
        self.load[t] += 1
        if log and self._journal is not None:
            self._journal.append((0, k, t))

    def _unset(self, k: int, log: bool = True) -> int:
        t = int(self.slot_of[k])
        self.slot_of[k] = -1
        self.at_e[self.e_of[k], t] = -1
        self.at_p[self.p_of[k], t] = -1
        self.load[t] -= 1
        if log and self._journal is not None:
            self._journal.append((1, k, t))
        return t

    def _degree(self, k: int, step: int, log: bool = True) -> None:
        e = self.e_of[k]
        short_before = max(int(self.target[e] - self.deg_e[e]), 0)
        self.deg_e[e] += step
        self.deg_p[self.p_of[k]] += step
        short_after = max(int(self.target[e] - self.deg_e[e]), 0)
        self.value += step * float(self.score[k]) - self.inst.fairness_penalty * (
            short_after - short_before
        )
        if log and self._journal is not None:
            self._journal.append((2, k, step))

    def add(self, k: int, t: int) -> None:
        self._set(k, t)
        self._degree(k, 1)

    def remove(self, k: int) -> None:
        self._unset(k)
        self._degree(k, -1)

    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        assert self._journal is not None
        for op, k, x in reversed(self._journal):
            if op == 0:
                self._unset(k, log=False)
            elif op == 1:
                self._set(k, x, log=False)
            else:
                self._degree(k, -x, log=False)
        self._journal = None

    def place(self, k: int) -> bool:
        """Give pair k a slot if caps allow, recolouring others when needed."""
        e, p = int(self.e_of[k]), int(self.p_of[k])
        inst = self.inst
        if self.slot_of[k] >= 0:
            return False
        if self.deg_e[e] >= inst.enterprise_cap[e] or self.deg_p[p] >= inst.participant_cap[p]:
            return False
        both = self.av_e[e] & self.av_p[p]
        if not both.any():
            return False
        free_e, free_p = self.at_e[e] < 0, self.at_p[p] < 0
        room = self.load < inst.tables
        if not room.any():
            return False
        direct = np.flatnonzero(both & free_e & free_p & room)
        if direct.size:
            # The emptiest slot keeps tables balanced for later pairs.
            self.add(k, int(direct[np.argmin(self.load[direct])]))
            return True
        for t in np.flatnonzero(both & free_e & free_p):
            if self._make_room(int(t)):
                self.add(k, int(t))
                return True
        for alpha in np.flatnonzero(both & free_e & ~free_p):
            for beta in np.flatnonzero(both & free_p & ~free_e):
                if self._kempe(p, int(alpha), int(beta), from_participant=True):
                    self.add(k, int(alpha))
                    return True
                if self._kempe(e, int(beta), int(alpha), from_participant=False):
                    self.add(k, int(beta))
                    return True
        for t in np.flatnonzero(both):
            if self._evict(int(t), e, p):
                self.add(k, int(t))
                return True
        return False

    def _evict(self, t: int, e: int, p: int) -> bool:
        """Move whatever e and p have in slot t to other slots, if they fit there."""
        blockers = [int(j) for j in (self.at_e[e, t], self.at_p[p, t]) if j >= 0]
        if any(self.pinned[j] for j in blockers):
            return False
        for j in blockers:
            self._unset(j)
        moved: list[int] = []
        for j in blockers:
            je, jp = self.e_of[j], self.p_of[j]
            ok = (
                (self.load < self.inst.tables)
                & self.av_e[je]
                & self.av_p[jp]
                & (self.at_e[je] < 0)
                & (self.at_p[jp] < 0)
            )
            ok[t] = False
            options = np.flatnonzero(ok)
            if not options.size:
                break
            self._set(j, int(options[np.argmin(self.load[options])]))
            moved.append(j)
        if len(moved) == len(blockers) and self.load[t] < self.inst.tables:
            return True
        for j in moved:
            self._unset(j)
        for j in blockers:
            self._set(j, t)
        return False

    def _make_room(self, t: int) -> bool:
        """Slot t has no free table: move one of its meetings to a slot that has."""
        ks = self.at_e[:, t]
        ks = ks[ks >= 0]
        ks = ks[~self.pinned[ks]]
        e, p = self.e_of[ks], self.p_of[ks]
        ok = (
            (self.load < self.inst.tables)
            & self.av_e[e]
            & self.av_p[p]
            & (self.at_e[e] < 0)
            & (self.at_p[p] < 0)
        )
        movable = np.flatnonzero(ok.any(axis=1))
        if not movable.size:
            return False
        i = int(movable[0])
        targets = np.flatnonzero(ok[i])
        k = int(ks[i])
        self._unset(k)
        self._set(k, int(targets[np.argmin(self.load[targets])]))
        return True

    def _kempe(self, start: int, alpha: int, beta: int, *, from_participant: bool) -> bool:
        """Swap alpha and beta along the alternating path that leaves `start` by
        its alpha meeting, so alpha becomes free at `start`. The path cannot reach
        the pair's other side (bipartite parity), but the swap must keep everyone
        on it within availability and every slot within its tables."""
        path: list[int] = []
        colour, other = alpha, beta
        on_participant = from_participant
        vertex = start
        while True:
            k = int(self.at_p[vertex, colour] if on_participant else self.at_e[vertex, colour])
            if k < 0:
                break
            path.append(k)
            vertex = int(self.e_of[k] if on_participant else self.p_of[k])
            on_participant = not on_participant
            colour, other = other, colour
        ks = np.asarray(path, dtype=np.int64)
        if self.pinned[ks].any():
            return False
        new = np.where(self.slot_of[ks] == alpha, beta, alpha)
        if not (self.av_e[self.e_of[ks], new] & self.av_p[self.p_of[ks], new]).all():
            return False
        moved_out = int((new == beta).sum())  # alpha -> beta
        moved_in = ks.size - moved_out
        # After the swap and the new pair joining alpha.
        if self.load[alpha] - moved_out + moved_in + 1 > self.inst.tables:
            return False
        if self.load[beta] + moved_out - moved_in > self.inst.tables:
            return False
        for k in path:
            self._unset(k)
        for k, t in zip(path, new, strict=True):
            self._set(k, int(t))
        self.kempe_swaps += 1
        return True

    def blockers(self, k: int, per_full_slot: int = 2) -> list[int]:
        """Meetings that stand in pair k's way: what its two sides have in the
        slots they share, the cheapest meetings of shared slots whose tables are
        full, and a side's meetings when its cap is full."""
        e, p = int(self.e_of[k]), int(self.p_of[k])
        inst = self.inst
        found: set[int] = set()
        for t in np.flatnonzero(self.av_e[e] & self.av_p[p]):
            found.update(int(j) for j in (self.at_e[e, t], self.at_p[p, t]) if j >= 0)
            if self.load[t] >= inst.tables:
                there = self.at_e[:, t]
                there = there[there >= 0]
                found.update(int(j) for j in there[np.argsort(self.score[there])][:per_full_slot])
        if self.deg_e[e] >= inst.enterprise_cap[e]:
            found.update(int(j) for j in self.at_e[e] if j >= 0)
        if self.deg_p[p] >= inst.participant_cap[p]:
            found.update(int(j) for j in self.at_p[p] if j >= 0)
        return sorted((j for j in found if not self.pinned[j]), key=lambda j: float(self.score[j]))

    def improve(
        self,
        candidates: IntArray,
        by_enterprise: list[IntArray],
        by_participant: list[IntArray],
        deadline: float,
        good_enough: float,
        tries_per_pair: int = 4,
    ) -> int:
        """Local search (ejection chains of depth one and two): take one or two
        blocking meetings out, put the unplaced pair in, refill around the freed
        sides; keep the change only if the objective (score and fairness) went
        up. Stops at the deadline or once the objective is `good_enough`.
        Returns how many changes were kept."""
        kept = 0
        for k in candidates:
            if time.monotonic() > deadline or self.value >= good_enough:
                break
            if self.slot_of[k] >= 0:
                continue
            blocking = self.blockers(int(k))[:tries_per_pair]
            moves = [(j,) for j in blocking] + [
                (a, b) for i, a in enumerate(blocking) for b in blocking[i + 1 :]
            ]
            for out in moves:
                before = self.value
                self.begin()
                for j in out:
                    self.remove(j)
                if self.place(int(k)):
                    for j in out:
                        for pool in (by_enterprise[self.e_of[j]], by_participant[self.p_of[j]]):
                            for r in pool:
                                if self.slot_of[r] < 0:
                                    self.place(int(r))
                if self.value > before + 1e-9:
                    self.commit()
                    kept += 1
                    break
                self.rollback()
        return kept


def _tables(inst: Instance, pair: IntArray, slot: IntArray) -> IntArray:
    """Table numbers: with no more enterprises than tables each enterprise keeps
    one table all day (visitors rotate); otherwise tables are filled per slot."""
    e = inst.pair_enterprise[pair]
    if inst.n_enterprises <= inst.tables:
        return e.astype(np.int64)
    table = np.zeros(pair.size, dtype=np.int64)
    order = np.lexsort((e, slot))
    s_sorted = slot[order]
    starts = np.searchsorted(s_sorted, s_sorted, side="left")
    table[order] = np.arange(pair.size) - starts
    return table


def _keep_tables(
    inst: Instance, pair: IntArray, slot: IntArray, table: IntArray, fixed: dict[int, int]
) -> IntArray:
    """Tables with the pinned meetings at their previous table: the others keep
    their preferred table when it is free, else take the lowest free one."""
    if not fixed:
        return table
    out = table.copy()
    for t in np.unique(slot):
        idx = np.flatnonzero(slot == t)
        taken = {fixed[int(pair[i])] for i in idx if int(pair[i]) in fixed}
        for i in idx:
            k = int(pair[i])
            if k in fixed:
                out[i] = fixed[k]
                continue
            choice = int(table[i])
            if choice in taken:
                choice = min(set(range(inst.tables)) - taken)
            out[i] = choice
            taken.add(choice)
    return out


def _finish(
    board: _Board,
    bound: float | None,
    stats: dict[str, float],
    fixed: dict[int, int] | None = None,
) -> Schedule:
    pair = np.flatnonzero(board.slot_of >= 0).astype(np.int64)
    slot = board.slot_of[pair]
    table = _keep_tables(board.inst, pair, slot, _tables(board.inst, pair, slot), fixed or {})
    return Schedule(pair, slot, table, bound=bound, stats=stats)


def _unpin_for(board: _Board, k: int, priority: BoolArray, kept: dict[int, int]) -> bool:
    """A must-meet that pinned meetings keep out: free the ordinary pinned
    meetings in its way (its two sides' meetings in the slots they share, a full
    slot's meetings) and try again. Must-meets come before keeping meetings in
    place; what could not help is pinned again."""
    inst = board.inst
    e, p = int(inst.pair_enterprise[k]), int(inst.pair_participant[k])
    freed: set[int] = set()
    for t in np.flatnonzero(board.av_e[e] & board.av_p[p]):
        there = [int(j) for j in (board.at_e[e, t], board.at_p[p, t]) if j >= 0]
        if board.load[t] >= inst.tables:
            there += [int(j) for j in board.at_e[:, t] if j >= 0]
        freed.update(j for j in there if board.pinned[j] and not priority[j])
    if board.deg_e[e] >= inst.enterprise_cap[e]:
        freed.update(int(j) for j in board.at_e[e] if j >= 0 and not priority[j])
    if board.deg_p[p] >= inst.participant_cap[p]:
        freed.update(int(j) for j in board.at_p[p] if j >= 0 and not priority[j])
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


# A must-meet pair is worth more than any fairness penalty and any set of
# ordinary pairs a party could meet instead, so the solver takes every one that fits.
MUST_MEET_BONUS = 100.0


def _pin(board: _Board, fixed: tuple[IntArray, IntArray, IntArray] | None) -> dict[int, int]:
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


def _open_pairs(board: _Board, usable: BoolArray) -> IntArray:
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


def solve(
    inst: Instance,
    progress: Progress | None = None,
    improve_seconds: float = 10.0,
    *,
    must: BoolArray | None = None,
    fixed: tuple[IntArray, IntArray, IntArray] | None = None,
) -> Schedule:
    """A schedule close to the optimum, with an upper bound on the optimum.
    `improve_seconds` caps the final local search (it usually ends sooner).

    `must` marks must-meet pairs: they carry MUST_MEET_BONUS inside the solver
    and are placed first, so all that fit are scheduled. `fixed` (pairs, slots,
    tables) is the previous schedule: those meetings are put back where they
    were and never moved (minimum change); the solver works around them."""
    report = progress or (lambda _: None)
    report(0.05)
    priority = np.zeros(inst.n_pairs, dtype=bool) if must is None else np.asarray(must, dtype=bool)
    original = inst
    if priority.any():
        inst = dataclasses.replace(inst, pair_score=inst.pair_score + MUST_MEET_BONUS * priority)
    common = inst.common_slots()
    usable = common.any(axis=1) & (inst.pair_score > 0)
    chosen, bound = select_pairs(inst, usable, common)
    # The reported bound is on the real objective; the boosted one steers the search.
    real_bound = select_pairs(original, usable, common)[1] if priority.any() else bound
    report(0.5)
    board = _Board(inst)
    kept = _pin(board, fixed)
    score = inst.pair_score
    # Must-meets first; then the hardest pairs (fewest shared slots), best first
    # among equals, so what availability forces out tends to be cheap.
    first = np.flatnonzero((chosen | (priority & usable)) & (board.slot_of < 0))
    first = first[np.lexsort((-score[first], common[first].sum(axis=1), ~priority[first]))]
    for k in first:
        if not board.place(int(k)) and priority[k] and kept:
            _unpin_for(board, int(k), priority, kept)
    placed_first = int((board.slot_of >= 0).sum())
    report(0.7)
    for fairness_first in (True, False):
        group = _open_pairs(board, usable)
        if fairness_first:
            owner = inst.pair_enterprise[group]
            group = group[board.deg_e[owner] < board.target[owner]]
        for k in group:
            if not (board.load < inst.tables).any():
                break
            board.place(int(k))
    report(0.8)
    improved = 0
    # Within a millionth of the bound there is nothing worth searching for.
    good_enough = bound - 1e-6 * max(abs(bound), 1.0)
    if board.value < good_enough:
        by_e, by_p = _by_side(inst, usable)
        left = np.flatnonzero(usable & (board.slot_of < 0))
        left = left[np.argsort(-score[left], kind="stable")]
        improved = board.improve(left, by_e, by_p, time.monotonic() + improve_seconds, good_enough)
    report(1.0)
    stats = {
        "selected": float(chosen.sum()),
        "placed_from_selection": float(placed_first),
        "kempe_swaps": float(board.kempe_swaps),
        "improving_moves": float(improved),
        "pinned": float(len(kept)),
    }
    out = _finish(board, real_bound, stats, kept)
    return out


# --- yardsticks -----------------------------------------------------------------------------


def round_robin(inst: Instance) -> Schedule:
    """The organiser's spreadsheet: slot by slot, enterprises take turns (the order
    rotating every slot) and each picks its best partner still free then."""
    board = _Board(inst)
    score = inst.pair_score
    by_enterprise: list[list[int]] = [[] for _ in range(inst.n_enterprises)]
    for k in np.argsort(-score, kind="stable"):
        by_enterprise[int(inst.pair_enterprise[k])].append(int(k))
    for t in range(inst.n_slots):
        for i in range(inst.n_enterprises):
            if board.load[t] >= inst.tables:
                break
            e = (i + t) % inst.n_enterprises
            if not inst.enterprise_available[e, t] or board.deg_e[e] >= inst.enterprise_cap[e]:
                continue
            for k in by_enterprise[e]:
                p = int(inst.pair_participant[k])
                if (
                    board.slot_of[k] < 0
                    and inst.participant_available[p, t]
                    and board.at_p[p, t] < 0
                    and board.deg_p[p] < inst.participant_cap[p]
                ):
                    board.add(k, t)
                    break
    return _finish(board, None, {})


def exact_schedule(inst: Instance, time_limit: float = 60.0) -> tuple[Schedule, float, bool]:
    """The time-indexed MILP solved by HiGHS: (schedule, best bound, proven optimal).
    Only for instances of a few thousand pair-slots; it measures `solve`."""
    common = inst.common_slots()
    pk, tk = np.nonzero(common)  # one variable per (pair, shared slot)
    v, m = pk.size, inst.n_enterprises
    target = inst.fair_targets()
    if v == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Schedule(empty, empty, empty, bound=0.0), 0.0, True
    e, p = inst.pair_enterprise[pk], inst.pair_participant[pk]
    s, n = inst.n_slots, inst.n_participants
    blocks = [
        (e * s + tk, m * s),  # an enterprise meets once per slot
        (p * s + tk, n * s),  # a participant meets once per slot
        (pk, inst.n_pairs),  # a pair meets once
        (tk, s),  # tables per slot
        (e, m),  # enterprise caps
        (p, n),  # participant caps
    ]
    rows, offset, rhs = [], 0, []
    caps = [
        np.ones(m * s),
        np.ones(n * s),
        np.ones(inst.n_pairs),
        np.full(s, inst.tables),
        inst.enterprise_cap,
        inst.participant_cap,
    ]
    for (r, size), cap in zip(blocks, caps, strict=True):
        rows.append(r + offset)
        offset += size
        rhs.append(cap)
    a_x = sp.csr_matrix(
        (np.ones(v * len(blocks)), (np.concatenate(rows), np.tile(np.arange(v), len(blocks)))),
        shape=(offset, v),
    )
    fair_x = sp.csr_matrix((-np.ones(v), (e, np.arange(v))), shape=(m, v))
    a = sp.vstack(
        [
            sp.hstack([a_x, sp.csr_matrix((offset, m))]),
            sp.hstack([fair_x, sp.identity(m)]),
        ],
        format="csr",
    )
    ub = np.concatenate([*rhs, np.zeros(m)]).astype(float)
    cost = -np.concatenate([inst.pair_score[pk], np.full(m, inst.fairness_penalty)])
    res = milp(
        cost,
        constraints=LinearConstraint(a, -np.inf, ub),
        integrality=np.concatenate([np.ones(v), np.zeros(m)]),
        bounds=Bounds(np.zeros(v + m), np.concatenate([np.ones(v), target])),
        options={"time_limit": time_limit, "disp": False},
    )
    if res.x is None:
        raise RuntimeError(f"MILP found no solution: {res.message}")
    on = res.x[:v] > 0.5
    pair, slot = pk[on].astype(np.int64), tk[on].astype(np.int64)
    penalty = inst.fairness_penalty * float(target.sum())
    dual = getattr(res, "mip_dual_bound", None)
    best_bound = (-float(dual) if dual is not None else float(-res.fun)) - penalty
    schedule = Schedule(pair, slot, _tables(inst, pair, slot), bound=best_bound)
    return schedule, best_bound, res.status == 0
