"""Registration events -> matching use cases, run by the shared idempotent
consumer (inbox row and effect in one unit of work, offset committed after).

delegation.* events need no handler: registration emits enterprise.withdrawn for
each enterprise of a withdrawn delegation, and enterprises carry their own state.
Partner keys are replicated by the shared `KEY_REPLICA` handlers.
"""

from __future__ import annotations

from services.matching.readmodel.service import ReadModel
from shared.contracts import registration as reg
from shared.envelope import Envelope
from shared.event_handlers import EventHandlers
from shared.partner_keys import KEY_REPLICA
from shared.unit_of_work import UnitOfWork


def event_handlers(readmodel: ReadModel) -> EventHandlers:
    """The registry of the registration consumer, bound to the read model's use
    cases (which carry the scoring configuration, so the registry is built per
    service instance rather than at import time)."""
    handlers = EventHandlers()

    @handlers.on("roadshow.created", "roadshow.updated")
    async def roadshow(uow: UnitOfWork, _event: Envelope, data: reg.Roadshow) -> None:
        await readmodel.roadshow_changed(uow, data)

    @handlers.on("enterprise.registered", "enterprise.updated")
    async def enterprise(uow: UnitOfWork, _event: Envelope, data: reg.Enterprise) -> None:
        await readmodel.enterprise_changed(uow, data)

    @handlers.on("participant.registered", "participant.updated")
    async def participant(uow: UnitOfWork, _event: Envelope, data: reg.Participant) -> None:
        await readmodel.participant_changed(uow, data)

    @handlers.on("enterprise.withdrawn")
    async def enterprise_withdrawn(uow: UnitOfWork, _event: Envelope, data: reg.Withdrawn) -> None:
        await readmodel.party_withdrawn(uow, "enterprise", data)

    @handlers.on("participant.withdrawn")
    async def participant_withdrawn(uow: UnitOfWork, _event: Envelope, data: reg.Withdrawn) -> None:
        await readmodel.party_withdrawn(uow, "participant", data)

    @handlers.on("person.erased")
    async def person_erased(uow: UnitOfWork, _event: Envelope, data: reg.PersonErased) -> None:
        await readmodel.person_erased(uow, data)

    return handlers.include(KEY_REPLICA)
