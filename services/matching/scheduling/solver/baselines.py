"""Yardsticks `solve` is measured by, for the tests and the bench only: the
organiser's round-robin spreadsheet, and the exact time-indexed MILP with a
generous time limit (`solve` runs the same MILP, `exact.py`, where it is cheap)."""

from __future__ import annotations

import numpy as np

from services.matching.scheduling.solver.board import Board, finish
from services.matching.scheduling.solver.exact import solve_exact
from services.matching.scheduling.solver.instance import Instance, Schedule
from services.matching.scheduling.solver.resources import conform


def round_robin(inst: Instance) -> Schedule:
    """The organiser's spreadsheet: slot by slot, enterprises take turns (the order
    rotating every slot) and each picks its best partner still free then; venues
    and interpreters are then given greedily, meeting by meeting."""
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
    schedule = finish(board, None, {})
    if inst.has_resources():
        return conform(inst, schedule, np.zeros(inst.n_pairs, dtype=bool), {})
    return schedule


def exact_schedule(inst: Instance, time_limit: float = 60.0) -> tuple[Schedule, float, bool]:
    """The time-indexed MILP solved by HiGHS (`exact.solve_exact`, which models
    venues, travel and interpreters too) as one whole model, without the stages
    `solve` takes: (schedule, best bound, proven optimal)."""
    return solve_exact(inst, time_limit=time_limit, staged=False)
