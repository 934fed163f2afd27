"""Step 2 of `solve`: when pairs meet. A mutable slot assignment that places a
pair with alternating-path (Kempe chain) recolouring, undoes trial moves
exactly, and searches locally for better schedules; and the table numbers of a
finished assignment."""

from __future__ import annotations

import time

import numpy as np

from services.matching.scheduling.solver.instance import BoolArray, Instance, IntArray, Schedule


class Board:
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
        capped = self.deg_e[e] >= inst.enterprise_cap[e] or self.deg_p[p] >= inst.participant_cap[p]
        both = self.av_e[e] & self.av_p[p]
        room = self.load < inst.tables
        if self.slot_of[k] >= 0 or capped or not both.any() or not room.any():
            return False
        t = self._slot_for(k, e, p, both, room)
        if t is None:
            return False
        self.add(k, t)
        return True

    def _slot_for(self, k: int, e: int, p: int, both: BoolArray, room: BoolArray) -> int | None:
        """A slot for pair k, made free by moving other meetings if need be:
        the emptiest free slot (keeps tables balanced for later pairs), else a
        free slot whose tables are made room in, else a Kempe swap, else an
        eviction of the two sides' meetings."""
        free_e, free_p = self.at_e[e] < 0, self.at_p[p] < 0
        direct = np.flatnonzero(both & free_e & free_p & room)
        if direct.size:
            return int(direct[np.argmin(self.load[direct])])
        for t in np.flatnonzero(both & free_e & free_p):
            if self._make_room(int(t)):
                return int(t)
        for alpha in np.flatnonzero(both & free_e & ~free_p):
            for beta in np.flatnonzero(both & free_p & ~free_e):
                if self._kempe(p, int(alpha), int(beta), from_participant=True):
                    return int(alpha)
                if self._kempe(e, int(beta), int(alpha), from_participant=False):
                    return int(beta)
        for t in np.flatnonzero(both):
            if self._evict(int(t), e, p):
                return int(t)
        return None

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


def table_numbers(
    inst: Instance,
    pair: IntArray,
    slot: IntArray,
    venue: IntArray | None = None,
    fixed: dict[int, int] | None = None,
) -> IntArray:
    """Table numbers (across venues) of meetings placed in slots and venues.
    With no more enterprises than a venue's tables each enterprise keeps one
    table there all day (visitors rotate); otherwise tables are filled per slot.
    `fixed` meetings (pair -> table) keep their table; the others keep their
    preferred one when it is free, else take the lowest free one of the venue."""
    venue = np.zeros(pair.size, dtype=np.int64) if venue is None else venue
    e = inst.pair_enterprise[pair]
    tables, first = inst.tables_at(), inst.first_table()
    own = inst.n_enterprises <= tables[venue]
    table = np.where(own, first[venue] + e, 0).astype(np.int64)
    order = np.lexsort((e, venue, slot))
    cell = (slot * inst.n_venues + venue)[order]
    starts = np.searchsorted(cell, cell, side="left")
    sequential = np.zeros(pair.size, dtype=np.int64)
    sequential[order] = np.arange(pair.size) - starts
    table = np.where(own, table, first[venue] + sequential)
    return _keep_tables(inst, pair, slot, venue, table, fixed or {})


def _keep_tables(
    inst: Instance,
    pair: IntArray,
    slot: IntArray,
    venue: IntArray,
    table: IntArray,
    fixed: dict[int, int],
) -> IntArray:
    if not fixed:
        return table
    tables, first = inst.tables_at(), inst.first_table()
    out = table.copy()
    for t, v in {(int(a), int(b)) for a, b in zip(slot, venue, strict=True)}:
        idx = np.flatnonzero((slot == t) & (venue == v))
        taken = {fixed[int(pair[i])] for i in idx if int(pair[i]) in fixed}
        for i in idx:
            k = int(pair[i])
            if k in fixed:
                out[i] = fixed[k]
                continue
            choice = int(table[i])
            if choice in taken:
                choice = min(set(range(first[v], first[v] + tables[v])) - taken)
            out[i] = choice
            taken.add(choice)
    return out


def finish(
    board: Board,
    bound: float | None,
    stats: dict[str, float],
    fixed: dict[int, int] | None = None,
) -> Schedule:
    pair = np.flatnonzero(board.slot_of >= 0).astype(np.int64)
    slot = board.slot_of[pair]
    table = table_numbers(board.inst, pair, slot, None, fixed)
    return Schedule(pair, slot, table, bound=bound, stats=stats)
