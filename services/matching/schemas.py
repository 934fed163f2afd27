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
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import matching as contracts
from shared.taxonomy import ParticipantKind

Score = Annotated[float, Field(ge=0, le=1)]
JobStatus = Literal["queued", "running", "succeeded", "failed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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


class MatchOut(contracts.Match):
    enterprise_name: str | None = None
    participant_name: str | None = None


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
