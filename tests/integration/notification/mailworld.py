"""A small road show for the e-mail tests: parties registered with one partner,
a schedule of meetings made by matching (events built here, as matching
publishes them), and ways to read what the people received."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import asyncpg
from icalendar import Calendar

from shared.contracts.matching import (
    MatchComponent,
    Meeting,
    MeetingMoved,
    ScheduleCompleted,
    match_id_for,
)
from shared.envelope import Context, Envelope, new_event
from tests.integration.notification.conftest import ROADSHOW, Env

ZONE = ZoneInfo("Asia/Shanghai")
FIRST_SLOT = datetime(2027, 5, 15, 9, 0, tzinfo=ZONE)  # the road show's day, local time


def slot_times(slot: int) -> tuple[datetime, datetime]:
    """Slot n starts n half-hours after 09:00 Shanghai time (as UTC, like matching)."""
    starts = FIRST_SLOT + timedelta(minutes=30 * slot)
    return starts.astimezone(UTC), (starts + timedelta(minutes=30)).astimezone(UTC)


# The match's reasons each meeting event carries; the e-mails show the two that count.
REASONS = [
    MatchComponent(name="sector_fit", score=1.0, weight=0.3, reason="same sector: robotics"),
    MatchComponent(name="stage_fit", score=0.0, weight=0.15, reason="invests at seed"),
    MatchComponent(name="partnership_fit", score=0.5, weight=0.25, reason="offers debt-financing"),
]


def meeting(
    schedule_id: uuid.UUID,
    enterprise_id: uuid.UUID,
    participant_id: uuid.UUID,
    slot: int,
    table: int,
    *,
    meeting_id: uuid.UUID | None = None,
    status: str = "scheduled",
) -> Meeting:
    starts, ends = slot_times(slot)
    return Meeting(
        meeting_id=meeting_id or uuid.uuid4(),
        schedule_id=schedule_id,
        roadshow_id=ROADSHOW,
        match_id=match_id_for(enterprise_id, participant_id),
        enterprise_id=enterprise_id,
        participant_id=participant_id,
        slot=slot,
        table=table,
        starts_at=starts,
        ends_at=ends,
        timezone="Asia/Shanghai",
        score=0.8,
        status=status,
        reasons=REASONS,
    )


def matching_event(type_: str, key: uuid.UUID, data: Meeting | ScheduleCompleted) -> Envelope:
    return new_event(
        "matching", Context(correlation_id=f"mail-{uuid.uuid4().hex[:8]}"), type_, key, data
    )


def scheduled(m: Meeting) -> Envelope:
    return matching_event("meeting.scheduled", m.match_id, m)


def cancelled(m: Meeting) -> Envelope:
    return matching_event(
        "meeting.cancelled", m.match_id, m.model_copy(update={"status": "cancelled"})
    )


def moved(m: Meeting, slot: int, table: int) -> tuple[Envelope, Meeting]:
    starts, ends = slot_times(slot)
    data = MeetingMoved(
        **m.model_copy(
            update={"slot": slot, "table": table, "starts_at": starts, "ends_at": ends}
        ).model_dump(),
        previous_slot=m.slot,
        previous_table=m.table,
        previous_starts_at=m.starts_at,
        previous_ends_at=m.ends_at,
    )
    return matching_event("meeting.moved", m.match_id, data), Meeting(**data.model_dump())


def completed(schedule_id: uuid.UUID, meetings: int) -> Envelope:
    return matching_event(
        "schedule.completed",
        schedule_id,
        ScheduleCompleted(
            schedule_id=schedule_id, roadshow_id=ROADSHOW, meetings=meetings, total_score=1.0
        ),
    )


@dataclass
class World:
    env: Env
    partner: dict[str, str]
    enterprises: list[uuid.UUID]
    participants: list[uuid.UUID]
    schedule_id: uuid.UUID
    meetings: list[Meeting] = field(default_factory=list)

    def address(self, party: uuid.UUID) -> str:
        return self.env.people[party]["email"]

    def name(self, party: uuid.UUID) -> str:
        return self.env.people[party]["name"]

    async def organisation(self, party: uuid.UUID) -> str:
        name: str = await self.env.pool.fetchval(
            "SELECT name FROM enterprises WHERE id = $1 UNION ALL "
            "SELECT name FROM participants WHERE id = $1",
            party,
        )
        return name

    async def publish(self, *, completed_first: bool = True) -> None:
        """Matching's events of the schedule; schedule.completed first by
        default, since nothing orders it after its meetings."""
        done = completed(self.schedule_id, len(self.meetings))
        if completed_first:
            await self.env.consume(done)
        for m in self.meetings:
            await self.env.consume(scheduled(m))
        if not completed_first:
            await self.env.consume(done)


async def make_world(
    env: Env,
    pairs: list[tuple[int, int, int, int]],
    *,
    enterprises: int = 2,
    participants: int = 2,
    roadshow: bool = True,
) -> World:
    """Parties registered (and the road show, unless told not to) and the
    meetings of one schedule: (enterprise index, participant index, slot, table)."""
    partner = await env.partner()
    if roadshow:
        await env.roadshow()
    es = [await env.enterprise(partner=partner) for _ in range(enterprises)]
    kinds = ["bank", "fund", "company"]
    ps = [await env.participant(partner, kind=kinds[i % 3]) for i in range(participants)]
    world = World(env, partner, es, ps, uuid.uuid4())
    world.meetings = [
        meeting(world.schedule_id, es[e], ps[p], slot, table) for e, p, slot, table in pairs
    ]
    return world


async def deliver(env: Env) -> None:
    async with env.worker() as worker:
        await worker.deliver_due()


async def emails(env: Env, *, kind: str | None = None) -> list[asyncpg.Record]:
    return list(
        await env.pool.fetch(
            """SELECT * FROM notifications WHERE channel = 'email'
                 AND ($1::text IS NULL OR email_kind = $1) ORDER BY seq""",
            kind,
        )
    )


def calendar_of(message: EmailMessage) -> Calendar:
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def other_mac(mac: str) -> str:
    """A link MAC that is not this one (a fixed "AA" ending would be the real
    MAC one time in 256)."""
    return mac[:-2] + ("QA" if mac.endswith("AA") else "AA")
