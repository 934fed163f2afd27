"""Through the real broker: the registration and matching topics are consumed by
separate consumers (groups), so a registration is handled while a flood of
match events is stuck, and an event held for a party the other stream has not
delivered yet is routed exactly once when it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from services.notification.bootstrap import create_consumers
from shared.db import connect
from shared.embedded import EmbeddedBroker
from shared.envelope import Envelope
from shared.kafka import ensure_topics
from shared.testing.waiting import eventually
from tests.integration.notification.conftest import Env, EnvFactory, Receiver, match_event


@pytest_asyncio.fixture
async def running(make_env: EnvFactory, broker: EmbeddedBroker) -> AsyncIterator[Env]:
    """The service's consumers (one per topic) running against the broker (no API loops)."""
    env = await make_env(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_session_timeout_ms=3000,
        fetch_max_wait_ms=10,
    )
    await ensure_topics(broker.bootstrap_servers, env.settings.topics.all())
    stop = asyncio.Event()
    loops = create_consumers(env.settings, env.use_cases)
    assert [b.name for b in loops] == [
        "consumer_registration",
        "consumer_matching",
        "consumer_keys",
    ]
    tasks = [asyncio.create_task(b.run(stop)) for b in loops]
    try:
        yield env
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)


async def _produce(broker: EmbeddedBroker, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for e in events:
            await producer.send(topic, e.to_bytes(), key=e.key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_a_registration_is_handled_while_a_match_flood_waits(
    running: Env, receiver: Receiver, broker: EmbeddedBroker
) -> None:
    env, topics = running, running.settings.topics
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url)
    bank, enterprise = await env.participant(partner), await env.enterprise()
    flood = [match_event(bank, enterprise) for _ in range(300)]

    # Stall the matching stream: routing reads subscriptions, which we lock.
    blocker = await connect(env.dsn)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE")
        await _produce(broker, topics.matching, flood)

        async def matching_is_stuck() -> bool:
            waiting: int = await env.pool.fetchval(
                """SELECT count(*) FROM pg_locks
                    WHERE NOT granted AND relation = 'subscriptions'::regclass"""
            )
            return waiting > 0

        await eventually(matching_is_stuck, within=40, what="the flood to reach routing")

        registered = env.participant_event(partner)
        await _produce(broker, topics.registration, [registered])

        async def registered_here() -> bool:
            found: int = await env.pool.fetchval(
                "SELECT count(*) FROM participants WHERE id = $1", uuid.UUID(registered.key)
            )
            return found == 1

        await eventually(registered_here, within=40, what="the registration, past the flood")
        assert await matching_is_stuck()  # the flood is still waiting
        assert await env.pool.fetchval("SELECT count(*) FROM notifications") == 0
    finally:
        with contextlib.suppress(Exception):
            await tx.rollback()
        await blocker.close()

    async def flood_routed() -> bool:
        return len(await env.notifications(sub["subscription_id"])) == len(flood)

    await eventually(flood_routed, within=40, what="the flood to be routed")

    # A match about a participant whose registration comes later, on the other
    # stream: held, then routed once.
    late = env.participant_event(partner)
    early = match_event(uuid.UUID(late.key), enterprise)
    await _produce(broker, topics.matching, [early])

    async def held() -> bool:
        count: int = await env.pool.fetchval("SELECT count(*) FROM held_events")
        return count == 1

    await eventually(held, within=40, what="the early match to be held")
    await _produce(broker, topics.registration, [late])

    async def released() -> bool:
        rows = await env.notifications(sub["subscription_id"])
        return any(n["event_id"] == early.id for n in rows)

    await eventually(released, within=40, what="the held match to be routed")
    assert await env.pool.fetchval("SELECT count(*) FROM held_events") == 0
    rows = await env.notifications(sub["subscription_id"])
    assert len(rows) == len(flood) + 1
