"""Rescheduling as a pure diff: which meetings are kept, moved, cancelled or
added against the current schedule, and the events that say so."""

from __future__ import annotations

import uuid
from datetime import date, time

import numpy as np

from services.matching.scheduling import problem as sp
from services.matching.scheduling.diff import plan_reschedule, reschedule_events
from services.matching.scheduling.solver import Schedule
from shared.contracts.matching import Meeting, MeetingMoved, ScheduleCompleted

GRID = sp.SlotGrid("Asia/Shanghai", date(2027, 5, 15), date(2027, 5, 15), time(9), time(11), 30, 3)
RULES = sp.Rules(threshold=0.4, fair_minimum=0, enterprise_cap=None)


def _problem(pairs: int) -> sp.SchedulingProblem:
    """One enterprise per pair and one participant per pair: pairs never clash."""
    es = [sp.Party(uuid.uuid4()) for _ in range(pairs)]
    ps = [sp.Party(uuid.uuid4()) for _ in range(pairs)]
    candidates = [
        sp.Candidate(uuid.uuid4(), es[k].party_id, ps[k].party_id, 0.5 + 0.1 * k, "proposed")
        for k in range(pairs)
    ]
    return sp.scheduling_problem(GRID, es, ps, candidates, RULES)


def _meeting(problem: sp.SchedulingProblem, k: int, slot: int, table: int) -> Meeting:
    inst = problem.instance
    starts, ends = problem.slots[slot]
    return Meeting(
        meeting_id=uuid.uuid4(),
        schedule_id=uuid.uuid4(),
        roadshow_id=uuid.uuid4(),
        match_id=problem.match_ids[k],
        enterprise_id=problem.enterprise_ids[int(inst.pair_enterprise[k])],
        participant_id=problem.participant_ids[int(inst.pair_participant[k])],
        slot=slot,
        table=table,
        starts_at=starts,
        ends_at=ends,
        timezone=GRID.timezone,
        score=float(inst.pair_score[k]),
        status="scheduled",
    )


def _schedule(*placed: tuple[int, int, int]) -> Schedule:
    """(pair, slot, 0-based table) per meeting."""
    pair, slot, table = (np.array(col, dtype=np.int64) for col in zip(*placed, strict=True))
    return Schedule(pair, slot, table, bound=3.0)


def test_meetings_are_kept_moved_cancelled_and_added() -> None:
    problem = _problem(5)
    stays, moves, dropped = (
        _meeting(problem, 0, 0, 1),
        _meeting(problem, 1, 1, 1),
        _meeting(problem, 2, 2, 1),
    )
    # Pair 3 is new; pair 4 was placed, but its match was withdrawn while solving.
    schedule = _schedule((0, 0, 0), (1, 3, 1), (3, 1, 0), (4, 2, 2))
    alive = set(problem.match_ids) - {problem.match_ids[4]}
    ids = iter([uuid.UUID(int=7)])
    plan = plan_reschedule(problem, schedule, alive, [stays, moves, dropped], lambda: next(ids))

    assert plan.schedule.pair.tolist() == [0, 1, 3]
    assert plan.kept == [stays]
    (move,) = plan.moved
    assert move.before == moves and (move.slot, move.table) == (3, 2)
    assert (move.starts_at, move.ends_at) == problem.slots[3]
    assert [m.meeting_id for m in plan.cancelled] == [dropped.meeting_id]
    assert plan.cancelled[0].status == "cancelled"
    (added,) = plan.added
    assert added.meeting_id == uuid.UUID(int=7) and added.match_id == problem.match_ids[3]
    assert (added.slot, added.table, added.score) == (1, 1, 0.8)
    assert plan.total_score == round(0.5 + 0.6 + 0.8, 4) and plan.shortfall == 0
    changes = plan.changes
    assert (changes.kept, changes.moved, changes.cancelled, changes.added) == (1, 1, 1, 1)
    assert changes.moved_meeting_ids == [moves.meeting_id]
    assert changes.cancelled_meeting_ids == [dropped.meeting_id]
    assert changes.added_meeting_ids == [added.meeting_id]
    assert plan.meeting_ids == [stays.meeting_id, moves.meeting_id, added.meeting_id]


def test_an_unchanged_schedule_keeps_every_meeting() -> None:
    problem = _problem(2)
    current = [_meeting(problem, 0, 0, 1), _meeting(problem, 1, 0, 2)]
    plan = plan_reschedule(
        problem, _schedule((0, 0, 0), (1, 0, 1)), set(problem.match_ids), current
    )
    assert plan.kept == current
    assert plan.moved == []
    assert plan.cancelled == []
    assert plan.added == []


def test_the_events_announce_every_change_and_the_whole_new_schedule() -> None:
    problem = _problem(4)
    stays, moves, dropped = (
        _meeting(problem, 0, 0, 1),
        _meeting(problem, 1, 1, 1),
        _meeting(problem, 2, 2, 1),
    )
    schedule = _schedule((0, 0, 0), (1, 3, 1), (3, 1, 0))
    plan = plan_reschedule(problem, schedule, set(problem.match_ids), [stays, moves, dropped])
    schedule_id, roadshow_id = uuid.uuid4(), uuid.uuid4()
    (added,) = plan.added
    # The meetings as stored after saving: new schedule id, new places.
    after = {
        stays.meeting_id: stays.model_copy(update={"schedule_id": schedule_id}),
        moves.meeting_id: moves.model_copy(
            update={
                "schedule_id": schedule_id,
                "slot": 3,
                "table": 2,
                "starts_at": problem.slots[3][0],
            }
        ),
        added.meeting_id: _meeting(problem, 3, 1, 1).model_copy(
            update={"meeting_id": added.meeting_id, "schedule_id": schedule_id}
        ),
    }
    events = reschedule_events(plan, schedule_id, roadshow_id, after)
    assert [(t, key) for t, key, _ in events] == [
        ("meeting.cancelled", dropped.match_id),
        ("meeting.moved", moves.match_id),
        ("meeting.scheduled", stays.match_id),
        ("meeting.scheduled", added.match_id),
        ("schedule.completed", schedule_id),
    ]
    assert events[0][2] == dropped.model_copy(update={"status": "cancelled"})
    moved = events[1][2]
    assert isinstance(moved, MeetingMoved)
    assert (moved.slot, moved.table, moved.previous_slot, moved.previous_table) == (3, 2, 1, 1)
    assert moved.previous_starts_at == moves.starts_at
    assert events[2][2] == after[stays.meeting_id] and events[3][2] == after[added.meeting_id]
    completed = events[4][2]
    assert completed == ScheduleCompleted(
        schedule_id=schedule_id, roadshow_id=roadshow_id, meetings=3, total_score=plan.total_score
    )
