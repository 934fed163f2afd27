"""Processes killed mid-flight: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.registration.bootstrap import MIGRATIONS
from shared.contracts.registration import PartnerRegistered
from shared.db import SHARED_MIGRATIONS, connect
from shared.embedded import EmbeddedBroker
from shared.envelope import Context, Envelope, new_event
from shared.testing.kafka import read_topic
from shared.testing.plugin import LOG_DIR, DatabaseFactory, count_rows
from shared.testing.waiting import eventually
from shared.topics import Topics
from tests import factories
from tests.conftest import ADMIN, PERSONAL_DATA_KEY, Registration


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _exited(process: subprocess.Popen[bytes]) -> int | None:
    return process.poll()


@pytest.mark.parametrize(
    ("when", "run"), [("after-commit", 0), ("in-batch", 0), ("after-commit", 4)]
)
async def test_consumer_killed_mid_flight_loses_and_doubles_nothing(
    databases: DatabaseFactory, broker: EmbeddedBroker, topics: Topics, when: str, run: int
) -> None:
    """Killed right after a batch committed but before its offsets were (`after-commit`),
    or inside a batch's open transaction (`in-batch`), or (`run` 4) between two runs
    of one poll, each its own transaction, none of its offsets committed: once a new
    member has caught up, every effect happened exactly once and the poison went to
    the dead-letter topic."""
    dsn = await databases.fresh([("shared", SHARED_MIGRATIONS)])
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
    await conn.close()
    topic = topics.registration
    await _produce_with_poison(broker.bootstrap_servers, topic, 100)

    group = f"g-{uuid.uuid4().hex[:8]}"
    log = str(LOG_DIR / "effect-consumer.jsonl")
    args = ["-m", "tests.helpers.effect_consumer", dsn, broker.bootstrap_servers, topic, group]
    first = _spawn([*args, "30", log, when, str(run)])
    returncode = await eventually(lambda: _exited(first), within=60, what="consumer to kill itself")
    assert returncode == -signal.SIGKILL
    killed_with = await count_rows(dsn, "effects")
    if when == "after-commit":
        # It died right after the batch holding the 30th effect committed, before that
        # batch's offset commit (other partitions' batches may have been mid-transaction).
        assert 30 <= killed_with <= 100
    else:
        # The batch it died in rolled back: only other partitions' batches are there.
        assert killed_with < 100

    second = _spawn([*args, "0", log, "after-commit", str(run)])
    try:

        async def all_committed() -> bool:
            return await _committed_total(broker.bootstrap_servers, group, topic) == 102

        await eventually(all_committed, within=60, what="consumer to commit every offset")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM effects") == 100
        assert await conn.fetchval("SELECT count(DISTINCT event_id) FROM effects") == 100
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 100
    finally:
        await conn.close()
    dead = await read_topic(
        broker.bootstrap_servers, Topics.dead_letter(topic), at_least=2, settle_ms=200
    )
    # Dead-lettering is at-least-once too: a poison message before the kill's
    # uncommitted offset is dead-lettered again (its headers name the offset).
    assert {r.key for r in dead} == {b"poison-1", b"poison-2"}
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["source_topic"] == topic and headers["reason"] in {
        "unparseable",
        "invalid-contract",
    }


async def _produce_with_poison(bootstrap: str, topic: str, count: int) -> None:
    """`count` good events with two poison records in the middle: not an envelope,
    and an envelope whose data breaks its contract."""
    ctx = Context(correlation_id="crash-test")
    events = [
        new_event(
            "test", ctx, "partner.registered", pid, PartnerRegistered(partner_id=pid, name=f"p{i}")
        )
        for i, pid in enumerate(uuid.uuid4() for _ in range(count))
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    for e in events[: count // 2]:
        await producer.send(topic, e.to_bytes(), key=e.key.encode())
    await producer.send(topic, b"\x00 not json", key=b"poison-1")
    broken = Envelope(
        type="partner.registered",
        producer="test",
        correlation_id="x",
        key="poison-2",
        data={"name": 5},
    )
    await producer.send(topic, broken.to_bytes(), key=b"poison-2")
    for e in events[count // 2 :]:
        await producer.send(topic, e.to_bytes(), key=e.key.encode())
    await producer.flush()
    await producer.stop()


async def _committed_total(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        total = 0
        for p in partitions:
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()


@pytest.mark.no_relay
async def test_relay_killed_mid_burst_loses_nothing(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    for _ in range(10):
        resp = await registration.client.post(
            "/v1/delegations",
            json=factories.delegation(roadshow["roadshow_id"], enterprises=99),
            headers=partner,
        )
        assert resp.status == 201
    total = await count_rows(registration.dsn, "outbox")
    # Partner, API key, road show; then the burst of 1,000 (10 delegations of 99), and
    # on the keys topic the 990 presidents' keys.
    assert total == 3 + 1000 + 990
    env = {
        "REGISTRATION_DATABASE_URL": registration.dsn,
        "REGISTRATION_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "REGISTRATION_TOPIC_PREFIX": registration.topics.prefix,
        "REGISTRATION_OUTBOX_BATCH_SIZE": "10",
        "REGISTRATION_ADMIN_TOKEN": ADMIN,
        "REGISTRATION_PERSONAL_DATA_KEY": PERSONAL_DATA_KEY,
        "REGISTRATION_LOG_FILE": str(LOG_DIR / "relay.jsonl"),
    }

    async def published() -> int:
        conn = await asyncpg.connect(registration.dsn)
        try:
            n: int = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
            )
            return n
        finally:
            await conn.close()

    relay = _spawn(["-m", "services.registration", "worker"], env)
    try:
        await eventually(
            lambda: _over(published, 150), within=60, interval=0.01, what="relay to publish 150"
        )
    finally:
        relay.kill()
        relay.wait()
    at_kill = await published()
    assert at_kill < total, "the relay finished before it could be killed mid-burst"

    relay = _spawn(["-m", "services.registration", "worker"], env)
    try:
        await eventually(
            lambda: _over(published, total), within=60, what="relay to publish everything"
        )
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(20)
    records = await read_topic(
        broker.bootstrap_servers, registration.topics.registration, at_least=1003, settle_ms=300
    ) + await read_topic(
        broker.bootstrap_servers, registration.topics.keys, at_least=990, settle_ms=300
    )
    conn = await asyncpg.connect(registration.dsn)
    try:
        expected = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM outbox")}
    finally:
        await conn.close()
    sent = [Envelope.from_bytes(r.value).id for r in records]
    assert set(sent) == expected  # none lost
    # At-least-once: a batch in flight at the kill may go out twice, never more.
    assert len(sent) - len(expected) <= 10


async def _over(probe: Callable[[], Awaitable[int]], n: int) -> int | None:
    value = await probe()
    return value if value >= n else None


async def test_relay_never_skips_a_late_committing_row(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    """A transaction that took its outbox id early but commits after later ids were
    published is still published (no cursor past uncommitted ids)."""
    from shared.outbox import add_events

    late = new_event(
        "test",
        Context(correlation_id="late"),
        "partner.registered",
        "late-key",
        PartnerRegistered(partner_id=uuid.uuid4(), name="late"),
    )
    conn = await connect(registration.dsn)
    tx = conn.transaction()
    await tx.start()
    await conn.execute("SET LOCAL lock_timeout = '5s'")
    await add_events(conn, registration.topics.registration, [late])
    # Meanwhile later rows commit and go out.
    partner = await registration.new_partner()
    await read_topic(broker.bootstrap_servers, registration.topics.registration, at_least=2)
    await tx.commit()
    await conn.close()
    records = await read_topic(
        broker.bootstrap_servers, registration.topics.registration, at_least=3
    )
    assert late.id in {Envelope.from_bytes(r.value).id for r in records}
    assert partner


async def test_two_migration_runners_apply_each_file_once(
    databases: DatabaseFactory, pg_server_url: str
) -> None:
    from shared.db import migrate
    from shared.embedded import create_database, database_url

    name = f"roadshow_test_{uuid.uuid4().hex[:12]}"
    await create_database(pg_server_url, name)
    databases.created.append(name)
    dsn = database_url(pg_server_url, name)
    first, second = await asyncio.gather(migrate(dsn, MIGRATIONS), migrate(dsn, MIGRATIONS))
    assert sorted(first + second) == sorted(
        f"{ns}/{p.name[:-4]}" for ns, folder in MIGRATIONS for p in folder.glob("*.sql")
    )
    assert await migrate(dsn, MIGRATIONS) == []
