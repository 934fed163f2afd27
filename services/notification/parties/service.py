"""Use cases of the parties read model (registration's participants and
enterprises), run by the event handlers in the consumer's unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.notification.parties import repository as repo
from shared.contracts.registration import Enterprise, Participant, Withdrawn
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


async def record_parties(
    changes: Sequence[tuple[UnitOfWork, Participant | Enterprise]],
) -> list[uuid.UUID]:
    """Keep a run of participants and enterprises, each with its event's partner;
    returns the ids kept. A participant whose event names no partner is skipped:
    without it nothing about the participant can be routed."""
    if not changes:
        return []
    participants: list[tuple[uuid.UUID, Participant]] = []
    enterprises: list[tuple[uuid.UUID | None, Enterprise]] = []
    for uow, data in changes:
        partner_id = uow.ctx.partner_id
        if isinstance(data, Enterprise):
            enterprises.append((partner_id, data))
        elif partner_id is None:
            # Registration always names the partner.
            log.warning("participant.without_partner", participant_id=str(data.participant_id))
        else:
            participants.append((partner_id, data))
    conn = changes[0][0].conn
    if participants:
        await repo.upsert_participants(conn, participants)
    if enterprises:
        await repo.upsert_enterprises(conn, enterprises)
    return [p.participant_id for _, p in participants] + [e.enterprise_id for _, e in enterprises]


async def withdraw_participant(uow: UnitOfWork, data: Withdrawn) -> None:
    await repo.withdraw(uow.conn, "participants", data.id, data.version)


async def withdraw_enterprise(uow: UnitOfWork, data: Withdrawn) -> None:
    await repo.withdraw(uow.conn, "enterprises", data.id, data.version)
