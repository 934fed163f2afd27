"""Fixtures of the matching tests.

`store`: the matching service on its own fresh database with no broker — events
are handed to the consumer's handlers directly, the API runs on a test server.
`suite`: registration and matching wired through the real broker, shared by the
tests of one module, because each consumer-group join on the embedded broker
costs seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import asyncpg
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr

from services.matching.bootstrap import (
    MIGRATIONS,
    create_app,
    create_consumer,
    create_relay,
    create_worker,
)
from services.matching.interest.service import expiry_context
from services.matching.scheduling.worker import PRODUCER, SchedulingWorker
from services.matching.settings import MatchingSettings
from services.matching.use_cases import UseCases
from services.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS
from services.registration.bootstrap import create_app as create_registration_app
from services.registration.bootstrap import create_relay as create_registration_relay
from shared.consumer import IdempotentConsumer, _Parsed
from shared.contracts import EventType, parse_data
from shared.contracts import registration as reg
from shared.db import connect, create_pool
from shared.embedded import EmbeddedBroker
from shared.envelope import Context, Envelope, new_event
from shared.kafka import ensure_topics
from shared.partner_keys import hash_token, new_token, store_key
from shared.testing.events import single_events
from shared.testing.plugin import DatabaseFactory
from shared.testing.waiting import eventually
from shared.topics import Topics
from shared.unit_of_work import UnitOfWork
from tests import factories
from tests.conftest import Registration, registration_settings


def matching_settings(dsn: str, **extra: Any) -> MatchingSettings:
    values: dict[str, Any] = {
        "database_url": SecretStr(dsn),
        "outbox_poll_seconds": 0.2,
        "consumer_session_timeout_ms": 3_000,
        "fetch_max_wait_ms": 20,
        "scheduler_poll_seconds": 0.05,
        "consumer_group": f"matching-{uuid.uuid4().hex[:8]}",
        **extra,
    }
    return MatchingSettings(**values)


# --- contracts from the factories' request bodies ------------------------------------------


def roadshow_contract(roadshow_id: uuid.UUID, version: int = 1, **overrides: Any) -> reg.Roadshow:
    body = factories.roadshow(**overrides)
    return reg.Roadshow(
        roadshow_id=roadshow_id,
        version=version,
        **{
            **body,
            "start_date": date.fromisoformat(body["start_date"]),
            "end_date": date.fromisoformat(body["end_date"]),
            "day_start": time.fromisoformat(body["day_start"]),
            "day_end": time.fromisoformat(body["day_end"]),
        },
    )


def enterprise_contract(
    roadshow_id: uuid.UUID,
    enterprise_id: uuid.UUID | None = None,
    version: int = 1,
    project: dict[str, Any] | None = None,
    **overrides: Any,
) -> reg.Enterprise:
    body = factories.enterprise(**overrides)
    return reg.Enterprise.model_validate(
        {
            **body,
            "project": {**body["project"], **(project or {})},
            "enterprise_id": enterprise_id or uuid.uuid4(),
            "delegation_id": uuid.uuid4(),
            "roadshow_id": roadshow_id,
            "status": "active",
            "version": version,
        }
    )


def participant_contract(
    roadshow_id: uuid.UUID,
    kind: str = "fund",
    participant_id: uuid.UUID | None = None,
    version: int = 1,
    **overrides: Any,
) -> reg.Participant:
    body = factories.participant(str(roadshow_id), kind=kind, **overrides)
    defaults: dict[str, Any] = {
        "stages": [],
        "ticket_min": None,
        "ticket_max": None,
        "currency": None,
    }
    return reg.Participant.model_validate(
        {
            "max_meetings": None,
            **defaults,
            **body,
            "participant_id": participant_id or uuid.uuid4(),
            "status": "active",
            "version": version,
        }
    )


def withdrawn(party_id: uuid.UUID, roadshow_id: uuid.UUID, version: int) -> reg.Withdrawn:
    return reg.Withdrawn(id=party_id, roadshow_id=roadshow_id, version=version)


async def dump_database(conn: asyncpg.Connection) -> str:
    """Every row of every table as JSON text, to search for what must not be there."""
    tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return "\n".join(
        [
            r["row"]
            for t in tables
            for r in await conn.fetch(f"SELECT row_to_json(x)::text AS row FROM {t['tablename']} x")
        ]
    )


# --- the service without a broker ------------------------------------------------------------


@dataclass
class Store:
    """Matching on a fresh database; `deliver` plays the consumer (inbox included).
    The API, the handlers and the workers share `uses` (and so one clock)."""

    dsn: str
    settings: MatchingSettings
    uses: UseCases
    client: TestClient[Any, Any]
    consumer: IdempotentConsumer
    conn: asyncpg.Connection
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stops: list[asyncio.Event] = field(default_factory=list)

    async def deliver(
        self, event_type: EventType, data: Any, partner_id: uuid.UUID | None = None, key: Any = None
    ) -> bool:
        """Hand one event to the handlers as the consumer would; False if a duplicate."""
        envelope = new_event(
            "registration",
            Context(correlation_id=f"test-{uuid.uuid4().hex[:8]}", partner_id=partner_id),
            event_type,
            key or uuid.uuid4(),
            data,
        )
        return await self.redeliver(envelope)

    async def redeliver(self, envelope: Envelope) -> bool:
        """Through the consumer's own unit of work (inbox row and effect in one
        transaction), as one batch of one event."""
        record = ConsumerRecord(
            self.settings.topics.registration, 0, 0, 0, 0, None, envelope.to_bytes(), None, 0, 0, []
        )
        before = self.consumer.handled
        await self.consumer._handle([_Parsed(record, envelope, parse_data(envelope))])
        return self.consumer.handled > before

    def unit(
        self, ctx: Context | None = None
    ) -> contextlib.AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work on the test's own connection, as the worker opens them."""
        return UnitOfWork.joining(
            self.conn,
            ctx or Context(correlation_id=f"test-{uuid.uuid4().hex[:8]}"),
            producer=PRODUCER,
            topic=self.settings.topics.matching,
        )

    async def expire_interest(self) -> int:
        async with self.unit(expiry_context()) as uow:
            return await self.uses.interest.expire(uow)

    async def partner(self) -> tuple[uuid.UUID, dict[str, str]]:
        """A partner whose API key matching knows (as if replicated)."""
        partner_id = uuid.uuid4()
        key_id, token = new_token()
        await store_key(
            self.conn,
            reg.PartnerKeyIssued(partner_id=partner_id, key_id=key_id, key_hash=hash_token(token)),
        )
        return partner_id, {"Authorization": f"Bearer {token}"}

    async def outbox(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The outbox's events (of `event_type`), match batches spelled out."""
        rows = await self.conn.fetch("SELECT payload FROM outbox ORDER BY id")
        events = single_events(Envelope.model_validate(r["payload"]) for r in rows)
        return [e.model_dump(mode="json") for e in events if event_type in (None, e.type)]

    def run_worker(self) -> SchedulingWorker:
        worker = create_worker(self.settings, self.uses, heartbeat_seconds=0.05)
        stop = asyncio.Event()
        self.tasks.append(asyncio.create_task(worker.run(stop)))
        self.stops.append(stop)
        return worker


@pytest_asyncio.fixture
async def store(databases: DatabaseFactory) -> AsyncIterator[Store]:
    dsn = await databases.fresh(MIGRATIONS)
    settings = matching_settings(dsn, kafka_bootstrap_servers="127.0.0.1:1")
    uses = UseCases.from_settings(settings)
    consumer = create_consumer(settings, uses)
    # The handlers run through the consumer's own inbox transaction (not its poll loop).
    consumer._pool = await create_pool(dsn, 3)
    client = TestClient(TestServer(create_app(settings, uses)))
    await client.start_server()
    conn = await connect(dsn)
    s = Store(dsn, settings, uses, client, consumer, conn)
    try:
        yield s
    finally:
        for stop in s.stops:
            stop.set()
        for task in s.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await client.close()
        await conn.close()
        await consumer._pool.close()


# --- both services through the real broker -------------------------------------------------


@dataclass
class Suite:
    registration: Registration
    matching: TestClient[Any, Any]
    matching_dsn: str
    settings: MatchingSettings
    consumer: IdempotentConsumer
    bootstrap: str

    async def partner(self) -> dict[str, str]:
        """A new partner whose key already works on matching too."""
        headers = await self.registration.new_partner()
        auth = {"Authorization": headers["Authorization"]}

        async def replicated() -> bool:
            resp = await self.matching.get(f"/v1/schedule-jobs/{uuid.uuid4()}", headers=auth)
            return resp.status == 404  # authenticated, and no such job

        await eventually(replicated, within=30, what="the partner key to reach matching")
        return headers

    async def get_json(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        resp = await self.matching.get(path, headers=headers, params=params)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def try_json(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        """The body, or None while matching has not heard of the resource yet."""
        resp = await self.matching.get(path, headers=headers, params=params)
        if resp.status == 404:
            return None
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def wait_for(
        self, probe: Callable[[], Awaitable[Any]], what: str, within: float = 30
    ) -> Any:
        return await eventually(probe, within=within, what=what)


@pytest_asyncio.fixture(scope="module")
async def suite(databases: DatabaseFactory, broker: EmbeddedBroker) -> AsyncIterator[Suite]:
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:12]}.")
    await ensure_topics(broker.bootstrap_servers, topics.all())
    reg_dsn = await databases.fresh(REGISTRATION_MIGRATIONS)
    reg_settings = registration_settings(reg_dsn, broker, topics)
    reg_client = TestClient(TestServer(create_registration_app(reg_settings)))
    await reg_client.start_server()
    dsn = await databases.fresh(MIGRATIONS)
    settings = matching_settings(
        dsn, kafka_bootstrap_servers=broker.bootstrap_servers, topic_prefix=topics.prefix
    )
    uses = UseCases.from_settings(settings)
    client = TestClient(TestServer(create_app(settings, uses)))
    await client.start_server()
    consumer = create_consumer(settings, uses)
    stop = asyncio.Event()
    loops = [
        create_registration_relay(reg_settings).run(stop),
        create_relay(settings).run(stop),
        consumer.run(stop),
        create_worker(settings, uses, heartbeat_seconds=0.1).run(stop),
    ]
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        yield Suite(
            Registration(reg_client, reg_dsn, topics, reg_settings),
            client,
            dsn,
            settings,
            consumer,
            broker.bootstrap_servers,
        )
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
        await client.close()
        await reg_client.close()
