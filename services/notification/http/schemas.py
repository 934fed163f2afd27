"""HTTP request and response models of the notification API (not the event
contracts). Requests are strict: unknown fields are refused with a 422 naming them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.notification.email.model import Email, PersonOnFile
from services.notification.email.model import EmailDetail as EmailWithAttempts
from services.notification.outbound.repository import AttemptRecord
from services.notification.webhooks.model import (
    NewSubscription,
    Notification,
    RotatedSecret,
    Subscription,
)
from services.notification.webhooks.model import (
    NotificationDetail as NotificationWithAttempts,
)
from services.notification.webhooks.routing import WebhookEventType
from shared.contracts.matching import Attendance, InterestLevel, NextStep
from shared.errors import InvalidInput
from shared.http.requests import Moment, Strict, unique
from shared.pagination import Page
from shared.taxonomy import ParticipantKind, Sector

Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="HTTPS endpoint receiving the webhooks; it must resolve to public "
        "addresses only",
    ),
]
EventTypes = Annotated[
    list[WebhookEventType],
    Field(
        min_length=1,
        description="Event types wanted: match.*, meeting.*, feedback.recorded, follow-up.*",
    ),
]
ParticipantIds = Annotated[
    list[uuid.UUID],
    Field(
        min_length=1,
        max_length=1000,
        description="Only these of your participants; leave out (or null) for all of them",
    ),
]
Kinds = Annotated[
    list[ParticipantKind],
    Field(min_length=1, description="Only participants of these kinds; null for all"),
]
Sectors = Annotated[
    list[Sector],
    Field(
        min_length=1,
        max_length=40,
        description="Only events whose enterprise works in one of these sectors; null for all",
    ),
]
EnterpriseIds = Annotated[
    list[uuid.UUID],
    Field(
        min_length=1,
        max_length=1000,
        description="Only events about these enterprises; leave out (or null) for all",
    ),
]
SideName = Literal["participant", "enterprise"]


def _participant_side() -> list[SideName]:
    return ["participant"]


Sides = Annotated[
    list[SideName],
    Field(
        min_length=1,
        description="Whose events: about the participants you registered ('participant',"
        " the default), and/or about your enterprises ('enterprise')",
    ),
]
Description = Annotated[str, Field(max_length=500)]
# What a webhook notification can be in (`cancelled` is e-mail's only).
NotificationStatus = Literal["pending", "delivered", "dead"]


def fields_of(source: object, schema: type[BaseModel], **given: Any) -> dict[str, Any]:
    """A response schema's fields from a domain result: each `given` one as
    given, every other one read from the attribute of the same name."""
    return {
        name: given[name] if name in given else getattr(source, name)
        for name in schema.model_fields
    }


class EventTypesOut(BaseModel):
    event_types: list[str]


class SubscriptionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.bank.example/roadshow",
                    "description": "Our relationship managers' CRM",
                    "event_types": ["match.proposed", "meeting.scheduled", "meeting.moved"],
                    "participant_kinds": ["bank"],
                }
            ]
        }
    )

    url: Url
    description: Description | None = None
    event_types: EventTypes
    participant_ids: ParticipantIds | None = None
    participant_kinds: Kinds | None = None
    sectors: Sectors | None = None
    sides: Sides = Field(default_factory=_participant_side)
    enterprise_ids: EnterpriseIds | None = None

    _unique = field_validator(
        "event_types", "participant_ids", "participant_kinds", "sectors", "sides", "enterprise_ids"
    )(unique)


class SubscriptionPatch(Strict):
    """Fields left out stay; a filter set to null stops filtering on it."""

    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    participant_ids: ParticipantIds | None = None
    participant_kinds: Kinds | None = None
    sectors: Sectors | None = None
    sides: Sides | None = None
    enterprise_ids: EnterpriseIds | None = None
    status: Literal["active", "disabled"] | None = Field(
        default=None, description="'active' enables a subscription again (e.g. after a 410)"
    )

    _unique = field_validator(
        "event_types", "participant_ids", "participant_kinds", "sectors", "sides", "enterprise_ids"
    )(unique)

    @model_validator(mode="after")
    def _required_stay(self) -> SubscriptionPatch:
        for name in ("url", "event_types", "status", "sides"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise InvalidInput("cannot be null; leave it out to keep it", field=name)
        return self


class SubscriptionOut(BaseModel):
    subscription_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    participant_ids: list[uuid.UUID] | None
    participant_kinds: list[str] | None
    sectors: list[str] | None
    sides: list[str]
    enterprise_ids: list[uuid.UUID] | None
    status: str
    disabled_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls(**fields_of(s, cls, subscription_id=s.id))


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="Signing secret (whsec_...), shown once; verify deliveries with it"
    )

    @classmethod
    def of_new(cls, new: NewSubscription) -> SubscriptionCreated:
        return cls(
            **fields_of(
                new.subscription, cls, subscription_id=new.subscription.id, secret=new.secret
            )
        )


class RotateIn(Strict):
    overlap_seconds: Annotated[int, Field(ge=0, le=7 * 86400)] = Field(
        default=86400,
        description="How long the previous secret still signs deliveries (both signatures "
        "are sent meanwhile)",
    )


class SecretOut(BaseModel):
    subscription_id: uuid.UUID
    secret: str = Field(description="The new signing secret, shown once")
    previous_expires_at: datetime | None

    @classmethod
    def of(cls, r: RotatedSecret) -> SecretOut:
        return cls(**fields_of(r, cls))


class SubscriptionQuery(Page):
    pass


class NotificationQuery(Page):
    status: NotificationStatus | None = None


class NotificationOut(BaseModel):
    notification_id: uuid.UUID = Field(description="Also the webhook-id header of every try")
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(**fields_of(n, cls, notification_id=n.id))


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    status_code: int | None
    latency_ms: int | None
    error: str | None

    @classmethod
    def of(cls, a: AttemptRecord) -> AttemptOut:
        return cls(**fields_of(a, cls))


class NotificationDetail(NotificationOut):
    payload: dict[str, Any]
    attempt_log: list[AttemptOut]

    @classmethod
    def of_detail(cls, d: NotificationWithAttempts) -> NotificationDetail:
        n = d.notification
        return cls(
            **fields_of(
                n,
                cls,
                notification_id=n.id,
                payload=json.loads(n.body),
                attempt_log=[AttemptOut.of(a) for a in d.attempts],
            )
        )


class RedeliverRangeIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"since": "2027-05-14T00:00:00Z", "until": "2027-05-15T00:00:00Z"}]
        }
    )

    since: Moment = Field(description="Dead notifications created at or after this")
    until: Moment = Field(description="... and before this")

    @model_validator(mode="after")
    def _ordered(self) -> RedeliverRangeIn:
        if self.until <= self.since:
            raise InvalidInput("must be after since", field="until")
        return self


class RedeliveredOut(BaseModel):
    redelivered: int


# --- e-mail to people ------------------------------------------------------------------


class OptOutIn(Strict):
    opted_out: bool = Field(
        description="true: this person receives no e-mail at all from now on (schedule, "
        "changes, reminders); false: lifts an opt-out your organisation set (not one the "
        "person made through the unsubscribe link)"
    )


class EmailRecipientOut(BaseModel):
    """A person's e-mail standing, without their name or address."""

    role: str = Field(description="enterprise.president | participant.contact")
    party_id: uuid.UUID = Field(description="The enterprise or participant")
    address_on_file: bool
    opted_out: bool
    opted_out_at: datetime | None
    opted_out_by: str | None = Field(description="recipient (unsubscribe link) | partner")
    erased_at: datetime | None

    @classmethod
    def of(cls, p: PersonOnFile) -> EmailRecipientOut:
        return cls(
            role=p.kind,
            party_id=p.party_id,
            address_on_file=p.email is not None,
            opted_out=p.opted_out_at is not None,
            opted_out_at=p.opted_out_at,
            opted_out_by=p.opted_out_by,
            erased_at=p.erased_at,
        )


