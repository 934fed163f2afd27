"""SQL of the read model: road shows, enterprises and participants as
registration's events describe them. Functions take the caller's connection,
so the unit of work decides the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.matching.readmodel.model import (
    LAYOUT_FIELDS,
    PartyAccess,
    Roadshow,
    grid_of,
    layout_of,
)
from services.matching.scheduling.problem import Party
from services.matching.scoring.model import EnterpriseProfile, ParticipantProfile
from shared.contracts import registration as reg
from shared.contracts.matching import Side
from shared.taxonomy import ParticipantKind

_TABLE: dict[Side, str] = {"enterprise": "enterprises", "participant": "participants"}
# Above every change number: `changed_parties(since=None)` selects by id only.
_NEVER = 2**62


async def lock_roadshow(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> None:
    """Serialise every change to one road show, until the transaction ends: its
    read model, matches, interest, settings and meetings. Two parties rescored at
    once would each miss the other; a schedule saved while a match is withdrawn
    would keep its meeting."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('matching.roadshow:' || $1::uuid::text, 0))",
        roadshow_id,
    )


def _roadshow(row: asyncpg.Record) -> Roadshow:
    return Roadshow(
        id=row["id"],
        organiser_id=row["organiser_id"],
        name=row["name"],
        venue=row["venue"],
        timezone=row["timezone"],
        version=row["version"],
        grid=grid_of(row),
        schedule_id=row["schedule_id"],
        matching_mode=row["matching_mode"],
        interest_ttl_hours=row["interest_ttl_hours"],
        scheduling_closes_at=row["scheduling_closes_at"],
        layout=layout_of(row["layout"]),
    )


async def get_roadshow(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, *, for_update: bool = False
) -> Roadshow | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM roadshows WHERE id = $1{lock}", roadshow_id)
    return _roadshow(row) if row is not None else None


async def upsert_roadshow(
    conn: asyncpg.Connection, organiser_id: uuid.UUID, r: reg.Roadshow
) -> None:
    await conn.execute(
        """INSERT INTO roadshows (id, organiser_id, name, venue, timezone, start_date, end_date,
                                  day_start, day_end, slot_minutes, tables, version, layout)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, venue = EXCLUDED.venue,
               timezone = EXCLUDED.timezone, start_date = EXCLUDED.start_date,
               end_date = EXCLUDED.end_date, day_start = EXCLUDED.day_start,
               day_end = EXCLUDED.day_end, slot_minutes = EXCLUDED.slot_minutes,
               tables = EXCLUDED.tables, version = EXCLUDED.version, layout = EXCLUDED.layout,
               updated_at = now()""",
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
        r.model_dump(mode="json", include=set(LAYOUT_FIELDS)),
    )


async def set_current_schedule(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, schedule_id: uuid.UUID | None
) -> None:
    await conn.execute(
        "UPDATE roadshows SET schedule_id = $2 WHERE id = $1", roadshow_id, schedule_id
    )


@dataclass(frozen=True)
class StoredParty:
    version: int
    availability: dict[str, Any]


async def locked_party_state(
    conn: asyncpg.Connection, side: Side, party_id: uuid.UUID
) -> StoredParty | None:
    """A party's stored version and availability, its row locked; None when it
    was never seen."""
    row = await conn.fetchrow(
        f"SELECT version, availability FROM {_TABLE[side]} WHERE id = $1 FOR UPDATE", party_id
    )
    return None if row is None else StoredParty(row["version"], row["availability"])


async def upsert_enterprise(
    conn: asyncpg.Connection, partner_id: uuid.UUID | None, e: reg.Enterprise
) -> None:
    # The president is deliberately not stored: matching needs no one's name.
    await conn.execute(
        """INSERT INTO enterprises (id, roadshow_id, partner_id, name, sectors, stage,
               funding_amount, funding_currency, partnership_types, summary, status, version,
               languages, country, availability)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (id) DO UPDATE SET partner_id = coalesce(EXCLUDED.partner_id,
               enterprises.partner_id), name = EXCLUDED.name, sectors = EXCLUDED.sectors,
               stage = EXCLUDED.stage, funding_amount = EXCLUDED.funding_amount,
               funding_currency = EXCLUDED.funding_currency,
               partnership_types = EXCLUDED.partnership_types, summary = EXCLUDED.summary,
               status = EXCLUDED.status, version = EXCLUDED.version,
               languages = EXCLUDED.languages,
               country = EXCLUDED.country, availability = EXCLUDED.availability,
               updated_at = now()""",
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
        list(e.president.languages),
        e.country,
        e.availability.model_dump(mode="json"),
    )


