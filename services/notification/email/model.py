"""The e-mail channel's stored data as plain dataclasses: the people it writes
to, the road shows, schedules and meetings it writes about, and its messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.notification.email.rules import Change, EmailKind, MeetingLine, Previous, Role
from services.notification.outbound.repository import AttemptRecord, Outbound
from shared.contracts.matching import Meeting, MeetingEventType, MeetingMoved, MeetingStatus

OptedOutBy = Literal["recipient", "partner"]


@dataclass(frozen=True)
class PersonOnFile:
    """A role's person (the one place with personal data): the president of an
    enterprise or the contact of a participant. Erasure and withdrawal null the
    name and address; the row stays so an opt-out survives."""

    id: uuid.UUID
    kind: Role
    party_id: uuid.UUID
    partner_id: uuid.UUID | None
    name: str | None
    email: str | None
    opted_out_at: datetime | None
    opted_out_by: OptedOutBy | None
    erased_at: datetime | None

    @property
    def sendable(self) -> bool:
        return self.email is not None and self.opted_out_at is None


@dataclass(frozen=True)
class Registered:
    """A role's person as a registration event describes them (version: the
    party's), to be kept on file."""

    id: uuid.UUID
    kind: Role
    party_id: uuid.UUID
    partner_id: uuid.UUID | None
    roadshow_id: uuid.UUID
    name: str | None
    email: str | None
    version: int


@dataclass(frozen=True)
class RoadshowInfo:
    id: uuid.UUID
    name: str
    venue: str
    timezone: str


@dataclass(frozen=True)
class Schedule:
    id: uuid.UUID
    roadshow_id: uuid.UUID
    expected: int  # meetings it announced
    event_id: uuid.UUID  # the schedule.completed event
    correlation_id: str
    published_at: datetime | None


@dataclass(frozen=True)
class StoredMeeting:
    """A meeting as matching last described it; `published` once a schedule
    holding it was published (from then on its people know about it)."""

    id: uuid.UUID
    schedule_id: uuid.UUID
    roadshow_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    slot: int
    table: int
    starts_at: datetime
    ends_at: datetime
    status: MeetingStatus
    sequence: int
    published: bool
    venue: str | None = None
    venue_table: int | None = None
    interpreter_languages: tuple[str, ...] = ()
    reasons: tuple[str, ...] | list[str] = ()  # why the two meet (rules.why of its match)

    def line(self, counterpart: str) -> MeetingLine:
        return MeetingLine(
            meeting_id=self.id,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            table=self.table,
            slot=self.slot,
            sequence=self.sequence,
            status=self.status,
            counterpart=counterpart,
            venue=self.venue,
            venue_table=self.venue_table,
            interpreter_languages=list(self.interpreter_languages),
            reasons=list(self.reasons),
        )


@dataclass(frozen=True)
class Email(Outbound):
    """A message; its id is also the Message-ID of every try. Its body is the
    content as JSON, without the person's name or address."""

    kind: EmailKind
    category: str
    cancelled_at: datetime | None


@dataclass(frozen=True)
class Cause:
    """The event a message answers."""

    event_id: uuid.UUID
    event_type: str
    correlation_id: str


@dataclass(frozen=True)
class MatchEmail:
    """A person's latest proposals or digest e-mail: when it went (or was made,
    while it has not gone yet) and the moment its news was as of."""

    id: uuid.UUID
    kind: EmailKind
    sent_at: datetime
    told_at: datetime


@dataclass(frozen=True)
class MatchMailDue:
    """A person whose matches changed, waiting for their match e-mail."""

    recipient_id: uuid.UUID
    roadshow_id: uuid.UUID
    role: Role
    party_id: uuid.UUID
    due_at: datetime
    cause: Cause


@dataclass(frozen=True)
class EmailDetail:
    email: Email
    attempts: list[AttemptRecord]


@dataclass(frozen=True)
class MeetingPlan:
    """What a meeting event does to the stored meeting, and what its people are told."""

    status: MeetingStatus
    sequence: int  # iCalendar SEQUENCE: bumped whenever the people's copy changes
    notice: Change | None
    previous: Previous | None = None


def plan_meeting(
    before: StoredMeeting | None, event: MeetingEventType, data: Meeting
) -> MeetingPlan | None:
    """How a meeting event changes the meeting (None: not at all). Only a meeting
    already published is news to its people: moved elsewhere, or cancelled."""
    if event == "meeting.cancelled":
        return _cancelled(before)
    if before is None:
        return MeetingPlan("scheduled", 0, None)
    moved = _moved(before, data)
    if event == "meeting.moved" and before.status == "scheduled" and not moved:
        # Already where the event says: nothing changed for anyone.
        return MeetingPlan("scheduled", before.sequence, None)
    if before.published and (moved or event == "meeting.moved"):
        # A published meeting announced again somewhere else is, for its people, a move.
        return MeetingPlan("scheduled", before.sequence + 1, "moved", _previous(before, data))
    bump = 1 if event == "meeting.moved" else 0
    return MeetingPlan("scheduled", before.sequence + bump, None)


def _cancelled(before: StoredMeeting | None) -> MeetingPlan | None:
    if before is not None and before.status == "cancelled":
        return None  # a meeting is cancelled once
    # iCalendar wants a higher SEQUENCE on a CANCEL than on what it cancels.
    if before is None:
        return MeetingPlan("cancelled", 1, None)
    return MeetingPlan("cancelled", before.sequence + 1, "cancelled" if before.published else None)


def _previous(before: StoredMeeting, data: Meeting) -> Previous:
    """Where a moved meeting was: as the event says, else as we had it."""
    if isinstance(data, MeetingMoved):
        return Previous(
            starts_at=data.previous_starts_at,
            ends_at=data.previous_ends_at,
            table=data.previous_table,
        )
    return Previous(starts_at=before.starts_at, ends_at=before.ends_at, table=before.table)


def _moved(before: StoredMeeting, data: Meeting) -> bool:
    return (
        before.starts_at != data.starts_at
        or before.ends_at != data.ends_at
        or before.table != data.table
    )
