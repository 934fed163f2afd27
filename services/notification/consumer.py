"""Events notification reacts to, as handlers for the shared idempotent consumer.

From registration: partner keys (the replica that lets the same API key work
here), road shows, participants and enterprises (who registered whom, kinds,
sectors, organisation names; with e-mail on, their people's names and
addresses), withdrawals and `person.erased`. From matching: matches and
meetings, routed to the subscriptions that want them, and meetings and
schedules, which become e-mails to people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.notification.domain import EVENT_TYPES
from services.notification.service import Notifications
from services.notification.settings import NotificationSettings
from shared.consumer import Handler, IdempotentConsumer, consumer_from_settings
from shared.contracts.matching import Match, Meeting
from shared.envelope import Envelope
from shared.partner_keys import KEY_REPLICA_HANDLERS

CONSUMER = "notification"

_Step = Callable[[asyncpg.Connection, Envelope, Any], Awaitable[Any]]


def _both(*steps: _Step) -> Handler:
    """One handler running several effects in the consumer's one transaction."""

    async def handle(conn: asyncpg.Connection, envelope: Envelope, data: Any) -> None:
        for step in steps:
            await step(conn, envelope, data)

    return handle


def handlers(service: Notifications) -> dict[str, Handler]:
    emails = service.emails

    async def route(conn: asyncpg.Connection, envelope: Envelope, data: Match | Meeting) -> None:
        await service.route(conn, envelope, data)

    routed: dict[str, Handler] = {event_type: route for event_type in EVENT_TYPES}
    return {
        **KEY_REPLICA_HANDLERS,
        "roadshow.created": emails.roadshow_changed,
        "roadshow.updated": emails.roadshow_changed,
        # The webhook read model first: e-mail content names organisations from it.
        "participant.registered": _both(service.participant_changed, emails.participant_changed),
        "participant.updated": _both(service.participant_changed, emails.participant_changed),
        "participant.withdrawn": _both(service.participant_withdrawn, emails.participant_withdrawn),
        "enterprise.registered": _both(service.enterprise_changed, emails.enterprise_changed),
        "enterprise.updated": _both(service.enterprise_changed, emails.enterprise_changed),
        "enterprise.withdrawn": _both(service.enterprise_withdrawn, emails.enterprise_withdrawn),
        "person.erased": emails.person_erased,
        **routed,
        "meeting.scheduled": _both(route, emails.meeting_scheduled),
        "meeting.moved": _both(route, emails.meeting_moved),
        "meeting.cancelled": _both(route, emails.meeting_cancelled),
        "schedule.completed": emails.schedule_completed,
    }


def create_consumer(settings: NotificationSettings, service: Notifications) -> IdempotentConsumer:
    topics = settings.topics
    return consumer_from_settings(
        settings, CONSUMER, [topics.registration, topics.matching], handlers(service)
    )
