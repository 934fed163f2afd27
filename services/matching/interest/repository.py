"""SQL of interest, matching settings and attendance. Functions take the
caller's connection, so the unit of work decides the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.matching.interest.model import MatchingMode, PairInterest
from services.matching.scoring.model import MatchView
from services.matching.scoring.repository import pair_interest, stored_match
from shared.contracts.matching import Attendance, InterestState, MeetingStatus, Side


@dataclass(frozen=True)
class MatchForInterest:
    """A match with who may read and answer it, and its road show's settings
    (None while the road show is not known yet)."""

    view: MatchView
    organiser_id: uuid.UUID | None
    interest_ttl_hours: int | None
    scheduling_closes_at: datetime | None

    @property
    def readers(self) -> tuple[uuid.UUID | None, ...]:
        """Either side's partner and the organiser."""
        m = self.view.match
        return (m.enterprise_partner_id, m.participant_partner_id, self.organiser_id)

    def partner_of(self, side: Side) -> uuid.UUID | None:
        m = self.view.match
        return m.enterprise_partner_id if side == "enterprise" else m.participant_partner_id


async def match_for_interest(
    conn: asyncpg.Connection, match_id: uuid.UUID, *, for_update: bool = False
) -> MatchForInterest | None:
    lock = " FOR UPDATE OF m" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT m.*, e.partner_id AS enterprise_partner_id,
                   p.partner_id AS participant_partner_id,
                   e.name AS enterprise_name, p.name AS participant_name,
                   r.organiser_id, r.matching_mode, r.interest_ttl_hours,
                   r.scheduling_closes_at
              FROM matches m
              LEFT JOIN enterprises e ON e.id = m.enterprise_id
              LEFT JOIN participants p ON p.id = m.participant_id
              LEFT JOIN roadshows r ON r.id = m.roadshow_id
             WHERE m.match_id = $1{lock}""",
        match_id,
    )
    if row is None:
        return None
    view = MatchView(
        stored_match(row), row["enterprise_name"], row["participant_name"], pair_interest(row)
    )
    return MatchForInterest(
        view, row["organiser_id"], row["interest_ttl_hours"], row["scheduling_closes_at"]
    )


async def set_interest(
    conn: asyncpg.Connection, match_id: uuid.UUID, side: Side, value: InterestState, at: datetime
) -> None:
    assert side in ("enterprise", "participant")
    await conn.execute(
        f"""UPDATE matches SET {side}_interest = $2, {side}_interest_at = $3, updated_at = now()
             WHERE match_id = $1""",
        match_id,
        value,
        at,
    )


@dataclass(frozen=True)
class AwaitingAnswer:
    """A proposed match where exactly one side answered."""

    match_id: uuid.UUID
    roadshow_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    interest: PairInterest
    interest_ttl_hours: int


async def awaiting_answer(conn: asyncpg.Connection) -> list[AwaitingAnswer]:
    """Candidates for expiry, with their road show's time to live, locked;
    others' locks are skipped."""
    rows = await conn.fetch(
        """SELECT m.*, coalesce(r.interest_ttl_hours, 72) AS interest_ttl_hours
             FROM matches m LEFT JOIN roadshows r ON r.id = m.roadshow_id
            WHERE m.status = 'proposed'
              AND (m.enterprise_interest IS NULL) <> (m.participant_interest IS NULL)
            FOR UPDATE OF m SKIP LOCKED"""
    )
    return [
        AwaitingAnswer(
            r["match_id"],
            r["roadshow_id"],
            r["enterprise_id"],
            r["participant_id"],
            pair_interest(r),
            r["interest_ttl_hours"],
        )
        for r in rows
    ]


async def set_matching_settings(
    conn: asyncpg.Connection,
    roadshow_id: uuid.UUID,
    mode: MatchingMode,
    ttl_hours: int,
    closes_at: datetime | None,
) -> None:
    await conn.execute(
        """UPDATE roadshows SET matching_mode = $2, interest_ttl_hours = $3,
                  scheduling_closes_at = $4
            WHERE id = $1""",
        roadshow_id,
        mode,
        ttl_hours,
        closes_at,
    )


@dataclass(frozen=True)
class MeetingForAttendance:
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    organiser_id: uuid.UUID
    status: MeetingStatus
    starts_at: datetime


async def meeting_for_attendance(
    conn: asyncpg.Connection, meeting_id: uuid.UUID
) -> MeetingForAttendance | None:
    row = await conn.fetchrow(
        """SELECT g.*, r.organiser_id FROM meetings g JOIN roadshows r ON r.id = g.roadshow_id
            WHERE g.id = $1 FOR UPDATE OF g""",
        meeting_id,
    )
    if row is None:
        return None
    return MeetingForAttendance(
        row["id"],
        row["roadshow_id"],
        row["match_id"],
        row["organiser_id"],
        row["status"],
        row["starts_at"],
    )


async def set_attendance(
    conn: asyncpg.Connection, meeting_id: uuid.UUID, attendance: Attendance, at: datetime
) -> None:
    await conn.execute(
        "UPDATE meetings SET attendance = $2, attendance_at = $3, updated_at = now() WHERE id = $1",
        meeting_id,
        attendance,
        at,
    )


async def figures_input(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID
) -> tuple[list[tuple[PairInterest, int]], int]:
    """How many of the road show's proposed matches have each combination of the
    two sides' answers, and how many meetings its current schedule has."""
    # Counted in the database: a fair has a million matches, and reading each into
    # this process cost a hundred MB for a moment on every call.
    answers = await conn.fetch(
        """SELECT enterprise_interest, participant_interest, count(*) AS n
             FROM matches WHERE roadshow_id = $1 AND status = 'proposed'
            GROUP BY enterprise_interest, participant_interest""",
        roadshow_id,
    )
    scheduled = await conn.fetchval(
        "SELECT count(*) FROM meetings WHERE roadshow_id = $1 AND status = 'scheduled'",
        roadshow_id,
    )
    return [
        (PairInterest(r["enterprise_interest"], r["participant_interest"]), int(r["n"]))
        for r in answers
    ], int(scheduled)
