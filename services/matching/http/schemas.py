"""HTTP request and response models of the matching API, and only those
(responses reuse the event contracts' shapes, so partners see one vocabulary).
`routes.py` maps them to and from the use cases' commands and results."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.matching.interest.model import MatchingMode
from services.matching.scheduling.model import JobStatus, ScheduleChanges
from shared.contracts import matching as contracts
from shared.contracts.matching import (
    Attendance,
    DealStage,
    InterestAnswer,
    InterestLevel,
    InterestState,
    NextStep,
    Reporter,
    Side,
)
from shared.http.requests import Moment, Strict
from shared.pagination import Page, PageOut
from shared.taxonomy import ParticipantKind

Score = Annotated[float, Field(ge=0, le=1)]
# As registration takes money (funding, tickets).
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Money = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]


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


class FeedbackIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"took_place": "held", "interest": "high", "next_step": "due-diligence"},
                {"took_place": "no-show"},
            ]
        }
    )

    took_place: Attendance = Field(
        description="held; no-show: the other side did not come; cancelled"
    )
    interest: InterestLevel | None = Field(
        default=None, description="Required when held; absent otherwise"
    )
    next_step: NextStep | None = Field(
        default=None, description="When held (default none); absent otherwise"
    )
    note: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None,
        description="Your own words, kept with the feedback and shown to you and the organiser;"
        " never sent in events or webhooks",
    )


class FeedbackOut(BaseModel):
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    side: Side
    took_place: Attendance
    interest: InterestLevel | None
    next_step: NextStep | None
    note: str | None
    version: int = Field(description="Grows with each change")
    recorded_at: datetime


class FollowUpIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"stage": "invested", "amount": "2000000", "currency": "USD"},
                {"stage": "negotiating"},
            ]
        }
    )

    stage: DealStage
    amount: Money | None = Field(
        default=None,
        description="Agreed (agreement-signed) or invested (invested: required); none otherwise",
    )
    currency: Currency | None = Field(
        default=None, description="With the amount: a currency of the rate table"
    )


class FollowUpOut(BaseModel):
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    due_at: datetime = Field(description="When the follow-up falls (or fell) due")
    opened_at: datetime | None = Field(
        description="When both sides were asked (follow-up.due); null: recorded before that"
    )
    stage: DealStage | None = Field(description="null: due, nothing recorded yet")
    amount: Decimal | None
    currency: str | None
    reported_by: Reporter | None
    version: int = Field(description="Grows with each change (0: nothing recorded yet)")
    recorded_at: datetime | None


class FiguresQuery(Strict):
    currency: Currency | None = Field(
        default=None,
        description="The currency of `invested.amount` (default: the rate table's base)",
    )


class InvestedOut(BaseModel):
    currency: str
    amount: Decimal = Field(description="Every investment recorded, converted into `currency`")
    rates_date: str = Field(description="The date of the rate table converted with")
    deals: int = Field(description="Follow-ups at stage invested")
    by_currency: dict[str, Decimal] = Field(description="As recorded, unconverted")


class FiguresOut(BaseModel):
    roadshow_id: uuid.UUID
    matches: int = Field(description="Proposed matches")
    accepted: int = Field(description="Mutual accepts and must-meets (no decline)")
    declined: int = Field(description="Matches a side declined")
    scheduled: int = Field(description="Meetings in the current schedule")
    held: int = Field(
        description="Scheduled meetings that took place: the organiser's attendance, else a"
        " side's feedback saying held"
    )
    no_show: int
    cancelled: int = Field(description="Scheduled meetings recorded as cancelled on the day")
    unrecorded: int = Field(description="Scheduled meetings nobody said anything about")
    no_show_rate: float | None = Field(
        description="no_show / (held + no_show); null until attendance is recorded"
    )
    feedback: int = Field(description="Sides' feedback on meetings held")
    feedback_by_interest: dict[InterestLevel, int]
    feedback_by_next_step: dict[NextStep, int]
    follow_ups_open: int = Field(description="Follow-ups due with nothing recorded yet")
    follow_ups_by_stage: dict[DealStage, int]
    invested: InvestedOut


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
    proven: bool | None = Field(
        default=None,
        description="When done: whether the solver proved that no schedule scores more"
        " (false when it stopped at its time limit with the best it had found)",
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
