"""Fixtures of the notification integration tests: the service on a fresh database with a
controllable clock, real HTTP receivers on loopback, and helpers that feed it
registration and matching events through its consumer handlers (no Kafka)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from pydantic import BaseModel, SecretStr

from services.notification.bootstrap import MIGRATIONS, PRODUCER, create_app, create_worker
from services.notification.events.handlers import event_handlers
from services.notification.outbound.worker import DeliveryWorker
from services.notification.settings import NotificationSettings
from services.notification.use_cases import UseCases, create_use_cases
from shared.contracts import parse_data
from shared.contracts.matching import Match, MatchComponent, Meeting, match_id_for
from shared.contracts.registration import (
    Enterprise,
    Participant,
    PartnerKeyIssued,
    Person,
    Project,
    Roadshow,
)
from shared.db import create_pool
from shared.envelope import Context, Envelope, new_event
from shared.event_handlers import EventHandlers
from shared.partner_keys import hash_token, new_token, store_key
from shared.taxonomy import ParticipantKind, PartnershipType, Stage
from shared.testing.plugin import DatabaseFactory
from shared.topics import Topics
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests import factories
from tests.conftest import PERSONAL_DATA_KEY

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
    use cases and event handlers, and workers driven round by round under a
    fake clock."""

    client: TestClient[Any, Any]
    dsn: str
    settings: NotificationSettings
    use_cases: UseCases
    handlers: EventHandlers
    clock: FakeClock
    pool: asyncpg.Pool
    resolver: StaticResolver
    # The person registered with each enterprise (president) and participant
    # (contact), so e-mail tests know whose inbox to look in.
    people: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)

    @property
    def units(self) -> UnitsOfWork:
        return UnitsOfWork(self.pool, PRODUCER, self.settings.topics.notification)

    @contextlib.asynccontextmanager
    async def worker(self) -> AsyncIterator[DeliveryWorker]:
        worker = create_worker(
            self.settings, clock=self.clock, resolver=self.resolver, units=self.units
        )
        async with worker.opened():
            yield worker

    async def partner(self, partner_id: uuid.UUID | None = None) -> dict[str, str]:
        """A partner (new, or one another service knows) whose API key is in this
        service's replica; returns headers."""
        partner_id = partner_id or uuid.uuid4()
        key_id, token = new_token()
        async with self.pool.acquire() as conn:
            await store_key(
                conn,
                PartnerKeyIssued(partner_id=partner_id, key_id=key_id, key_hash=hash_token(token)),
            )
        return {"Authorization": f"Bearer {token}", "X-Partner-Id": str(partner_id)}

    async def consume(self, envelope: Envelope) -> None:
        """What the idempotent consumer does with one event, minus Kafka."""
        async with self.pool.acquire() as conn:
            await self.handle(conn, envelope)

    async def consume_batch(self, envelopes: list[Envelope]) -> None:
        """What the idempotent consumer does with one partition's poll batch:
        every event in one unit, runs of matching events through the batch handler."""
        async with self.pool.acquire() as conn:
            await self.handle(conn, *envelopes)

    async def handle(self, conn: asyncpg.Connection, *envelopes: Envelope) -> None:
        """Run the events' handlers in one unit on `conn` (joining its transaction)."""
        async with UnitOfWork.joining(
            conn,
            Context.caused_by(envelopes[0]),
            producer=PRODUCER,
            topic=self.settings.topics.notification,
        ) as uow:
            await self.handlers.run(uow, [(e, parse_data(e)) for e in envelopes])

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
        self.people[participant_id] = body["contact"]
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
        self,
        sectors: list[str] | None = None,
        enterprise_id: uuid.UUID | None = None,
        partner: dict[str, str] | None = None,
    ) -> uuid.UUID:
        envelope = self.enterprise_event(sectors, enterprise_id, partner)
        await self.consume(envelope)
        return uuid.UUID(envelope.key)

    def enterprise_event(
        self,
        sectors: list[str] | None = None,
        enterprise_id: uuid.UUID | None = None,
        partner: dict[str, str] | None = None,
    ) -> Envelope:
        """enterprise.registered as registration publishes it (with a president)."""
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
        self.people[enterprise_id] = body["president"]
        return self._event(partner, "enterprise.registered", enterprise_id, data)

    async def roadshow(
        self,
        timezone: str = "Asia/Shanghai",
        version: int = 1,
        roadshow_id: uuid.UUID = ROADSHOW,
    ) -> None:
        body = factories.roadshow(timezone=timezone)
        data = Roadshow(
            roadshow_id=roadshow_id,
            name=body["name"],
            venue=body["venue"],
            timezone=timezone,
            start_date=date.fromisoformat(body["start_date"]),
            end_date=date.fromisoformat(body["end_date"]),
            day_start=time_of_day.fromisoformat(body["day_start"]),
            day_end=time_of_day.fromisoformat(body["day_end"]),
            slot_minutes=body["slot_minutes"],
            tables=body["tables"],
            version=version,
        )
        await self.consume(self._event(None, "roadshow.created", roadshow_id, data))

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
        use_cases = create_use_cases(settings, clock=clock, resolver=resolver)
        client = TestClient(TestServer(create_app(settings, use_cases=use_cases)))
        await client.start_server()
        pool = await create_pool(dsn, 5)
        opened.append((client, pool))
        handlers = event_handlers(use_cases)
        return Env(client, dsn, settings, use_cases, handlers, clock, pool, resolver)

    yield make
    for client, pool in opened:
        await client.close()
        await pool.close()


@pytest_asyncio.fixture
async def env(make_env: EnvFactory) -> Env:
    return await make_env()


# --- e-mail: a real SMTP server on loopback ---------------------------------------------


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes  # as it came over the wire (DATA), before any parsing

    @property
    def to(self) -> str:
        return str(self.message["To"].addresses[0].addr_spec)


class MailSink:
    """aiosmtpd handler: accepts and parses every message, or answers RCPT from
    a script (e.g. '451 ...', '550 ...') first. Runs in the controller's thread;
    tests read `messages` from theirs (appends are atomic)."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self.rcpt_script: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_script:
            return self.rcpt_script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(envelope.mail_from, list(envelope.rcpt_tos), message, envelope.original_content)
        self.messages.append(mail)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.messages if m.to == address]


@dataclass
class SmtpServer:
    sink: MailSink
    port: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest_asyncio.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    # aiosmtpd logs every SMTP command at INFO, addresses included; the redactor
    # would mask them, but they have no business in the run's logs at all.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    await asyncio.to_thread(controller.start)
    try:
        yield SmtpServer(sink, controller.port)
    finally:
        await asyncio.to_thread(controller.stop)


MAIL_FROM = "Roadshow Meetings <meetings@roadshow.test>"
TOKEN_SECRET = "test-unsubscribe-key-0123456789abcdef"


def email_overrides(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "email_enabled": True,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_helo_name": "notification.test",
        "smtp_timeout_seconds": 3.0,
        "mail_from": MAIL_FROM,
        "email_public_base_url": "https://notify.roadshow.test",
        "email_token_secret": SecretStr(TOKEN_SECRET),
        "personal_data_key": SecretStr(PERSONAL_DATA_KEY),
        **extra,
    }


@pytest_asyncio.fixture
async def email_env(make_env: EnvFactory, smtp: SmtpServer) -> Env:
    """The service with e-mail on, sending to the loopback SMTP server."""
    return await make_env(**email_overrides(smtp.port))
