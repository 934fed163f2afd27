"""Scheduling's domain data: jobs, meetings as the API lists them, a road show's
schedule, and what a new schedule changed against the one before it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.contracts.matching import Meeting
from shared.envelope import Context
from shared.taxonomy import ParticipantKind

JobStatus = Literal["queued", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class ScheduleChanges:
    """What a schedule changed against the one before it."""

    kept: int
    moved: int
    cancelled: int
    added: int
    moved_meeting_ids: list[uuid.UUID]
    cancelled_meeting_ids: list[uuid.UUID]
    added_meeting_ids: list[uuid.UUID]

    def to_json(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "moved": self.moved,
            "cancelled": self.cancelled,
            "added": self.added,
            "moved_meeting_ids": [str(i) for i in self.moved_meeting_ids],
            "cancelled_meeting_ids": [str(i) for i in self.cancelled_meeting_ids],
            "added_meeting_ids": [str(i) for i in self.added_meeting_ids],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleChanges:
        ids = ("moved_meeting_ids", "cancelled_meeting_ids", "added_meeting_ids")
        return cls(
            kept=data["kept"],
            moved=data["moved"],
            cancelled=data["cancelled"],
            added=data["added"],
            **{k: [uuid.UUID(str(i)) for i in data[k]] for k in ids},
        )


@dataclass(frozen=True)
class JobResult:
    """What a succeeded job reports about its schedule."""

    meetings: int
    total_score: float
    upper_bound: float | None
    shortfall: int
    changes: ScheduleChanges
    proven: bool  # the solver's word that no schedule of its problem scores more


@dataclass(frozen=True)
class Job:
    """A scheduling job: queued by the organiser, claimed and run by a worker."""

    id: uuid.UUID
    roadshow_id: uuid.UUID
    partner_id: uuid.UUID
    correlation_id: str
    status: JobStatus
    progress: float
    fair_minimum: int
    enterprise_max_meetings: int | None
    attempts: int
    claim: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    schedule_id: uuid.UUID | None
    meetings: int | None
    total_score: float | None
    upper_bound: float | None
    shortfall: int | None
    changes: ScheduleChanges | None
    publish: bool = True  # False: the schedule stays provisional until published
    proven: bool | None = None  # when done: the solver's word that nothing scores more

    def context(self) -> Context:
        """What the job's events carry: the request's flow and partner, the job as cause."""
        return Context(
            correlation_id=self.correlation_id,
            partner_id=self.partner_id,
            causation_id=str(self.id),
        )


@dataclass(frozen=True)
class MeetingView:
    """A meeting with the names a schedule shows beside it."""

    meeting: Meeting
    enterprise_name: str | None
    participant_name: str | None
    participant_kind: ParticipantKind
    locked: bool = False
    added_by_hand: bool = False
    pending: bool = False  # changed since it was last announced (or never announced)


@dataclass(frozen=True)
class RoadshowSchedule:
    roadshow_id: uuid.UUID
    schedule_id: uuid.UUID | None
    timezone: str
    venue: str
    meetings: list[MeetingView]  # by slot, then table
    pending_changes: int = 0  # meetings changed since the schedule was last published


@dataclass(frozen=True)
class StartScheduling:
    """The organiser's request; None means the service's default."""

    fair_minimum: int | None = None
    enterprise_max_meetings: int | None = None
    publish: bool = True


@dataclass(frozen=True)
class Publication:
    """What publishing announced."""

    roadshow_id: uuid.UUID
    schedule_id: uuid.UUID
    meetings: int
    moved: int
    cancelled: int
    events: int
