"""Events notification reacts to: event type -> handlers, for the shared
idempotent consumer. Each handler runs in the consumer's unit of work (the
event's flow and partner) and calls use cases.

From registration: partner keys (the replica that lets the same API key work
here), road shows, participants and enterprises (who registered whom, kinds,
sectors, organisation names; with e-mail on, their people's names and
addresses), withdrawals and `person.erased`. From matching: matches and
meetings, feedback and follow-ups, routed to the subscriptions that want
them; meetings and schedules, which become e-mails to people; matches,
which become each person's match e-mails with answer links.
"""

from __future__ import annotations

from typing import cast

from services.notification.email.rules import CONTACT, PRESIDENT
from services.notification.parties import service as parties
from services.notification.use_cases import UseCases
from services.notification.webhooks.routing import WEBHOOK_EVENT_TYPES, Routable
from services.notification.webhooks.service import MatchingEvent
from shared.contracts.matching import (
    Match,
    MatchesChanged,
    Meeting,
    MeetingEventType,
    ScheduleCompleted,
    single_match_events,
)
from shared.contracts.registration import (
    Enterprise,
    Participant,
    PersonErased,
    PersonKeyDestroyed,
    PersonKeyIssued,
    Roadshow,
    Withdrawn,
)
from shared.envelope import Envelope
from shared.event_handlers import EventHandlers
from shared.partner_keys import KEY_REPLICA
from shared.unit_of_work import UnitOfWork

CONSUMER = "notification"


def event_handlers(use: UseCases) -> EventHandlers:
    """Every event notification reacts to, in one registry (tests feed it both
    topics); the service runs the two halves as separate consumers."""
    return registration_handlers(use).include(matching_handlers(use)).include(keys_handlers(use))


def registration_handlers(use: UseCases) -> EventHandlers:
    """The registration topic's events: partner keys, road shows, parties, people."""
    handlers = EventHandlers().include(KEY_REPLICA)

    @handlers.on("roadshow.created", "roadshow.updated")
    async def roadshow_changed(uow: UnitOfWork, _event: Envelope, data: Roadshow) -> None:
        await use.people.roadshow_changed(uow, data)

    @handlers.batch(
        "participant.registered",
        "participant.updated",
        "enterprise.registered",
        "enterprise.updated",
    )
    async def parties_changed(
        uow: UnitOfWork, events: list[tuple[Envelope, Participant | Enterprise]]
    ) -> None:
        # A rush is runs of registrations: each step once for the run, in the order
        # one event takes them. The parties read model first: webhooks and e-mail
        # content name organisations from it. The hold lock, taken by the release,
        # is then held only for the rest of the run, not the whole of it.
        changes = [(uow.caused_by(event), data) for event, data in events]
        await use.routing.release_held(uow, await parties.record_parties(changes))
        await use.people.parties_changed(changes)
        await use.match_mail.people_known(uow, events)

    @handlers.on("participant.withdrawn")
    async def participant_withdrawn(uow: UnitOfWork, _event: Envelope, data: Withdrawn) -> None:
        await parties.withdraw_participant(uow, data)
        await use.people.withdrawn(uow, CONTACT, data.id, data.version)

    @handlers.on("enterprise.withdrawn")
    async def enterprise_withdrawn(uow: UnitOfWork, _event: Envelope, data: Withdrawn) -> None:
        await parties.withdraw_enterprise(uow, data)
        await use.people.withdrawn(uow, PRESIDENT, data.id, data.version)

    @handlers.on("person.erased")
    async def person_erased(uow: UnitOfWork, _event: Envelope, data: PersonErased) -> None:
        await use.people.person_erased(uow, data)

    return handlers


def keys_handlers(use: UseCases) -> EventHandlers:
    """The keys topic: the copies of people's keys that open their sealed fields."""
    handlers = EventHandlers()

    @handlers.on("person.key_issued")
    async def key_issued(uow: UnitOfWork, _event: Envelope, data: PersonKeyIssued) -> None:
        await use.people.key_issued(uow, data)

    @handlers.on("person.key_destroyed")
    async def key_destroyed(uow: UnitOfWork, _event: Envelope, data: PersonKeyDestroyed) -> None:
        await use.people.key_destroyed(uow, data)

    return handlers


def matching_handlers(use: UseCases) -> EventHandlers:
    """The matching topic's events: matches and meetings (webhooks), meetings and
    schedules (e-mail), matches (people's match e-mails)."""
    handlers = EventHandlers()

    @handlers.batch("matches.changed", *WEBHOOK_EVENT_TYPES)
    async def matches_and_meetings(
        uow: UnitOfWork, events: list[tuple[Envelope, MatchesChanged | Routable]]
    ) -> None:
        # A fair's rush is runs of batches of dozens of match changes: routed as one,
        # each change as the single match event it stands for.
        single: list[MatchingEvent] = []
        for event, data in events:
            if isinstance(data, MatchesChanged):
                single.extend(single_match_events(event, data, with_data=False))
            else:
                single.append((event, data))
        await use.routing.route(uow, single)
        # Each person's match e-mails (their proposed matches, the daily digest).
        await use.match_mail.matches_changed(
            uow, [(event, data) for event, data in single if isinstance(data, Match)]
        )
        for event, data in single:
            if isinstance(data, Meeting):
                # The contracts registry gave a Meeting only to meeting types.
                meeting_type = cast(MeetingEventType, event.type)
                await use.schedules.meeting_changed(uow.caused_by(event), event, meeting_type, data)

    @handlers.on("schedule.completed")
    async def schedule_completed(uow: UnitOfWork, event: Envelope, data: ScheduleCompleted) -> None:
        await use.schedules.schedule_completed(uow, event, data)

    return handlers
