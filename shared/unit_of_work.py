"""The unit of work every use case and every event handler runs in.

One unit is one Postgres transaction plus the events it causes: a use case changes
state through repository functions on `uow.conn` and calls `uow.emit(...)`; the
events reach the outbox in the same transaction, just before it commits, so
nothing is published for a change that rolled back.

A unit either begins its own transaction or joins one the caller already holds
(`UnitOfWork.joining`), so a use case called from a route, from an event handler
or from another use case behaves the same. `caused_by` gives the part of a unit
that handles one event: same transaction, same staged events, the event's
correlation id and partner, and the event's id as the cause of what it emits.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace

import asyncpg
from pydantic import BaseModel

from shared.contracts import EventType
from shared.envelope import Context, Envelope, new_event
from shared.outbox import add_to_topics


@dataclass
class _Staged:
    events: list[tuple[str, Envelope]] = field(default_factory=list)


@dataclass(frozen=True)
class UnitOfWork:
    conn: asyncpg.Connection
    ctx: Context
    producer: str
    topic: str
    _staged: _Staged = field(default_factory=_Staged, repr=False)

    @property
    def partner_id(self) -> uuid.UUID:
        """The partner this unit acts for (partner routes, and events a partner caused)."""
        if self.ctx.partner_id is None:
            raise RuntimeError("this unit acts for no partner")
        return self.ctx.partner_id

    def emit(
        self, type_: EventType, key: uuid.UUID | str, data: BaseModel, *, topic: str | None = None
    ) -> Envelope:
        """Stage an event of this service (on its topic, or `topic`); it goes out only
        if the unit commits."""
        event = new_event(self.producer, self.ctx, type_, key, data)
        self._staged.events.append((topic or self.topic, event))
        return event

    def stage(self, topic: str, event: Envelope) -> None:
        """Stage an event built elsewhere (another topic, or an event re-sent as is)."""
        self._staged.events.append((topic, event))

    @property
    def staged(self) -> list[Envelope]:
        return [event for _, event in self._staged.events]

    def caused_by(self, event: Envelope) -> UnitOfWork:
        """The same unit, working on behalf of `event` (its flow and its partner)."""
        return replace(self, ctx=Context.caused_by(event))

    def acting_as(self, ctx: Context) -> UnitOfWork:
        return replace(self, ctx=ctx)

    async def flush(self) -> None:
        """Write the staged events to the outbox (called once, before commit)."""
        if not self._staged.events:
            return
        staged, self._staged.events[:] = list(self._staged.events), []
        await add_to_topics(self.conn, staged)

    @classmethod
    @asynccontextmanager
    async def joining(
        cls, conn: asyncpg.Connection, ctx: Context, *, producer: str, topic: str
    ) -> AsyncIterator[UnitOfWork]:
        """A unit on `conn`: inside the caller's transaction if one is open (the
        caller commits), else in a transaction of its own."""
        uow = cls(conn, ctx, producer, topic)
        if conn.is_in_transaction():
            yield uow
            await uow.flush()
            return
        async with conn.transaction():
            yield uow
            await uow.flush()


@dataclass(frozen=True)
class UnitsOfWork:
    """What a service's bootstrap wires once: where units get their connection and
    which service and topic their events come from."""

    pool: asyncpg.Pool
    producer: str
    topic: str

    @asynccontextmanager
    async def begin(
        self,
        ctx: Context,
        *,
        transaction: bool = True,
        conn: asyncpg.Connection | None = None,
    ) -> AsyncIterator[UnitOfWork]:
        """A unit on a pooled connection (or on `conn`, one the caller already holds for
        this request); `transaction=False` for reads, which emit nothing."""
        async with contextlib.AsyncExitStack() as stack:
            if conn is None:
                conn = await stack.enter_async_context(self.pool.acquire())
            if not transaction:
                yield UnitOfWork(conn, ctx, self.producer, self.topic)
                return
            async with UnitOfWork.joining(
                conn, ctx, producer=self.producer, topic=self.topic
            ) as uow:
                yield uow

    def on(self, conn: asyncpg.Connection, ctx: Context) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit on a connection the caller holds (a CLI, a worker's own connection)."""
        return UnitOfWork.joining(conn, ctx, producer=self.producer, topic=self.topic)
