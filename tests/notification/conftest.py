"""Fixtures of the notification tests: the service on a fresh database with a
controllable clock, real HTTP receivers on loopback, and helpers that feed it
registration and matching events through its consumer handlers (no Kafka)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, SecretStr

from services.notification.app import MIGRATIONS, create_app, create_service
from services.notification.consumer import handlers
from services.notification.delivery import DeliveryWorker
from services.notification.service import Notifications
from services.notification.settings import NotificationSettings
from shared.contracts import parse_data
from shared.contracts.matching import Match, MatchComponent, Meeting, match_id_for
from shared.contracts.registration import (
    Enterprise,
    Participant,
    PartnerKeyIssued,
    Person,
    Project,
)
from shared.db import create_pool
from shared.envelope import Context, Envelope, new_event
from shared.partner_keys import hash_token, new_token, store_key
from shared.taxonomy import ParticipantKind, PartnershipType, Stage
from shared.testing.plugin import DatabaseFactory
from shared.topics import Topics
from tests import factories

ADMIN = "notification-admin-token"
ROADSHOW = uuid.UUID("5b0c7f0e-8f43-4b8e-9a56-0d5f3f1f7a10")


class FakeClock:
    """The service's `now()`: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class StaticResolver(AbstractResolver):
    """DNS for tests: host name -> addresses, changeable mid-test (rebinding)."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.table:
            raise OSError(f"{host} does not resolve")
        return [
            ResolveResult(
                hostname=host,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for a in self.table[host]
        ]

    async def close(self) -> None:
        pass


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    at: float


class Receiver:
    """A real webhook endpoint on 127.0.0.1 answering from a script (then
    `default`), recording every request and the most requests in flight."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.default = Reply()
        self.requests: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.released = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hooks/roadshow"))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Received(dict(request.headers), body, request.path, time.monotonic()))
        reply = self.script.pop(0) if self.script else self.default
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.hang:
                await self.released.wait()
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            self.in_flight -= 1
        return web.Response(status=reply.status, headers=reply.headers)

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


Receivers = Callable[[], Awaitable[Receiver]]


@pytest_asyncio.fixture
async def receivers() -> AsyncIterator[Receivers]:
    started: list[Receiver] = []

    async def start() -> Receiver:
        r = Receiver()
        await r.server.start_server()
        started.append(r)
        return r

    yield start
    for r in started:
        r.released.set()  # let hung handlers return so the server closes at once
        await r.server.close()


@pytest_asyncio.fixture
async def receiver(receivers: Receivers) -> Receiver:
    return await receivers()


def notification_settings(dsn: str, topics: Topics, **overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "database_url": SecretStr(dsn),
        "kafka_bootstrap_servers": "127.0.0.1:1",  # unused unless a test runs the loops
        "topic_prefix": topics.prefix,
        "allow_private_endpoints": True,
        "admin_token": SecretStr(ADMIN),
        "retry_schedule": (5, 300, 1800),
        "retry_jitter": 0.0,
        "request_timeout_seconds": 2.0,
        "delivery_lease_seconds": 10.0,
        "worker_poll_seconds": 0.1,
        "outbox_poll_seconds": 0.2,
        **overrides,
    }
    return NotificationSettings(**values)


