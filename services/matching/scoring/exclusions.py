"""Why a participant is not a match: the mandatory criteria it set that an
enterprise fails (read by the enterprise's partner, or the organiser)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.matching.readmodel import repository as readmodel
from services.matching.readmodel.access import readable_party
from services.matching.scoring.model import mandatory_failures
from shared.taxonomy import ParticipantKind


@dataclass(frozen=True)
class Exclusion:
    participant_id: uuid.UUID
    participant_name: str | None
    participant_kind: ParticipantKind
    failures: list[tuple[str, str]]  # (criterion, reason)


async def excluded_participants(
    conn: asyncpg.Connection, partner_id: uuid.UUID, enterprise_id: uuid.UUID
) -> list[Exclusion]:
    """The road show's active participants that a mandatory criterion keeps from
    matching the enterprise, by participant id. Raises NotFound (field
    `enterprise_id`) unless the partner may read the enterprise."""
    access = await readable_party(conn, partner_id, "enterprise", enterprise_id)
    found = await readmodel.active_enterprises(conn, access.roadshow_id, [enterprise_id])
    if not found:
        return []
    (e,) = found
    failing = [
        (p, failures)
        for p in await readmodel.active_participants(conn, access.roadshow_id)
        if p.mandatory and (failures := mandatory_failures(e, p))
    ]
    names = await readmodel.party_names(conn, "participant", [p.participant_id for p, _ in failing])
    return [
        Exclusion(p.participant_id, names.get(p.participant_id), p.kind, failures)
        for p, failures in failing
    ]
