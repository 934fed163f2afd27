"""Contracts of the events the registration service publishes.

Registered/updated events carry the aggregate's whole current state (with its
`version`), so a consumer can upsert and ignore anything older than what it has.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts.base import Contract
from shared.taxonomy import ParticipantKind, PartnershipType, Stage

RegistrationEventType = Literal[
    "partner.registered",
    "partner.key_issued",
    "partner.key_revoked",
    "roadshow.created",
    "roadshow.updated",
    "delegation.registered",
    "delegation.updated",
    "delegation.withdrawn",
    "enterprise.registered",
    "enterprise.updated",
    "enterprise.withdrawn",
    "participant.registered",
    "participant.updated",
    "participant.withdrawn",
    "person.erased",
    "person.key_issued",
    "person.key_destroyed",
]
ErasedKind = Literal["enterprise.president", "participant.contact"]
# Criteria a participant can make mandatory: a pair that fails one is never matched.
Criterion = Literal["stage", "ticket_range", "sectors", "country"]


class PartnerRegistered(Contract):
    partner_id: uuid.UUID
    name: str


class PartnerKeyIssued(Contract):
    partner_id: uuid.UUID
    key_id: uuid.UUID
    key_hash: str  # sha256 hex of a 256-bit random secret; the secret never travels


class PartnerKeyRevoked(Contract):
    partner_id: uuid.UUID
    key_id: uuid.UUID


class Venue(Contract):
    name: str
    tables: int
    dates: list[date] = Field(
        default_factory=list
    )  # the days it is used; empty: every day of the road show


class Travel(Contract):
    """Minutes between two venues, either way."""

    between: tuple[str, str]
    minutes: int


class AgendaBlock(Contract):
    """A keynote, a lunch: no meetings then."""

    title: str
    starts_at: datetime
    ends_at: datetime


class Window(Contract):
    starts_at: datetime
    ends_at: datetime


class Interpreter(Contract):
    # Who they are is not the scheduler's business: languages and availability only.
    interpreter_id: uuid.UUID
    languages: list[str]  # ISO 639-1, lower case
    available: list[Window] | None = None  # None: the whole road show


class Roadshow(Contract):
    roadshow_id: uuid.UUID
    name: str
    venue: str
    timezone: str
    start_date: date
    end_date: date
    day_start: time
    day_end: time
    slot_minutes: int
    tables: int  # with venues: their tables' sum
    version: int
    # Added (issue 12): venues with the travel between them, the agenda, interpreters.
    venues: list[Venue] = Field(default_factory=list)
    travel: list[Travel] = Field(default_factory=list)
    agenda: list[AgendaBlock] = Field(default_factory=list)
    interpreters: list[Interpreter] = Field(default_factory=list)


class Person(Contract):
    # In events, name, email and phone are sealed with the person's own key
    # (`shared.personal_data`): unreadable once the person is erased.
    name: str | None
    title: str | None = None
    email: str | None
    phone: str | None = None
    # Added (issue 12), in clear: the languages the person speaks (ISO 639-1).
    languages: list[str] = Field(default_factory=list)


class Project(Contract):
    title: str
    summary: str
    stage: Stage
    funding_amount: Decimal
    funding_currency: str
    partnership_types: list[PartnershipType]


class TimeWindow(Contract):
    # Wall-clock times in the road show's zone, without offset.
    start: datetime
    end: datetime


class Availability(Contract):
    """When a party can meet: the slots inside any window or listed by id (the
    0-based index of the road show's slot). Neither given: always available."""

    windows: list[TimeWindow] = Field(default_factory=list)
    slot_ids: list[int] = Field(default_factory=list)

    @property
    def restricted(self) -> bool:
        return bool(self.windows or self.slot_ids)


ALWAYS = Availability()


class Delegation(Contract):
    delegation_id: uuid.UUID
    roadshow_id: uuid.UUID
    name: str
    origin_country: str
    enterprise_ids: list[uuid.UUID]
    status: str
    version: int


class Enterprise(Contract):
    enterprise_id: uuid.UUID
    delegation_id: uuid.UUID
    roadshow_id: uuid.UUID
    name: str
    country: str
    sectors: list[str]
    president: Person
    project: Project
    status: str
    version: int
    # Added fields have defaults, so older events still validate.
    availability: Availability = ALWAYS


class Participant(Contract):
    participant_id: uuid.UUID
    roadshow_id: uuid.UUID
    kind: ParticipantKind
    name: str
    sectors: list[str]
    focus: str
    stages: list[Stage]
    ticket_min: Decimal | None
    ticket_max: Decimal | None
    currency: str | None
    offers: list[PartnershipType]
    max_meetings: int | None
    contact: Person
    status: str
    version: int
    availability: Availability = ALWAYS
    # Enterprise countries sought (ISO 3166-1 alpha-2); and which criteria must hold.
    countries: list[str] = Field(default_factory=list)
    mandatory: list[Criterion] = Field(default_factory=list)


class Withdrawn(Contract):
    id: uuid.UUID
    roadshow_id: uuid.UUID
    version: int


class ErasedSubject(Contract):
    kind: ErasedKind
    id: uuid.UUID


class PersonErased(Contract):
    erasure_id: uuid.UUID
    subjects: list[ErasedSubject]


class PersonKeyIssued(Contract):
    """On the keys topic (compacted, keyed by subject): the key that opens a person's
    sealed fields, wrapped with the suite's key-encryption key."""

    subject_id: uuid.UUID
    kind: ErasedKind
    wrapped_key: str


class PersonKeyDestroyed(Contract):
    """On the keys topic: the key is gone; compaction drops the issued one."""

    subject_id: uuid.UUID


REGISTRATION_CONTRACTS: dict[tuple[RegistrationEventType, int], type[BaseModel]] = {
    ("partner.registered", 1): PartnerRegistered,
    ("partner.key_issued", 1): PartnerKeyIssued,
    ("partner.key_revoked", 1): PartnerKeyRevoked,
    ("roadshow.created", 1): Roadshow,
    ("roadshow.updated", 1): Roadshow,
    ("delegation.registered", 1): Delegation,
    ("delegation.updated", 1): Delegation,
    ("delegation.withdrawn", 1): Withdrawn,
    ("enterprise.registered", 1): Enterprise,
    ("enterprise.updated", 1): Enterprise,
    ("enterprise.withdrawn", 1): Withdrawn,
    ("participant.registered", 1): Participant,
    ("participant.updated", 1): Participant,
    ("participant.withdrawn", 1): Withdrawn,
    ("person.erased", 1): PersonErased,
    ("person.key_issued", 1): PersonKeyIssued,
    ("person.key_destroyed", 1): PersonKeyDestroyed,
}