async def upsert_participant(
    conn: asyncpg.Connection, partner_id: uuid.UUID | None, p: reg.Participant
) -> None:
    # The contact person is deliberately not stored.
    await conn.execute(
        """INSERT INTO participants (id, roadshow_id, partner_id, kind, name, sectors, focus,
               stages, ticket_min, ticket_max, currency, offers, max_meetings, status, version,
               languages, availability, countries, mandatory)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18, $19)
           ON CONFLICT (id) DO UPDATE SET partner_id = coalesce(EXCLUDED.partner_id,
               participants.partner_id), kind = EXCLUDED.kind, name = EXCLUDED.name,
               sectors = EXCLUDED.sectors, focus = EXCLUDED.focus, stages = EXCLUDED.stages,
               ticket_min = EXCLUDED.ticket_min, ticket_max = EXCLUDED.ticket_max,
               currency = EXCLUDED.currency, offers = EXCLUDED.offers,
               max_meetings = EXCLUDED.max_meetings, status = EXCLUDED.status,
               version = EXCLUDED.version, languages = EXCLUDED.languages,
               availability = EXCLUDED.availability,
               countries = EXCLUDED.countries, mandatory = EXCLUDED.mandatory,
               updated_at = now()""",
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
        list(p.contact.languages),
        p.availability.model_dump(mode="json"),
        list(p.countries),
        list(p.mandatory),
    )


async def mark_withdrawn(conn: asyncpg.Connection, side: Side, w: reg.Withdrawn) -> None:
    """Withdraw a party, or leave a tombstone when it was never seen."""
    await conn.execute(
        f"""INSERT INTO {_TABLE[side]} (id, roadshow_id, status, version)
            VALUES ($1, $2, 'withdrawn', $3)
            ON CONFLICT (id) DO UPDATE SET status = 'withdrawn', version = EXCLUDED.version,
                updated_at = now()""",
        w.id,
        w.roadshow_id,
        w.version,
    )


async def _active(
    conn: asyncpg.Connection,
    side: Side,
    roadshow_id: uuid.UUID,
    ids: Sequence[uuid.UUID] | None,
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"SELECT * FROM {_TABLE[side]} WHERE roadshow_id = $1 AND status = 'active'"
            " AND ($2::uuid[] IS NULL OR id = ANY($2)) ORDER BY id",
            roadshow_id,
            ids,
        )
    )


def _enterprise(row: asyncpg.Record) -> EnterpriseProfile:
    return EnterpriseProfile(
        enterprise_id=row["id"],
        sectors=tuple(row["sectors"]),
        stage=row["stage"],
        funding_amount=row["funding_amount"],
        funding_currency=row["funding_currency"],
        partnership_types=tuple(row["partnership_types"]),
        summary=row["summary"],
        partner_id=row["partner_id"],
        country=row["country"],
    )


def _participant(row: asyncpg.Record) -> ParticipantProfile:
    return ParticipantProfile(
        participant_id=row["id"],
        kind=ParticipantKind(row["kind"]),
        sectors=tuple(row["sectors"]),
        stages=tuple(row["stages"]),
        ticket_min=row["ticket_min"],
        ticket_max=row["ticket_max"],
        currency=row["currency"],
        offers=tuple(row["offers"]),
        focus=row["focus"],
        partner_id=row["partner_id"],
        countries=tuple(row["countries"]),
        mandatory=tuple(row["mandatory"]),
    )


async def active_enterprises(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, ids: Sequence[uuid.UUID] | None = None
) -> list[EnterpriseProfile]:
    """The road show's active enterprises (those of `ids` only, when given), by id."""
    return [_enterprise(row) for row in await _active(conn, "enterprise", roadshow_id, ids)]


async def active_participants(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, ids: Sequence[uuid.UUID] | None = None
) -> list[ParticipantProfile]:
    return [_participant(row) for row in await _active(conn, "participant", roadshow_id, ids)]


@dataclass(frozen=True)
class PartyRows:
    """Parties of one side as the read model holds them: the active ones'
    profiles, and the ids of those that are not active (withdrawn, tombstones)."""

    active: list[EnterpriseProfile] | list[ParticipantProfile]
    gone: set[uuid.UUID]


