"""Registration's domain: what a valid road show, delegation, enterprise and
participant is (the commands partners send, with their invariants), the rules of
change, and the results use cases return. Plain data and pure functions, no I/O.

The HTTP request models in `http/schemas.py` are these commands under their API
names; only `http/` knows them as such.
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.registration.layout import (
    AgendaBlockIn,
    InterpreterIn,
    Languages,
    LayoutIn,
    TravelIn,
    VenueIn,
    check_layout,
)
from shared.contracts import registration as c
from shared.errors import Conflict, InvalidInput
from shared.http.requests import Strict, unique
from shared.taxonomy import OFFERS_BY_KIND, ParticipantKind, PartnershipType, Sector, Stage

M = TypeVar("M", bound=BaseModel)

Status = Literal["active", "withdrawn"]
# Road shows happen in this century: dates far outside it are typos, and would
# overflow the slot grid every service derives from them.
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2099, 12, 31)
ACTIVE: Status = "active"

Name = Annotated[str, Field(min_length=1, max_length=200)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{7,20}$")]
Money = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Sectors = Annotated[list[Sector], Field(min_length=1, max_length=8)]
# Matching holds at most this many per participant (MAX_COUNTRIES there).
Countries = Annotated[list[Country], Field(max_length=20)]
Criteria = Annotated[list[c.Criterion], Field(max_length=4)]


class TimeWindowIn(Strict):
    start: datetime = Field(description="Local time in the road show's zone, without offset")
    end: datetime

    # Field validators (ValueError), so the error names the nested field itself.
    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("a local time in the road show's zone, without offset")
        return value

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and not start < value:
            raise ValueError("must be after start")
        return value


class AvailabilityIn(Strict):
    """When a party can meet: windows of local time, or slot ids (0-based index of
    the road show's slots, in order). Both empty: always available."""

    windows: Annotated[list[TimeWindowIn], Field(max_length=100)] = Field(default_factory=list)
    slot_ids: Annotated[list[Annotated[int, Field(ge=0, lt=20_000)]], Field(max_length=2000)] = (
        Field(default_factory=list)
    )

    _unique_slots = field_validator("slot_ids")(unique)


def slot_count(r: c.Roadshow) -> int:
    """How many slots the road show's grid has (what slot ids index)."""
    minutes = (r.day_end.hour * 60 + r.day_end.minute) - (
        r.day_start.hour * 60 + r.day_start.minute
    )
    return ((r.end_date - r.start_date).days + 1) * max(minutes // r.slot_minutes, 0)


def check_availability(availability: c.Availability, roadshow: c.Roadshow, field: str) -> None:
    """Raises InvalidInput (naming `field`.windows.i or .slot_ids.i) for a window
    outside the road show's days or a slot id past its last slot."""
    first = datetime.combine(roadshow.start_date, time(0, 0))
    last = datetime.combine(roadshow.end_date, time(0, 0)) + timedelta(days=1)
    for i, w in enumerate(availability.windows):
        if w.end <= first or w.start >= last:
            raise InvalidInput(
                f"outside the road show's days {roadshow.start_date}..{roadshow.end_date}",
                field=f"{field}.windows.{i}",
            )
    slots = slot_count(roadshow)
    for i, slot in enumerate(availability.slot_ids):
        if slot >= slots:
            raise InvalidInput(
                f"the road show has {slots} slots (ids 0..{slots - 1})",
                field=f"{field}.slot_ids.{i}",
            )


class PersonDetails(Strict):
    name: Name
    title: Annotated[str, Field(max_length=200)] | None = None
    email: EmailStr
    phone: Phone | None = None
    languages: Languages = Field(default_factory=list)

    _unique_languages = field_validator("languages")(unique)


class ProjectDetails(Strict):
    title: Name
    summary: Annotated[str, Field(min_length=1, max_length=5000)]
    stage: Stage
    funding_amount: Money
    funding_currency: Currency
    partnership_types: Annotated[list[PartnershipType], Field(min_length=1)]

    _unique_types = field_validator("partnership_types")(unique)


class NewEnterprise(Strict):
    name: Name
    country: Country
    sectors: Sectors
    president: PersonDetails
    project: ProjectDetails
    availability: AvailabilityIn = Field(default_factory=AvailabilityIn)

    _unique_sectors = field_validator("sectors")(unique)


class EnterpriseChanges(Strict):
    name: Name | None = None
    country: Country | None = None
    sectors: Sectors | None = None
    president: PersonDetails | None = None
    project: ProjectDetails | None = None
    availability: AvailabilityIn | None = None


class NewDelegation(Strict):
    roadshow_id: uuid.UUID
    name: Name
    origin_country: Country
    enterprises: Annotated[list[NewEnterprise], Field(min_length=1, max_length=200)]


class DelegationChanges(Strict):
    name: Name | None = None
    origin_country: Country | None = None


class NewRoadshow(LayoutIn):
    """A road show; with venues, `tables` is their tables' sum."""

    name: Name
    venue: Name
    timezone: Annotated[str, Field(max_length=64, description="IANA zone, e.g. Asia/Shanghai")]
    start_date: date
    end_date: date
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    slot_minutes: Annotated[int, Field(ge=10, le=120)] = 20
    tables: Annotated[int, Field(ge=1, le=2000)] = 20

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("day_start", "day_end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a local time of day in the road show's zone, without offset")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> NewRoadshow:
        for name in ("start_date", "end_date"):
            if not EARLIEST_DATE <= getattr(self, name) <= LATEST_DATE:
                raise InvalidInput(f"between {EARLIEST_DATE} and {LATEST_DATE}", field=name)
        if self.end_date < self.start_date:
            raise InvalidInput("must not be before start_date", field="end_date")
        if (self.end_date - self.start_date).days > 30:
            raise InvalidInput("a road show lasts at most 31 days", field="end_date")
        if self.day_end <= self.day_start:
            raise InvalidInput("must be after day_start", field="day_end")
        check_layout(self, self.start_date, self.end_date)
        if self.venues:
            self.tables = sum(v.tables for v in self.venues)
        return self


class RoadshowChanges(Strict):
    name: Name | None = None
    venue: Name | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    start_date: date | None = None
    end_date: date | None = None
    day_start: time | None = None
    day_end: time | None = None
    slot_minutes: Annotated[int, Field(ge=10, le=120)] | None = None
    tables: Annotated[int, Field(ge=1, le=2000)] | None = None
    venues: Annotated[list[VenueIn], Field(max_length=20)] | None = None
    travel: Annotated[list[TravelIn], Field(max_length=190)] | None = None
    agenda: Annotated[list[AgendaBlockIn], Field(max_length=200)] | None = None
    interpreters: Annotated[list[InterpreterIn], Field(max_length=200)] | None = None


class NewParticipant(Strict):
    roadshow_id: uuid.UUID
    kind: ParticipantKind
    name: Name
    sectors: Sectors
    focus: Annotated[str, Field(min_length=1, max_length=5000, description="What they look for")]
    stages: list[Stage] = Field(default_factory=list)
    ticket_min: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None = None
    ticket_max: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)] | None = None
    currency: Currency | None = None
    offers: Annotated[list[PartnershipType], Field(min_length=1)]
    max_meetings: Annotated[int, Field(ge=1, le=48)] | None = None
    contact: PersonDetails
    availability: AvailabilityIn = Field(default_factory=AvailabilityIn)
    countries: Countries = Field(
        default_factory=list, description="Enterprise countries sought (ISO 3166-1 alpha-2)"
    )
    mandatory: Criteria = Field(
        default_factory=list,
        description="Criteria a pair must meet to be matched at all: stage (the project's"
        " stage is one of `stages`), ticket_range (funding sought, converted, within the"
        " range), sectors (a sector in common), country (the enterprise's is in `countries`)",
    )

    _unique_sectors = field_validator("sectors")(unique)
    _unique_lists = field_validator("countries", "mandatory")(unique)

    @model_validator(mode="after")
    def _consistent(self) -> NewParticipant:
        allowed = OFFERS_BY_KIND[self.kind]
        for i, offer in enumerate(self.offers):
            if offer not in allowed:
                raise InvalidInput(
                    f"a {self.kind.value} cannot offer {offer.value}", field=f"offers.{i}"
                )
        if self.kind is ParticipantKind.FUND:
            for name in ("ticket_min", "ticket_max", "currency"):
                if getattr(self, name) is None:
                    raise InvalidInput("required for a fund", field=name)
            if not self.stages:
                raise InvalidInput("a fund names the stages it invests in", field="stages")
        if (
            self.ticket_min is not None
            and self.ticket_max is not None
            and self.ticket_min > self.ticket_max
        ):
            raise InvalidInput("must not exceed ticket_max", field="ticket_min")
        self._check_mandatory()
        return self

    def _check_mandatory(self) -> None:
        """A mandatory criterion needs what it is checked against."""
        for i, criterion in enumerate(self.mandatory):
            missing = {
                "stage": None if self.stages else "stages",
                "ticket_range": None
                if self.currency is not None
                and (self.ticket_min is not None or self.ticket_max is not None)
                else "a ticket range with its currency",
                "country": None if self.countries else "countries",
                "sectors": None,
            }[criterion]
            if missing is not None:
                raise InvalidInput(
                    f"a mandatory {criterion} needs {missing}", field=f"mandatory.{i}"
                )


