"""Matching's SQL, and how its rows read as domain data and contracts. Every
function takes the caller's connection, so the service
decides the transaction."""

from __future__ import annotations

import dataclasses
import uuid
import zoneinfo
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.matching import domain, interest
from services.matching.schemas import MeetingOut
from shared.contracts import registration as reg
from shared.contracts.matching import Match, MatchComponent, Meeting
from shared.taxonomy import ParticipantKind

# --- rows as domain data and contracts --------------------------------------------


def enterprise_profile(row: asyncpg.Record) -> domain.EnterpriseProfile:
    return domain.EnterpriseProfile(
        enterprise_id=row["id"],
        sectors=tuple(row["sectors"]),
        stage=row["stage"],
        funding_amount=row["funding_amount"],
        funding_currency=row["funding_currency"],
        partnership_types=tuple(row["partnership_types"]),
        summary=row["summary"],
    )


def participant_profile(row: asyncpg.Record) -> domain.ParticipantProfile:
    return domain.ParticipantProfile(
        participant_id=row["id"],
        kind=ParticipantKind(row["kind"]),
        sectors=tuple(row["sectors"]),
        stages=tuple(row["stages"]),
        ticket_min=row["ticket_min"],
        ticket_max=row["ticket_max"],
        currency=row["currency"],
        offers=tuple(row["offers"]),
        focus=row["focus"],
    )


def party_of(row: asyncpg.Record) -> domain.Party:
    return domain.Party(
        party_id=row["id"],
        max_meetings=row["max_meetings"],
        unavailable=tuple((r.lower, r.upper) for r in row["unavailable"]),
    )


def grid_of(row: Any) -> domain.SlotGrid:
    """The slot grid of a road show row (or of a road show's fields)."""
    return domain.SlotGrid(**{f.name: row[f.name] for f in dataclasses.fields(domain.SlotGrid)})


def meeting_of(row: asyncpg.Record, status: str | None = None) -> MeetingOut:
    zone = zoneinfo.ZoneInfo(row["timezone"])
    return MeetingOut(
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
        status=status or row["status"],
        enterprise_partner_id=row["enterprise_partner_id"],
        participant_partner_id=row["participant_partner_id"],
        enterprise_name=row["enterprise_name"],
        participant_name=row["participant_name"],
        participant_kind=row["participant_kind"],
    )


def event_meeting(m: MeetingOut) -> Meeting:
    return Meeting.model_validate(m.model_dump(include=set(Meeting.model_fields)))


def stored_match(row: asyncpg.Record, status: str, version: int) -> Match:
    return Match(
        match_id=row["match_id"],
        roadshow_id=row["roadshow_id"],
        enterprise_id=row["enterprise_id"],
        participant_id=row["participant_id"],
        participant_kind=row["participant_kind"],
        score=row["score"],
        components=[MatchComponent.model_validate(c) for c in row["components"]],
        status=status,
        version=version,
        enterprise_partner_id=row["enterprise_partner_id"],
        participant_partner_id=row["participant_partner_id"],
    )


# --- locks ---------------------------------------------------------------------------


