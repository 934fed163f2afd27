"""This process's in-memory indexes of road shows, kept in step with the database.

Every use of a road show's index happens under the road show's database lock
(`readmodel.repository.lock_roadshow`, held to the end of the transaction), which
serialises it against every other transaction of every matching process. Under
that lock the index is checked against the road show's change token (see
migration 0003 and `RoadshowIndex.sync_action`) and brought up to date first: a
change another process made, or one of this process's transactions that rolled
back, is read again from the database, never served from memory. An asyncio lock
per road show, taken after the database lock, keeps the entry in use from being
evicted or rebuilt under a caller's feet; it never waits while the database lock
is held elsewhere, so the two cannot deadlock.

Memory is bounded: an index idle for `idle_seconds` is dropped, and beyond
`max_roadshows` indexes or `max_parties` parties in all, the least recently used
ones are dropped (rebuilt from the read model on their next use).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from services.matching.readmodel import repository as readmodel
from services.matching.scoring.index import RoadshowIndex
from shared.contracts.matching import Side
from shared.logging import get_logger

log = get_logger(__name__)

SIDES: tuple[Side, ...] = ("enterprise", "participant")
# Building features for more parties than this runs in a thread, so the event
# loop (and the Kafka heartbeats on it) keeps turning meanwhile.
_BUILD_IN_THREAD = 2_000


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    index: RoadshowIndex | None = None
    used_at: float = 0.0


class Indexes:
    def __init__(
        self,
        max_roadshows: int,
        max_parties: int,
        idle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_roadshows = max_roadshows
        self._max_parties = max_parties
        self._idle = idle_seconds
        self._clock = clock
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self.builds = 0
        self.catch_ups = 0

    def cached(self, roadshow_id: uuid.UUID) -> RoadshowIndex | None:
        entry = self._entries.get(roadshow_id)
        return entry.index if entry is not None else None

    @asynccontextmanager
    async def using(
        self, conn: asyncpg.Connection, roadshow_id: uuid.UUID
    ) -> AsyncIterator[RoadshowIndex]:
        """The road show's index, in step with the database, for the caller's
        transaction (which must hold the road show's lock)."""
        entry = self._entries.get(roadshow_id)
        if entry is None:
            entry = self._entries[roadshow_id] = _Entry()
        async with entry.lock:
            self._entries.move_to_end(roadshow_id)
            entry.used_at = self._clock()
            try:
                entry.index = await self._synced(conn, roadshow_id, entry.index)
                yield entry.index
            except BaseException:
                # It may be half-changed: the next use builds it afresh.
                entry.index = None
                raise
        self._evict()

    async def _synced(
        self, conn: asyncpg.Connection, roadshow_id: uuid.UUID, index: RoadshowIndex | None
    ) -> RoadshowIndex:
        seq, xid = await readmodel.change_token(conn, roadshow_id)
        if index is None:
            # Read after the token: rows stamped later are caught up next time.
            index = RoadshowIndex.empty(seq)
            await _read(conn, roadshow_id, index, since=-1, touched=None)
            self.builds += 1
            log.info("matching.index_built", roadshow_id=str(roadshow_id), parties=index.parties)
            return index
        action = index.sync_action(seq, xid)
        if action == "committed":
            assert index.pending is not None
            index.seq, index.pending = index.pending.seq, None
        elif action == "catch_up":
            touched = index.pending.touched if index.pending is not None else None
            await _read(conn, roadshow_id, index, since=index.seq, touched=touched)
            index.seq, index.pending = seq, None
            self.catch_ups += 1
        return index

    def _evict(self) -> None:
        now = self._clock()
        idle = [
            rid
            for rid, e in self._entries.items()
            if not e.lock.locked() and now - e.used_at > self._idle
        ]
        for rid in idle:
            del self._entries[rid]
        # Least recently used first; an entry in use stays.
        for rid in list(self._entries):
            if not self._over_budget():
                break
            entry = self._entries[rid]
            if not entry.lock.locked() and len(self._entries) > 1:
                del self._entries[rid]
                log.info("matching.index_evicted", roadshow_id=str(rid))

    def _over_budget(self) -> bool:
        parties = sum(e.index.parties for e in self._entries.values() if e.index is not None)
        return len(self._entries) > self._max_roadshows or parties > self._max_parties


async def _read(
    conn: asyncpg.Connection,
    roadshow_id: uuid.UUID,
    index: RoadshowIndex,
    *,
    since: int | None,
    touched: dict[Side, set[uuid.UUID]] | None,
) -> None:
    """Apply the parties stamped after `since`, and those of `touched`, as the
    database holds them now."""
    for side in SIDES:
        rows = await readmodel.changed_parties(
            conn, side, roadshow_id, since, touched[side] if touched else ()
        )
        if len(rows.active) > _BUILD_IN_THREAD:
            await asyncio.to_thread(index.apply, side, rows.active, rows.gone)
        else:
            index.apply(side, rows.active, rows.gone)


async def refresh(
    conn: asyncpg.Connection,
    roadshow_id: uuid.UUID,
    index: RoadshowIndex,
    changed: dict[Side, set[uuid.UUID]],
) -> None:
    """After this transaction changed parties: stamp them, and put their rows as
    they now are into the index (pending until the transaction is seen to commit)."""
    seq, xid = await readmodel.stamp_changes(
        conn, roadshow_id, changed["enterprise"], changed["participant"]
    )
    index.stamp(seq, xid, changed)
    await _read(conn, roadshow_id, index, since=None, touched=changed)
