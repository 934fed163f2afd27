"""Yardsticks `solve` is measured by, for the tests and the bench only (the
service never schedules with them): the organiser's round-robin spreadsheet and
the exact time-indexed MILP."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from services.matching.scheduling.solver.board import Board, finish, table_numbers
from services.matching.scheduling.solver.instance import Instance, Schedule


def round_robin(inst: Instance) -> Schedule:
    """The organiser's spreadsheet: slot by slot, enterprises take turns (the order
    rotating every slot) and each picks its best partner still free then."""
    board = Board(inst)
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
    return finish(board, None, {})


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
    a, ub = _milp_rows(inst, pk, tk)
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
    schedule = Schedule(pair, slot, table_numbers(inst, pair, slot), bound=best_bound)
    return schedule, best_bound, res.status == 0


def _milp_rows(inst: Instance, pk: np.ndarray, tk: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """The constraint matrix over x per (pair, slot) and z per enterprise, and its
    upper bounds."""
    v, m = pk.size, inst.n_enterprises
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
    return a, ub
