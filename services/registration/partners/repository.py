"""Partners' SQL (their keys live in the shared `partner_keys` table)."""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg


async def insert_partner(conn: asyncpg.Connection, partner_id: uuid.UUID, name: str) -> None:
    await conn.execute("INSERT INTO partners (id, name) VALUES ($1, $2)", partner_id, name)


async def partner_exists(conn: asyncpg.Connection, partner_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM partners WHERE id = $1", partner_id))


async def owned_row(
    conn: asyncpg.Connection,
    table: Literal["delegations", "enterprises", "participants"],
    partner_id: uuid.UUID,
    row_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    """A row of `table` if this partner registered it (a foreign id reads as missing)."""
    lock = " FOR UPDATE" if for_update else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT * FROM {table} WHERE id = $1 AND partner_id = $2{lock}", row_id, partner_id
    )
    return row