@dataclass
class Env:
    """The notification service without Kafka: HTTP API on a real server, the
    use cases, and workers driven round by round under a fake clock."""

    client: TestClient[Any, Any]
    dsn: str
    settings: NotificationSettings
    service: Notifications
    clock: FakeClock
    pool: asyncpg.Pool
    resolver: StaticResolver

    @contextlib.asynccontextmanager
    async def worker(self) -> AsyncIterator[DeliveryWorker]:
        worker = DeliveryWorker(self.settings, self.service, resolver=self.resolver, pool=self.pool)
        async with worker.opened():
            yield worker

    async def partner(self) -> dict[str, str]:
        """A partner whose API key is in this service's replica; returns headers."""
        partner_id = uuid.uuid4()
        key_id, token = new_token()
        async with self.pool.acquire() as conn:
            await store_key(
                conn,
                PartnerKeyIssued(partner_id=partner_id, key_id=key_id, key_hash=hash_token(token)),
            )
        return {"Authorization": f"Bearer {token}", "X-Partner-Id": str(partner_id)}

    async def consume(self, envelope: Envelope) -> None:
        """What the idempotent consumer does with one event, minus Kafka."""
        async with self.pool.acquire() as conn, conn.transaction():
            await handlers(self.service)[envelope.type](conn, envelope, parse_data(envelope))

    def participant_event(
        self,
        partner: dict[str, str],
        kind: str = "bank",
        sectors: list[str] | None = None,
        participant_id: uuid.UUID | None = None,
    ) -> Envelope:
        """participant.registered as registration publishes it (with a contact)."""
        body = factories.participant(str(ROADSHOW), kind=kind)
        participant_id = participant_id or uuid.uuid4()
        data = Participant(
            participant_id=participant_id,
            roadshow_id=ROADSHOW,
            kind=ParticipantKind(kind),
            name=body["name"],
            sectors=sectors or body["sectors"],
            focus=body["focus"],
            stages=body.get("stages", []),
            ticket_min=body.get("ticket_min"),
            ticket_max=body.get("ticket_max"),
            currency=body.get("currency"),
            offers=body["offers"],
            max_meetings=None,
            contact=Person(**body["contact"]),
            status="active",
            version=1,
        )
        return self._event(partner, "participant.registered", participant_id, data)

    async def participant(
        self,
        partner: dict[str, str],
        kind: str = "bank",
        sectors: list[str] | None = None,
        participant_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        envelope = self.participant_event(partner, kind, sectors, participant_id)
        await self.consume(envelope)
        return uuid.UUID(envelope.key)

    async def enterprise(
        self, sectors: list[str] | None = None, enterprise_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        body = factories.enterprise()
        enterprise_id = enterprise_id or uuid.uuid4()
        data = Enterprise(
            enterprise_id=enterprise_id,
            delegation_id=uuid.uuid4(),
            roadshow_id=ROADSHOW,
            name=body["name"],
            country=body["country"],
            sectors=sectors or body["sectors"],
            president=Person(**body["president"]),
            project=Project(
                title=body["project"]["title"],
                summary=body["project"]["summary"],
                stage=Stage.SERIES_A,
                funding_amount=body["project"]["funding_amount"],
                funding_currency="USD",
                partnership_types=[PartnershipType.DEBT_FINANCING],
            ),
            status="active",
            version=1,
        )
        await self.consume(self._event(None, "enterprise.registered", enterprise_id, data))
        return enterprise_id

    async def match(
        self,
        participant_id: uuid.UUID,
        enterprise_id: uuid.UUID,
        event_type: str = "match.proposed",
        *,
        consume: bool = True,
    ) -> Envelope:
        envelope = match_event(participant_id, enterprise_id, event_type)
        if consume:
            await self.consume(envelope)
        return envelope

    async def meeting(
        self,
        participant_id: uuid.UUID,
        enterprise_id: uuid.UUID,
        event_type: str = "meeting.scheduled",
    ) -> Envelope:
        envelope = meeting_event(participant_id, enterprise_id, event_type)
        await self.consume(envelope)
        return envelope

    async def subscribe(self, partner: dict[str, str], url: str, **fields: Any) -> dict[str, Any]:
        body = {"url": url, "event_types": ["match.proposed"], **fields}
        resp = await self.client.post("/v1/subscriptions", json=body, headers=partner)
        assert resp.status == 201, await resp.text()
        created: dict[str, Any] = await resp.json()
        return created

    async def notifications(self, subscription_id: str | uuid.UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT * FROM notifications WHERE subscription_id = $1 ORDER BY seq",
                uuid.UUID(str(subscription_id)),
            )
        )

    async def attempts(self, notification_id: uuid.UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT * FROM delivery_attempts WHERE notification_id = $1 ORDER BY number",
                notification_id,
            )
        )

    async def outbox_types(self) -> list[str]:
        rows = await self.pool.fetch("SELECT event_type, payload FROM outbox ORDER BY id")
        for r in rows:
            parse_data(Envelope.model_validate(r["payload"]))  # valid against its contract
        return [r["event_type"] for r in rows]

    @staticmethod
    def _event(
        partner: dict[str, str] | None, type_: str, key: uuid.UUID, data: BaseModel
    ) -> Envelope:
        partner_id = uuid.UUID(partner["X-Partner-Id"]) if partner else uuid.uuid4()
        ctx = Context(correlation_id=f"test-{uuid.uuid4().hex[:8]}", partner_id=partner_id)
        return new_event("registration", ctx, type_, key, data)


def match_event(
    participant_id: uuid.UUID, enterprise_id: uuid.UUID, event_type: str = "match.proposed"
) -> Envelope:
    match_id = match_id_for(enterprise_id, participant_id)
    data = Match(
        match_id=match_id,
        roadshow_id=ROADSHOW,
        enterprise_id=enterprise_id,
        participant_id=participant_id,
        participant_kind=ParticipantKind.BANK,
        score=0.82,
        components=[
            MatchComponent(
                name="partnership_fit",
                score=1.0,
                weight=0.3,
                reason="seeks debt financing, which the bank offers",
            )
        ],
        status="withdrawn" if event_type == "match.withdrawn" else "proposed",
        version=1,
    )
    return new_event("matching", Context(correlation_id="match-test"), event_type, match_id, data)


def meeting_event(
    participant_id: uuid.UUID, enterprise_id: uuid.UUID, event_type: str = "meeting.scheduled"
) -> Envelope:
    meeting_id = uuid.uuid4()
    starts = datetime(2027, 5, 15, 1, 30, tzinfo=UTC)
    data = Meeting(
        meeting_id=meeting_id,
        schedule_id=uuid.uuid4(),
        roadshow_id=ROADSHOW,
        match_id=match_id_for(enterprise_id, participant_id),
        enterprise_id=enterprise_id,
        participant_id=participant_id,
        slot=3,
        table=7,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        timezone="Asia/Shanghai",
        score=0.82,
        status="cancelled" if event_type == "meeting.cancelled" else "scheduled",
    )
    return new_event(
        "matching", Context(correlation_id="meeting-test"), event_type, meeting_id, data
    )


EnvFactory = Callable[..., Awaitable[Env]]


@pytest_asyncio.fixture
async def make_env(databases: DatabaseFactory) -> AsyncIterator[EnvFactory]:
    """Builds the service with setting overrides (e.g. allow_private_endpoints=False)."""
    opened: list[tuple[TestClient[Any, Any], asyncpg.Pool]] = []

    async def make(**overrides: Any) -> Env:
        dsn = await databases.fresh(MIGRATIONS)
        topics = Topics(prefix=f"t{uuid.uuid4().hex[:12]}.")
        settings = notification_settings(dsn, topics, **overrides)
        clock = FakeClock()
        resolver = StaticResolver()
        service = create_service(settings, clock=clock, resolver=resolver)
        client = TestClient(TestServer(create_app(settings, service=service)))
        await client.start_server()
        pool = await create_pool(dsn, 5)
        opened.append((client, pool))
        return Env(client, dsn, settings, service, clock, pool, resolver)

    yield make
    for client, pool in opened:
        await client.close()
        await pool.close()


@pytest_asyncio.fixture
async def env(make_env: EnvFactory) -> Env:
    return await make_env()
