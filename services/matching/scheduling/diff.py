"""Rescheduling as a pure diff (no I/O): given the solver's schedule and the
meetings of the current one, which meetings are kept, moved, cancelled or
added, and which events announce the result.

A meeting stays (same pair, slot and table) or moves (same pair, another place)
under the new schedule's id; a current meeting whose pair the solver left out is
cancelled; a pair that had no meeting gets a new one. Matches withdrawn or
declined while the solver ran do not meet.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel

from services.matching.scheduling.model import ScheduleChanges
from services.matching.scheduling.problem import SchedulingProblem
from services.matching.scheduling.solver import Schedule, shortfall, total_score
from shared.contracts.matching import (
    MatchingEventType,
    Meeting,
    MeetingMoved,
    ScheduleCompleted,
)

Emission = tuple[MatchingEventType, uuid.UUID, BaseModel]


@dataclass(frozen=True)
class MeetingMove:
    """A current meeting and the place it moves to."""

    before: Meeting
    slot: int
    table: int  # 1-based, as stored
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class NewMeeting:
    meeting_id: uuid.UUID
    match_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    slot: int
    table: int  # 1-based
    starts_at: datetime
    ends_at: datetime
    score: float


@dataclass(frozen=True)
class ReschedulePlan:
    schedule: Schedule  # the solver's, without the pairs that may no longer meet
    kept: list[Meeting]
    moved: list[MeetingMove]
    cancelled: list[Meeting]  # as they read once cancelled
    added: list[NewMeeting]
    total_score: float  # rounded to 4 decimals
    shortfall: int

    @property
    def changes(self) -> ScheduleChanges:
        return ScheduleChanges(
            kept=len(self.kept),
            moved=len(self.moved),
            cancelled=len(self.cancelled),
            added=len(self.added),
            moved_meeting_ids=[m.before.meeting_id for m in self.moved],
            cancelled_meeting_ids=[m.meeting_id for m in self.cancelled],
            added_meeting_ids=[m.meeting_id for m in self.added],
        )

    @property
    def meeting_ids(self) -> list[uuid.UUID]:
        """Every meeting of the new schedule: kept, moved, then added."""
        return (
            [m.meeting_id for m in self.kept]
            + [m.before.meeting_id for m in self.moved]
            + [m.meeting_id for m in self.added]
        )


def plan_reschedule(
    problem: SchedulingProblem,
    schedule: Schedule,
    alive: Collection[uuid.UUID],
    current: Sequence[Meeting],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> ReschedulePlan:
    """The diff between the current meetings and the solver's `schedule` for
    `problem`, keeping only pairs whose match is in `alive` (still proposed, no
    decline). `new_id` names the meetings it adds."""
    keep = np.array([problem.match_ids[k] in alive for k in schedule.pair], dtype=bool).reshape(
        schedule.pair.size
    )
    final = Schedule(schedule.pair[keep], schedule.slot[keep], schedule.table[keep], schedule.bound)
    # Per match: where the solver put it (pair index, slot, 1-based table).
    wanted = {
        problem.match_ids[k]: (int(k), int(s), int(t) + 1)
        for k, s, t in zip(final.pair, final.slot, final.table, strict=True)
    }
    kept = [m for m in current if wanted.get(m.match_id, (0, -1, -1))[1:] == (m.slot, m.table)]
    moved = []
    for m in current:
        if m.match_id in wanted:
            _, slot, table = wanted[m.match_id]
            if (slot, table) != (m.slot, m.table):
                moved.append(MeetingMove(m, slot, table, *problem.slots[slot]))
    cancelled = [
        m.model_copy(update={"status": "cancelled"}) for m in current if m.match_id not in wanted
    ]
    present = {m.match_id for m in current}
    inst = problem.instance
    added = [
        NewMeeting(
            meeting_id=new_id(),
            match_id=match_id,
            enterprise_id=problem.enterprise_ids[int(inst.pair_enterprise[k])],
            participant_id=problem.participant_ids[int(inst.pair_participant[k])],
            slot=slot,
            table=table,
            starts_at=problem.slots[slot][0],
            ends_at=problem.slots[slot][1],
            score=float(inst.pair_score[k]),
        )
        for match_id, (k, slot, table) in wanted.items()
        if match_id not in present
    ]
    return ReschedulePlan(
        schedule=final,
        kept=kept,
        moved=moved,
        cancelled=cancelled,
        added=added,
        total_score=round(total_score(inst, final), 4),
        shortfall=shortfall(inst, final),
    )


def reschedule_events(
    plan: ReschedulePlan,
    schedule_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    after: Mapping[uuid.UUID, Meeting],
) -> list[Emission]:
    """The events of a saved plan, given its meetings as stored (`after`, by id):
    cancellations, moves (with where each meeting was), every meeting of the new
    schedule, and the schedule's completion.

    Unchanged meetings are announced again under the new schedule id, so that
    schedule.completed's count equals the meeting events a consumer can collect
    for it (re-announcing an unchanged meeting changes nothing)."""
    events: list[Emission] = [("meeting.cancelled", m.match_id, m) for m in plan.cancelled]
    for move in plan.moved:
        m = after[move.before.meeting_id]
        zone = m.starts_at.tzinfo
        moved = MeetingMoved(
            **m.model_dump(),
            previous_slot=move.before.slot,
            previous_table=move.before.table,
            previous_starts_at=move.before.starts_at.astimezone(zone),
            previous_ends_at=move.before.ends_at.astimezone(zone),
        )
        events.append(("meeting.moved", m.match_id, moved))
    for meeting_id in [m.meeting_id for m in plan.kept] + [m.meeting_id for m in plan.added]:
        events.append(("meeting.scheduled", after[meeting_id].match_id, after[meeting_id]))
    completed = ScheduleCompleted(
        schedule_id=schedule_id,
        roadshow_id=roadshow_id,
        meetings=plan.schedule.size,
        total_score=plan.total_score,
    )
    events.append(("schedule.completed", schedule_id, completed))
    return events
