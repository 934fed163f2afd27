"""Erasure's SQL: a person's fields cleared wherever this partner recorded them."""

from __future__ import annotations

import uuid
from typing import Any

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


# --- personal-data keys --------------------------------------------------------------


async def person_keys(
    conn: asyncpg.Connection, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, bytes]:
    """The subjects' live keys (a subject with none yet, or a destroyed one, is absent)."""
    rows = await conn.fetch(
        "SELECT subject_id, key FROM person_keys"
        " WHERE subject_id = ANY($1::uuid[]) AND key IS NOT NULL",
        subject_ids,
    )
    return {r["subject_id"]: r["key"] for r in rows}


async def store_person_keys(
    conn: asyncpg.Connection, kind: str, keys: dict[uuid.UUID, bytes]
) -> dict[uuid.UUID, bytes]:
    """Keep these new keys, except where a live key exists (that one wins); returns the
    keys that were stored."""
    rows = await conn.fetch(
        """INSERT INTO person_keys (subject_id, kind, key)
           SELECT s, $1, k FROM unnest($2::uuid[], $3::bytea[]) AS t(s, k)
           ON CONFLICT (subject_id) DO UPDATE
                  SET key = EXCLUDED.key, created_at = now(), destroyed_at = NULL
            WHERE person_keys.key IS NULL
           RETURNING subject_id, key""",
        kind,
        list(keys),
        list(keys.values()),
    )
    return {r["subject_id"]: r["key"] for r in rows}


async def destroy_person_keys(conn: asyncpg.Connection, subject_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE person_keys SET key = NULL, destroyed_at = now()"
        " WHERE subject_id = ANY($1::uuid[]) AND key IS NOT NULL",
        subject_ids,
    )
    # The outbox keeps every event for replay; the ones that carried these keys must
    # not be sent again.
    await conn.execute(
        "DELETE FROM outbox WHERE event_type = 'person.key_issued' AND key = ANY($1::text[])",
        [str(s) for s in subject_ids],
    )


async def idempotent_replies_naming(
    conn: asyncpg.Connection, partner_id: uuid.UUID, subject_ids: list[uuid.UUID]
) -> list[tuple[str, Any]]:
    """The stored answers (key, answer) of this partner's idempotent requests that
    name any of these subjects."""
    rows = await conn.fetch(
        "SELECT key, response FROM idempotency_keys WHERE partner_id = $1 AND response::text ~ $2",
        partner_id,
        "|".join(str(s) for s in subject_ids) or "(?!)",
    )
    return [(r["key"], r["response"]) for r in rows]


async def replace_idempotent_reply(
    conn: asyncpg.Connection, partner_id: uuid.UUID, key: str, response: object
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET response = $3 WHERE partner_id = $1 AND key = $2",
        partner_id,
        key,
        response,
    )
