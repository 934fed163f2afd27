"""Participants' SQL; reads are scoped to the calling partner."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.registration.delegations.repository import availability_json, seq_of
from services.registration.partners.repository import owned_row
from shared.contracts import registration as c
from shared.pagination import next_cursor


def participant_of(row: asyncpg.Record) -> c.Participant:
    return c.Participant(
        participant_id=row["id"],
        contact=c.Person(
            name=row["contact_name"],
            title=row["contact_title"],
            email=row["contact_email"],
            phone=row["contact_phone"],
            languages=row["contact_languages"],
        ),
        **{k: row[k] for k in c.Participant.model_fields if k not in ("participant_id", "contact")},
    )


async def upsert_participant(
    conn: asyncpg.Connection, participant_id: uuid.UUID, partner_id: uuid.UUID, p: dict[str, Any]
) -> c.Participant:
    """Insert a new participant, or (same id) write its new state and bump the version."""
    row = await conn.fetchrow(
        """INSERT INTO participants (id, partner_id, roadshow_id, kind, name, sectors, focus,
               stages, ticket_min, ticket_max, currency, offers, max_meetings,
               contact_name, contact_title, contact_email, contact_phone, contact_languages,
               availability, countries, mandatory)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18, $19, $20, $21)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, sectors = EXCLUDED.sectors,
               focus = EXCLUDED.focus, stages = EXCLUDED.stages,
               ticket_min = EXCLUDED.ticket_min, ticket_max = EXCLUDED.ticket_max,
               currency = EXCLUDED.currency, offers = EXCLUDED.offers,
               max_meetings = EXCLUDED.max_meetings, contact_name = EXCLUDED.contact_name,
               contact_title = EXCLUDED.contact_title, contact_email = EXCLUDED.contact_email,
               contact_phone = EXCLUDED.contact_phone,
               contact_languages = EXCLUDED.contact_languages,
               availability = EXCLUDED.availability,
               countries = EXCLUDED.countries, mandatory = EXCLUDED.mandatory,
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
        list(p["contact"].get("languages") or ()),
        availability_json(p.get("availability")),
        list(p.get("countries") or ()),
        list(p.get("mandatory") or ()),
    )
    return participant_of(row)


async def get_participant(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    participant_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> c.Participant | None:
    row = await owned_row(conn, "participants", partner_id, participant_id, for_update=for_update)
    return None if row is None else participant_of(row)


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
    after: int | None,
    limit: int,
) -> tuple[list[c.Participant], str | None]:
    rows = await conn.fetch(
        """SELECT * FROM participants
            WHERE partner_id = $1 AND seq > $2
              AND ($3::uuid IS NULL OR roadshow_id = $3)
              AND ($4::text IS NULL OR kind = $4)
              AND ($5::text IS NULL OR status = $5)
              AND ($6::text[] IS NULL OR sectors && $6)
            ORDER BY seq LIMIT $7""",
        partner_id,
        after or 0,
        roadshow_id,
        kind,
        status,
        sectors,
        limit + 1,
    )
    return [participant_of(r) for r in rows[:limit]], next_cursor(rows, limit, seq_of)
