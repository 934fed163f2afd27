"""Events notification reacts to, as handlers for the shared idempotent consumer.

From registration: partner keys (the replica that lets the same API key work
here), participants and enterprises (who registered whom, kinds, sectors,
organisation names). From matching: matches and meetings, routed to the
subscriptions that want them. `person.erased` has no handler on purpose: this
service stores no person's data (see docs/notification.md).
"""

from __future__ import annotations

import asyncpg

from services.notification.domain import EVENT_TYPES
from services.notification.service import Notifications
from services.notification.settings import NotificationSettings
from shared.consumer import Handler, IdempotentConsumer, consumer_from_settings
from shared.contracts.matching import Match, Meeting
from shared.envelope import Envelope
from shared.partner_keys import KEY_REPLICA_HANDLERS

CONSUMER = "notification"


def handlers(service: Notifications) -> dict[str, Handler]:
    async def route(conn: asyncpg.Connection, envelope: Envelope, data: Match | Meeting) -> None:
        await service.route(conn, envelope, data)

    return {
        **KEY_REPLICA_HANDLERS,
        "participant.registered": service.participant_changed,
        "participant.updated": service.participant_changed,
        "participant.withdrawn": service.participant_withdrawn,
        "enterprise.registered": service.enterprise_changed,
        "enterprise.updated": service.enterprise_changed,
        "enterprise.withdrawn": service.enterprise_withdrawn,
        **{event_type: route for event_type in EVENT_TYPES},
    }


def create_consumer(settings: NotificationSettings, service: Notifications) -> IdempotentConsumer:
    topics = settings.topics
    return consumer_from_settings(
        settings, CONSUMER, [topics.registration, topics.matching], handlers(service)
    )
