"""HTTP request and response models of the matching API (responses reuse the
event contracts' shapes, so partners see one vocabulary), and the CSV and
iCalendar renderings of a schedule."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from icalendar import Calendar, Event
from pydantic import BaseModel, Field, field_validator

from shared.contracts import matching as contracts
from shared.http.requests import Strict
from shared.taxonomy import ParticipantKind

Score = Annotated[float, Field(ge=0, le=1)]
JobStatus = Literal["queued", "running", "succeeded", "failed"]


class Page(Strict):
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: (
        Annotated[str, Field(max_length=200, description="next_cursor of the previous page")] | None
    ) = None


class MatchQuery(Page):
    kind: ParticipantKind | None = Field(default=None, description="Only participants of this kind")
    min_score: Score | None = Field(default=None, description="Only matches scoring at least this")


class ParticipantMatchQuery(Page):
    min_score: Score | None = Field(default=None, description="Only matches scoring at least this")


InterestAnswer = Literal["accept", "decline", "must-meet"]
InterestState = Literal["accept", "decline", "must-meet", "expired"]


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
    side: Literal["enterprise", "participant"] = Field(
        description="The side you registered; only its partner may answer for it"
    )
    interest: InterestAnswer


class MatchingSettingsIn(Strict):
    mode: Literal["opt-in", "opt-out"] = Field(
        default="opt-out",
        description="opt-in: only pairs both sides accepted are scheduled; opt-out: every "
        "match above the threshold unless a side declines",
    )
    interest_ttl_hours: Annotated[int, Field(ge=1, le=24 * 365)] = Field(
        default=72, description="A request unanswered this long expires"
    )
    scheduling_closes_at: datetime | None = Field(
        default=None, description="After this, interest can no longer change (with a zone)"
    )

    @field_validator("scheduling_closes_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("give a time zone offset")
        return value


class MatchingSettingsOut(BaseModel):
    roadshow_id: uuid.UUID
    mode: Literal["opt-in", "opt-out"]
    interest_ttl_hours: int
    scheduling_closes_at: datetime | None


class AttendanceIn(Strict):
    attendance: Literal["held", "no-show", "cancelled"]


class AttendanceOut(BaseModel):
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    attendance: Literal["held", "no-show", "cancelled"]
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


class ScheduleChanges(BaseModel):
    """What a schedule changed against the one before it."""

    kept: int
    moved: int
    cancelled: int
    added: int
    moved_meeting_ids: list[uuid.UUID]
    cancelled_meeting_ids: list[uuid.UUID]
    added_meeting_ids: list[uuid.UUID]


class MatchPage(BaseModel):
    items: list[MatchOut] = Field(description="Best first")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end")


class ScheduleJobIn(Strict):
    fair_minimum: Annotated[int, Field(ge=0, le=48)] | None = Field(
        default=None,
        description="Meetings every enterprise should get where possible (default: the service's)",
    )
    enterprise_max_meetings: Annotated[int, Field(ge=1, le=200)] | None = Field(
        default=None, description="Most meetings per enterprise (default: one per slot)"
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


class TableFormat(Strict):
    format: Literal["json", "csv"] = "json"


class PartyFormat(Strict):
    format: Literal["json", "csv", "ics"] = "json"


class MeetingOut(contracts.Meeting):
    enterprise_name: str | None = None
    participant_name: str | None = None
    participant_kind: ParticipantKind


class ScheduleOut(BaseModel):
    roadshow_id: uuid.UUID
    schedule_id: uuid.UUID | None = Field(description="null until a schedule was made")
    timezone: str
    venue: str
    meetings: list[MeetingOut] = Field(description="By slot, then table")

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "slot",
                "starts_at",
                "ends_at",
                "table",
                "enterprise_id",
                "enterprise",
                "participant_id",
                "participant",
                "participant_kind",
                "score",
                "meeting_id",
                "match_id",
            ]
        )
        for m in self.meetings:
            writer.writerow(
                [
                    m.slot,
                    m.starts_at.isoformat(),
                    m.ends_at.isoformat(),
                    m.table,
                    m.enterprise_id,
                    _cell(m.enterprise_name),
                    m.participant_id,
                    _cell(m.participant_name),
                    m.participant_kind.value,
                    f"{m.score:.4f}",
                    m.meeting_id,
                    m.match_id,
                ]
            )
        return out.getvalue()

    def to_ical(self, calendar_name: str) -> bytes:
        """One VEVENT per meeting, in the event's time zone (with its VTIMEZONE)."""
        cal = Calendar()
        cal.add("prodid", "-//Roadshow//matching//EN")
        cal.add("version", "2.0")
        cal.add("x-wr-calname", calendar_name)
        cal.add("x-wr-timezone", self.timezone)
        stamp = datetime.now(UTC)
        for m in self.meetings:
            event = Event()
            event.add("uid", f"{m.meeting_id}@roadshow")
            event.add("dtstamp", stamp)
            event.add("dtstart", m.starts_at)
            event.add("dtend", m.ends_at)
            event.add(
                "summary",
                f"{m.enterprise_name or m.enterprise_id} - {m.participant_name or m.participant_id}",
            )
            event.add("location", f"{self.venue}, table {m.table}")
            event.add("description", f"1:1 meeting, match score {m.score:.2f}")
            cal.add_component(event)
        cal.add_missing_timezones()
        return bytes(cal.to_ical())


def _cell(value: str | None) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; names are data."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
