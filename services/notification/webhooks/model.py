"""The webhook channel's plain data: subscriptions, their notifications, and the
commands partners give about them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.notification.outbound.repository import AttemptRecord, Outbound
from services.notification.webhooks.routing import Filters, Side
from shared.envelope import Context

SubscriptionStatus = Literal["active", "disabled"]

# The columns a partner sets on a subscription (filters: None means all).
SUBSCRIPTION_FIELDS = (
    "url",
    "description",
    "event_types",
    "participant_ids",
    "participant_kinds",
    "sectors",
    "sides",
    "enterprise_ids",
)


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    participant_ids: list[uuid.UUID] | None
    participant_kinds: list[str] | None
    sectors: list[str] | None
    sides: list[Side]
    enterprise_ids: list[uuid.UUID] | None
    status: SubscriptionStatus
    disabled_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def filters(self) -> Filters:
        def opt(values: list[Any] | None) -> frozenset[Any] | None:
            return frozenset(values) if values is not None else None

        return Filters(
            event_types=frozenset(self.event_types),
            participant_ids=opt(self.participant_ids),
            participant_kinds=opt(self.participant_kinds),
            sectors=opt(self.sectors),
            sides=frozenset(self.sides),
            enterprise_ids=opt(self.enterprise_ids),
        )

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SUBSCRIPTION_FIELDS}


@dataclass(frozen=True)
class SubscriptionChange:
    """A partner's change: the fields it sets (left out: kept), and the status."""

    fields: dict[str, Any] = field(default_factory=dict)
    status: SubscriptionStatus | None = None

    @property
    def empty(self) -> bool:
        return not self.fields and self.status is None


@dataclass(frozen=True)
class NewSubscription:
    subscription: Subscription
    secret: str  # shown once


@dataclass(frozen=True)
class RotatedSecret:
    subscription_id: uuid.UUID
    secret: str
    previous_expires_at: datetime | None


@dataclass(frozen=True)
class Notification(Outbound):
    """A webhook; its id is also the webhook-id of every try."""

    subscription_id: uuid.UUID


@dataclass(frozen=True)
class NewNotification:
    """A notification routing decided on, before it is written."""

    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    correlation_id: str
    participant_id: uuid.UUID
    body: str


@dataclass(frozen=True)
class NotificationDetail:
    notification: Notification
    attempts: list[AttemptRecord]


@dataclass(frozen=True)
class Ended:
    """A notification that ended without a delivery, for the event saying so."""

    id: uuid.UUID
    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    correlation_id: str
    attempts: int

    @property
    def context(self) -> Context:
        """The flow of the event that caused the notification."""
        return Context(
            correlation_id=self.correlation_id,
            partner_id=self.partner_id,
            causation_id=str(self.event_id),
        )


@dataclass(frozen=True)
class Endpoint:
    url: str
    secrets: tuple[str, ...]  # every secret still signing, newest first
