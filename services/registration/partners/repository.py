"""Partners' SQL (their keys live in the shared `partner_keys` table)."""

from __future__ import annotations

import uuid

import asyncpg


async def insert_partner(conn: asyncpg.Connection, partner_id: uuid.UUID, name: str) -> None:
    await conn.execute("INSERT INTO partners (id, name) VALUES ($1, $2)", partner_id, name)


async def partner_exists(conn: asyncpg.Connection, partner_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM partners WHERE id = $1", partner_id))