async def changed_parties(
    conn: asyncpg.Connection,
    side: Side,
    roadshow_id: uuid.UUID,
    since: int | None,
    ids: Collection[uuid.UUID] = (),
) -> PartyRows:
    """The road show's parties stamped after change `since` (all of them for
    -1, none for None), and those of `ids`, whatever their stamp (gone when
    they do not exist)."""
    rows = await conn.fetch(
        f"""SELECT * FROM {_TABLE[side]}
             WHERE roadshow_id = $1 AND (change_seq > $2 OR id = ANY($3::uuid[]))
             ORDER BY id""",
        roadshow_id,
        since if since is not None else _NEVER,
        list(ids),
    )
    live = [r for r in rows if r["status"] == "active"]
    # Asked for by id but not there (its insert rolled back): gone as well.
    gone = {r["id"] for r in rows if r["status"] != "active"} | (set(ids) - {r["id"] for r in rows})
    if side == "enterprise":
        return PartyRows([_enterprise(r) for r in live], gone)
    return PartyRows([_participant(r) for r in live], gone)


async def change_token(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> tuple[int, str]:
    """The road show's latest change (0 before any) and this transaction's id."""
    row = await conn.fetchrow(
        """SELECT coalesce((SELECT seq FROM roadshow_changes WHERE roadshow_id = $1), 0) AS seq,
                  pg_current_xact_id()::text AS xid""",
        roadshow_id,
    )
    assert row is not None
    return int(row["seq"]), str(row["xid"])


async def stamp_changes(
    conn: asyncpg.Connection,
    roadshow_id: uuid.UUID,
    enterprise_ids: Collection[uuid.UUID],
    participant_ids: Collection[uuid.UUID],
) -> tuple[int, str]:
    """Stamp the parties this transaction changed, and their road show's token,
    with the next change number (the caller holds the road show's lock). Returns
    it, with this transaction's id."""
    row = await conn.fetchrow(
        """WITH s AS (SELECT nextval('readmodel_change_seq') AS seq),
                e AS (UPDATE enterprises SET change_seq = (SELECT seq FROM s)
                       WHERE id = ANY($2::uuid[]) RETURNING 1),
                p AS (UPDATE participants SET change_seq = (SELECT seq FROM s)
                       WHERE id = ANY($3::uuid[]) RETURNING 1),
                t AS (INSERT INTO roadshow_changes (roadshow_id, seq) SELECT $1, seq FROM s
                      ON CONFLICT (roadshow_id) DO UPDATE SET seq = EXCLUDED.seq RETURNING 1)
           SELECT seq, pg_current_xact_id()::text AS xid FROM s""",
        roadshow_id,
        list(enterprise_ids),
        list(participant_ids),
    )
    assert row is not None
    return int(row["seq"]), str(row["xid"])


async def schedulable_parties(
    conn: asyncpg.Connection, side: Side, roadshow_id: uuid.UUID
) -> list[Party]:
    """The road show's active parties of one side, as the scheduler sees them."""
    return [
        Party(
            party_id=row["id"],
            max_meetings=row["max_meetings"],
            unavailable=tuple((r.lower, r.upper) for r in row["unavailable"]),
            languages=frozenset(row["languages"]),
            **_offered(row["availability"]),
        )
        for row in await _active(conn, side, roadshow_id, None)
    ]


def _offered(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored availability (the contract's JSON) as the scheduler's Party fields."""
    a = reg.Availability.model_validate(stored or {})
    return {
        "windows": tuple(
            (w.start.replace(tzinfo=None), w.end.replace(tzinfo=None)) for w in a.windows
        ),
        "slot_ids": frozenset(a.slot_ids),
    }


async def request_reschedule(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> None:
    """Note that availability changed while a scheduling job ran (it read the old)."""
    await conn.execute(
        "UPDATE roadshows SET reschedule_requested = true WHERE id = $1", roadshow_id
    )


async def take_reschedule_request(conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> bool:
    """Whether a reschedule was requested, clearing the request."""
    requested: bool | None = await conn.fetchval(
        """UPDATE roadshows SET reschedule_requested = false
            WHERE id = $1 AND reschedule_requested RETURNING true""",
        roadshow_id,
    )
    return bool(requested)


async def party_access(
    conn: asyncpg.Connection, side: Side, party_id: uuid.UUID
) -> PartyAccess | None:
    row = await conn.fetchrow(
        f"""SELECT x.id, x.roadshow_id, x.partner_id, r.organiser_id
              FROM {_TABLE[side]} x LEFT JOIN roadshows r ON r.id = x.roadshow_id
             WHERE x.id = $1 AND x.partner_id IS NOT NULL""",
        party_id,
    )
    if row is None:
        return None
    return PartyAccess(row["id"], row["roadshow_id"], row["partner_id"], row["organiser_id"])


async def party_names(
    conn: asyncpg.Connection, side: Side, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """Organisations' names (never a person's), by id."""
    rows = await conn.fetch(
        f"SELECT id, name FROM {_TABLE[side]} WHERE id = ANY($1::uuid[])", list(ids)
    )
    return {r["id"]: r["name"] for r in rows}
