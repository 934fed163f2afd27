"""Yardsticks `solve` is measured by, for the tests and the bench only (the
service never schedules with them): the organiser's round-robin spreadsheet and
the exact time-indexed MILP (which the service also uses where it is cheap)."""

from __future__ import annotations

import numpy as np

from services.matching.scheduling.solver.board import Board, finish
from services.matching.scheduling.solver.exact import solve_exact
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
    """The time-indexed MILP solved by HiGHS (`exact.solve_exact`, which models
    venues, travel and interpreters too): (schedule, best bound, proven optimal)."""
    return solve_exact(inst, time_limit=time_limit)
