"""HTTP request and response models of the registration API (not the event
contracts, though responses reuse their shapes so partners see one vocabulary).

Requests are strict: unknown fields are refused, so a typo is a 422 naming it."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import date, time
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, field_validator, model_validator

from shared.contracts import registration as contracts
from shared.errors import InvalidInput
from shared.http.pagination import Page
from shared.http.requests import Strict, unique
from shared.taxonomy import OFFERS_BY_KIND, ParticipantKind, PartnershipType, Sector, Stage

Name = Annotated[str, Field(min_length=1, max_length=200)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{7,20}$")]
Money = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Status = Literal["active", "withdrawn"]
Sectors = Annotated[list[Sector], Field(min_length=1, max_length=8)]


class PersonIn(Strict):
    name: Name
    title: Annotated[str, Field(max_length=200)] | None = None
    email: EmailStr
    phone: Phone | None = None


class ProjectIn(Strict):
    title: Name
    summary: Annotated[str, Field(min_length=1, max_length=5000)]
    stage: Stage
    funding_amount: Money
    funding_currency: Currency
    partnership_types: Annotated[list[PartnershipType], Field(min_length=1)]

    _unique_types = field_validator("partnership_types")(unique)


class EnterpriseIn(Strict):
    name: Name
    country: Country
    sectors: Sectors
    president: PersonIn
    project: ProjectIn

    _unique_sectors = field_validator("sectors")(unique)


class EnterprisePatch(Strict):
    name: Name | None = None
    country: Country | None = None
    sectors: Sectors | None = None
    president: PersonIn | None = None
    project: ProjectIn | None = None


class DelegationIn(Strict):
    roadshow_id: uuid.UUID
    name: Name
    origin_country: Country
    enterprises: Annotated[list[EnterpriseIn], Field(min_length=1, max_length=200)]


class DelegationPatch(Strict):
    name: Name | None = None
    origin_country: Country | None = None


class RoadshowIn(Strict):
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
    def _ordered(self) -> RoadshowIn:
        if self.end_date < self.start_date:
            raise InvalidInput("must not be before start_date", field="end_date")
        if (self.end_date - self.start_date).days > 30:
            raise InvalidInput("a road show lasts at most 31 days", field="end_date")
        if self.day_end <= self.day_start:
            raise InvalidInput("must be after day_start", field="day_end")
        return self


class RoadshowPatch(Strict):
    name: Name | None = None
    venue: Name | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    start_date: date | None = None
    end_date: date | None = None
    day_start: time | None = None
    day_end: time | None = None
    slot_minutes: Annotated[int, Field(ge=10, le=120)] | None = None
    tables: Annotated[int, Field(ge=1, le=2000)] | None = None


class ParticipantIn(Strict):
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
    contact: PersonIn

    _unique_sectors = field_validator("sectors")(unique)

    @model_validator(mode="after")
    def _consistent(self) -> ParticipantIn:
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
        return self


class ParticipantPatch(Strict):
    name: Name | None = None
    sectors: Sectors | None = None
    focus: Annotated[str, Field(min_length=1, max_length=5000)] | None = None
    stages: list[Stage] | None = None
    ticket_min: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None = None
    ticket_max: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)] | None = None
    currency: Currency | None = None
    offers: list[PartnershipType] | None = None
    max_meetings: Annotated[int, Field(ge=1, le=48)] | None = None
    contact: PersonIn | None = None


class ErasureIn(Strict):
    email: EmailStr


class ErasureOut(BaseModel):
    erasure_id: uuid.UUID
    subjects: int


class PartnerIn(Strict):
    name: Name


class PartnerKeyOut(BaseModel):
    partner_id: uuid.UUID
    key_id: uuid.UUID
    api_key: str = Field(description="Shown once; store it, it cannot be read again")


class RoadshowQuery(Page):
    pass


class DelegationQuery(Page):
    roadshow_id: uuid.UUID | None = None
    status: Status | None = None


class EnterpriseQuery(Page):
    roadshow_id: uuid.UUID | None = None
    delegation_id: uuid.UUID | None = None
    status: Status | None = None
    sector: list[Sector] | None = Field(default=None, description="Any of these sectors")


class ParticipantQuery(Page):
    roadshow_id: uuid.UUID | None = None
    kind: ParticipantKind | None = None
    status: Status | None = None
    sector: list[Sector] | None = Field(default=None, description="Any of these sectors")


class DelegationOut(contracts.Delegation):
    enterprises: list[contracts.Enterprise] = Field(default_factory=list)


class SectorGroupOut(BaseModel):
    group: str
    sectors: list[str]
    linked_groups: list[str]


class SectorsOut(BaseModel):
    groups: list[SectorGroupOut]
