"""Contracts of the events the notification service publishes about its deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from shared.contracts.base import Contract

NotificationEventType = Literal[
    "notification.delivered",
    "notification.failed",
    "notification.dead",
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


NOTIFICATION_CONTRACTS: dict[tuple[NotificationEventType, int], type[BaseModel]] = {
    ("notification.delivered", 1): DeliveryOutcome,
    ("notification.failed", 1): DeliveryOutcome,
    ("notification.dead", 1): DeliveryOutcome,
}
