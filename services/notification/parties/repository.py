"""SQL of the parties read model and the events held for it. Every function
takes the caller's connection."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Literal, TypeVar

import asyncpg

from services.notification.parties.model import HeldEvent, KnownEnterprise, KnownParticipant
from shared.contracts.registration import Enterprise, Participant
from shared.envelope import Envelope

K = TypeVar("K", KnownParticipant, KnownEnterprise)


async def upsert_participants(
    conn: asyncpg.Connection, rows: Sequence[tuple[uuid.UUID, Participant]]
) -> None:
    """Keep each (partner, participant), in order, in one round trip."""
    # Only ever forward: a replayed or late older version changes nothing.
    await conn.executemany(
        """INSERT INTO participants (id, partner_id, roadshow_id, kind, name, sectors, status,
                                     version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET partner_id = EXCLUDED.partner_id,
                  roadshow_id = EXCLUDED.roadshow_id, kind = EXCLUDED.kind,
                  name = EXCLUDED.name, sectors = EXCLUDED.sectors, status = EXCLUDED.status,
                  version = EXCLUDED.version
            WHERE participants.version < EXCLUDED.version""",
        [
            (
                p.participant_id,
                partner_id,
                p.roadshow_id,
                p.kind.value,
                p.name,
                p.sectors,
                p.status,
                p.version,
            )
            for partner_id, p in rows
        ],
    )


async def upsert_enterprises(
    conn: asyncpg.Connection, rows: Sequence[tuple[uuid.UUID | None, Enterprise]]
) -> None:
    """Keep each (partner, enterprise), in order, in one round trip."""
    await conn.executemany(
        """INSERT INTO enterprises (id, partner_id, roadshow_id, name, country, sectors, status,
                                    version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET partner_id = EXCLUDED.partner_id,
                  roadshow_id = EXCLUDED.roadshow_id, name = EXCLUDED.name,
                  country = EXCLUDED.country, sectors = EXCLUDED.sectors,
                  status = EXCLUDED.status, version = EXCLUDED.version
            WHERE enterprises.version < EXCLUDED.version""",
        [
            (
                e.enterprise_id,
                partner_id,
                e.roadshow_id,
                e.name,
                e.country,
                e.sectors,
                e.status,
                e.version,
            )
            for partner_id, e in rows
        ],
    )


async def withdraw(
    conn: asyncpg.Connection,
    table: Literal["participants", "enterprises"],
    id_: uuid.UUID,
    version: int,
) -> None:
    await conn.execute(
        f"UPDATE {table} SET status = 'withdrawn', version = $2 WHERE id = $1 AND version < $2",
        id_,
        version,
    )


async def get_participant(conn: asyncpg.Connection, id_: uuid.UUID) -> KnownParticipant | None:
    return (await get_participants(conn, [id_])).get(id_)


async def get_enterprise(conn: asyncpg.Connection, id_: uuid.UUID) -> KnownEnterprise | None:
    return (await get_enterprises(conn, [id_])).get(id_)


async def get_participants(
    conn: asyncpg.Connection, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, KnownParticipant]:
    return await _known(conn, "participants", "kind", KnownParticipant, ids)


async def get_enterprises(
    conn: asyncpg.Connection, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, KnownEnterprise]:
    return await _known(conn, "enterprises", "country", KnownEnterprise, ids)


async def _known(
    conn: asyncpg.Connection,
    table: Literal["participants", "enterprises"],
    extra: Literal["kind", "country"],
    cls: type[K],
    ids: Collection[uuid.UUID],
) -> dict[uuid.UUID, K]:
    rows = await conn.fetch(
        f"""SELECT id, partner_id, roadshow_id, name, sectors, status, {extra}
              FROM {table} WHERE id = ANY($1::uuid[])""",
        list(ids),
    )
    return {r["id"]: cls(**{**dict(r), "sectors": tuple(r["sectors"])}) for r in rows}


_HOLD_LOCK = 72_410_010


async def lock_hold(conn: asyncpg.Connection) -> None:
    """Serialise, until commit, holding events and releasing them. Without it,
    two consumer instances could each be blind to the other's uncommitted row:
    one holds an event because the participant is missing, while the other
    registers that participant and finds nothing held, and the event would stay
    held for good."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _HOLD_LOCK)


async def hold_events(conn: asyncpg.Connection, events: Sequence[Envelope], now: datetime) -> None:
    """Hold matching events (in their order) until both their parties are known."""
    await conn.execute(
        """INSERT INTO held_events (event_id, participant_id, enterprise_id, envelope, held_at)
           SELECT e.id, e.participant_id, e.enterprise_id, e.envelope, $5
             FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::jsonb[])
                  WITH ORDINALITY AS e(id, participant_id, enterprise_id, envelope, n)
            ORDER BY e.n
           ON CONFLICT (event_id) DO NOTHING""",
        [e.id for e in events],
        [uuid.UUID(str(e.data["participant_id"])) for e in events],
        [uuid.UUID(str(e.data["enterprise_id"])) for e in events],
        [e.model_dump(mode="json") for e in events],
        now,
    )


async def expire_held(conn: asyncpg.Connection, older_than: datetime) -> list[uuid.UUID]:
    """Forget held events waiting since before `older_than` (their party never
    came); returns their event ids."""
    rows = await conn.fetch(
        "DELETE FROM held_events WHERE held_at < $1 RETURNING event_id", older_than
    )
    return [r["event_id"] for r in rows]


async def count_held(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM held_events")
    return count


async def take_held(conn: asyncpg.Connection, party_ids: Collection[uuid.UUID]) -> list[HeldEvent]:
    """Held events concerning these participants or enterprises whose other party
    is known too, removed from the hold, in arrival order."""
    rows = await conn.fetch(
        """DELETE FROM held_events h
            WHERE (h.participant_id = ANY($1::uuid[]) OR h.enterprise_id = ANY($1::uuid[]))
              AND EXISTS (SELECT 1 FROM participants p WHERE p.id = h.participant_id)
              AND EXISTS (SELECT 1 FROM enterprises e WHERE e.id = h.enterprise_id)
        RETURNING h.seq, h.envelope""",
        list(party_ids),
    )
    held = [HeldEvent(r["seq"], Envelope.model_validate(r["envelope"])) for r in rows]
    return sorted(held, key=lambda h: h.seq)
