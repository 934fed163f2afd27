"""SQL of scheduling: jobs, schedules, meetings, and the matches a schedule is
made of. Functions take the caller's connection, so the unit of work decides
the transaction; rows come back as contracts and domain data."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Sequence
from typing import Any

import asyncpg

from services.matching.scheduling.diff import MeetingMove, NewMeeting
from services.matching.scheduling.edits import Announced, Busy, Party, Place
from services.matching.scheduling.model import Job, JobResult, MeetingView, ScheduleChanges
from services.matching.scheduling.problem import Candidate
from services.matching.scoring.repository import pair_interest
from shared.contracts.matching import Meeting
from shared.taxonomy import ParticipantKind

# --- the matches a schedule is made of -------------------------------------------------


async def candidates(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> list[Candidate]:
    rows = await conn.fetch(
        """SELECT match_id, enterprise_id, participant_id, score, status,
                  enterprise_interest, enterprise_interest_at,
                  participant_interest, participant_interest_at
             FROM matches m WHERE roadshow_id = $1 AND status = 'proposed'
              -- a pair the organiser cancelled by hand is left out, unless it was
              -- given a meeting by hand again since
              AND (NOT EXISTS (SELECT 1 FROM meetings g
                                WHERE g.match_id = m.match_id AND g.cancelled_by_hand)
                   OR EXISTS (SELECT 1 FROM meetings g
                               WHERE g.match_id = m.match_id AND g.status = 'scheduled'))
            ORDER BY match_id""",
        roadshow_id,
    )
    return [
        Candidate(
            r["match_id"],
            r["enterprise_id"],
            r["participant_id"],
            r["score"],
            r["status"],
            pair_interest(r),
        )
        for r in rows
    ]


async def still_proposed(conn: asyncpg.Connection, match_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these matches may still meet: proposed, and declined by no side."""
    rows = await conn.fetch(
        """SELECT match_id FROM matches WHERE match_id = ANY($1::uuid[]) AND status = 'proposed'
              AND enterprise_interest IS DISTINCT FROM 'decline'
              AND participant_interest IS DISTINCT FROM 'decline'""",
        match_ids,
    )
    return {r["match_id"] for r in rows}


# --- meetings ---------------------------------------------------------------------------

_MEETING_VIEW = """SELECT g.*, r.timezone, r.venue, e.name AS enterprise_name,
                          p.name AS participant_name, p.kind AS participant_kind,
                          e.partner_id AS enterprise_partner_id,
                          p.partner_id AS participant_partner_id,
                          x.components AS match_components
                     FROM meetings g
                     JOIN roadshows r ON r.id = g.roadshow_id
                     JOIN enterprises e ON e.id = g.enterprise_id
                     JOIN participants p ON p.id = g.participant_id
                     LEFT JOIN matches x ON x.match_id = g.match_id"""


def _meeting_view(row: asyncpg.Record) -> MeetingView:
    zone = zoneinfo.ZoneInfo(row["timezone"])
    meeting = Meeting(
        meeting_id=row["id"],
        schedule_id=row["schedule_id"],
        roadshow_id=row["roadshow_id"],
        match_id=row["match_id"],
        enterprise_id=row["enterprise_id"],
        participant_id=row["participant_id"],
        slot=row["slot"],
        table=row["table_no"],
        starts_at=row["starts_at"].astimezone(zone),
        ends_at=row["ends_at"].astimezone(zone),
        timezone=row["timezone"],
        score=row["score"],
        status=row["status"],
        enterprise_partner_id=row["enterprise_partner_id"],
        participant_partner_id=row["participant_partner_id"],
        venue=row["venue_name"] or row["venue"],
        venue_table=row["venue_table"] or row["table_no"],
        interpreter_languages=row["interpreter_languages"],
        reasons=row["match_components"] or [],
    )
    return MeetingView(
        meeting,
        row["enterprise_name"],
        row["participant_name"],
        ParticipantKind(row["participant_kind"]),
        locked=row["locked"],
        added_by_hand=row["added_by_hand"],
        pending=_announced(row) != (row["status"], row["slot"], row["table_no"])
        if row["status"] == "scheduled"
        else row["published_status"] == "scheduled",
    )


def _announced(row: asyncpg.Record) -> tuple[Any, Any, Any]:
    return row["published_status"], row["published_slot"], row["published_table"]


