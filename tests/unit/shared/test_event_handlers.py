"""The handler registry's dispatch keeps each key's order and handles every event
once, however batch and single handlers interleave (no database: a stand-in unit);
and which failures the consumer retries until they pass."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contracts import EventType
from shared.contracts.registration import PartnerRegistered
from shared.envelope import Context, Envelope, new_event
from shared.event_handlers import EventHandlers
from shared.failures import is_transient
from shared.unit_of_work import UnitOfWork

# Two types handled one by one, two handled in runs by one batch handler.
SINGLE: tuple[EventType, ...] = ("partner.registered", "roadshow.created")
BATCHED: tuple[EventType, ...] = ("enterprise.registered", "enterprise.updated")


def _registry(seen: list[tuple[str, uuid.UUID]], calls: list[int]) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(*SINGLE)
    async def one(uow: UnitOfWork, event: Envelope, _data: Any) -> None:
        assert uow.ctx.causation_id == str(event.id)
        seen.append((event.key, event.id))

    @handlers.batch(*BATCHED)
    async def many(_uow: UnitOfWork, events: list[tuple[Envelope, Any]]) -> None:
        calls.append(len(events))
        seen.extend((e.key, e.id) for e, _ in events)

    return handlers


def _event(type_: EventType, key: str) -> Envelope:
    pid = uuid.uuid4()
    data = PartnerRegistered(partner_id=pid, name="n")
    return new_event("test", Context("c"), type_, key, data)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SINGLE + BATCHED), st.sampled_from(["k1", "k2", "k3"])),
        max_size=40,
    )
)
async def test_every_event_once_and_each_keys_order_kept(
    stream: list[tuple[EventType, str]],
) -> None:
    events = [_event(t, k) for t, k in stream]
    seen: list[tuple[str, uuid.UUID]] = []
    calls: list[int] = []
    uow = UnitOfWork(conn=None, ctx=Context("c"), producer="test", topic="t")
    await _registry(seen, calls).run(uow, [(e, None) for e in events])
    assert [i for _, i in seen] == [e.id for e in events]  # all, once, in arrival order
    for key in ("k1", "k2", "k3"):
        assert [i for k, i in seen if k == key] == [e.id for e in events if e.key == key]
    runs = sum(
        1
        for n, e in enumerate(events)
        if e.type in BATCHED and (n == 0 or events[n - 1].type not in BATCHED)
    )
    assert len(calls) == runs  # one call per run of consecutive batched events


def test_a_type_has_one_kind_of_handler_and_a_contract() -> None:
    handlers = EventHandlers()

    @handlers.batch("enterprise.registered")
    async def many(_uow: UnitOfWork, _events: list[tuple[Envelope, Any]]) -> None:
        return None

    async def one(_uow: UnitOfWork, _event: Envelope, _data: Any) -> None:
        return None

    with pytest.raises(ValueError, match="batch handler"):
        handlers.add("enterprise.registered", one)
    with pytest.raises(ValueError, match="no contract"):
        handlers.add("no.such.event", one)  # type: ignore[arg-type]
    assert handlers.handles("enterprise.registered")
    assert not handlers.handles("enterprise.updated")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), True),
        (asyncpg.exceptions.InterfaceError("pool is closed"), True),
        (asyncpg.exceptions.SerializationError("40001"), True),
        (asyncpg.exceptions.DeadlockDetectedError("40P01"), True),
        (asyncpg.exceptions.AdminShutdownError("57P01"), True),
        (asyncpg.exceptions.ObjectNotInPrerequisiteStateError("not accepting"), True),
        (asyncpg.exceptions.UniqueViolationError("23505"), False),
        (ValueError("a rule"), False),
        (KeyError("a bug"), False),
    ],
)
def test_which_failures_are_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient
