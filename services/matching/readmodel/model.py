"""Matching's read model of registration: road shows (with the organiser's
matching settings) and which partner may read a party. Organisations and
projects only: presidents and contacts are never stored here."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.matching.interest.model import MatchingMode
from services.matching.scheduling.problem import SlotGrid
from shared.contracts.matching import Side

ENTERPRISE: Side = "enterprise"
PARTICIPANT: Side = "participant"


def grid_of(values: Mapping[str, Any]) -> SlotGrid:
    """The slot grid of a road show's fields (a stored row or an event's data)."""
    return SlotGrid(**{f.name: values[f.name] for f in dataclasses.fields(SlotGrid)})


@dataclass(frozen=True)
class Roadshow:
    id: uuid.UUID
    organiser_id: uuid.UUID  # the partner that created it
    name: str
    venue: str
    timezone: str
    version: int
    grid: SlotGrid
    schedule_id: uuid.UUID | None  # the current schedule, once one was made
    matching_mode: MatchingMode
    interest_ttl_hours: int
    scheduling_closes_at: datetime | None


@dataclass(frozen=True)
class PartyAccess:
    """A party's registering partner and its road show's organiser (None while
    the road show is not known yet)."""

    party_id: uuid.UUID
    roadshow_id: uuid.UUID
    partner_id: uuid.UUID
    organiser_id: uuid.UUID | None
