"""What used to be unbounded (issue 11, item 10): an SMTP conversation as a
whole, the hold of events whose parties never come, and the DNS look-up of a
subscription's host."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest_asyncio
from aiohttp.abc import ResolveResult
from prometheus_client import REGISTRY

from services.notification.email.smtp import Mailer
from services.notification.parties.expiry import HeldEventExpiry
from shared.topics import Topics
from tests.integration.notification.conftest import (
    EnvFactory,
    StaticResolver,
    email_overrides,
    notification_settings,
)

REPLY_DELAY = 0.4


async def _slow_smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A relay that answers every command just within a per-command timeout."""

    async def say(line: str) -> None:
        await asyncio.sleep(REPLY_DELAY)
        writer.write(f"{line}\r\n".encode())
        await writer.drain()

    with contextlib.suppress(ConnectionError):
        await say("220 slow.test ESMTP")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                await say("354 go ahead")
                while await reader.readline() not in (b".\r\n", b""):
                    pass
                await say("250 queued")
            elif verb == b"QUIT":
                await say("221 bye")
                break
            else:
                await say("250 OK")
    writer.close()


@pytest_asyncio.fixture
async def slow_relay() -> AsyncIterator[int]:
    server = await asyncio.start_server(_slow_smtp, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_slow_relay_cannot_stretch_a_message_past_the_whole_timeout(
    slow_relay: int,
) -> None:
    """Each reply comes within the 1 s timeout, the conversation takes ~2.4 s: a
    per-command timeout would let it run on (and past a lease)."""
    settings = notification_settings(
        "postgresql://unused/db", Topics(), **email_overrides(slow_relay, smtp_timeout_seconds=1.0)
    )
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@roadshow.test", "b@x.test", "hi"
    message.set_content("hello")
    started = time.monotonic()
    attempt = await Mailer(settings).send(message, "a@roadshow.test", "b@x.test")
    took = time.monotonic() - started
    assert attempt.outcome == "timeout"
    assert took < 1.0 + REPLY_DELAY


async def test_held_events_expire_after_their_age_and_are_counted(make_env: EnvFactory) -> None:
    env = await make_env(held_event_max_age=3600)
    await env.match(uuid.uuid4(), uuid.uuid4())
    env.clock.advance(1800)
    await env.match(uuid.uuid4(), uuid.uuid4())
    expiry = HeldEventExpiry(
        dsn=env.dsn, max_age=env.settings.held_event_max_age, interval=60, clock=env.clock
    )

    def gauge() -> float | None:
        return REGISTRY.get_sample_value("roadshow_notification_held_events")

    async with env.pool.acquire() as conn:
        assert await expiry.expire(conn) == 0
        assert gauge() == 2
        env.clock.advance(1801)  # the first has waited longer than an hour
        assert await expiry.expire(conn) == 1
        assert gauge() == 1
        env.clock.advance(1800)
        assert await expiry.expire(conn) == 1
        assert gauge() == 0


class HangingResolver(StaticResolver):
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        await asyncio.sleep(3600)
        return []


async def test_a_host_that_does_not_resolve_in_time_is_a_422_naming_url(
    make_env: EnvFactory,
) -> None:
    env = await make_env(allow_private_endpoints=False, dns_timeout_seconds=0.3)
    env.use_cases.subscriptions.resolver = HangingResolver()
    partner = await env.partner()
    resp = await asyncio.wait_for(
        env.client.post(
            "/v1/subscriptions",
            json={"url": "https://slow-dns.bank.example/hook", "event_types": ["match.proposed"]},
            headers=partner,
        ),
        10,
    )
    assert resp.status == 422
    problem = await resp.json()
    assert problem["field"] == "url" and "did not resolve within 0.3s" in problem["detail"]
