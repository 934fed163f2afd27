"""Hand edits of a provisional schedule and its publication, as pure functions (no
I/O): whether a meeting may go to a place (and the reason when not), and which
events announce the schedule as it stands against what was last announced."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.matching.scheduling.diff import Emission
from shared.contracts.matching import Meeting, MeetingMoved, ScheduleCompleted


@dataclass(frozen=True)
class Place:
    """Where a meeting would go: its slot (0-based), table (1-based) and time."""

    slot: int
    table: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Refusal:
    """Why a place is refused, and the request field it is about."""

    field: str
    reason: str


@dataclass(frozen=True)
class Busy:
    """A scheduled meeting that occupies its parties and its table in its slot."""

    meeting_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    slot: int
    table: int


@dataclass(frozen=True)
class Party:
    """One side of a meeting: its cap and the periods it is not available."""

    party_id: uuid.UUID
    max_meetings: int | None
    unavailable: tuple[tuple[datetime | None, datetime | None], ...]


def placement_conflict(
    place: Place,
    *,
    moving: uuid.UUID | None,
    enterprise: Party,
    participant: Party,
    busy: Sequence[Busy],
    slots: int,
    tables: int,
    enterprise_cap: int | None = None,
) -> Refusal | None:
    """Why a meeting of these parties cannot be at `place`, or None when it can.
    `moving` is the meeting being moved (it does not conflict with itself; a move
    keeps the meeting count, so caps are checked only for an addition)."""
    if not 0 <= place.slot < slots:
        return Refusal("slot", f"no such slot: the road show has slots 0 to {slots - 1}")
    if not 1 <= place.table <= tables:
        return Refusal("table", f"no table {place.table}: the road show has tables 1 to {tables}")
    others = [b for b in busy if b.meeting_id != moving]
    if any(b.slot == place.slot and b.table == place.table for b in others):
        return Refusal("table", f"no table: table {place.table} is taken in slot {place.slot}")
    for side, party, key in (
        ("enterprise", enterprise, "enterprise_id"),
        ("participant", participant, "participant_id"),
    ):
        if any(b.slot == place.slot and getattr(b, key) == party.party_id for b in others):
            return Refusal(
                "slot", f"double-booked: the {side} already has a meeting in slot {place.slot}"
            )
        if _overlaps(place, party.unavailable):
            return Refusal("slot", f"outside availability: the {side} is not available then")
    return (
        None if moving is not None else _over_cap(enterprise, participant, others, enterprise_cap)
    )


def _over_cap(
    enterprise: Party, participant: Party, others: Sequence[Busy], enterprise_cap: int | None
) -> Refusal | None:
    """An addition beyond a party's most meetings (a move keeps the count)."""
    caps = (
        (
            "enterprise",
            enterprise,
            "enterprise_id",
            _least(enterprise.max_meetings, enterprise_cap),
        ),
        ("participant", participant, "participant_id", participant.max_meetings),
    )
    for side, party, key, cap in caps:
        held = sum(1 for b in others if getattr(b, key) == party.party_id)
        if cap is not None and held >= cap:
            return Refusal(
                "match_id", f"over a cap: the {side} already has {held} of at most {cap} meetings"
            )
    return None


def _least(a: int | None, b: int | None) -> int | None:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def _overlaps(place: Place, periods: Sequence[tuple[datetime | None, datetime | None]]) -> bool:
    for lower, upper in periods:
        if (lower is None or lower < place.ends_at) and (upper is None or place.starts_at < upper):
            return True
    return False


@dataclass(frozen=True)
class Announced:
    """What was last announced of a meeting: None for a meeting never announced."""

    status: str | None
    slot: int | None
    table: int | None
    starts_at: datetime | None
    ends_at: datetime | None


def publication_events(
    current: Sequence[tuple[Meeting, Announced]], schedule_id: uuid.UUID, roadshow_id: uuid.UUID
) -> list[Emission]:
    """The events that bring subscribers from what they were told to the schedule as
    it is: cancellations of announced meetings no longer on, moves (with where each
    was), every scheduled meeting, and the schedule's completion — as a run that
    publishes announces them."""
    events: list[Emission] = []
    scheduled: list[Meeting] = []
    for meeting, was in current:
        if meeting.status == "cancelled":
            if was.status == "scheduled":
                events.append(("meeting.cancelled", meeting.match_id, meeting))
            continue
        scheduled.append(meeting)
        moved = was.status == "scheduled" and (was.slot, was.table) != (meeting.slot, meeting.table)
        if moved:
            assert was.slot is not None and was.table is not None
            assert was.starts_at is not None and was.ends_at is not None
            zone = meeting.starts_at.tzinfo
            events.append(
                (
                    "meeting.moved",
                    meeting.match_id,
                    MeetingMoved(
                        **meeting.model_dump(),
                        previous_slot=was.slot,
                        previous_table=was.table,
                        previous_starts_at=was.starts_at.astimezone(zone),
                        previous_ends_at=was.ends_at.astimezone(zone),
                    ),
                )
            )
    events += [("meeting.scheduled", m.match_id, m) for m in scheduled]
    completed = ScheduleCompleted(
        schedule_id=schedule_id,
        roadshow_id=roadshow_id,
        meetings=len(scheduled),
        total_score=round(sum(m.score for m in scheduled), 6),
    )
    events.append(("schedule.completed", schedule_id, completed))
    return events
