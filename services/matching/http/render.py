"""A schedule as a spreadsheet (CSV) and as a calendar (iCalendar, in the
event's time zone)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from icalendar import Calendar, Event

from services.matching.http.schemas import ScheduleOut


def schedule_csv(schedule: ScheduleOut) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "slot",
            "starts_at",
            "ends_at",
            "table",
            "venue",
            "venue_table",
            "interpreter_languages",
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
    for m in schedule.meetings:
        writer.writerow(
            [
                m.slot,
                m.starts_at.isoformat(),
                m.ends_at.isoformat(),
                m.table,
                _cell(m.venue),
                m.venue_table if m.venue_table is not None else m.table,
                " ".join(m.interpreter_languages),
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


def schedule_ical(schedule: ScheduleOut, calendar_name: str) -> bytes:
    """One VEVENT per meeting, in the event's time zone (with its VTIMEZONE)."""
    cal = Calendar()
    cal.add("prodid", "-//Roadshow//matching//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", schedule.timezone)
    stamp = datetime.now(UTC)
    for m in schedule.meetings:
        event = Event()
        event.add("uid", f"{m.meeting_id}@roadshow")
        event.add("dtstamp", stamp)
        event.add("dtstart", m.starts_at)
        event.add("dtend", m.ends_at)
        event.add(
            "summary",
            f"{m.enterprise_name or m.enterprise_id} - {m.participant_name or m.participant_id}",
        )
        venue, table = m.venue or schedule.venue, m.venue_table or m.table
        event.add("location", f"{venue}, table {table}")
        interpreter = (
            f"; interpreter ({'/'.join(m.interpreter_languages)})"
            if m.interpreter_languages
            else ""
        )
        event.add("description", f"1:1 meeting, match score {m.score:.2f}{interpreter}")
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def _cell(value: str | None) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; names are data."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
