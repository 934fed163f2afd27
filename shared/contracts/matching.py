"""Contracts of the events the matching service publishes.

A match is one enterprise-participant pair of a road show; its id is derived from
the pair (`match_id_for`), so every service names it alike and it keys the pair's
events. Meetings are keyed by their own id.

Interest: either side of a match says accept, decline or must-meet (posted by the
partner that registered that side). Rescheduling keeps the meetings it can and
reports the ones that moved as `meeting.moved` (the new slot, and where it was).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts.base import Contract
from shared.taxonomy import ParticipantKind

# The events about one match or one meeting (what notification's subscribers can ask for).
MatchEventType = Literal["match.proposed", "match.updated", "match.withdrawn"]
MeetingEventType = Literal["meeting.scheduled", "meeting.moved", "meeting.cancelled"]
MatchingEventType = Literal[
    MatchEventType,
    MeetingEventType,
    "schedule.completed",
    "interest.recorded",
    "attendance.recorded",
]
MatchStatus = Literal["proposed", "withdrawn"]
MeetingStatus = Literal["scheduled", "cancelled"]
Side = Literal["enterprise", "participant"]
# What a side can answer, and what an unanswered match becomes when its time runs out.
InterestAnswer = Literal["accept", "decline", "must-meet"]
InterestState = Literal["accept", "decline", "must-meet", "expired"]
Attendance = Literal["held", "no-show", "cancelled"]

_MATCH_NAMESPACE = uuid.UUID("6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5")


def match_id_for(enterprise_id: uuid.UUID, participant_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(_MATCH_NAMESPACE, f"{enterprise_id}:{participant_id}")


class MatchComponent(Contract):
    name: str  # sector_fit | stage_fit | ticket_fit | partnership_fit | text_similarity
    score: float  # in [0, 1]
    weight: float
    reason: str


class Match(Contract):
    match_id: uuid.UUID
    roadshow_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    participant_kind: ParticipantKind
    score: float
    components: list[MatchComponent]
    status: MatchStatus
    version: int
    # Added: the partners that registered each side, so a consumer can tell each
    # partner only about its own enterprises and participants.
    enterprise_partner_id: uuid.UUID | None = None
    participant_partner_id: uuid.UUID | None = None


class Meeting(Contract):
    meeting_id: uuid.UUID
    schedule_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    slot: int
    table: int
    starts_at: datetime
    ends_at: datetime
    timezone: str
    score: float
    status: MeetingStatus
    # Added, as on Match.
    enterprise_partner_id: uuid.UUID | None = None
    participant_partner_id: uuid.UUID | None = None
    # Added: the match's components with their reasons (why these two meet).
    reasons: list[MatchComponent] = Field(default_factory=list)


class ScheduleCompleted(Contract):
    schedule_id: uuid.UUID
    roadshow_id: uuid.UUID
    meetings: int
    total_score: float


class InterestRecorded(Contract):
    match_id: uuid.UUID
    roadshow_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    side: Side
    interest: InterestState
    expires_at: datetime | None = None


class MeetingMoved(Meeting):
    previous_slot: int
    previous_table: int
    previous_starts_at: datetime
    previous_ends_at: datetime


class AttendanceRecorded(Contract):
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    attendance: Attendance


MATCHING_CONTRACTS: dict[tuple[MatchingEventType, int], type[BaseModel]] = {
    ("match.proposed", 1): Match,
    ("match.updated", 1): Match,
    ("match.withdrawn", 1): Match,
    ("meeting.scheduled", 1): Meeting,
    ("meeting.moved", 1): MeetingMoved,
    ("meeting.cancelled", 1): Meeting,
    ("schedule.completed", 1): ScheduleCompleted,
    ("interest.recorded", 1): InterestRecorded,
    ("attendance.recorded", 1): AttendanceRecorded,
}
