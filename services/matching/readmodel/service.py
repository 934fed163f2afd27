"""Read-model use cases: registration's events keep matching's copy of road
shows, enterprises and participants current, and the parties that changed are
rescored at once (a run of events for one road show as one block). Every change
to one road show serialises on its lock, so a participant and an enterprise
registering together still see each other. A stale version (an older event
arriving late) changes nothing; a status other than active withdraws the
party's matches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.matching.feedback import repository as feedback
from services.matching.readmodel import repository as repo
from services.matching.readmodel.model import grid_of
from services.matching.scheduling import repository as meetings
from services.matching.scheduling.service import Scheduling, cancel_meetings
from services.matching.scoring.service import PartyChange, Scoring
from shared.contracts import registration as reg
from shared.contracts.matching import Side
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class PartyEvent:
    """One registration event about a party (registered, updated, withdrawn);
    `uow` acts on behalf of that event."""

    uow: UnitOfWork
    side: Side
    party_id: uuid.UUID
    roadshow_id: uuid.UUID
    data: reg.Enterprise | reg.Participant | reg.Withdrawn


@dataclass(frozen=True)
class ReadModel:
    scoring: Scoring
    # Reschedules a road show when a party's availability changes (None: never).
    scheduling: Scheduling | None = None

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

    async def parties_changed(self, changes: Sequence[PartyEvent]) -> None:
        """Store a run of party events (in order) and rescore what they changed,
        one block per road show. Road shows are locked in id order, so two runs
        over the same road shows cannot deadlock each other."""
        by_roadshow: dict[uuid.UUID, list[PartyEvent]] = {}
        for c in changes:
            by_roadshow.setdefault(c.roadshow_id, []).append(c)
        for roadshow_id in sorted(by_roadshow):
            events = by_roadshow[roadshow_id]
            await repo.lock_roadshow(events[0].uow.conn, roadshow_id)
            stored: list[PartyChange] = []
            moved = False  # some party's availability changed
            for c in events:
                done, availability_changed, first = await self._store(c)
                if done:
                    stored.append(PartyChange(c.uow, c.side, c.party_id, first))
                    moved |= availability_changed
            if stored:
                await self.scoring.rescore(events[0].uow, roadshow_id, stored)
            if moved and self.scheduling is not None:
                await self.scheduling.availability_changed(events[0].uow, roadshow_id)

    async def _store(self, c: PartyEvent) -> tuple[bool, bool, bool]:
        """Store what the event says. Returns whether it was stored (False for a
        stale version: nothing to do), whether the party's availability changed,
        and whether the read model had never seen the party (so it has no matches)."""
        conn = c.uow.conn
        found = await repo.locked_party_state(conn, c.side, c.party_id)
        if found is not None and found.version >= c.data.version:
            log.info(
                "matching.stale_event",
                side=c.side,
                party_id=str(c.party_id),
                version=c.data.version,
            )
            return False, False, False
        if isinstance(c.data, reg.Enterprise):
            await repo.upsert_enterprise(conn, c.uow.ctx.partner_id, c.data)
        elif isinstance(c.data, reg.Participant):
            await repo.upsert_participant(conn, c.uow.ctx.partner_id, c.data)
        else:
            await repo.mark_withdrawn(conn, c.side, c.data)
        if found is None:
            return True, False, True
        return True, _availability_changed(found.availability, c.data), False

    async def person_erased(self, uow: UnitOfWork, data: reg.PersonErased) -> None:
        """Matching keeps organisations and projects, never presidents or contacts
        (see the read model); what may name them is the free text of feedback
        notes, so the notes on the erased people's meetings are blanked."""
        notes = await feedback.erase_notes(
            uow.conn,
            [s.id for s in data.subjects if s.kind == "enterprise.president"],
            [s.id for s in data.subjects if s.kind == "participant.contact"],
        )
        log.info("matching.erasure_noted", erasure_id=str(data.erasure_id), notes=notes)


def _availability_changed(
    before: dict[str, Any] | None, data: reg.Enterprise | reg.Participant | reg.Withdrawn
) -> bool:
    """A stored party now offers other times (a withdrawal's meetings are
    cancelled with its matches instead)."""
    if before is None or isinstance(data, reg.Withdrawn):
        return False
    return reg.Availability.model_validate(before) != data.availability
