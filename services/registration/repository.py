"""Registration's SQL. Every function takes the caller's connection, so the
service decides the transaction; reads are scoped to the calling partner."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.contracts import registration as c


def roadshow_of(row: asyncpg.Record) -> c.Roadshow:
    return c.Roadshow(
        roadshow_id=row["id"], **{k: row[k] for k in c.Roadshow.model_fields if k != "roadshow_id"}
    )


def enterprise_of(row: asyncpg.Record) -> c.Enterprise:
    return c.Enterprise(
        enterprise_id=row["id"],
        delegation_id=row["delegation_id"],
        roadshow_id=row["roadshow_id"],
        name=row["name"],
        country=row["country"],
        sectors=row["sectors"],
        president=c.Person(
            name=row["president_name"],
            title=row["president_title"],
            email=row["president_email"],
            phone=row["president_phone"],
        ),
        project=c.Project(
            title=row["project_title"],
            summary=row["project_summary"],
            stage=row["stage"],
            funding_amount=row["funding_amount"],
            funding_currency=row["funding_currency"],
            partnership_types=row["partnership_types"],
        ),
        status=row["status"],
        version=row["version"],
    )


def participant_of(row: asyncpg.Record) -> c.Participant:
    return c.Participant(
        participant_id=row["id"],
        contact=c.Person(
            name=row["contact_name"],
            title=row["contact_title"],
            email=row["contact_email"],
            phone=row["contact_phone"],
        ),
        **{k: row[k] for k in c.Participant.model_fields if k not in ("participant_id", "contact")},
    )


def delegation_of(row: asyncpg.Record, enterprise_ids: list[uuid.UUID]) -> c.Delegation:
    return c.Delegation(
        delegation_id=row["id"],
        roadshow_id=row["roadshow_id"],
        name=row["name"],
        origin_country=row["origin_country"],
        enterprise_ids=enterprise_ids,
        status=row["status"],
        version=row["version"],
    )


# --- partners -----------------------------------------------------------------


async def insert_partner(conn: asyncpg.Connection, partner_id: uuid.UUID, name: str) -> None:
    await conn.execute("INSERT INTO partners (id, name) VALUES ($1, $2)", partner_id, name)


async def partner_exists(conn: asyncpg.Connection, partner_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM partners WHERE id = $1", partner_id))


# --- road shows ---------------------------------------------------------------


async def insert_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, partner_id: uuid.UUID, fields: dict[str, Any]
) -> c.Roadshow:
    row = await conn.fetchrow(
        """INSERT INTO roadshows (id, partner_id, name, venue, timezone, start_date, end_date,
                                  day_start, day_end, slot_minutes, tables)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *""",
        roadshow_id,
        partner_id,
        fields["name"],
        fields["venue"],
        fields["timezone"],
        fields["start_date"],
        fields["end_date"],
        fields["day_start"],
        fields["day_end"],
        fields["slot_minutes"],
        fields["tables"],
    )
    return roadshow_of(row)


async def get_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM roadshows WHERE id = $1{lock}", roadshow_id)


async def update_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, fields: dict[str, Any]
) -> c.Roadshow:
    row = await conn.fetchrow(
        """UPDATE roadshows SET name = $2, venue = $3, timezone = $4, start_date = $5,
                  end_date = $6, day_start = $7, day_end = $8, slot_minutes = $9, tables = $10,
                  version = version + 1, updated_at = now()
            WHERE id = $1 RETURNING *""",
        roadshow_id,
        fields["name"],
        fields["venue"],
        fields["timezone"],
        fields["start_date"],
        fields["end_date"],
        fields["day_start"],
        fields["day_end"],
        fields["slot_minutes"],
        fields["tables"],
    )
    return roadshow_of(row)


async def list_roadshows(
    conn: asyncpg.Connection, *, cursor: int | None, limit: int
) -> tuple[list[c.Roadshow], int | None]:
    # Road shows are the shared calendar every partner registers into: all partners
    # read them; only the organising partner changes one.
    rows = await conn.fetch(
        "SELECT * FROM roadshows WHERE seq > $1 ORDER BY seq LIMIT $2", cursor or 0, limit + 1
    )
    return [roadshow_of(r) for r in rows[:limit]], _next(rows, limit)


# --- delegations and enterprises -----------------------------------------------


async def insert_delegation(
    conn: asyncpg.Connection,
    delegation_id: uuid.UUID,
    partner_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    name: str,
    origin_country: str,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO delegations (id, partner_id, roadshow_id, name, origin_country)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING *",
        delegation_id,
        partner_id,
        roadshow_id,
        name,
        origin_country,
    )


async def insert_enterprises(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    delegation_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    enterprises: list[tuple[uuid.UUID, dict[str, Any]]],
) -> None:
    await conn.executemany(
        """INSERT INTO enterprises (id, partner_id, delegation_id, roadshow_id, name, country,
               sectors, president_name, president_title, president_email, president_phone,
               project_title, project_summary, stage, funding_amount, funding_currency,
               partnership_types)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)""",
        [
            (
                eid,
                partner_id,
                delegation_id,
                roadshow_id,
                e["name"],
                e["country"],
                list(e["sectors"]),
                e["president"]["name"],
                e["president"].get("title"),
                e["president"]["email"],
                e["president"].get("phone"),
                e["project"]["title"],
                e["project"]["summary"],
                str(e["project"]["stage"]),
                e["project"]["funding_amount"],
                e["project"]["funding_currency"],
                [str(t) for t in e["project"]["partnership_types"]],
            )
            for eid, e in enterprises
        ],
    )


async def get_delegation(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    delegation_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM delegations WHERE id = $1 AND partner_id = $2{lock}",
        delegation_id,
        partner_id,
    )


async def enterprises_of_delegation(
    conn: asyncpg.Connection, delegation_id: uuid.UUID, *, for_update: bool = False
) -> list[c.Enterprise]:
    lock = " FOR UPDATE" if for_update else ""
    rows = await conn.fetch(
        f"SELECT * FROM enterprises WHERE delegation_id = $1 ORDER BY seq{lock}", delegation_id
    )
    return [enterprise_of(r) for r in rows]


async def enterprise_ids_of_delegations(
    conn: asyncpg.Connection, delegation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await conn.fetch(
        "SELECT delegation_id, array_agg(id ORDER BY seq) AS ids FROM enterprises"
        " WHERE delegation_id = ANY($1::uuid[]) GROUP BY delegation_id",
        delegation_ids,
    )
    return {r["delegation_id"]: list(r["ids"]) for r in rows}


async def update_delegation(
    conn: asyncpg.Connection, delegation_id: uuid.UUID, name: str, origin_country: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE delegations SET name = $2, origin_country = $3, version = version + 1,"
        " updated_at = now() WHERE id = $1 RETURNING *",
        delegation_id,
        name,
        origin_country,
    )


async def withdraw_delegation(conn: asyncpg.Connection, delegation_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE delegations SET status = 'withdrawn', version = version + 1, updated_at = now()"
        " WHERE id = $1 RETURNING *",
        delegation_id,
    )


async def list_delegations(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    *,
    roadshow_id: uuid.UUID | None,
    status: str | None,
    cursor: int | None,
    limit: int,
) -> tuple[list[asyncpg.Record], int | None]:
    rows = await conn.fetch(
        """SELECT * FROM delegations
            WHERE partner_id = $1 AND seq > $2
              AND ($3::uuid IS NULL OR roadshow_id = $3)
              AND ($4::text IS NULL OR status = $4)
            ORDER BY seq LIMIT $5""",
        partner_id,
        cursor or 0,
        roadshow_id,
        status,
        limit + 1,
    )
    return list(rows[:limit]), _next(rows, limit)


async def get_enterprise(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    enterprise_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM enterprises WHERE id = $1 AND partner_id = $2{lock}",
        enterprise_id,
        partner_id,
    )


async def update_enterprise(
    conn: asyncpg.Connection, enterprise_id: uuid.UUID, e: dict[str, Any]
) -> c.Enterprise:
    row = await conn.fetchrow(
        """UPDATE enterprises SET name = $2, country = $3, sectors = $4,
                  president_name = $5, president_title = $6, president_email = $7,
                  president_phone = $8, project_title = $9, project_summary = $10, stage = $11,
                  funding_amount = $12, funding_currency = $13, partnership_types = $14,
                  version = version + 1, updated_at = now()
            WHERE id = $1 RETURNING *""",
        enterprise_id,
        e["name"],
        e["country"],
        list(e["sectors"]),
        e["president"]["name"],
        e["president"].get("title"),
        e["president"]["email"],
        e["president"].get("phone"),
        e["project"]["title"],
        e["project"]["summary"],
        str(e["project"]["stage"]),
        e["project"]["funding_amount"],
        e["project"]["funding_currency"],
        [str(t) for t in e["project"]["partnership_types"]],
    )
    return enterprise_of(row)


async def withdraw_enterprises(
    conn: asyncpg.Connection, enterprise_ids: list[uuid.UUID]
) -> list[c.Enterprise]:
    rows = await conn.fetch(
        "UPDATE enterprises SET status = 'withdrawn', version = version + 1, updated_at = now()"
        " WHERE id = ANY($1::uuid[]) AND status = 'active' RETURNING *",
        enterprise_ids,
    )
    return [enterprise_of(r) for r in rows]


async def list_enterprises(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    *,
    roadshow_id: uuid.UUID | None,
    delegation_id: uuid.UUID | None,
    status: str | None,
    sectors: list[str] | None,
    cursor: int | None,
    limit: int,
) -> tuple[list[c.Enterprise], int | None]:
    rows = await conn.fetch(
        """SELECT * FROM enterprises
            WHERE partner_id = $1 AND seq > $2
              AND ($3::uuid IS NULL OR roadshow_id = $3)
              AND ($4::uuid IS NULL OR delegation_id = $4)
              AND ($5::text IS NULL OR status = $5)
              AND ($6::text[] IS NULL OR sectors && $6)
            ORDER BY seq LIMIT $7""",
        partner_id,
        cursor or 0,
        roadshow_id,
        delegation_id,
        status,
        sectors,
        limit + 1,
    )
    return [enterprise_of(r) for r in rows[:limit]], _next(rows, limit)


# --- participants ---------------------------------------------------------------


async def upsert_participant(
    conn: asyncpg.Connection, participant_id: uuid.UUID, partner_id: uuid.UUID, p: dict[str, Any]
) -> c.Participant:
    """Insert a new participant, or (same id) write its new state and bump the version."""
    row = await conn.fetchrow(
        """INSERT INTO participants (id, partner_id, roadshow_id, kind, name, sectors, focus,
               stages, ticket_min, ticket_max, currency, offers, max_meetings,
               contact_name, contact_title, contact_email, contact_phone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, sectors = EXCLUDED.sectors,
               focus = EXCLUDED.focus, stages = EXCLUDED.stages,
               ticket_min = EXCLUDED.ticket_min, ticket_max = EXCLUDED.ticket_max,
               currency = EXCLUDED.currency, offers = EXCLUDED.offers,
               max_meetings = EXCLUDED.max_meetings, contact_name = EXCLUDED.contact_name,
               contact_title = EXCLUDED.contact_title, contact_email = EXCLUDED.contact_email,
               contact_phone = EXCLUDED.contact_phone,
               version = participants.version + 1, updated_at = now()
           RETURNING *""",
        participant_id,
        partner_id,
        p["roadshow_id"],
        str(p["kind"]),
        p["name"],
        list(p["sectors"]),
        p["focus"],
        [str(s) for s in p["stages"]],
        p["ticket_min"],
        p["ticket_max"],
        p["currency"],
        [str(o) for o in p["offers"]],
        p["max_meetings"],
        p["contact"]["name"],
        p["contact"].get("title"),
        p["contact"]["email"],
        p["contact"].get("phone"),
    )
    return participant_of(row)


async def get_participant(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    participant_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM participants WHERE id = $1 AND partner_id = $2{lock}",
        participant_id,
        partner_id,
    )


async def withdraw_participant(
    conn: asyncpg.Connection, participant_id: uuid.UUID
) -> c.Participant:
    row = await conn.fetchrow(
        "UPDATE participants SET status = 'withdrawn', version = version + 1, updated_at = now()"
        " WHERE id = $1 RETURNING *",
        participant_id,
    )
    return participant_of(row)


async def list_participants(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    *,
    roadshow_id: uuid.UUID | None,
    kind: str | None,
    status: str | None,
    sectors: list[str] | None,
    cursor: int | None,
    limit: int,
) -> tuple[list[c.Participant], int | None]:
    rows = await conn.fetch(
        """SELECT * FROM participants
            WHERE partner_id = $1 AND seq > $2
              AND ($3::uuid IS NULL OR roadshow_id = $3)
              AND ($4::text IS NULL OR kind = $4)
              AND ($5::text IS NULL OR status = $5)
              AND ($6::text[] IS NULL OR sectors && $6)
            ORDER BY seq LIMIT $7""",
        partner_id,
        cursor or 0,
        roadshow_id,
        kind,
        status,
        sectors,
        limit + 1,
    )
    return [participant_of(r) for r in rows[:limit]], _next(rows, limit)


# --- erasure ---------------------------------------------------------------------


async def erase_presidents(
    conn: asyncpg.Connection, partner_id: uuid.UUID, email: str
) -> list[c.Enterprise]:
    rows = await conn.fetch(
        """UPDATE enterprises SET president_name = NULL, president_title = NULL,
                  president_email = NULL, president_phone = NULL,
                  version = version + 1, updated_at = now()
            WHERE partner_id = $1 AND lower(president_email) = lower($2) RETURNING *""",
        partner_id,
        email,
    )
    return [enterprise_of(r) for r in rows]


async def erase_contacts(
    conn: asyncpg.Connection, partner_id: uuid.UUID, email: str
) -> list[c.Participant]:
    rows = await conn.fetch(
        """UPDATE participants SET contact_name = NULL, contact_title = NULL,
                  contact_email = NULL, contact_phone = NULL,
                  version = version + 1, updated_at = now()
            WHERE partner_id = $1 AND lower(contact_email) = lower($2) RETURNING *""",
        partner_id,
        email,
    )
    return [participant_of(r) for r in rows]


async def insert_erasure(
    conn: asyncpg.Connection, erasure_id: uuid.UUID, partner_id: uuid.UUID, subjects: int
) -> None:
    await conn.execute(
        "INSERT INTO erasures (id, partner_id, subjects) VALUES ($1, $2, $3)",
        erasure_id,
        partner_id,
        subjects,
    )


def _next(rows: list[asyncpg.Record], limit: int) -> int | None:
    return rows[limit - 1]["seq"] if len(rows) > limit else None