async def scheduled_meetings(
    conn: asyncpg.Connection,
    roadshow_id: uuid.UUID,
    *,
    enterprise_id: uuid.UUID | None = None,
    participant_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> list[MeetingView]:
    lock = " FOR UPDATE OF g" if for_update else ""
    rows = await conn.fetch(
        f"""{_MEETING_VIEW}
            WHERE g.roadshow_id = $1 AND g.status = 'scheduled'
              AND ($2::uuid IS NULL OR g.enterprise_id = $2)
              AND ($3::uuid IS NULL OR g.participant_id = $3)
            ORDER BY g.slot, g.table_no{lock}""",
        roadshow_id,
        enterprise_id,
        participant_id,
    )
    return [_meeting_view(r) for r in rows]


async def scheduled_meetings_of_matches(
    conn: asyncpg.Connection, match_ids: list[uuid.UUID]
) -> list[Meeting]:
    rows = await conn.fetch(
        f"""{_MEETING_VIEW}
            WHERE g.match_id = ANY($1::uuid[]) AND g.status = 'scheduled'
            ORDER BY g.slot FOR UPDATE OF g""",
        match_ids,
    )
    return [_meeting_view(r).meeting for r in rows]


async def meetings_by_id(
    conn: asyncpg.Connection, meeting_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Meeting]:
    rows = await conn.fetch(
        f"{_MEETING_VIEW} WHERE g.id = ANY($1::uuid[]) ORDER BY g.slot, g.table_no",
        meeting_ids,
    )
    return {r["id"]: _meeting_view(r).meeting for r in rows}


async def cancel_meetings(conn: asyncpg.Connection, meeting_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE meetings SET status = 'cancelled', updated_at = now() WHERE id = ANY($1::uuid[])",
        meeting_ids,
    )


async def restamp_meetings(
    conn: asyncpg.Connection, meeting_ids: list[uuid.UUID], schedule_id: uuid.UUID
) -> None:
    """Carry meetings that stay where they are over into a new schedule."""
    await conn.execute(
        "UPDATE meetings SET schedule_id = $2, updated_at = now() WHERE id = ANY($1::uuid[])",
        meeting_ids,
        schedule_id,
    )


async def move_meetings(
    conn: asyncpg.Connection, moves: Sequence[MeetingMove], schedule_id: uuid.UUID
) -> None:
    """Give meetings new slots and tables in a new schedule. The unique indexes
    are checked row by row, so two meetings swapping places would collide: park
    them first on distinct negative slots, then set the new places."""
    if not moves:
        return
    await conn.executemany(
        "UPDATE meetings SET slot = $2 WHERE id = $1",
        [(m.before.meeting_id, -1 - i) for i, m in enumerate(moves)],
    )
    await conn.executemany(
        """UPDATE meetings SET slot = $2, table_no = $3, starts_at = $4, ends_at = $5,
                  schedule_id = $6, updated_at = now() WHERE id = $1""",
        [
            (m.before.meeting_id, m.slot, m.table, m.starts_at, m.ends_at, schedule_id)
            for m in moves
        ],
    )


async def insert_meetings(
    conn: asyncpg.Connection,
    meetings: Sequence[NewMeeting],
    schedule_id: uuid.UUID,
    roadshow_id: uuid.UUID,
) -> None:
    await conn.executemany(
        """INSERT INTO meetings (id, schedule_id, roadshow_id, match_id, enterprise_id,
               participant_id, slot, table_no, starts_at, ends_at, score, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'scheduled')""",
        [
            (
                m.meeting_id,
                schedule_id,
                roadshow_id,
                m.match_id,
                m.enterprise_id,
                m.participant_id,
                m.slot,
                m.table,
                m.starts_at,
                m.ends_at,
                m.score,
            )
            for m in meetings
        ],
    )


async def place_meetings(
    conn: asyncpg.Connection,
    schedule_id: uuid.UUID,
    places: Sequence[tuple[uuid.UUID, str, int, list[str]]],
) -> None:
    """Each meeting's venue, table there and interpreter's languages, by match."""
    await conn.executemany(
        """UPDATE meetings SET venue_name = $3, venue_table = $4, interpreter_languages = $5
            WHERE schedule_id = $1 AND match_id = $2 AND status = 'scheduled'""",
        [(schedule_id, *place) for place in places],
    )


async def insert_schedule(
    conn: asyncpg.Connection,
    *,
    schedule_id: uuid.UUID,
    job: Job,
    roadshow_version: int,
    meetings: int,
    total_score: float,
    upper_bound: float | None,
) -> None:
    await conn.execute(
        """INSERT INTO schedules (id, roadshow_id, job_id, roadshow_version, meetings,
               total_score, upper_bound) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        schedule_id,
        job.roadshow_id,
        job.id,
        roadshow_version,
        meetings,
        total_score,
        upper_bound,
    )


# --- hand edits and publication (provisional schedules) ---------------------------------


async def meeting_for_edit(conn: asyncpg.Connection, meeting_id: uuid.UUID) -> MeetingView | None:
    row = await conn.fetchrow(f"{_MEETING_VIEW} WHERE g.id = $1 FOR UPDATE OF g", meeting_id)
    return _meeting_view(row) if row is not None else None


async def busy(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> list[Busy]:
    rows = await conn.fetch(
        """SELECT id, enterprise_id, participant_id, slot, table_no FROM meetings
            WHERE roadshow_id = $1 AND status = 'scheduled'""",
        roadshow_id,
    )
    return [
        Busy(r["id"], r["enterprise_id"], r["participant_id"], r["slot"], r["table_no"])
        for r in rows
    ]


async def parties(
    conn: asyncpg.Connection, enterprise_id: uuid.UUID, participant_id: uuid.UUID
) -> tuple[Party, Party]:
    e = await conn.fetchrow(
        "SELECT id, max_meetings, unavailable FROM enterprises WHERE id = $1", enterprise_id
    )
    p = await conn.fetchrow(
        "SELECT id, max_meetings, unavailable FROM participants WHERE id = $1", participant_id
    )
    assert e is not None and p is not None  # a match's parties are in the read model
    return _party(e), _party(p)


def _party(row: asyncpg.Record) -> Party:
    periods = tuple((r.lower, r.upper) for r in row["unavailable"])
    return Party(row["id"], row["max_meetings"], periods)


async def match_to_meet(conn: asyncpg.Connection, match_id: uuid.UUID) -> asyncpg.Record | None:
    """A match that may meet (proposed, declined by no side), for a meeting by hand."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT match_id, roadshow_id, enterprise_id, participant_id, score FROM matches
            WHERE match_id = $1 AND status = 'proposed'
              AND enterprise_interest IS DISTINCT FROM 'decline'
              AND participant_interest IS DISTINCT FROM 'decline'""",
        match_id,
    )
    return row


async def set_locked(conn: asyncpg.Connection, meeting_id: uuid.UUID, locked: bool) -> None:
    await conn.execute(
        "UPDATE meetings SET locked = $2, updated_at = now() WHERE id = $1", meeting_id, locked
    )


async def place_meeting(conn: asyncpg.Connection, meeting_id: uuid.UUID, place: Place) -> None:
    await conn.execute(
        """UPDATE meetings SET slot = $2, table_no = $3, starts_at = $4, ends_at = $5,
                  updated_at = now() WHERE id = $1""",
        meeting_id,
        place.slot,
        place.table,
        place.starts_at,
        place.ends_at,
    )


async def cancel_by_hand(conn: asyncpg.Connection, meeting_id: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE meetings SET status = 'cancelled', cancelled_by_hand = true, updated_at = now()
            WHERE id = $1""",
        meeting_id,
    )


async def mark_added_by_hand(conn: asyncpg.Connection, meeting_id: uuid.UUID) -> None:
    await conn.execute("UPDATE meetings SET added_by_hand = true WHERE id = $1", meeting_id)


async def to_announce(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID
) -> list[tuple[Meeting, Announced]]:
    """The road show's scheduled meetings, and those cancelled since they were
    announced, each with what was last announced of it."""
    rows = await conn.fetch(
        f"""{_MEETING_VIEW}
            WHERE g.roadshow_id = $1
              AND (g.status = 'scheduled' OR g.published_status = 'scheduled')
            ORDER BY g.slot, g.table_no FOR UPDATE OF g""",
        roadshow_id,
    )
    return [
        (
            _meeting_view(r).meeting,
            Announced(
                r["published_status"],
                r["published_slot"],
                r["published_table"],
                r["published_starts_at"],
                r["published_ends_at"],
            ),
        )
        for r in rows
    ]


async def pending_changes(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> int:
    """Meetings whose state differs from what was last announced."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM meetings
            WHERE roadshow_id = $1
              AND (status = 'scheduled' OR published_status = 'scheduled')
              AND (published_status IS DISTINCT FROM status
                   OR published_slot IS DISTINCT FROM slot
                   OR published_table IS DISTINCT FROM table_no)""",
        roadshow_id,
    )
    return count


async def mark_published(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, meeting_ids: list[uuid.UUID] | None = None
) -> None:
    """What is announced now is the meetings' current state (all of the road
    show's, or only `meeting_ids`)."""
    await conn.execute(
        """UPDATE meetings SET published_status = status, published_slot = slot,
                  published_table = table_no, published_starts_at = starts_at,
                  published_ends_at = ends_at
            WHERE roadshow_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))""",
        roadshow_id,
        meeting_ids,
    )


async def announced_ids(conn: asyncpg.Connection, meeting_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these meetings were announced as scheduled."""
    rows = await conn.fetch(
        """SELECT id FROM meetings WHERE id = ANY($1::uuid[])
              AND published_status = 'scheduled'""",
        meeting_ids,
    )
    return {r["id"] for r in rows}


# --- scheduling jobs ----------------------------------------------------------------------


def _job(row: asyncpg.Record) -> Job:
    values: dict[str, Any] = dict(row)
    changes = values.pop("changes")
    values.pop("heartbeat_at")
    return Job(
        **values, changes=ScheduleChanges.from_json(changes) if changes is not None else None
    )


async def active_job(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> Job | None:
    row = await conn.fetchrow(
        "SELECT * FROM scheduling_jobs WHERE roadshow_id = $1 AND status IN ('queued', 'running')",
        roadshow_id,
    )
    return _job(row) if row is not None else None


async def job_of_schedule(conn: asyncpg.Connection, schedule_id: uuid.UUID) -> Job | None:
    row = await conn.fetchrow("SELECT * FROM scheduling_jobs WHERE schedule_id = $1", schedule_id)
    return _job(row) if row is not None else None


async def insert_job(
    conn: asyncpg.Connection,
    *,
    job_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    partner_id: uuid.UUID,
    correlation_id: str,
    fair_minimum: int,
    enterprise_max_meetings: int | None,
    publish: bool = True,
) -> Job:
    row = await conn.fetchrow(
        """INSERT INTO scheduling_jobs (id, roadshow_id, partner_id, correlation_id, status,
               fair_minimum, enterprise_max_meetings, publish)
           VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7) RETURNING *""",
        job_id,
        roadshow_id,
        partner_id,
        correlation_id,
        fair_minimum,
        enterprise_max_meetings,
        publish,
    )
    assert row is not None
    return _job(row)


async def get_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, *, for_update: bool = False
) -> Job | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM scheduling_jobs WHERE id = $1{lock}", job_id)
    return _job(row) if row is not None else None


async def claim_job(conn: asyncpg.Connection, claim: uuid.UUID, lease_seconds: float) -> Job | None:
    """Take the oldest queued job, or a running one whose worker went silent.
    SKIP LOCKED lets several workers claim side by side without waiting."""
    row = await conn.fetchrow(
        """UPDATE scheduling_jobs SET status = 'running', claim = $1, attempts = attempts + 1,
                  heartbeat_at = now(), started_at = coalesce(started_at, now()), progress = 0
            WHERE id = (SELECT id FROM scheduling_jobs
                         WHERE status = 'queued'
                            OR (status = 'running'
                                AND heartbeat_at < now() - make_interval(secs => $2))
                         ORDER BY created_at
                         FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING *""",
        claim,
        lease_seconds,
    )
    return _job(row) if row is not None else None


async def job_heartbeat(
    conn: asyncpg.Connection, job_id: uuid.UUID, claim: uuid.UUID, progress: float
) -> bool:
    status = await conn.execute(
        """UPDATE scheduling_jobs SET progress = $3, heartbeat_at = now()
            WHERE id = $1 AND claim = $2 AND status = 'running'""",
        job_id,
        claim,
        progress,
    )
    return bool(status != "UPDATE 0")


async def requeue_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, claim: uuid.UUID, error: str
) -> None:
    """Give a failed run's job back to the queue, its error kept (unless another
    worker has taken it over meanwhile)."""
    await conn.execute(
        """UPDATE scheduling_jobs SET status = 'queued', claim = NULL, error = $3, progress = 0
            WHERE id = $1 AND claim = $2 AND status = 'running'""",
        job_id,
        claim,
        error,
    )


async def fail_job(conn: asyncpg.Connection, job_id: uuid.UUID, error: str) -> None:
    await conn.execute(
        """UPDATE scheduling_jobs SET status = 'failed', error = $2, finished_at = now()
            WHERE id = $1""",
        job_id,
        error,
    )


async def finish_job(
    conn: asyncpg.Connection,
    *,
    job_id: uuid.UUID,
    schedule_id: uuid.UUID,
    result: JobResult,
) -> None:
    await conn.execute(
        """UPDATE scheduling_jobs SET status = 'succeeded', progress = 1, error = NULL,
                  finished_at = now(), schedule_id = $2, meetings = $3,
                  total_score = $4, upper_bound = $5, shortfall = $6, changes = $7,
                  proven = $8
            WHERE id = $1""",
        job_id,
        schedule_id,
        result.meetings,
        result.total_score,
        result.upper_bound,
        result.shortfall,
        result.changes.to_json(),
        result.proven,
    )