class ParticipantChanges(Strict):
    name: Name | None = None
    sectors: Sectors | None = None
    focus: Annotated[str, Field(min_length=1, max_length=5000)] | None = None
    stages: list[Stage] | None = None
    ticket_min: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None = None
    ticket_max: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)] | None = None
    currency: Currency | None = None
    offers: list[PartnershipType] | None = None
    max_meetings: Annotated[int, Field(ge=1, le=48)] | None = None
    contact: PersonDetails | None = None
    availability: AvailabilityIn | None = None
    countries: Countries | None = None
    mandatory: Criteria | None = None


@dataclass(frozen=True)
class IssuedKey:
    """A new API key: the token is shown once and never stored in clear."""

    partner_id: uuid.UUID
    key_id: uuid.UUID
    api_key: str


@dataclass(frozen=True)
class DelegationState:
    """A delegation as stored; its enterprises are rows of their own."""

    delegation_id: uuid.UUID
    roadshow_id: uuid.UUID
    name: str
    origin_country: str
    status: Status
    version: int

    def contract(self, enterprise_ids: list[uuid.UUID]) -> c.Delegation:
        return c.Delegation(
            delegation_id=self.delegation_id,
            roadshow_id=self.roadshow_id,
            name=self.name,
            origin_country=self.origin_country,
            enterprise_ids=enterprise_ids,
            status=self.status,
            version=self.version,
        )


