"""HTTP request and response models of the matching API, and only those
(responses reuse the event contracts' shapes, so partners see one vocabulary).
`routes.py` maps them to and from the use cases' commands and results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.matching.interest.model import MatchingMode
from services.matching.scheduling.model import JobStatus, ScheduleChanges
from shared.contracts import matching as contracts
from shared.contracts.matching import Attendance, InterestAnswer, InterestState, Side
from shared.http.requests import Moment, Strict
from shared.pagination import Page, PageOut
from shared.taxonomy import ParticipantKind

Score = Annotated[float, Field(ge=0, le=1)]


class MatchQuery(Page, Strict):
    kind: ParticipantKind | None = Field(default=None, description="Only participants of this kind")
    min_score: Score | None = Field(default=None, description="Only matches scoring at least this")


class ParticipantMatchQuery(Page, Strict):
    min_score: Score | None = Field(default=None, description="Only matches scoring at least this")


class MatchOut(contracts.Match):
    enterprise_name: str | None = None
    participant_name: str | None = None
    enterprise_interest: InterestState | None = Field(
        default=None, description="The enterprise side's answer; null: not answered yet"
    )
    participant_interest: InterestState | None = Field(
        default=None, description="The participant side's answer; null: not answered yet"
    )
    interest_expires_at: datetime | None = Field(
        default=None,
        description="When the silent side's request expires (one side answered, the other not)",
    )


class InterestIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"side": "participant", "interest": "accept"}]}
    )

    side: Side = Field(description="The side you registered; only its partner may answer for it")
    interest: InterestAnswer


class MatchingSettingsIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "opt-in",
                    "interest_ttl_hours": 48,
                    "scheduling_closes_at": "2027-05-10T18:00:00+08:00",
                }
            ]
        }
    )

    mode: MatchingMode = Field(
        default="opt-out",
        description="opt-in: only pairs both sides accepted are scheduled; opt-out: every "
        "match above the threshold unless a side declines",
    )
    interest_ttl_hours: Annotated[int, Field(ge=1, le=24 * 365)] = Field(
        default=72, description="A request unanswered this long expires"
    )
    scheduling_closes_at: Moment | None = Field(
        default=None, description="After this, interest can no longer change (with a zone)"
    )


class MatchingSettingsOut(BaseModel):
    roadshow_id: uuid.UUID
    mode: MatchingMode
    interest_ttl_hours: int
    scheduling_closes_at: datetime | None


class AttendanceIn(Strict):
    attendance: Attendance


class AttendanceOut(BaseModel):
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    attendance: Attendance
    recorded_at: datetime


class FiguresOut(BaseModel):
    roadshow_id: uuid.UUID
    matches: int = Field(description="Proposed matches")
    accepted: int = Field(description="Mutual accepts and must-meets (no decline)")
    declined: int = Field(description="Matches a side declined")
    scheduled: int = Field(description="Meetings in the current schedule")
    held: int
    no_show: int
    cancelled: int = Field(description="Scheduled meetings recorded as cancelled on the day")
    no_show_rate: float | None = Field(
        description="no_show / (held + no_show); null until attendance is recorded"
    )


MatchPage = PageOut[MatchOut]  # best first


class ScheduleJobIn(Strict):
    fair_minimum: Annotated[int, Field(ge=0, le=48)] | None = Field(
        default=None,
        description="Meetings every enterprise should get where possible (default: the service's)",
    )
    enterprise_max_meetings: Annotated[int, Field(ge=1, le=200)] | None = Field(
        default=None, description="Most meetings per enterprise (default: one per slot)"
    )
    publish: bool = Field(
        default=True,
        description="Announce the schedule when done (events, webhooks, e-mail); false keeps it"
        " provisional, to review and edit by hand, until POST .../schedule/publish",
    )


class ScheduleJobOut(BaseModel):
    job_id: uuid.UUID
    roadshow_id: uuid.UUID
    status: JobStatus
    progress: float = Field(description="0 to 1")
    fair_minimum: int
    enterprise_max_meetings: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    schedule_id: uuid.UUID | None
    meetings: int | None
    total_score: float | None
    upper_bound: float | None = Field(
        description="No schedule can score more than this (fairness penalties included)"
    )
    shortfall: int | None = Field(
        description="Meetings enterprises miss below the fair minimum where it was reachable"
    )
    changes: ScheduleChanges | None = Field(
        default=None, description="When done: what moved against the previous schedule"
    )
    publish: bool = Field(default=True, description="Whether the run announces its schedule")


class TableFormat(Strict):
    format: Literal["json", "csv"] = "json"


class PartyFormat(Strict):
    format: Literal["json", "csv", "ics"] = "json"


class MeetingOut(contracts.Meeting):
    enterprise_name: str | None = None
    participant_name: str | None = None
    participant_kind: ParticipantKind
    locked: bool = Field(default=False, description="Kept where it is by runs and hand edits")
    added_by_hand: bool = False
    pending: bool = Field(
        default=False, description="Changed since the schedule was last published (or new)"
    )


class LockIn(Strict):
    locked: bool


class PlaceIn(Strict):
    slot: Annotated[int, Field(ge=0)] = Field(description="0-based slot of the road show's grid")
    table: Annotated[int, Field(ge=1)] = Field(description="1-based table")


class MeetingIn(PlaceIn):
    match_id: uuid.UUID = Field(description="The match whose parties meet")


class PublicationOut(BaseModel):
    roadshow_id: uuid.UUID
    schedule_id: uuid.UUID
    meetings: int = Field(description="Scheduled meetings announced")
    moved: int
    cancelled: int
    events: int


class ScheduleOut(BaseModel):
    roadshow_id: uuid.UUID
    schedule_id: uuid.UUID | None = Field(description="null until a schedule was made")
    timezone: str
    venue: str
    meetings: list[MeetingOut] = Field(description="By slot, then table")
    pending_changes: int = Field(
        default=0, description="Meetings changed since the schedule was last published"
    )


class CriterionFailure(BaseModel):
    criterion: str = Field(description="stage | ticket_range | sectors | country")
    reason: str


class ExclusionOut(BaseModel):
    participant_id: uuid.UUID
    participant_name: str | None
    participant_kind: ParticipantKind
    failures: list[CriterionFailure]


class ExclusionsOut(BaseModel):
    """Participants a mandatory criterion of theirs keeps from matching the enterprise."""

    enterprise_id: uuid.UUID
    items: list[ExclusionOut]
