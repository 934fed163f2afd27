"""Delegations' and their enterprises' SQL; reads are scoped to the calling partner."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.registration.model import DelegationState
from services.registration.partners.repository import owned_row
from shared.contracts import registration as c
from shared.pagination import next_cursor


def seq_of(row: asyncpg.Record) -> tuple[int]:
    return (row["seq"],)


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
            languages=row["president_languages"],
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
        availability=row["availability"],
    )


def availability_json(value: Any) -> Any:
    """An availability (command or contract, as dumped) as its stored JSON."""
    return c.Availability.model_validate(value or {}).model_dump(mode="json")


def _delegation(row: asyncpg.Record) -> DelegationState:
    return DelegationState(
        delegation_id=row["id"],
        roadshow_id=row["roadshow_id"],
        name=row["name"],
        origin_country=row["origin_country"],
        status=row["status"],
        version=row["version"],
    )


async def insert_delegation(
    conn: asyncpg.Connection,
    *,
    delegation_id: uuid.UUID,
    partner_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    name: str,
    origin_country: str,
) -> DelegationState:
    row = await conn.fetchrow(
        "INSERT INTO delegations (id, partner_id, roadshow_id, name, origin_country)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING *",
        delegation_id,
        partner_id,
        roadshow_id,
        name,
        origin_country,
    )
    return _delegation(row)


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
               partnership_types, president_languages, availability)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18, $19)""",
        [
            (eid, partner_id, delegation_id, roadshow_id, *_enterprise_columns(e))
            for eid, e in enterprises
        ],
    )


async def get_delegation(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    delegation_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> DelegationState | None:
    row = await owned_row(conn, "delegations", partner_id, delegation_id, for_update=for_update)
    return None if row is None else _delegation(row)


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
) -> DelegationState:
    row = await conn.fetchrow(
        "UPDATE delegations SET name = $2, origin_country = $3, version = version + 1,"
        " updated_at = now() WHERE id = $1 RETURNING *",
        delegation_id,
        name,
        origin_country,
    )
    return _delegation(row)


async def withdraw_delegation(
    conn: asyncpg.Connection, delegation_id: uuid.UUID
) -> DelegationState:
    row = await conn.fetchrow(
        "UPDATE delegations SET status = 'withdrawn', version = version + 1, updated_at = now()"
        " WHERE id = $1 RETURNING *",
        delegation_id,
    )
    return _delegation(row)


async def list_delegations(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    *,
    roadshow_id: uuid.UUID | None,
    status: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[DelegationState], str | None]:
    rows = await conn.fetch(
        """SELECT * FROM delegations
            WHERE partner_id = $1 AND seq > $2
              AND ($3::uuid IS NULL OR roadshow_id = $3)
              AND ($4::text IS NULL OR status = $4)
            ORDER BY seq LIMIT $5""",
        partner_id,
        after or 0,
        roadshow_id,
        status,
        limit + 1,
    )
    return [_delegation(r) for r in rows[:limit]], next_cursor(rows, limit, seq_of)


async def get_enterprise(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    enterprise_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> c.Enterprise | None:
    row = await owned_row(conn, "enterprises", partner_id, enterprise_id, for_update=for_update)
    return None if row is None else enterprise_of(row)


async def update_enterprise(
    conn: asyncpg.Connection, enterprise_id: uuid.UUID, e: dict[str, Any]
) -> c.Enterprise:
    row = await conn.fetchrow(
        """UPDATE enterprises SET name = $2, country = $3, sectors = $4,
                  president_name = $5, president_title = $6, president_email = $7,
                  president_phone = $8, project_title = $9, project_summary = $10, stage = $11,
                  funding_amount = $12, funding_currency = $13, partnership_types = $14,
                  president_languages = $15, availability = $16, version = version + 1,
                  updated_at = now()
            WHERE id = $1 RETURNING *""",
        enterprise_id,
        *_enterprise_columns(e),
    )
    return enterprise_of(row)


def _enterprise_columns(e: dict[str, Any]) -> tuple[Any, ...]:
    """An enterprise's fields in the column order of its INSERT and UPDATE, from `name`."""
    president, project = e["president"], e["project"]
    return (
        e["name"],
        e["country"],
        list(e["sectors"]),
        president["name"],
        president.get("title"),
        president["email"],
        president.get("phone"),
        project["title"],
        project["summary"],
        str(project["stage"]),
        project["funding_amount"],
        project["funding_currency"],
        [str(t) for t in project["partnership_types"]],
        list(president.get("languages") or ()),
        availability_json(e.get("availability")),
    )


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
    after: int | None,
    limit: int,
) -> tuple[list[c.Enterprise], str | None]:
    rows = await conn.fetch(
        """SELECT * FROM enterprises
            WHERE partner_id = $1 AND seq > $2
              AND ($3::uuid IS NULL OR roadshow_id = $3)
              AND ($4::uuid IS NULL OR delegation_id = $4)
              AND ($5::text IS NULL OR status = $5)
              AND ($6::text[] IS NULL OR sectors && $6)
            ORDER BY seq LIMIT $7""",
        partner_id,
        after or 0,
        roadshow_id,
        delegation_id,
        status,
        sectors,
        limit + 1,
    )
    return [enterprise_of(r) for r in rows[:limit]], next_cursor(rows, limit, seq_of)
