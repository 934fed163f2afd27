"""HTTP request and response models of the registration API (not the event
contracts, though responses reuse their shapes so partners see one vocabulary).

Request bodies are the domain's commands under their API names; requests are
strict: unknown fields are refused, so a typo is a 422 naming it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.registration import model
from shared.contracts import registration as contracts
from shared.http.requests import Strict
from shared.pagination import Page
from shared.taxonomy import ParticipantKind, Sector


class RoadshowIn(model.NewRoadshow):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "North American intelligent technology road show",
                    "venue": "Caohejing High-Tech Park, Shanghai",
                    "timezone": "Asia/Shanghai",
                    "start_date": "2027-05-15",
                    "end_date": "2027-05-16",
                    "day_start": "09:00",
                    "day_end": "17:00",
                    "slot_minutes": 30,
                    "tables": 20,
                }
            ]
        }
    )


class RoadshowPatch(model.RoadshowChanges):
    pass


class DelegationIn(model.NewDelegation):
    pass


class DelegationPatch(model.DelegationChanges):
    pass


class EnterpriseIn(model.NewEnterprise):
    pass


class EnterprisePatch(model.EnterpriseChanges):
    pass


class ParticipantIn(model.NewParticipant):
    pass


class ParticipantPatch(model.ParticipantChanges):
    pass


class AvailabilityIn(model.AvailabilityIn):
    pass


class ErasureIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "a.person@example.com"}]})

    email: EmailStr


class ErasureOut(BaseModel):
    erasure_id: uuid.UUID
    subjects: int


class PartnerIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Shanghai Foreign Investment Promotion Center"}]}
    )

    name: model.Name


class PartnerKeyOut(BaseModel):
    partner_id: uuid.UUID
    key_id: uuid.UUID
    api_key: str = Field(description="Shown once; store it, it cannot be read again")


class RoadshowQuery(Page):
    pass


class DelegationQuery(Page):
    roadshow_id: uuid.UUID | None = None
    status: model.Status | None = None


class EnterpriseQuery(Page):
    roadshow_id: uuid.UUID | None = None
    delegation_id: uuid.UUID | None = None
    status: model.Status | None = None
    sector: list[Sector] | None = Field(default=None, description="Any of these sectors")


class ParticipantQuery(Page):
    roadshow_id: uuid.UUID | None = None
    kind: ParticipantKind | None = None
    status: model.Status | None = None
    sector: list[Sector] | None = Field(default=None, description="Any of these sectors")


class DelegationOut(contracts.Delegation):
    enterprises: list[contracts.Enterprise] = Field(default_factory=list)

    @classmethod
    def of(cls, found: model.DelegationWithEnterprises) -> DelegationOut:
        return cls(**found.delegation.model_dump(), enterprises=found.enterprises)


class SectorGroupOut(BaseModel):
    group: str
    sectors: list[str]
    linked_groups: list[str]


class SectorsOut(BaseModel):
    groups: list[SectorGroupOut]
