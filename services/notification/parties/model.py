"""The organisations notification knows from registration's events: enough to
route a matching event to the partner that registered the participant, filter
it and name both sides. Organisation names only; people live in e-mail's
`recipients`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.envelope import Envelope


@dataclass(frozen=True)
class Party:
    """An organisation named in a webhook (never a person)."""

    id: uuid.UUID
    name: str
    kind: str | None
    country: str | None
    sectors: tuple[str, ...]


@dataclass(frozen=True)
class KnownParty:
    """A participant or enterprise as registration last described it."""

    id: uuid.UUID
    partner_id: uuid.UUID | None  # who registered it
    roadshow_id: uuid.UUID
    name: str
    sectors: tuple[str, ...]
    status: str  # active | withdrawn


@dataclass(frozen=True)
class KnownParticipant(KnownParty):
    partner_id: uuid.UUID  # always known: nothing about a participant is routed without it
    kind: str

    @property
    def party(self) -> Party:
        return Party(self.id, self.name, self.kind, None, self.sectors)


@dataclass(frozen=True)
class KnownEnterprise(KnownParty):
    country: str

    @property
    def party(self) -> Party:
        return Party(self.id, self.name, None, self.country, self.sectors)


@dataclass(frozen=True)
class HeldEvent:
    """A matching event that arrived before a party it concerns (topics are not
    ordered against each other), kept until both parties are known."""

    seq: int
    envelope: Envelope
