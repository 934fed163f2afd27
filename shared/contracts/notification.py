"""Contracts of the events the notification service publishes: about its
deliveries, and the answers people give on their matches through the links
in their e-mail (`answer.given`, which matching records as the side's
interest, as it does a partner's answer)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from shared.contracts.base import Contract
from shared.contracts.matching import InterestAnswer, Side

NotificationEventType = Literal[
    "notification.delivered",
    "notification.failed",
    "notification.dead",
    "answer.given",
]


class DeliveryOutcome(Contract):
    notification_id: uuid.UUID
    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    event_id: uuid.UUID  # the event that caused the notification
    event_type: str
    attempts: int
    status: Literal["delivered", "failed", "dead"]
    at: datetime


class AnswerGiven(Contract):
    """A person's answer on a match, given through a signed link in their e-mail:
    the president for the enterprise's side, the contact for the participant's.
    Keyed by the match id (one match's answers keep their order). No personal
    data: the person is the role `recipient_id` names."""

    answer_id: uuid.UUID  # one per answer given; a replay carries the same
    match_id: uuid.UUID
    roadshow_id: uuid.UUID
    side: Side
    answer: InterestAnswer
    given_at: datetime  # when the person confirmed it (notification's clock)
    recipient_id: uuid.UUID  # the role that answered (enterprise.president / participant.contact)
    channel: Literal["email"] = "email"


NOTIFICATION_CONTRACTS: dict[tuple[NotificationEventType, int], type[BaseModel]] = {
    ("notification.delivered", 1): DeliveryOutcome,
    ("notification.failed", 1): DeliveryOutcome,
    ("notification.dead", 1): DeliveryOutcome,
    ("answer.given", 1): AnswerGiven,
}
