"""SQL of feedback and follow-ups. Functions take the caller's connection, so
the unit of work decides the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.matching.feedback.model import (
    Feedback,
    FollowUp,
    MeetingOutcome,
    RecordFeedback,
    RecordFollowUp,
)
from shared.contracts.matching import Attendance, MeetingStatus, Reporter, Side


@dataclass(frozen=True)
class AfterMeeting:
    """A meeting with who may speak for it: each side's partner and the organiser."""

    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    enterprise_partner_id: uuid.UUID | None
    participant_partner_id: uuid.UUID | None
    organiser_id: uuid.UUID
    status: MeetingStatus
    announced: bool  # the parties were told of it (published)
    starts_at: datetime
    ends_at: datetime
    attendance: Attendance | None

    def partner_of(self, side: Side) -> uuid.UUID | None:
        return self.enterprise_partner_id if side == "enterprise" else self.participant_partner_id

    @property
    def readers(self) -> tuple[uuid.UUID | None, ...]:
        return (self.enterprise_partner_id, self.participant_partner_id, self.organiser_id)


_AFTER_MEETING = """
    SELECT g.id, g.roadshow_id, g.match_id, g.enterprise_id, g.participant_id, g.status,
           g.published_status = 'scheduled' AS announced, g.starts_at, g.ends_at, g.attendance,
           e.partner_id AS enterprise_partner_id, p.partner_id AS participant_partner_id,
           r.organiser_id
      FROM meetings g
      JOIN roadshows r ON r.id = g.roadshow_id
      LEFT JOIN enterprises e ON e.id = g.enterprise_id
      LEFT JOIN participants p ON p.id = g.participant_id"""


def _after_meeting(r: asyncpg.Record) -> AfterMeeting:
    return AfterMeeting(
        meeting_id=r["id"],
        roadshow_id=r["roadshow_id"],
        match_id=r["match_id"],
        enterprise_id=r["enterprise_id"],
        participant_id=r["participant_id"],
        enterprise_partner_id=r["enterprise_partner_id"],
        participant_partner_id=r["participant_partner_id"],
        organiser_id=r["organiser_id"],
        status=r["status"],
        announced=bool(r["announced"]),
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        attendance=r["attendance"],
    )


async def after_meeting(
    conn: asyncpg.Connection, meeting_id: uuid.UUID, *, for_update: bool = False
) -> AfterMeeting | None:
    """The meeting; `for_update` locks its row, so one meeting's feedback and
    follow-up versions are given out one at a time."""
    lock = " FOR UPDATE OF g" if for_update else ""
    row = await conn.fetchrow(f"{_AFTER_MEETING} WHERE g.id = $1{lock}", meeting_id)
    return _after_meeting(row) if row is not None else None


def _feedback(r: asyncpg.Record) -> Feedback:
    return Feedback(
        meeting_id=r["meeting_id"],
        roadshow_id=r["roadshow_id"],
        side=r["side"],
        took_place=r["took_place"],
        interest=r["interest"],
        next_step=r["next_step"],
        note=r["note"],
        version=r["version"],
        recorded_at=r["recorded_at"],
    )


async def get_feedback(
    conn: asyncpg.Connection, meeting_id: uuid.UUID, side: Side
) -> Feedback | None:
    row = await conn.fetchrow(
        "SELECT * FROM meeting_feedback WHERE meeting_id = $1 AND side = $2", meeting_id, side
    )
    return _feedback(row) if row is not None else None


async def put_feedback(
    conn: asyncpg.Connection,
    meeting: AfterMeeting,
    side: Side,
    cmd: RecordFeedback,
    at: datetime,
) -> Feedback:
    row = await conn.fetchrow(
        """INSERT INTO meeting_feedback AS f (meeting_id, side, roadshow_id, took_place,
                                              interest, next_step, note, version, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)
           ON CONFLICT (meeting_id, side) DO UPDATE
              SET took_place = EXCLUDED.took_place, interest = EXCLUDED.interest,
                  next_step = EXCLUDED.next_step, note = EXCLUDED.note,
                  version = f.version + 1, recorded_at = EXCLUDED.recorded_at
           RETURNING *""",
        meeting.meeting_id,
        side,
        meeting.roadshow_id,
        cmd.took_place,
        cmd.interest,
        cmd.next_step,
        cmd.note,
        at,
    )
    assert row is not None
    return _feedback(row)


def _follow_up(r: asyncpg.Record) -> FollowUp:
    return FollowUp(
        meeting_id=r["meeting_id"],
        roadshow_id=r["roadshow_id"],
        due_at=r["due_at"],
        opened_at=r["opened_at"],
        stage=r["stage"],
        amount=r["amount"],
        currency=r["currency"],
        reported_by=r["reported_by"],
        version=r["version"],
        recorded_at=r["recorded_at"],
    )


