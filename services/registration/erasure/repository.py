"""Erasure's SQL: a person's fields cleared wherever this partner recorded them."""

from __future__ import annotations

import uuid

import asyncpg

from services.registration.delegations.repository import enterprise_of
from services.registration.participants.repository import participant_of
from shared.contracts import registration as c


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
