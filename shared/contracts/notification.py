"""Contracts of the events the notification service publishes: about its
deliveries, the answers people give on their matches through the links in
their e-mail (`answer.given`, which matching records as the side's interest,
as it does a partner's answer), and their feedback after a meeting through
the link of the feedback e-mail (`feedback.given`, which matching records as
the side's feedback, as it does a partner's)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from shared.contracts.base import Contract
from shared.contracts.matching import Attendance, InterestAnswer, InterestLevel, NextStep, Side

NotificationEventType = Literal[
    "notification.delivered",
    "notification.failed",
    "notification.dead",
    "answer.given",
    "feedback.given",
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


class FeedbackGiven(Contract):
    """A person's feedback on a meeting after it ended, given through the signed
    link of their feedback e-mail: the president for the enterprise's side, the
    contact for the participant's. Keyed by the meeting id (one meeting's
    feedback keeps its order). Ids and choices only: no personal data and no
    free text (a note is the partner's to give over matching's API)."""

    feedback_id: uuid.UUID  # one per feedback given; a replay carries the same
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    side: Side
    took_place: Attendance
    interest: InterestLevel | None  # only for a meeting held (then required)
    next_step: NextStep | None  # only for a meeting held; None there: "none"
    given_at: datetime  # when the person sent the form (notification's clock)
    recipient_id: uuid.UUID  # the role that answered (enterprise.president / participant.contact)
    channel: Literal["email"] = "email"


NOTIFICATION_CONTRACTS: dict[tuple[NotificationEventType, int], type[BaseModel]] = {
    ("notification.delivered", 1): DeliveryOutcome,
    ("notification.failed", 1): DeliveryOutcome,
    ("notification.dead", 1): DeliveryOutcome,
    ("answer.given", 1): AnswerGiven,
    ("feedback.given", 1): FeedbackGiven,
}
