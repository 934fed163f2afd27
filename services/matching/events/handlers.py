"""Events -> matching use cases, run by the shared idempotent consumer (inbox
row and effect in one unit of work, offset committed after): registration's
(the read model, scores, matches) and notification's (`answer.given`: a
person's answer from their e-mail, recorded as the side's interest;
`feedback.given`: their feedback after a meeting, recorded as the side's
feedback).

delegation.* events need no handler: registration emits enterprise.withdrawn for
each enterprise of a withdrawn delegation, and enterprises carry their own state.
Partner keys are replicated by the shared `KEY_REPLICA` handlers.
"""

from __future__ import annotations

from typing import Any, get_args

from services.matching.feedback.service import AfterMeetings
from services.matching.interest.service import Interest
from services.matching.readmodel.service import PartyEvent, ReadModel
from shared.contracts import registration as reg
from shared.contracts.matching import Side
from shared.contracts.notification import AnswerGiven, FeedbackGiven
from shared.contracts.registration import RegistrationEventType
from shared.envelope import Envelope
from shared.event_handlers import EventHandlers
from shared.partner_keys import KEY_REPLICA
from shared.unit_of_work import UnitOfWork

# Registered, updated and withdrawn, of enterprises and participants.
PARTY_EVENT_TYPES: tuple[RegistrationEventType, ...] = tuple(
    t for t in get_args(RegistrationEventType) if t.split(".")[0] in get_args(Side)
)


def event_handlers(readmodel: ReadModel) -> EventHandlers:
    """The registry of the registration consumer, bound to the read model's use
    cases (which carry the scoring configuration, so the registry is built per
    service instance rather than at import time)."""
    handlers = EventHandlers()

    @handlers.on("roadshow.created", "roadshow.updated")
    async def roadshow(uow: UnitOfWork, _event: Envelope, data: reg.Roadshow) -> None:
        await readmodel.roadshow_changed(uow, data)

    @handlers.batch(*PARTY_EVENT_TYPES)
    async def parties(uow: UnitOfWork, events: list[tuple[Envelope, Any]]) -> None:
        # A burst of registrations is scored as one block per road show.
        await readmodel.parties_changed([party_event(uow, e, data) for e, data in events])

    @handlers.on("person.erased")
    async def person_erased(uow: UnitOfWork, _event: Envelope, data: reg.PersonErased) -> None:
        await readmodel.person_erased(uow, data)

    return handlers.include(KEY_REPLICA)


def answer_handlers(interest: Interest, after: AfterMeetings) -> EventHandlers:
    """The registry of the notification topic's consumer: people's answers on
    their matches and their feedback after a meeting, from their e-mail."""
    handlers = EventHandlers()

    @handlers.on("answer.given")
    async def answer_given(uow: UnitOfWork, _event: Envelope, data: AnswerGiven) -> None:
        await interest.record_answer_by_email(uow, data)

    @handlers.on("feedback.given")
    async def feedback_given(uow: UnitOfWork, _event: Envelope, data: FeedbackGiven) -> None:
        await after.record_feedback_by_email(uow, data)

    return handlers


def party_event(uow: UnitOfWork, event: Envelope, data: Any) -> PartyEvent:
    """The command of one party event, on behalf of that event."""
    side: Side = "enterprise" if event.type.startswith("enterprise.") else "participant"
    cause = uow.caused_by(event)
    if isinstance(data, reg.Enterprise):
        return PartyEvent(cause, side, data.enterprise_id, data.roadshow_id, data)
    if isinstance(data, reg.Participant):
        return PartyEvent(cause, side, data.participant_id, data.roadshow_id, data)
    if isinstance(data, reg.Withdrawn):
        return PartyEvent(cause, side, data.id, data.roadshow_id, data)
    raise TypeError(f"not a party event: {event.type}")