@dataclass(frozen=True)
class DelegationWithEnterprises:
    delegation: c.Delegation
    enterprises: list[c.Enterprise]


@dataclass(frozen=True)
class Erasure:
    erasure_id: uuid.UUID
    subjects: int


@dataclass(frozen=True)
class PartyFilter:
    """What a partner's list of delegations, enterprises or participants is narrowed to."""

    roadshow_id: uuid.UUID | None = None
    status: Status | None = None
    delegation_id: uuid.UUID | None = None
    kind: ParticipantKind | None = None
    sectors: list[str] | None = None


def withdrawn(
    aggregate_id: uuid.UUID, state: c.Delegation | c.Enterprise | c.Participant
) -> c.Withdrawn:
    return c.Withdrawn(id=aggregate_id, roadshow_id=state.roadshow_id, version=state.version)


def ensure_active(status: str, what: str) -> None:
    """Raises Conflict (field `status`) for a withdrawn aggregate."""
    if status != ACTIVE:
        raise Conflict(f"this {what} is withdrawn and cannot change", field="status")


def merge_patch(current: M, patch: BaseModel, full: type[BaseModel]) -> dict[str, Any]:
    """Apply the fields a PATCH set onto the current state and validate the result
    as a whole (so cross-field rules hold after the change). Returns the new state
    as the `full` model's fields."""
    changes = patch.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise InvalidInput("cannot be null; leave it out to keep it", field=name)
    merged = {
        **current.model_dump(mode="json"),
        **patch.model_dump(mode="json", exclude_unset=True),
    }
    return full.model_validate(
        {k: v for k, v in merged.items() if k in full.model_fields}
    ).model_dump()


def has_changes(patch: BaseModel) -> bool:
    return bool(patch.model_fields_set)
