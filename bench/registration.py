"""Registration and outbox figures on the real parts (embedded tansu broker,
PostgreSQL from ROADSHOW_DATABASE_URL, else 127.0.0.1:5432, else embedded).

Prints: HTTP latency of registering a participant and a 16-enterprise delegation,
outbox relay throughput on a burst of 10,000 events, and commit-to-topic latency.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr

from demo.generator import generate
from services.registration.bootstrap import MIGRATIONS, create_app, create_relay
from services.registration.settings import RegistrationSettings
from shared.contracts.registration import PartnerRegistered
from shared.db import connect, migrate
from shared.embedded import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_database,
    database_url,
    drop_database,
    port_open,
)
from shared.envelope import Context, new_event
from shared.kafka import ensure_topics
from shared.logging import configure_logging
from shared.outbox import add_events
from shared.topics import Topics

BURST = 10_000


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


async def main() -> None:
    server_url = os.environ.get("ROADSHOW_DATABASE_URL")
    pg = None
    if not server_url:
        if port_open("127.0.0.1", 5432):
            server_url = "postgresql://postgres@127.0.0.1:5432/postgres"
        else:
            pg = EmbeddedPostgres(Path(tempfile.mkdtemp()) / "pg").start()
            server_url = pg.url
    broker = EmbeddedBroker().start()
    db = f"roadshow_bench_{uuid.uuid4().hex[:8]}"
    try:
        await create_database(server_url, db)
        dsn = database_url(server_url, db)
        await migrate(dsn, MIGRATIONS)
        topics = Topics(prefix=f"bench{uuid.uuid4().hex[:6]}.")
        await ensure_topics(broker.bootstrap_servers, topics.all())
        settings = RegistrationSettings(
            database_url=SecretStr(dsn),
            kafka_bootstrap_servers=broker.bootstrap_servers,
            topic_prefix=topics.prefix,
            admin_token=SecretStr("bench"),
            fetch_max_wait_ms=10,
        )
        await http_latency(settings)
        await relay_throughput(settings, dsn, broker.bootstrap_servers, topics)
    finally:
        await drop_database(server_url, db)
        broker.stop()
        if pg is not None:
            pg.stop()


async def http_latency(settings: RegistrationSettings) -> None:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        key = (
            await (
                await client.post(
                    "/admin/partners",
                    json={"name": "bench"},
                    headers={"Authorization": "Bearer bench"},
                )
            ).json()
        )["api_key"]
        auth = {"Authorization": f"Bearer {key}"}
        data = generate(seed=7, enterprises=16, participants=200)
        rs = await (await client.post("/v1/roadshows", json=data.roadshow, headers=auth)).json()
        single: list[float] = []
        for p in data.participants:
            t = time.perf_counter()
            resp = await client.post(
                "/v1/participants", json={**p, "roadshow_id": rs["roadshow_id"]}, headers=auth
            )
            single.append((time.perf_counter() - t) * 1000)
            assert resp.status == 201
        delegation: list[float] = []
        for _ in range(30):
            t = time.perf_counter()
            resp = await client.post(
                "/v1/delegations",
                json={**data.delegation, "roadshow_id": rs["roadshow_id"]},
                headers=auth,
            )
            delegation.append((time.perf_counter() - t) * 1000)
            assert resp.status == 201
        print(
            f"POST /v1/participants        n={len(single)}  p50 {pct(single, 50):6.1f} ms  p99 {pct(single, 99):6.1f} ms"
        )
        print(
            f"POST /v1/delegations (16 e.) n={len(delegation)}   p50 {pct(delegation, 50):6.1f} ms  p99 {pct(delegation, 99):6.1f} ms"
        )
    finally:
        await client.close()


async def relay_throughput(
    settings: RegistrationSettings, dsn: str, bootstrap: str, topics: Topics
) -> None:
    conn = await connect(dsn)
    await conn.execute("UPDATE outbox SET published_at = now()")  # leave only the burst
    ctx = Context(correlation_id="bench")
    events = [
        new_event(
            "bench",
            ctx,
            "partner.registered",
            uuid.uuid4(),
            PartnerRegistered(partner_id=uuid.uuid4(), name="p"),
        )
        for _ in range(BURST)
    ]
    async with conn.transaction():
        await add_events(conn, topics.registration, events)
    stop = asyncio.Event()
    relay = create_relay(settings)
    t = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    # Polling the table is the measurement: the relay has no completion signal.
    while await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t
    print(
        f"outbox relay burst           {BURST} events in {elapsed:5.2f} s = {BURST / elapsed:8.0f} events/s"
    )

    # Commit-to-topic latency, one event at a time, read by a plain consumer.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, fetch_max_wait_ms=10, auto_offset_reset="latest"
    )
    await consumer.start()
    tps = [
        TopicPartition(topics.registration, p)
        for p in consumer.partitions_for_topic(topics.registration) or []
    ]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    latencies = []
    for _ in range(100):
        e = new_event(
            "bench",
            ctx,
            "partner.registered",
            uuid.uuid4(),
            PartnerRegistered(partner_id=uuid.uuid4(), name="p"),
        )
        t = time.perf_counter()
        async with conn.transaction():
            await add_events(conn, topics.registration, [e])
        found = False
        while not found:
            batch = await consumer.getmany(timeout_ms=200)
            found = any(str(e.id).encode() in r.value for recs in batch.values() for r in recs)
        latencies.append((time.perf_counter() - t) * 1000)
    print(
        f"commit -> topic latency      n=100  p50 {pct(latencies, 50):6.1f} ms  p99 {pct(latencies, 99):6.1f} ms"
    )
    await consumer.stop()
    stop.set()
    await task
    await conn.close()


if __name__ == "__main__":
    with open(os.devnull, "w") as quiet:
        configure_logging("bench", "warning", stream=quiet)
        asyncio.run(main())
