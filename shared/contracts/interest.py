"""Matching events added for mutual interest and rescheduling.

Interest: either side of a match says accept, decline or must-meet (posted by the
partner that registered that side). Rescheduling keeps the meetings it can and
reports the ones that moved as `meeting.moved` (the new slot, and where it was).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from shared.contracts.matching import Meeting
from shared.contracts.registration import Contract


class InterestRecorded(Contract):
    match_id: uuid.UUID
    roadshow_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    side: str  # enterprise | participant
    interest: str  # accept | decline | must-meet | expired
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
    attendance: str  # held | no-show | cancelled


INTEREST_CONTRACTS: dict[tuple[str, int], type[BaseModel]] = {
    ("interest.recorded", 1): InterestRecorded,
    ("meeting.moved", 1): MeetingMoved,
    ("attendance.recorded", 1): AttendanceRecorded,
}