class EmailQuery(Page):
    pass


class EmailOut(BaseModel):
    message_id: uuid.UUID = Field(description="Also the Message-ID of every try: <id@domain>")
    kind: str = Field(description="schedule | change | reminder")
    category: str = Field(description="transactional | reminder")
    event_id: uuid.UUID = Field(description="The event that caused the message")
    event_type: str
    status: str = Field(description="pending | delivered | dead | cancelled")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None = Field(description="The SMTP reply code of the last try")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    cancelled_at: datetime | None

    @classmethod
    def of(cls, e: Email) -> EmailOut:
        return cls(**fields_of(e, cls, message_id=e.id))


class EmailDetail(EmailOut):
    content: dict[str, Any] = Field(
        description="What the message says, without the person's name or address"
    )
    attempt_log: list[AttemptOut]

    @classmethod
    def of_detail(cls, d: EmailWithAttempts) -> EmailDetail:
        e = d.email
        return cls(
            **fields_of(
                e,
                cls,
                message_id=e.id,
                content=json.loads(e.body),
                attempt_log=[AttemptOut.of(a) for a in d.attempts],
            )
        )


class UnsubscribeQuery(BaseModel):
    token: str = Field(min_length=1, max_length=200, description="From the message's link")


class AnswerQuery(BaseModel):
    token: str = Field(
        min_length=1, max_length=512, description="From an answer link of a match e-mail"
    )


class FeedbackQuery(BaseModel):
    token: str = Field(
        min_length=1, max_length=512, description="From the link of a feedback e-mail"
    )


def _blank_is_none(value: object) -> object:
    # A form's "not chosen" option sends an empty value.
    return None if value == "" else value


class FeedbackForm(Strict):
    """The feedback form's fields (the page's form posts them urlencoded)."""

    took_place: Attendance = Field(
        description="held; no-show (the other side did not come); cancelled"
    )
    interest: InterestLevel | None = Field(
        default=None, description="Only for a meeting held (then required)"
    )
    next_step: NextStep | None = Field(
        default=None, description="Only for a meeting held; none chosen: none"
    )

    _blank = field_validator("interest", "next_step", mode="before")(_blank_is_none)