async def get_follow_up(conn: asyncpg.Connection, meeting_id: uuid.UUID) -> FollowUp | None:
    row = await conn.fetchrow("SELECT * FROM follow_ups WHERE meeting_id = $1", meeting_id)
    return _follow_up(row) if row is not None else None


async def put_follow_up(
    conn: asyncpg.Connection,
    meeting: AfterMeeting,
    due_at: datetime,
    cmd: RecordFollowUp,
    reported_by: Reporter,
    at: datetime,
) -> FollowUp:
    """Record deal progress; a follow-up recorded before it fell due is made
    here (and so never falls due)."""
    row = await conn.fetchrow(
        """INSERT INTO follow_ups AS u (meeting_id, roadshow_id, due_at, stage, amount,
                                        currency, reported_by, version, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)
           ON CONFLICT (meeting_id) DO UPDATE
              SET stage = EXCLUDED.stage, amount = EXCLUDED.amount,
                  currency = EXCLUDED.currency, reported_by = EXCLUDED.reported_by,
                  version = u.version + 1, recorded_at = EXCLUDED.recorded_at
           RETURNING *""",
        meeting.meeting_id,
        meeting.roadshow_id,
        due_at,
        cmd.stage,
        cmd.amount,
        cmd.currency,
        reported_by,
        at,
    )
    assert row is not None
    return _follow_up(row)


async def open_due_follow_ups(
    conn: asyncpg.Connection, now: datetime, delay: timedelta, limit: int
) -> list[tuple[AfterMeeting, FollowUp]]:
    """Open the follow-up of up to `limit` announced, scheduled meetings that
    ended `delay` ago or more and have none, unless what was recorded says they
    did not take place (`model.follows_up`, in SQL: attendance first, then a
    side that says held, then any other word). Meetings another loop is opening
    are skipped; the primary key makes a race open each once."""
    rows = await conn.fetch(
        f"""{_AFTER_MEETING}
            WHERE g.status = 'scheduled' AND g.published_status = 'scheduled'
              AND g.ends_at <= $1::timestamptz - $2::interval
              AND NOT EXISTS (SELECT 1 FROM follow_ups u WHERE u.meeting_id = g.id)
              AND (CASE
                     WHEN g.attendance IS NOT NULL THEN g.attendance = 'held'
                     ELSE EXISTS (SELECT 1 FROM meeting_feedback f
                                   WHERE f.meeting_id = g.id AND f.took_place = 'held')
                          OR NOT EXISTS (SELECT 1 FROM meeting_feedback f
                                          WHERE f.meeting_id = g.id)
                   END)
            ORDER BY g.ends_at, g.id
            LIMIT $3
            FOR UPDATE OF g SKIP LOCKED""",
        now,
        delay,
        limit,
    )
    opened = []
    for r in rows:
        meeting = _after_meeting(r)
        row = await conn.fetchrow(
            """INSERT INTO follow_ups (meeting_id, roadshow_id, due_at, opened_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (meeting_id) DO NOTHING
               RETURNING *""",
            meeting.meeting_id,
            meeting.roadshow_id,
            meeting.ends_at + delay,
            now,
        )
        if row is not None:
            opened.append((meeting, _follow_up(row)))
    return opened


async def outcomes(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> list[MeetingOutcome]:
    """Each scheduled meeting of the road show with its feedback and follow-up."""
    meetings = await conn.fetch(
        "SELECT id, attendance FROM meetings WHERE roadshow_id = $1 AND status = 'scheduled'",
        roadshow_id,
    )
    feedback: dict[uuid.UUID, list[Feedback]] = {}
    for r in await conn.fetch("SELECT * FROM meeting_feedback WHERE roadshow_id = $1", roadshow_id):
        feedback.setdefault(r["meeting_id"], []).append(_feedback(r))
    follow_ups = {
        r["meeting_id"]: _follow_up(r)
        for r in await conn.fetch("SELECT * FROM follow_ups WHERE roadshow_id = $1", roadshow_id)
    }
    return [
        MeetingOutcome(m["attendance"], feedback.get(m["id"], []), follow_ups.get(m["id"]))
        for m in meetings
    ]


async def erase_notes(
    conn: asyncpg.Connection,
    enterprise_ids: Sequence[uuid.UUID],
    participant_ids: Sequence[uuid.UUID],
) -> int:
    """Blank the notes of every feedback on these parties' meetings, both sides'
    (free text may name the other side's person too); the rest of the feedback is
    no one's personal data and stays. Returns how many notes were blanked."""
    status: str = await conn.execute(
        """UPDATE meeting_feedback f SET note = NULL
             FROM meetings m
            WHERE m.id = f.meeting_id AND f.note IS NOT NULL
              AND (m.enterprise_id = ANY($1::uuid[]) OR m.participant_id = ANY($2::uuid[]))""",
        list(enterprise_ids),
        list(participant_ids),
    )
    return int(status.split()[-1])
