"""Registration events -> matching use cases, run by the shared idempotent
consumer (inbox row and effect in one transaction, offset committed after).

delegation.* events need no handler: registration emits enterprise.withdrawn for
each enterprise of a withdrawn delegation, and enterprises carry their own state.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.matching.service import ENTERPRISE, PARTICIPANT, Matching
from services.matching.settings import MatchingSettings
from shared.consumer import Handler, IdempotentConsumer, consumer_from_settings
from shared.contracts import registration as reg
from shared.envelope import Context, Envelope
from shared.partner_keys import KEY_REPLICA_HANDLERS


def _ctx(envelope: Envelope) -> Context:
    # Events this causes carry the flow's correlation id and name their cause.
    return Context(
        correlation_id=envelope.correlation_id,
        partner_id=envelope.partner_id,
        causation_id=str(envelope.id),
    )


def handlers(service: Matching) -> dict[str, Handler]:
    async def roadshow(conn: asyncpg.Connection, envelope: Envelope, data: reg.Roadshow) -> None:
        await service.roadshow_changed(conn, _ctx(envelope), data)

    async def enterprise(
        conn: asyncpg.Connection, envelope: Envelope, data: reg.Enterprise
    ) -> None:
        await service.enterprise_changed(conn, _ctx(envelope), data)

    async def participant(
        conn: asyncpg.Connection, envelope: Envelope, data: reg.Participant
    ) -> None:
        await service.participant_changed(conn, _ctx(envelope), data)

    async def enterprise_withdrawn(
        conn: asyncpg.Connection, envelope: Envelope, data: reg.Withdrawn
    ) -> None:
        await service.party_withdrawn(conn, _ctx(envelope), ENTERPRISE, data)

    async def participant_withdrawn(
        conn: asyncpg.Connection, envelope: Envelope, data: reg.Withdrawn
    ) -> None:
        await service.party_withdrawn(conn, _ctx(envelope), PARTICIPANT, data)

    async def person_erased(
        conn: asyncpg.Connection, envelope: Envelope, data: reg.PersonErased
    ) -> None:
        await service.person_erased(conn, _ctx(envelope), data)

    table: dict[str, Any] = {
        "roadshow.created": roadshow,
        "roadshow.updated": roadshow,
        "enterprise.registered": enterprise,
        "enterprise.updated": enterprise,
        "enterprise.withdrawn": enterprise_withdrawn,
        "participant.registered": participant,
        "participant.updated": participant,
        "participant.withdrawn": participant_withdrawn,
        "person.erased": person_erased,
        **KEY_REPLICA_HANDLERS,
    }
    return table


def create_consumer(settings: MatchingSettings, service: Matching) -> IdempotentConsumer:
    return consumer_from_settings(
        settings, settings.consumer_group, [settings.topics.registration], handlers(service)
    )
