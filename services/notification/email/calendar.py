"""The iCalendar attachment of a message (RFC 5545, methods of RFC 5546).

- A schedule or reminder lists the person's meetings: METHOD:PUBLISH, because
  an iTIP REQUEST may only carry one UID and a schedule holds many meetings.
- A moved meeting: METHOD:REQUEST with its SEQUENCE bumped, so calendars
  replace the event they already hold (same UID).
- A cancelled meeting: METHOD:CANCEL, STATUS:CANCELLED, SEQUENCE bumped.

Times carry the road show's zone (DTSTART;TZID=Asia/Shanghai:...) with its
VTIMEZONE, so a calendar shows them right wherever its owner is.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from services.notification.email.rules import Content, MeetingLine

PRODID = "-//Roadshow//Meeting schedules//EN"


def method_of(content: Content) -> str:
    if content.change == "moved":
        return "REQUEST"
    if content.change == "cancelled":
        return "CANCEL"
    return "PUBLISH"


def uid_of(meeting_id: object) -> str:
    return f"{meeting_id}@roadshow"


def build_calendar(
    content: Content,
    *,
    organizer: str,
    organizer_name: str,
    attendee: str,
    attendee_name: str | None,
    now: datetime,
) -> bytes:
    zone = ZoneInfo(content.timezone)
    method = method_of(content)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add("x-wr-calname", content.roadshow_name)
    if content.changed is not None:
        meetings = [content.changed]
    else:
        meetings = [m for m in content.agenda if m.status == "scheduled"]
    org = vCalAddress(f"mailto:{organizer}")
    org.params["cn"] = vText(organizer_name)
    who = None
    if method != "PUBLISH":
        # iTIP requests and cancellations name whom they are for.
        who = vCalAddress(f"mailto:{attendee}")
        if attendee_name:
            who.params["cn"] = vText(attendee_name)
        who.params["role"] = vText("REQ-PARTICIPANT")
    for meeting in meetings:
        cal.add_component(
            _event(content, meeting, zone, method=method, organizer=org, attendee=who, now=now)
        )
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


def _event(
    content: Content,
    meeting: MeetingLine,
    zone: ZoneInfo,
    *,
    method: str,
    organizer: vCalAddress,
    attendee: vCalAddress | None,
    now: datetime,
) -> Event:
    event = Event()
    event.add("uid", uid_of(meeting.meeting_id))
    event.add("dtstamp", now)
    event.add("sequence", meeting.sequence)
    event.add("dtstart", meeting.starts_at.astimezone(zone))
    event.add("dtend", meeting.ends_at.astimezone(zone))
    event.add("summary", f"Meeting with {meeting.counterpart}")
    place = meeting.place() if meeting.venue else f"{content.venue}, {meeting.place()}"
    event.add("location", place)
    interpreter = f", with an {meeting.interpreter()}" if meeting.interpreter() else ""
    event.add(
        "description",
        f"{content.roadshow_name}: {content.organisation} meets {meeting.counterpart} "
        f"at {place}{interpreter}.",
    )
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", organizer)
    if attendee is not None:
        event.add("attendee", attendee)
    return event