async def lock_roadshow_scoring(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> None:
    """Serialise every change to one road show's matches and meetings (until the
    transaction ends): two parties rescored at once would each miss the other."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('matching.roadshow:' || $1::uuid::text, 0))",
        roadshow_id,
    )


# --- road shows ----------------------------------------------------------------------


async def get_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM roadshows WHERE id = $1{lock}", roadshow_id)


async def upsert_roadshow(
    conn: asyncpg.Connection, organiser_id: uuid.UUID, r: reg.Roadshow
) -> None:
    await conn.execute(
        """INSERT INTO roadshows (id, organiser_id, name, venue, timezone, start_date, end_date,
                                  day_start, day_end, slot_minutes, tables, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, venue = EXCLUDED.venue,
               timezone = EXCLUDED.timezone, start_date = EXCLUDED.start_date,
               end_date = EXCLUDED.end_date, day_start = EXCLUDED.day_start,
               day_end = EXCLUDED.day_end, slot_minutes = EXCLUDED.slot_minutes,
               tables = EXCLUDED.tables, version = EXCLUDED.version, updated_at = now()""",
        r.roadshow_id,
        organiser_id,
        r.name,
        r.venue,
        r.timezone,
        r.start_date,
        r.end_date,
        r.day_start,
        r.day_end,
        r.slot_minutes,
        r.tables,
        r.version,
    )


async def set_current_schedule(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, schedule_id: uuid.UUID | None
) -> None:
    await conn.execute(
        "UPDATE roadshows SET schedule_id = $2 WHERE id = $1", roadshow_id, schedule_id
    )


# --- enterprises and participants ------------------------------------------------------


async def lock_party(
    conn: asyncpg.Connection, table: str, party_id: uuid.UUID
) -> asyncpg.Record | None:
    assert table in ("enterprises", "participants")
    return await conn.fetchrow(
        f"SELECT id, roadshow_id, status, version FROM {table} WHERE id = $1 FOR UPDATE", party_id
    )


async def upsert_enterprise(
    conn: asyncpg.Connection, partner_id: uuid.UUID | None, e: reg.Enterprise
) -> None:
    # The president is deliberately not stored: matching needs no one's name.
    await conn.execute(
        """INSERT INTO enterprises (id, roadshow_id, partner_id, name, sectors, stage,
               funding_amount, funding_currency, partnership_types, summary, status, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET partner_id = coalesce(EXCLUDED.partner_id,
               enterprises.partner_id), name = EXCLUDED.name, sectors = EXCLUDED.sectors,
               stage = EXCLUDED.stage, funding_amount = EXCLUDED.funding_amount,
               funding_currency = EXCLUDED.funding_currency,
               partnership_types = EXCLUDED.partnership_types, summary = EXCLUDED.summary,
               status = EXCLUDED.status, version = EXCLUDED.version, updated_at = now()""",
        e.enterprise_id,
        e.roadshow_id,
        partner_id,
        e.name,
        list(e.sectors),
        e.project.stage.value,
        e.project.funding_amount,
        e.project.funding_currency,
        [t.value for t in e.project.partnership_types],
        e.project.summary,
        e.status,
        e.version,
    )


async def upsert_participant(
    conn: asyncpg.Connection, partner_id: uuid.UUID | None, p: reg.Participant
) -> None:
    # The contact person is deliberately not stored.
    await conn.execute(
        """INSERT INTO participants (id, roadshow_id, partner_id, kind, name, sectors, focus,
               stages, ticket_min, ticket_max, currency, offers, max_meetings, status, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (id) DO UPDATE SET partner_id = coalesce(EXCLUDED.partner_id,
               participants.partner_id), kind = EXCLUDED.kind, name = EXCLUDED.name,
               sectors = EXCLUDED.sectors, focus = EXCLUDED.focus, stages = EXCLUDED.stages,
               ticket_min = EXCLUDED.ticket_min, ticket_max = EXCLUDED.ticket_max,
               currency = EXCLUDED.currency, offers = EXCLUDED.offers,
               max_meetings = EXCLUDED.max_meetings, status = EXCLUDED.status,
               version = EXCLUDED.version, updated_at = now()""",
        p.participant_id,
        p.roadshow_id,
        partner_id,
        p.kind.value,
        p.name,
        list(p.sectors),
        p.focus,
        [s.value for s in p.stages],
        p.ticket_min,
        p.ticket_max,
        p.currency,
        [o.value for o in p.offers],
        p.max_meetings,
        p.status,
        p.version,
    )


async def mark_withdrawn(conn: asyncpg.Connection, table: str, w: reg.Withdrawn) -> None:
    """Withdraw a party, or leave a tombstone when it was never seen."""
    assert table in ("enterprises", "participants")
    await conn.execute(
        f"""INSERT INTO {table} (id, roadshow_id, status, version) VALUES ($1, $2, 'withdrawn', $3)
            ON CONFLICT (id) DO UPDATE SET status = 'withdrawn', version = EXCLUDED.version,
                updated_at = now()""",
        w.id,
        w.roadshow_id,
        w.version,
    )


async def active_enterprises(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, only: uuid.UUID | None = None
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM enterprises WHERE roadshow_id = $1 AND status = 'active'"
            " AND ($2::uuid IS NULL OR id = $2) ORDER BY id",
            roadshow_id,
            only,
        )
    )


async def active_participants(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, only: uuid.UUID | None = None
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM participants WHERE roadshow_id = $1 AND status = 'active'"
            " AND ($2::uuid IS NULL OR id = $2) ORDER BY id",
            roadshow_id,
            only,
        )
    )


async def party_access(
    conn: asyncpg.Connection, table: str, party_id: uuid.UUID
) -> asyncpg.Record | None:
    """The party's registering partner and its road show's organiser."""
    assert table in ("enterprises", "participants")
    return await conn.fetchrow(
        f"""SELECT x.id, x.roadshow_id, x.partner_id, r.organiser_id
              FROM {table} x LEFT JOIN roadshows r ON r.id = x.roadshow_id
             WHERE x.id = $1 AND x.partner_id IS NOT NULL""",
        party_id,
    )


# --- matches ---------------------------------------------------------------------------


async def matches_of(
    conn: asyncpg.Connection, side: str, party_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Every match row of one party (any status), locked for the rescoring."""
    column = _SIDE_COLUMN[side]
    return list(
        await conn.fetch(
            f"""SELECT m.*, e.partner_id AS enterprise_partner_id,
                       p.partner_id AS participant_partner_id
                  FROM matches m
                  LEFT JOIN enterprises e ON e.id = m.enterprise_id
                  LEFT JOIN participants p ON p.id = m.participant_id
                 WHERE {column} = $1 FOR UPDATE OF m""",
            party_id,
        )
    )


async def write_matches(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    await conn.executemany(
        """INSERT INTO matches (match_id, roadshow_id, enterprise_id, participant_id,
               participant_kind, score, components, status, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (match_id) DO UPDATE SET score = EXCLUDED.score,
               components = EXCLUDED.components, status = EXCLUDED.status,
               participant_kind = EXCLUDED.participant_kind, version = EXCLUDED.version,
               updated_at = now()""",
        [
            (
                r["match_id"],
                r["roadshow_id"],
                r["enterprise_id"],
                r["participant_id"],
                r["participant_kind"],
                r["score"],
                r["components"],
                r["status"],
                r["version"],
            )
            for r in rows
        ],
    )


_SIDE_COLUMN = {
    "enterprise": "m.enterprise_id",
    "participant": "m.participant_id",
    "roadshow": "m.roadshow_id",
}


async def list_matches(
    conn: asyncpg.Connection,
    side: str,
    owner_id: uuid.UUID,
    *,
    kind: str | None,
    min_score: float | None,
    after: tuple[float, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Proposed matches, best first, after a (score, match_id) keyset cursor."""
    column = _SIDE_COLUMN[side]
    return list(
        await conn.fetch(
            f"""SELECT m.*, e.name AS enterprise_name, p.name AS participant_name,
                       e.partner_id AS enterprise_partner_id,
                       p.partner_id AS participant_partner_id
                  FROM matches m
                  JOIN enterprises e ON e.id = m.enterprise_id
                  JOIN participants p ON p.id = m.participant_id
                 WHERE {column} = $1 AND m.status = 'proposed'
                   AND ($2::text IS NULL OR m.participant_kind = $2)
                   AND ($3::float8 IS NULL OR m.score >= $3)
                   AND ($4::float8 IS NULL OR (m.score, m.match_id) < ($4, $5::uuid))
                 ORDER BY m.score DESC, m.match_id DESC
                 LIMIT $6""",
            owner_id,
            kind,
            min_score,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
    )


async def proposed_matches_of_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT match_id, enterprise_id, participant_id, score, status,
                      enterprise_interest, enterprise_interest_at,
                      participant_interest, participant_interest_at
                 FROM matches WHERE roadshow_id = $1 AND status = 'proposed' ORDER BY match_id""",
            roadshow_id,
        )
    )


async def still_proposed(conn: asyncpg.Connection, match_ids: list[uuid.UUID]) -> set[uuid.UUID]:
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
                          p.partner_id AS participant_partner_id
                     FROM meetings g
                     JOIN roadshows r ON r.id = g.roadshow_id
                     JOIN enterprises e ON e.id = g.enterprise_id
                     JOIN participants p ON p.id = g.participant_id"""


async def scheduled_meetings(
    conn: asyncpg.Connection,
    roadshow_id: uuid.UUID,
    *,
    enterprise_id: uuid.UUID | None = None,
    participant_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> list[asyncpg.Record]:
    lock = " FOR UPDATE OF g" if for_update else ""
    return list(
        await conn.fetch(
            f"""{_MEETING_VIEW}
                WHERE g.roadshow_id = $1 AND g.status = 'scheduled'
                  AND ($2::uuid IS NULL OR g.enterprise_id = $2)
                  AND ($3::uuid IS NULL OR g.participant_id = $3)
                ORDER BY g.slot, g.table_no{lock}""",
            roadshow_id,
            enterprise_id,
            participant_id,
        )
    )


async def scheduled_meetings_of_matches(
    conn: asyncpg.Connection, match_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"""{_MEETING_VIEW}
                WHERE g.match_id = ANY($1::uuid[]) AND g.status = 'scheduled'
                ORDER BY g.slot FOR UPDATE OF g""",
            match_ids,
        )
    )


async def cancel_meetings(conn: asyncpg.Connection, meeting_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE meetings SET status = 'cancelled', updated_at = now() WHERE id = ANY($1::uuid[])",
        meeting_ids,
    )


async def move_meetings(
    conn: asyncpg.Connection, meeting_ids: list[uuid.UUID], schedule_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE meetings SET schedule_id = $2, updated_at = now() WHERE id = ANY($1::uuid[])",
        meeting_ids,
        schedule_id,
    )


async def insert_meetings(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    await conn.executemany(
        """INSERT INTO meetings (id, schedule_id, roadshow_id, match_id, enterprise_id,
               participant_id, slot, table_no, starts_at, ends_at, score, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'scheduled')""",
        [
            (
                r["id"],
                r["schedule_id"],
                r["roadshow_id"],
                r["match_id"],
                r["enterprise_id"],
                r["participant_id"],
                r["slot"],
                r["table_no"],
                r["starts_at"],
                r["ends_at"],
                r["score"],
            )
            for r in rows
        ],
    )


async def meetings_by_id(
    conn: asyncpg.Connection, meeting_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"{_MEETING_VIEW} WHERE g.id = ANY($1::uuid[]) ORDER BY g.slot, g.table_no",
            meeting_ids,
        )
    )


async def insert_schedule(
    conn: asyncpg.Connection,
    schedule_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    job_id: uuid.UUID,
    roadshow_version: int,
    meetings: int,
    total_score: float,
    upper_bound: float | None,
) -> None:
    await conn.execute(
        """INSERT INTO schedules (id, roadshow_id, job_id, roadshow_version, meetings,
               total_score, upper_bound) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        schedule_id,
        roadshow_id,
        job_id,
        roadshow_version,
        meetings,
        total_score,
        upper_bound,
    )


async def get_schedule(conn: asyncpg.Connection, schedule_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM schedules WHERE id = $1", schedule_id)


# --- scheduling jobs ----------------------------------------------------------------------


async def active_job(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM scheduling_jobs WHERE roadshow_id = $1 AND status IN ('queued', 'running')",
        roadshow_id,
    )


async def insert_job(
    conn: asyncpg.Connection,
    job_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    partner_id: uuid.UUID,
    correlation_id: str,
    fair_minimum: int,
    enterprise_max_meetings: int | None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO scheduling_jobs (id, roadshow_id, partner_id, correlation_id, status,
               fair_minimum, enterprise_max_meetings)
           VALUES ($1, $2, $3, $4, 'queued', $5, $6) RETURNING *""",
        job_id,
        roadshow_id,
        partner_id,
        correlation_id,
        fair_minimum,
        enterprise_max_meetings,
    )
    assert row is not None
    return row


async def get_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM scheduling_jobs WHERE id = $1{lock}", job_id)


async def claim_job(
    conn: asyncpg.Connection, claim: uuid.UUID, lease_seconds: float
) -> asyncpg.Record | None:
    """Take the oldest queued job, or a running one whose worker went silent.
    SKIP LOCKED lets several workers claim side by side without waiting."""
    return await conn.fetchrow(
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


async def fail_job(conn: asyncpg.Connection, job_id: uuid.UUID, error: str) -> None:
    await conn.execute(
        """UPDATE scheduling_jobs SET status = 'failed', error = $2, finished_at = now()
            WHERE id = $1""",
        job_id,
        error,
    )


async def finish_job(
    conn: asyncpg.Connection,
    job_id: uuid.UUID,
    schedule_id: uuid.UUID,
    meetings: int,
    total_score: float,
    upper_bound: float | None,
    shortfall: int,
    at: datetime | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """UPDATE scheduling_jobs SET status = 'succeeded', progress = 1,
                  finished_at = coalesce($7, now()), schedule_id = $2, meetings = $3,
                  total_score = $4, upper_bound = $5, shortfall = $6, changes = $8
            WHERE id = $1""",
        job_id,
        schedule_id,
        meetings,
        total_score,
        upper_bound,
        shortfall,
        at,
        changes,
    )


# --- interest, settings, attendance ---------------------------------------------------------


def pair_interest(row: Any) -> interest.PairInterest:
    return interest.PairInterest(
        enterprise=row["enterprise_interest"],
        participant=row["participant_interest"],
        enterprise_at=row["enterprise_interest_at"],
        participant_at=row["participant_interest_at"],
    )


async def match_for_interest(
    conn: asyncpg.Connection, match_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    """A match with the partners of both sides and its road show's settings
    (NULL settings when the road show is not known yet)."""
    lock = " FOR UPDATE OF m" if for_update else ""
    return await conn.fetchrow(
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


async def set_interest(
    conn: asyncpg.Connection, match_id: uuid.UUID, side: str, value: str, at: datetime
) -> None:
    assert side in ("enterprise", "participant")
    await conn.execute(
        f"""UPDATE matches SET {side}_interest = $2, {side}_interest_at = $3, updated_at = now()
             WHERE match_id = $1""",
        match_id,
        value,
        at,
    )


async def awaiting_answer(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Proposed matches where exactly one side answered (candidates for expiry),
    with their road show's time to live, locked; others' locks are skipped."""
    return list(
        await conn.fetch(
            """SELECT m.*, coalesce(r.interest_ttl_hours, 72) AS interest_ttl_hours
                 FROM matches m LEFT JOIN roadshows r ON r.id = m.roadshow_id
                WHERE m.status = 'proposed'
                  AND (m.enterprise_interest IS NULL) <> (m.participant_interest IS NULL)
                FOR UPDATE OF m SKIP LOCKED"""
        )
    )


async def set_matching_settings(
    conn: asyncpg.Connection,
    roadshow_id: uuid.UUID,
    mode: str,
    ttl_hours: int,
    closes_at: datetime | None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """UPDATE roadshows SET matching_mode = $2, interest_ttl_hours = $3,
                  scheduling_closes_at = $4
            WHERE id = $1 RETURNING *""",
        roadshow_id,
        mode,
        ttl_hours,
        closes_at,
    )
    assert row is not None
    return row


async def meeting_for_attendance(
    conn: asyncpg.Connection, meeting_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT g.*, r.organiser_id FROM meetings g JOIN roadshows r ON r.id = g.roadshow_id
            WHERE g.id = $1 FOR UPDATE OF g""",
        meeting_id,
    )


async def set_attendance(
    conn: asyncpg.Connection, meeting_id: uuid.UUID, attendance: str, at: datetime
) -> None:
    await conn.execute(
        "UPDATE meetings SET attendance = $2, attendance_at = $3, updated_at = now() WHERE id = $1",
        meeting_id,
        attendance,
        at,
    )


async def figures_input(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """The road show's proposed matches' interest and its scheduled meetings'
    attendance."""
    matches = await conn.fetch(
        """SELECT enterprise_interest, enterprise_interest_at, participant_interest,
                  participant_interest_at
             FROM matches WHERE roadshow_id = $1 AND status = 'proposed'""",
        roadshow_id,
    )
    meetings = await conn.fetch(
        "SELECT attendance FROM meetings WHERE roadshow_id = $1 AND status = 'scheduled'",
        roadshow_id,
    )
    return list(matches), list(meetings)


async def move_meeting_rows(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Give meetings new slots and tables. The unique indexes are checked row by
    row, so two meetings swapping places would collide: park them first on
    distinct negative slots, then set the new places."""
    if not rows:
        return
    await conn.executemany(
        "UPDATE meetings SET slot = $2 WHERE id = $1",
        [(r["id"], -1 - i) for i, r in enumerate(rows)],
    )
    await conn.executemany(
        """UPDATE meetings SET slot = $2, table_no = $3, starts_at = $4, ends_at = $5,
                  schedule_id = $6, updated_at = now() WHERE id = $1""",
        [
            (r["id"], r["slot"], r["table_no"], r["starts_at"], r["ends_at"], r["schedule_id"])
            for r in rows
        ],
    )
