"""Scoring use cases: rescore a party that changed against its road show's
counterparts and publish what changed; withdraw a party's matches; list
matches. Each runs in the unit of work it is given."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.matching.readmodel import repository as readmodel
from services.matching.readmodel.access import organised_roadshow, readable_party
from services.matching.scheduling.service import cancel_meetings_of_matches
from services.matching.scoring import repository as repo
from services.matching.scoring.model import (
    MatchChange,
    MatchFilter,
    MatchView,
    Rescoring,
    Weights,
    plan_rescore,
    plan_withdrawal,
)
from services.matching.settings import MatchingSettings
from shared.contracts.matching import Side
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class Scoring:
    weights: Weights
    threshold: float
    delta: float

    @classmethod
    def from_settings(cls, settings: MatchingSettings) -> Scoring:
        return cls(settings.weights(), settings.match_threshold, settings.match_update_delta)

    async def rescore(
        self, uow: UnitOfWork, side: Side, party_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> None:
        """Score an active party against every active counterpart of its road show
        and publish the matches that changed (the caller holds the road show's lock)."""
        conn = uow.conn
        existing = await repo.matches_of(conn, side, party_id)
        only_e = party_id if side == "enterprise" else None
        only_p = party_id if side == "participant" else None
        rescoring = Rescoring(
            side,
            roadshow_id,
            await readmodel.active_enterprises(conn, roadshow_id, only=only_e),
            await readmodel.active_participants(conn, roadshow_id, only=only_p),
        )
        changes = plan_rescore(rescoring, existing, self.weights, self.threshold, self.delta)
        await _publish(uow, changes)
        shape = (len(rescoring.enterprises), len(rescoring.participants))
        log.info(
            "matching.rescored",
            side=side,
            party_id=str(party_id),
            counterparts=max(shape) if min(shape) else 0,
            proposed=sum(c.event_type == "match.proposed" for c in changes),
            updated=sum(c.event_type == "match.updated" for c in changes),
            withdrawn=sum(c.event_type == "match.withdrawn" for c in changes),
        )

    async def withdraw_matches(self, uow: UnitOfWork, side: Side, party_id: uuid.UUID) -> None:
        """Withdraw every proposed match of a party that left."""
        changes = plan_withdrawal(await repo.matches_of(uow.conn, side, party_id))
        await _publish(uow, changes)
        log.info(
            "matching.party_withdrawn", side=side, party_id=str(party_id), matches=len(changes)
        )

    async def list_matches(
        self,
        conn: asyncpg.Connection,
        partner_id: uuid.UUID,
        owner: Side | None,
        owner_id: uuid.UUID,
        f: MatchFilter,
    ) -> list[MatchView]:
        """Proposed matches of a party (`owner` its side) or of a road show
        (`owner` None), best first; raises NotFound or Forbidden for a partner
        that may not read them."""
        if owner is None:
            await organised_roadshow(conn, partner_id, owner_id)
        else:
            await readable_party(conn, partner_id, owner, owner_id)
        return await repo.list_matches(conn, owner or "roadshow", owner_id, f)


async def _publish(uow: UnitOfWork, changes: Sequence[MatchChange]) -> None:
    """Store what the events say, stage them (keyed by match id, so a pair's
    events keep their order), and cancel the meetings of withdrawn matches."""
    await repo.write_matches(uow.conn, [c.match for c in changes])
    for c in changes:
        uow.emit(c.event_type, c.match.match_id, c.match)
    gone = [c.match.match_id for c in changes if c.event_type == "match.withdrawn"]
    await cancel_meetings_of_matches(uow, gone)
