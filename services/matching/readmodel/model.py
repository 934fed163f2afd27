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
from services.matching.scheduling.problem import AgendaBlock, Interpreter, Layout, SlotGrid, Venue
from shared.contracts import registration as reg
from shared.contracts.matching import Side

ENTERPRISE: Side = "enterprise"
PARTICIPANT: Side = "participant"


def grid_of(values: Mapping[str, Any]) -> SlotGrid:
    """The slot grid of a road show's fields (a stored row or an event's data)."""
    return SlotGrid(**{f.name: values[f.name] for f in dataclasses.fields(SlotGrid)})


LAYOUT_FIELDS = ("venues", "travel", "agenda", "interpreters")


def layout_of(values: Mapping[str, Any]) -> Layout:
    """The scheduler's layout of a road show's venues, travel, agenda and
    interpreters (as its event carries them; each may be missing)."""
    venues = [reg.Venue.model_validate(v) for v in values.get("venues") or ()]
    travel = [reg.Travel.model_validate(t) for t in values.get("travel") or ()]
    agenda = [reg.AgendaBlock.model_validate(b) for b in values.get("agenda") or ()]
    interpreters = [reg.Interpreter.model_validate(i) for i in values.get("interpreters") or ()]
    return Layout(
        venues=tuple(Venue(v.name, v.tables, tuple(v.dates)) for v in venues),
        travel=tuple((t.between[0], t.between[1], t.minutes) for t in travel),
        agenda=tuple(AgendaBlock(b.title, b.starts_at, b.ends_at) for b in agenda),
        interpreters=tuple(
            Interpreter(
                frozenset(i.languages),
                None
                if i.available is None
                else tuple((w.starts_at, w.ends_at) for w in i.available),
            )
            for i in interpreters
        ),
    )


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
    layout: Layout = dataclasses.field(default_factory=Layout)


@dataclass(frozen=True)
class PartyAccess:
    """A party's registering partner and its road show's organiser (None while
    the road show is not known yet)."""

    party_id: uuid.UUID
    roadshow_id: uuid.UUID
    partner_id: uuid.UUID
    organiser_id: uuid.UUID | None
