"""The shared consumer and relay under failures, on a real broker and database:
transient failures are retried until they pass (never dead-lettered), a poison
event goes to the dead-letter topic alone, and a dropped database connection
stops neither loop."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from shared.consumer import IdempotentConsumer, Weigh
from shared.contracts.registration import PartnerRegistered
from shared.db import SHARED_MIGRATIONS, connect
from shared.embedded import EmbeddedBroker
from shared.envelope import Context, Envelope, new_event
from shared.event_handlers import EventHandlers
from shared.failures import NotYet
from shared.outbox import OutboxRelay, add_events
from shared.testing.kafka import read_topic
from shared.testing.plugin import DatabaseFactory
from shared.testing.waiting import eventually
from shared.topics import Topics
from shared.unit_of_work import UnitOfWork


@pytest_asyncio.fixture
async def dsn(databases: DatabaseFactory) -> str:
    url = await databases.fresh([("shared", SHARED_MIGRATIONS)])
    conn = await asyncpg.connect(url)
    await conn.execute(
        "CREATE TABLE effects (seq bigserial, event_id uuid NOT NULL, name text NOT NULL)"
    )
    await conn.close()
    return url


def _events(n: int) -> list[Envelope]:
    ctx = Context(correlation_id="failures-test")
    out = []
    for i in range(n):
        pid = uuid.uuid4()
        data = PartnerRegistered(partner_id=pid, name=f"p{i}")
        out.append(new_event("test", ctx, "partner.registered", pid, data))
    return out


async def _produce(bootstrap: str, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for e in events:
            await producer.send(topic, e.to_bytes(), key=e.key.encode())
        await producer.flush()
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def _running(consumer: IdempotentConsumer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _effects(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["name"] for r in await conn.fetch("SELECT name FROM effects")]
    finally:
        await conn.close()


async def _one_dead_letter_and_effects(
    dsn: str, broker: EmbeddedBroker, topics: Topics, consumer: IdempotentConsumer, effects: int
) -> tuple[list[Any], list[str]]:
    """Runs the consumer until the topic's dead-letter topic holds a record and
    `effects` effects are in; both."""
    async with _running(consumer):
        dead = await read_topic(
            broker.bootstrap_servers, Topics.dead_letter(topics.registration), at_least=1
        )

        async def others_done() -> list[str] | None:
            found = await _effects(dsn)
            return found if len(found) >= effects else None

        return dead, await eventually(others_done, within=30, what="the other events")


def _consumer(
    dsn: str,
    broker: EmbeddedBroker,
    topic: str,
    handlers: EventHandlers,
    retry_seconds: float = 0.01,
    together_up_to: int = 100,
    *,
    weigh: Weigh | None = None,
    max_weight: int = 0,
) -> IdempotentConsumer:
    return IdempotentConsumer(
        name=f"g-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handlers=handlers,
        dsn=dsn,
        bootstrap_servers=broker.bootstrap_servers,
        producer="test",
        emits_to=f"{topic}.out",
        max_attempts=3,
        retry_base_seconds=retry_seconds,
        retry_cap_seconds=max(5.0, retry_seconds),
        together_up_to=together_up_to,
        session_timeout_ms=3_000,
        weigh=weigh,
        max_weight=max_weight,
    )


async def test_transient_failures_are_retried_past_max_attempts_never_dead_lettered(
    dsn: str, broker: EmbeddedBroker, topics: Topics
) -> None:
    handlers = EventHandlers()
    failures_left = 12  # four times the consumer's max_attempts

    @handlers.on("partner.registered")
    async def record(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        nonlocal failures_left
        if failures_left > 0:
            failures_left -= 1
            # What asyncpg raises when the server drops the connection.
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        await uow.conn.execute(
            "INSERT INTO effects (event_id, name) VALUES ($1, $2)", event.id, data.name
        )

    events = _events(20)
    await _produce(broker.bootstrap_servers, topics.registration, events)
    consumer = _consumer(dsn, broker, topics.registration, handlers)
    async with _running(consumer):

        async def all_done() -> list[str] | None:
            found = await _effects(dsn)
            return found if len(found) >= 20 else None

        names = await eventually(all_done, within=60, what="every effect despite the failures")
    assert sorted(names) == sorted(f"p{i}" for i in range(20))  # each once
    assert failures_left == 0
    dead = await read_topic(
        broker.bootstrap_servers, Topics.dead_letter(topics.registration), at_least=0
    )
    assert dead == []


async def test_a_poison_event_is_dead_lettered_alone(
    dsn: str, broker: EmbeddedBroker, topics: Topics
) -> None:
    events = _events(12)
    poison = events[5].id
    handlers = EventHandlers()

    @handlers.on("partner.registered")
    async def record(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        await uow.conn.execute(
            "INSERT INTO effects (event_id, name) VALUES ($1, $2)", event.id, data.name
        )
        if event.id == poison:
            raise ValueError("a rule this event breaks, every time")

    await _produce(broker.bootstrap_servers, topics.registration, events)
    consumer = _consumer(dsn, broker, topics.registration, handlers)
    dead, names = await _one_dead_letter_and_effects(dsn, broker, topics, consumer, 11)
    assert sorted(names) == sorted(f"p{i}" for i in range(12) if i != 5)
    assert [Envelope.from_bytes(r.value or b"").id for r in dead] == [poison]
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["reason"] == "handler-failed" and "ValueError" in headers["error"]


async def test_a_weighed_poll_goes_in_runs_each_its_own_transaction_each_event_once(
    dsn: str, broker: EmbeddedBroker, topics: Topics
) -> None:
    # One key, so one partition and one poll's order. Each event weighs 2, one 9;
    # at most 5 a transaction: runs of two, the heavy one alone. One event fails
    # every time: its run is retried event by event, it alone is dead-lettered, and
    # the runs committed before it are not done again.
    key = uuid.uuid4()
    ctx = Context(correlation_id="runs-test")
    events = [
        new_event(
            "test", ctx, "partner.registered", key, PartnerRegistered(partner_id=key, name=f"p{i}")
        )
        for i in range(12)
    ]
    weights = {f"p{i}": 9 if i == 6 else 2 for i in range(12)}
    poison = events[9].id
    handlers = EventHandlers()

    @handlers.on("partner.registered")
    async def record(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        await uow.conn.execute(
            "INSERT INTO effects (event_id, name) VALUES ($1, $2 || '@' || txid_current())",
            event.id,
            data.name,
        )
        if event.id == poison:
            raise ValueError("a rule this event breaks, every time")

    def weigh(_event: Envelope, data: Any) -> int:
        return weights[data.name]

    await _produce(broker.bootstrap_servers, topics.registration, events)
    consumer = _consumer(dsn, broker, topics.registration, handlers, weigh=weigh, max_weight=5)
    dead, effects = await _one_dead_letter_and_effects(dsn, broker, topics, consumer, 11)
    names = [e.split("@")[0] for e in effects]
    assert sorted(names) == sorted(f"p{i}" for i in range(12) if i != 9)  # each once
    runs: dict[str, list[int]] = {}
    for e in effects:
        name, txid = e.split("@")
        runs.setdefault(txid, []).append(int(name[1:]))
    for run in runs.values():
        assert run == list(range(run[0], run[0] + len(run))), f"not consecutive: {run}"
        assert len(run) == 1 or sum(weights[f"p{i}"] for i in run) <= 5, run
    assert [6] in runs.values()  # the heavy one alone
    assert any(len(run) == 2 for run in runs.values())  # still batched
    assert [Envelope.from_bytes(r.value or b"").id for r in dead] == [poison]


async def test_relay_outlives_its_database_connection_being_dropped(
    dsn: str, broker: EmbeddedBroker, topics: Topics
) -> None:
    relay = OutboxRelay(dsn, broker.bootstrap_servers, poll_seconds=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    conn = await connect(dsn)
    try:
        first, second = _events(5), _events(5)
        async with conn.transaction():
            await add_events(conn, topics.registration, first)
        await read_topic(broker.bootstrap_servers, topics.registration, at_least=5)
        # Drop every other connection to this database, the relay's among them.
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert killed >= 1
        async with conn.transaction():
            await add_events(conn, topics.registration, second)
        records = await read_topic(broker.bootstrap_servers, topics.registration, at_least=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await conn.close()
    sent: set[Any] = {Envelope.from_bytes(r.value or b"").id for r in records}
    assert sent == {e.id for e in first + second}
    assert not task.exception()


async def test_two_members_and_rebalances_mid_load_double_nothing(
    dsn: str, broker: EmbeddedBroker, topics: Topics
) -> None:
    handlers = EventHandlers()

    @handlers.on("partner.registered")
    async def record(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        await uow.conn.execute(
            "INSERT INTO effects (event_id, name) VALUES ($1, $2)", event.id, data.name
        )

    group = f"g-{uuid.uuid4().hex[:8]}"

    def member() -> IdempotentConsumer:
        consumer = _consumer(dsn, broker, topics.registration, handlers)
        consumer.name = group  # both in one group
        return consumer

    events = _events(600)

    async def trickle() -> None:
        # Load keeps arriving for ~25 s while members join and leave (a rebalance on
        # this broker takes seconds).
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for start in range(0, len(events), 20):
                for e in events[start : start + 20]:
                    await producer.send(topics.registration, e.to_bytes(), key=e.key.encode())
                await producer.flush()
                await asyncio.sleep(0.8)
        finally:
            await producer.stop()

    async def at_least(n: int) -> list[str] | None:
        found = await _effects(dsn)
        return found if len(found) >= n else None

    first, second = member(), member()
    producing = asyncio.create_task(trickle())
    async with _running(first):
        await eventually(lambda: at_least(40), within=60, what="the first member's progress")
        async with _running(second):  # joins: the group rebalances mid-load
            await eventually(
                lambda: _true_when(second.handled > 0), within=60, what="the second member's work"
            )
        # ... and the second leaves mid-load: another rebalance.
        await producing
        names = await eventually(lambda: at_least(600), within=90, what="every event")
    assert first.handled > 0 and second.handled > 0
    assert len(names) == len(set(names)) == 600  # each effect once


async def _true_when(condition: bool) -> bool:
    return condition


async def test_lag_grows_while_a_consumer_stalls_and_drops_when_it_moves(
    dsn: str, broker: EmbeddedBroker, topics: Topics
) -> None:
    release = asyncio.Event()
    handlers = EventHandlers()

    @handlers.on("partner.registered")
    async def stall(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        await release.wait()  # a handler waiting on something that does not answer

    consumer = _consumer(dsn, broker, topics.registration, handlers)

    def lag() -> float:
        value = REGISTRY.get_sample_value(
            "roadshow_consumer_lag_seconds", {"consumer": consumer.name}
        )
        assert value is not None
        return value

    await _produce(broker.bootstrap_servers, topics.registration, _events(3))
    async with _running(consumer):

        async def above(seconds: float) -> float | None:
            return lag() if lag() >= seconds else None

        first = await eventually(lambda: above(1.0), within=30, what="lag while stalled")
        assert first < 60  # the records' age (they were produced just now), not an epoch
        # Read again at the next scrape: it moves with the clock, not with handling.
        await eventually(lambda: above(first + 0.5), within=10, what="lag still growing")
        assert consumer.handled == 0
        release.set()

        async def caught_up() -> bool:
            return consumer.handled == 3 and lag() == 0.0

        await eventually(caught_up, within=30, what="lag back to 0 once handled")


async def test_a_handler_waiting_on_another_topic_is_woken_by_its_commit(
    dsn: str, broker: EmbeddedBroker, topics: Topics
) -> None:
    # Like a person's key and the person: the waiting consumer's backoff (two
    # minutes, every retry) is far past the deadline, so only the other consumer's commit can
    # end its wait in time.
    arrived: set[str] = set()
    tries = 0
    waiting, keys = EventHandlers(), EventHandlers()

    @waiting.on("partner.registered")
    async def needs_key(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        nonlocal tries
        tries += 1
        if data.name not in arrived:
            raise NotYet(f"the key of {data.name} has not arrived")
        await uow.conn.execute(
            "INSERT INTO effects (event_id, name) VALUES ($1, $2)", event.id, data.name
        )

    @keys.on("partner.registered")
    async def key(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        arrived.add(data.name)

    [event] = _events(1)
    waiter = _consumer(dsn, broker, topics.registration, waiting, retry_seconds=120.0)
    async with _running(waiter), _running(_consumer(dsn, broker, topics.matching, keys)):
        await _produce(broker.bootstrap_servers, topics.registration, [event])

        async def tried() -> bool:
            return tries >= 1

        await eventually(tried, within=30, what="the first try, before its key")
        assert await _effects(dsn) == []
        await _produce(broker.bootstrap_servers, topics.matching, [event])

        async def done() -> list[str] | None:
            return await _effects(dsn) or None

        assert await eventually(done, within=30, what="the effect once the key came") == ["p0"]


@pytest.mark.parametrize("together_up_to", [1, 100], ids=["partitions-apart", "polls-together"])
async def test_each_keys_events_once_and_in_order_whether_polls_are_handled_together(
    dsn: str, broker: EmbeddedBroker, topics: Topics, together_up_to: int
) -> None:
    # Eight keys over the topic's partitions, their events interleaved and sent in
    # waves while the consumer runs, so polls hold a few records or many: whether a
    # poll is one transaction or one per partition, each key's events are handled
    # once each and in the order sent.
    ctx = Context(correlation_id="order-test")
    keys = [uuid.uuid4() for _ in range(8)]
    waves = [
        [
            new_event(
                "test",
                ctx,
                "partner.registered",
                key,
                PartnerRegistered(partner_id=key, name=f"{k}:{n}"),
            )
            for n in range(wave * 5, wave * 5 + 5)
            for k, key in enumerate(keys)
        ]
        for wave in range(4)
    ]
    handlers = EventHandlers()

    @handlers.on("partner.registered")
    async def record(uow: UnitOfWork, event: Envelope, data: PartnerRegistered) -> None:
        await uow.conn.execute(
            "INSERT INTO effects (event_id, name) VALUES ($1, $2)", event.id, data.name
        )

    consumer = _consumer(dsn, broker, topics.registration, handlers, together_up_to=together_up_to)
    async with _running(consumer):
        for wave in waves:
            await _produce(broker.bootstrap_servers, topics.registration, wave)

        async def all_done() -> list[str] | None:
            conn = await asyncpg.connect(dsn)
            try:
                rows = await conn.fetch("SELECT name FROM effects ORDER BY seq")
            finally:
                await conn.close()
            return [r["name"] for r in rows] if len(rows) >= 160 else None

        handled = await eventually(all_done, within=60, what="every event")
    assert len(handled) == 160 and len(set(handled)) == 160  # each once
    for k in range(len(keys)):
        mine = [int(name.split(":")[1]) for name in handled if name.split(":")[0] == str(k)]
        assert mine == list(range(20)), f"key {k} out of order: {mine}"
