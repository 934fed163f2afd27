"""Road shows' SQL. Road shows are the shared calendar every partner registers into."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.contracts import registration as c
from shared.pagination import next_cursor


@dataclass(frozen=True)
class OrganisedRoadshow:
    roadshow: c.Roadshow
    organiser_id: uuid.UUID


def _seq(row: asyncpg.Record) -> tuple[int]:
    return (row["seq"],)


def roadshow_of(row: asyncpg.Record) -> c.Roadshow:
    return c.Roadshow(
        roadshow_id=row["id"], **{k: row[k] for k in c.Roadshow.model_fields if k != "roadshow_id"}
    )


async def insert_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, partner_id: uuid.UUID, fields: dict[str, Any]
) -> c.Roadshow:
    row = await conn.fetchrow(
        """INSERT INTO roadshows (id, partner_id, name, venue, timezone, start_date, end_date,
                                  day_start, day_end, slot_minutes, tables,
                                  venues, travel, agenda, interpreters)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           RETURNING *""",
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
        *_layout_columns(fields),
    )
    return roadshow_of(row)


def _layout_columns(fields: dict[str, Any]) -> tuple[Any, ...]:
    """venues, travel, agenda, interpreters as JSON (contract models from the use case)."""
    return tuple(
        [x.model_dump(mode="json") for x in fields[k]]
        for k in ("venues", "travel", "agenda", "interpreters")
    )


async def get_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, *, for_update: bool = False
) -> OrganisedRoadshow | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM roadshows WHERE id = $1{lock}", roadshow_id)
    return None if row is None else OrganisedRoadshow(roadshow_of(row), row["partner_id"])


async def lock_roadshow_for_registration(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> bool:
    """FOR SHARE: the road show cannot vanish or change under a registration."""
    found = await conn.fetchval("SELECT true FROM roadshows WHERE id = $1 FOR SHARE", roadshow_id)
    return bool(found)


async def update_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, fields: dict[str, Any]
) -> c.Roadshow:
    row = await conn.fetchrow(
        """UPDATE roadshows SET name = $2, venue = $3, timezone = $4, start_date = $5,
                  end_date = $6, day_start = $7, day_end = $8, slot_minutes = $9, tables = $10,
                  venues = $11, travel = $12, agenda = $13, interpreters = $14,
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
        *_layout_columns(fields),
    )
    return roadshow_of(row)


async def list_roadshows(
    conn: asyncpg.Connection, *, after: int | None, limit: int
) -> tuple[list[c.Roadshow], str | None]:
    # Road shows are the shared calendar every partner registers into: all partners
    # read them; only the organising partner changes one.
    rows = await conn.fetch(
        "SELECT * FROM roadshows WHERE seq > $1 ORDER BY seq LIMIT $2", after or 0, limit + 1
    )
    return [roadshow_of(r) for r in rows[:limit]], next_cursor(rows, limit, _seq)
