"""Use cases of the parties read model (registration's participants and
enterprises), run by the event handlers in the consumer's unit of work."""

from __future__ import annotations

from services.notification.parties import repository as repo
from shared.contracts.registration import Enterprise, Participant, Withdrawn
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


async def record_participant(uow: UnitOfWork, data: Participant) -> bool:
    """Keep the participant (its partner is the event's); False when the event
    names no partner, without which nothing about it can be routed."""
    partner_id = uow.ctx.partner_id
    if partner_id is None:
        # Registration always names the partner.
        log.warning("participant.without_partner", participant_id=str(data.participant_id))
        return False
    await repo.upsert_participant(uow.conn, partner_id, data)
    return True


async def record_enterprise(uow: UnitOfWork, data: Enterprise) -> None:
    await repo.upsert_enterprise(uow.conn, uow.ctx.partner_id, data)


async def withdraw_participant(uow: UnitOfWork, data: Withdrawn) -> None:
    await repo.withdraw(uow.conn, "participants", data.id, data.version)


async def withdraw_enterprise(uow: UnitOfWork, data: Withdrawn) -> None:
    await repo.withdraw(uow.conn, "enterprises", data.id, data.version)
