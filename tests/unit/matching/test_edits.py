"""Hand edits of a provisional schedule: each conflict's reason, and what
publishing announces against what was last announced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.matching.scheduling.edits import (
    Announced,
    Busy,
    Party,
    Place,
    placement_conflict,
    publication_events,
)
from shared.contracts.matching import Meeting, MeetingMoved

T0 = datetime(2027, 5, 15, 1, 0, tzinfo=UTC)
E, P, OTHER_E, OTHER_P = (uuid.uuid4() for _ in range(4))


def _place(slot: int, table: int = 1) -> Place:
    start = T0 + timedelta(minutes=30 * slot)
    return Place(slot, table, start, start + timedelta(minutes=30))


def _party(pid: uuid.UUID, cap: int | None = None, off: tuple[int, int] | None = None) -> Party:
    periods = () if off is None else ((_place(off[0]).starts_at, _place(off[1]).starts_at),)
    return Party(pid, cap, periods)


def _conflict(
    place: Place, busy: list[Busy], moving: uuid.UUID | None = None, **parties: Party
) -> str | None:
    refused = placement_conflict(
        place,
        moving=moving,
        enterprise=parties.get("enterprise", _party(E)),
        participant=parties.get("participant", _party(P)),
        busy=busy,
        slots=6,
        tables=2,
    )
    return None if refused is None else f"{refused.field}: {refused.reason.split(':')[0]}"


def test_each_conflict_is_refused_with_its_reason() -> None:
    mine = Busy(uuid.uuid4(), E, P, 0, 1)
    theirs = Busy(uuid.uuid4(), OTHER_E, OTHER_P, 1, 1)
    busy = [mine, theirs]
    assert _conflict(_place(6), busy) == "slot: no such slot"
    assert _conflict(_place(2, table=3), busy) == "table: no table 3"
    assert _conflict(_place(1, table=1), busy) == "table: no table"
    assert _conflict(_place(0, table=2), busy) == "slot: double-booked"
    assert _conflict(_place(0, table=2), busy, moving=mine.meeting_id) is None  # itself
    clash = Busy(uuid.uuid4(), OTHER_E, P, 3, 1)
    assert _conflict(_place(3, table=2), [clash]) == "slot: double-booked"
    away = _party(P, off=(2, 4))
    assert _conflict(_place(3, 2), [], participant=away) == "slot: outside availability"
    assert _conflict(_place(4, 2), [], participant=away) is None  # the period ends as it starts
    capped = _party(E, cap=1)
    assert _conflict(_place(2, 2), busy, enterprise=capped) == "match_id: over a cap"
    assert _conflict(_place(2, 2), busy, moving=mine.meeting_id, enterprise=capped) is None


def _meeting(slot: int, table: int, status: str = "scheduled") -> Meeting:
    start = _place(slot).starts_at
    return Meeting(
        meeting_id=uuid.uuid4(),
        schedule_id=uuid.uuid4(),
        roadshow_id=uuid.uuid4(),
        match_id=uuid.uuid4(),
        enterprise_id=E,
        participant_id=P,
        slot=slot,
        table=table,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        timezone="Asia/Shanghai",
        score=0.5,
        status=status,
    )


def _was(slot: int | None, table: int | None, status: str | None = "scheduled") -> Announced:
    start = None if slot is None else _place(slot).starts_at
    end = None if start is None else start + timedelta(minutes=30)
    return Announced(status, slot, table, start, end)


def test_publishing_announces_changes_since_the_last_publication() -> None:
    same, moved, new = _meeting(0, 1), _meeting(1, 2), _meeting(2, 1)
    dropped, never = _meeting(3, 1, "cancelled"), _meeting(4, 1, "cancelled")
    current = [
        (same, _was(0, 1)),
        (moved, _was(5, 1)),
        (new, _was(None, None, None)),
        (dropped, _was(3, 1)),
        (never, _was(None, None, None)),  # made and cancelled before anyone was told
    ]
    sid, rid = uuid.uuid4(), uuid.uuid4()
    events = publication_events(current, sid, rid)
    kinds = [(t, getattr(d, "meeting_id", None)) for t, _, d in events]
    assert ("meeting.cancelled", dropped.meeting_id) in kinds
    assert ("meeting.cancelled", never.meeting_id) not in kinds
    (move,) = [d for t, _, d in events if t == "meeting.moved"]
    assert isinstance(move, MeetingMoved) and move.meeting_id == moved.meeting_id
    assert (move.previous_slot, move.previous_table) == (5, 1)
    scheduled = {getattr(d, "meeting_id", None) for t, _, d in events if t == "meeting.scheduled"}
    assert scheduled == {same.meeting_id, moved.meeting_id, new.meeting_id}
    assert events[-1][0] == "schedule.completed" and events[-1][2].meetings == 3  # type: ignore[attr-defined]
