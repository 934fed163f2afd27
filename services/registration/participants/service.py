"""Participant use cases: local companies, investment funds and banks. Scoped to
the partner that registered them (a foreign id answers as missing)."""

from __future__ import annotations

import uuid

from services.registration import model
from services.registration.participants import repository as repo
from services.registration.privacy.keys import Keyring
from services.registration.roadshows.service import check_availability, require_roadshow
from shared.contracts import registration as c
from shared.errors import NotFound
from shared.unit_of_work import UnitOfWork


async def register_participant(
    uow: UnitOfWork, keys: Keyring, cmd: model.NewParticipant
) -> c.Participant:
    await require_roadshow(uow, cmd.roadshow_id)
    await check_availability(uow, cmd.roadshow_id, cmd.availability.model_dump(), "availability")
    participant = await repo.upsert_participant(
        uow.conn, uuid.uuid4(), uow.partner_id, cmd.model_dump()
    )
    sealed = await keys.sealed_participant(uow, participant, new=True)
    uow.emit("participant.registered", participant.participant_id, sealed)
    return participant


async def get_participant(
    uow: UnitOfWork, participant_id: uuid.UUID, *, for_update: bool = False
) -> c.Participant:
    found = await repo.get_participant(
        uow.conn, uow.partner_id, participant_id, for_update=for_update
    )
    if found is None:
        raise NotFound("no such participant", field="participant_id")
    return found


async def list_participants(
    uow: UnitOfWork, where: model.PartyFilter, *, after: int | None, limit: int
) -> tuple[list[c.Participant], str | None]:
    return await repo.list_participants(
        uow.conn,
        uow.partner_id,
        roadshow_id=where.roadshow_id,
        kind=where.kind.value if where.kind else None,
        status=where.status,
        sectors=where.sectors,
        after=after,
        limit=limit,
    )


async def update_participant(
    uow: UnitOfWork, keys: Keyring, participant_id: uuid.UUID, patch: model.ParticipantChanges
) -> c.Participant:
    current = await get_participant(uow, participant_id, for_update=True)
    model.ensure_active(current.status, "participant")
    if not model.has_changes(patch):
        return current
    fields = model.merge_patch(current, patch, model.NewParticipant)
    await check_availability(uow, current.roadshow_id, fields["availability"], "availability")
    participant = await repo.upsert_participant(uow.conn, participant_id, uow.partner_id, fields)
    uow.emit("participant.updated", participant_id, await keys.sealed_participant(uow, participant))
    return participant


async def withdraw_participant(uow: UnitOfWork, participant_id: uuid.UUID) -> c.Participant:
    current = await get_participant(uow, participant_id, for_update=True)
    if current.status != model.ACTIVE:
        return current
    participant = await repo.withdraw_participant(uow.conn, participant_id)
    uow.emit("participant.withdrawn", participant_id, model.withdrawn(participant_id, participant))
    return participant
