"""Scoring use cases: rescore the parties that changed (a burst of one road
show's registrations at once) against the road show's in-memory index and
publish what changed; list matches. Each runs in the unit of work it is given."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
from pydantic import BaseModel

from services.matching.readmodel import repository as readmodel
from services.matching.readmodel.access import organised_roadshow, readable_party
from services.matching.scheduling.service import cancel_meetings_of_matches
from services.matching.scoring import repository as repo
from services.matching.scoring.index import RoadshowIndex, take_rows
from services.matching.scoring.indexes import SIDES, Indexes, refresh
from services.matching.scoring.model import MatchFilter, MatchView, Weights
from services.matching.scoring.plan import (
    Block,
    PlannedPairs,
    match_of,
    plan_block,
    plan_withdrawal,
)
from services.matching.settings import MatchingSettings
from shared.contracts.matching import (
    MAX_CHANGES_PER_BATCH,
    Match,
    MatchChange,
    MatchesChanged,
    MatchEventType,
    Side,
    match_shard_key,
)
from shared.envelope import Envelope
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class PartyChange:
    """A party one event changed; `uow` is the unit acting on behalf of that event.
    `first` says the read model had not seen the party before the event: matches
    are only ever made for stored parties, so it has none yet."""

    uow: UnitOfWork
    side: Side
    party_id: uuid.UUID
    first: bool


@dataclass(frozen=True)
class Scoring:
    weights: Weights
    threshold: float
    delta: float
    indexes: Indexes
    pairs_per_transaction: int

    @classmethod
    def from_settings(cls, settings: MatchingSettings) -> Scoring:
        return cls(
            settings.weights(),
            settings.match_threshold,
            settings.match_update_delta,
            Indexes(
                settings.index_max_roadshows,
                settings.index_max_parties,
                settings.index_idle_seconds,
            ),
            settings.rescoring_pairs_per_transaction,
        )

    def pairs_of(self, event: Envelope, data: BaseModel) -> int:
        """About how many pairs an event makes the rescoring score: its party against
        the road show's counterparts, as this process's index has them (read without
        the lock: an estimate for sizing transactions). A road show not in memory
        counts as a full transaction, so the event that builds its index goes alone."""
        side = event.type.split(".")[0]
        roadshow_id = getattr(data, "roadshow_id", None)
        if side not in SIDES or not isinstance(roadshow_id, uuid.UUID):
            return 1
        index = self.indexes.cached(roadshow_id)
        if index is None:
            return self.pairs_per_transaction
        counterparts = index.participants if side == "enterprise" else index.enterprises
        return max(1, len(counterparts))

    async def rescore(
        self, uow: UnitOfWork, roadshow_id: uuid.UUID, changes: Sequence[PartyChange]
    ) -> None:
        """Rescore the parties of one road show that `changes` stored (in event
        order; the caller holds the road show's lock) as one block against the
        road show's in-memory index, and publish the matches that changed: each
        pair's change on behalf of the later event of its two parties."""
        conn = uow.conn
        changed: dict[Side, set[uuid.UUID]] = {side: set() for side in SIDES}
        known: dict[Side, set[uuid.UUID]] = {side: set() for side in SIDES}
        cause: dict[tuple[Side, uuid.UUID], int] = {}
        for k, c in enumerate(changes):
            changed[c.side].add(c.party_id)
            if not c.first:
                known[c.side].add(c.party_id)
            cause[(c.side, c.party_id)] = k
        async with self.indexes.using(conn, roadshow_id) as index:
            await refresh(conn, roadshow_id, index, changed)
            # A rush is mostly first registrations, whose matches are all new:
            # only parties seen before can have matches to lock and compare.
            existing = (
                await repo.matches_of_parties(conn, known["enterprise"], known["participant"])
                if known["enterprise"] or known["participant"]
                else []
            )
            pairs, unseen = _plan(index, changed, existing, self)

        def cause_of(m: Match) -> int:
            return max(
                cause.get(("enterprise", m.enterprise_id), -1),
                cause.get(("participant", m.participant_id), -1),
            )

        # A fair's block changes tens of thousands of pairs: their matches are built,
        # written and staged a slice at a time, so only one slice's objects are alive.
        counts = dict.fromkeys(_EVENTS, 0)
        withdrawals = [(c.event_type, c.match) for c in plan_withdrawal(unseen)]
        parts = list(pairs.slices(_SLICE))
        for k, part in enumerate(parts):
            staged = await _matches_of(conn, roadshow_id, part, self.weights)
            if k == len(parts) - 1:
                staged += withdrawals
            await _publish(uow, [c.uow for c in changes], cause_of, staged)
            for event_type, _ in staged:
                counts[event_type] += 1
        log.info(
            "matching.rescored",
            roadshow_id=str(roadshow_id),
            enterprises=len(changed["enterprise"]),
            participants=len(changed["participant"]),
            counterparts=index.parties,
            **{t.removeprefix("match."): n for t, n in counts.items()},
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


_EVENTS = ("match.proposed", "match.updated", "match.withdrawn")
_FLUSH_EVERY = 2_000  # match changes staged at most before they go to the outbox
_SLICE = 2_000  # pair changes whose matches are built and written together


def _plan(
    index: RoadshowIndex,
    changed: dict[Side, set[uuid.UUID]],
    existing: Sequence[Match],
    scoring: Scoring,
) -> tuple[PlannedPairs, list[Match]]:
    """The block: changed enterprises against every participant, then every other
    enterprise against the changed participants. Returns the pair changes, and
    the published matches no scored pair covers (a side is no longer active)."""
    es, ps = index.enterprises, index.participants
    new_e = sorted(i for i in changed["enterprise"] if i in es)
    new_p = sorted(i for i in changed["participant"] if i in ps)
    e_all, p_all = es.storage(), ps.storage()
    e_new_rows = np.array([es.row_of(i) for i in new_e], dtype=np.int64)
    p_new_rows = np.array([ps.row_of(i) for i in new_p], dtype=np.int64)
    e_pos = {i: k for k, i in enumerate(new_e)}
    p_pos = {i: k for k, i in enumerate(new_p)}
    rows_block, columns_block = [], []
    for m in existing:
        j, i = ps.row_of(m.participant_id), es.row_of(m.enterprise_id)
        if m.enterprise_id in e_pos and j is not None:
            rows_block.append((e_pos[m.enterprise_id], j, m))
        elif m.participant_id in p_pos and i is not None:
            columns_block.append((i, p_pos[m.participant_id], m))
    others = es.current().copy()
    others[e_new_rows] = False
    blocks = [
        Block(
            take_rows(e_all, e_new_rows), p_all, np.ones(len(new_e), bool), ps.current(), rows_block
        ),
        Block(
            e_all, take_rows(p_all, p_new_rows), others, np.ones(len(new_p), bool), columns_block
        ),
    ]
    pairs = PlannedPairs.concat(
        [
            plan_block(b, scoring.weights, scoring.threshold, scoring.delta)
            for b in blocks
            if len(b.enterprises.ids) and len(b.participants.ids)
        ]
    )
    seen = {m.match_id for _, _, m in rows_block + columns_block}
    return pairs, [m for m in existing if m.match_id not in seen]


async def _matches_of(
    conn: asyncpg.Connection, roadshow_id: uuid.UUID, pairs: PlannedPairs, weights: Weights
) -> list[tuple[MatchEventType, Match]]:
    """The matches the pair changes publish, with both sides' profiles (read for
    these pairs only: the index holds features, not texts)."""
    if not pairs:
        return []
    es = {
        e.enterprise_id: e
        for e in await readmodel.active_enterprises(
            conn, roadshow_id, sorted(set(pairs.enterprise_ids))
        )
    }
    ps = {
        p.participant_id: p
        for p in await readmodel.active_participants(
            conn, roadshow_id, sorted(set(pairs.participant_ids))
        )
    }
    return [
        (c.event_type, match_of(c, roadshow_id, es[c.enterprise_id], ps[c.participant_id], weights))
        for c in pairs.changes()
    ]


async def _publish(
    uow: UnitOfWork,
    causes: Sequence[UnitOfWork],
    cause_of: Callable[[Match], int],
    staged: Sequence[tuple[MatchEventType, Match]],
) -> None:
    """Store what the changes say, stage them in batches (one per cause and shard,
    each on behalf of its cause: the later event of the pair's two parties), and
    cancel the meetings of withdrawn matches."""
    await repo.write_matches(uow.conn, [m for _, m in staged])
    batches: dict[tuple[int, str], list[MatchChange]] = {}
    for event_type, m in staged:
        key = (cause_of(m), match_shard_key(m.roadshow_id, m.match_id))
        batches.setdefault(key, []).append(MatchChange(type=event_type, match=m))
    unflushed = 0
    for (k, shard), changes in batches.items():
        roadshow_id = changes[0].match.roadshow_id
        for start in range(0, len(changes), MAX_CHANGES_PER_BATCH):
            batch = changes[start : start + MAX_CHANGES_PER_BATCH]
            causes[k].emit(
                "matches.changed", shard, MatchesChanged(roadshow_id=roadshow_id, changes=batch)
            )
            unflushed += len(batch)
        if unflushed >= _FLUSH_EVERY:
            # A fair's block publishes tens of thousands of changes: into the outbox
            # as they are built, so their serialised copies do not pile up in memory.
            await uow.flush()
            unflushed = 0
    gone = [m.match_id for t, m in staged if t == "match.withdrawn"]
    if gone:
        await cancel_meetings_of_matches(uow, gone)
