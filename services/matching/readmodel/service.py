"""Read-model use cases: registration's events keep matching's copy of road
shows, enterprises and participants current, and a party that changed is
rescored at once. Every change to one road show serialises on its lock, so a
participant and an enterprise registering together still see each other. A
stale version (an older event arriving late) changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.matching.readmodel import repository as repo
from services.matching.readmodel.model import grid_of
from services.matching.scheduling import repository as meetings
from services.matching.scheduling.service import cancel_meetings
from services.matching.scoring.service import Scoring
from shared.contracts import registration as reg
from shared.contracts.matching import Side
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class ReadModel:
    scoring: Scoring

    async def roadshow_changed(self, uow: UnitOfWork, data: reg.Roadshow) -> None:
        """Store a road show; new slots or tables cancel its schedule, which no
        longer describes the event. The creating partner organises it."""
        conn = uow.conn
        await repo.lock_roadshow(conn, data.roadshow_id)
        stored = await repo.get_roadshow(conn, data.roadshow_id, for_update=True)
        if stored is not None and stored.version >= data.version:
            log.info("matching.stale_event", roadshow_id=str(data.roadshow_id))
            return
        # Only the creating partner can change it later.
        organiser = stored.organiser_id if stored is not None else uow.ctx.partner_id
        if organiser is None:
            raise ValueError("roadshow event without the organising partner")
        cancelled = []
        if stored is not None and stored.grid != grid_of(data.model_dump()):
            current = await meetings.scheduled_meetings(conn, data.roadshow_id, for_update=True)
            cancelled = await cancel_meetings(uow, [v.meeting for v in current])
            await repo.set_current_schedule(conn, data.roadshow_id, None)
        await repo.upsert_roadshow(conn, organiser, data)
        log.info(
            "matching.roadshow_stored",
            roadshow_id=str(data.roadshow_id),
            version=data.version,
            meetings_cancelled=len(cancelled),
        )

    async def enterprise_changed(self, uow: UnitOfWork, data: reg.Enterprise) -> None:
        await self._party_changed(uow, "enterprise", data.enterprise_id, data)

    async def participant_changed(self, uow: UnitOfWork, data: reg.Participant) -> None:
        await self._party_changed(uow, "participant", data.participant_id, data)

    async def _party_changed(
        self,
        uow: UnitOfWork,
        side: Side,
        party_id: uuid.UUID,
        data: reg.Enterprise | reg.Participant,
    ) -> None:
        """Store the party and rescore it, or withdraw its matches when it is
        no longer active."""
        await repo.lock_roadshow(uow.conn, data.roadshow_id)
        if await self._stale(uow, side, party_id, data.version):
            return
        if isinstance(data, reg.Enterprise):
            await repo.upsert_enterprise(uow.conn, uow.ctx.partner_id, data)
        else:
            await repo.upsert_participant(uow.conn, uow.ctx.partner_id, data)
        if data.status != "active":
            await self.scoring.withdraw_matches(uow, side, party_id)
        else:
            await self.scoring.rescore(uow, side, party_id, data.roadshow_id)

    async def party_withdrawn(self, uow: UnitOfWork, side: Side, data: reg.Withdrawn) -> None:
        await repo.lock_roadshow(uow.conn, data.roadshow_id)
        if await self._stale(uow, side, data.id, data.version):
            return
        await repo.mark_withdrawn(uow.conn, side, data)
        await self.scoring.withdraw_matches(uow, side, data.id)

    async def person_erased(self, uow: UnitOfWork, data: reg.PersonErased) -> None:
        """Matching keeps organisations and projects, never presidents or contacts
        (see the read model), so an erasure finds nothing here to remove."""
        log.info("matching.erasure_noted", erasure_id=str(data.erasure_id), held=0)

    async def _stale(self, uow: UnitOfWork, side: Side, party_id: uuid.UUID, version: int) -> bool:
        stored = await repo.locked_party_version(uow.conn, side, party_id)
        if stored is not None and stored >= version:
            log.info("matching.stale_event", side=side, party_id=str(party_id), version=version)
            return True
        return False
