"""Through the real broker: a partner key made on registration works on
notification (the key replica), a subscription is made over HTTP, a match
produced to the matching topic reaches a loopback receiver signed, the
delivery is announced on the notification topic, and revoking the key on
registration makes notification answer 401."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from standardwebhooks.webhooks import Webhook

from services.notification.bootstrap import MIGRATIONS, background, create_app
from services.notification.use_cases import create_use_cases
from shared.contracts.matching import Match, MatchComponent, match_id_for
from shared.embedded import EmbeddedBroker
from shared.envelope import Context, Envelope, new_event
from shared.taxonomy import ParticipantKind
from shared.testing.kafka import read_topic
from shared.testing.plugin import DatabaseFactory
from shared.testing.waiting import eventually
from tests import factories
from tests.conftest import ADMIN, Registration
from tests.integration.notification.conftest import Receiver, notification_settings


@pytest_asyncio.fixture
async def notification(
    databases: DatabaseFactory, broker: EmbeddedBroker, registration: Registration
) -> AsyncIterator[TestClient[Any, Any]]:
    """The notification service as `serve` runs it: API, outbox relay, consumer
    and delivery worker, on the registration fixture's topics."""
    dsn = await databases.fresh(MIGRATIONS)
    settings = notification_settings(
        dsn,
        registration.topics,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_session_timeout_ms=3000,
        fetch_max_wait_ms=10,
    )
    use_cases = create_use_cases(settings)
    client = TestClient(TestServer(create_app(settings, use_cases=use_cases)))
    await client.start_server()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(b.run(stop)) for b in background(settings, use_cases=use_cases)]
    try:
        yield client
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
        await client.close()


async def test_key_replica_subscription_match_delivery_and_revocation(
    registration: Registration,
    notification: TestClient[Any, Any],
    receiver: Receiver,
    broker: EmbeddedBroker,
) -> None:
    partner = await registration.new_partner()

    async def key_works_here() -> bool:
        resp = await notification.get("/v1/subscriptions", headers=partner)
        return resp.status == 200

    await eventually(key_works_here, within=40, what="the key to reach notification")

    roadshow = await registration.new_roadshow(partner)
    resp = await registration.client.post(
        "/v1/participants",
        json=factories.participant(roadshow["roadshow_id"], kind="bank"),
        headers=partner,
    )
    bank = await resp.json()
    resp = await registration.client.post(
        "/v1/delegations",
        json=factories.delegation(roadshow["roadshow_id"], enterprises=1),
        headers=partner,
    )
    enterprise = (await resp.json())["enterprises"][0]

    resp = await notification.post(
        "/v1/subscriptions",
        json={"url": receiver.url, "event_types": ["match.proposed"]},
        headers=partner,
    )
    assert resp.status == 201, await resp.text()
    subscription = await resp.json()

    enterprise_id = uuid.UUID(enterprise["enterprise_id"])
    participant_id = uuid.UUID(bank["participant_id"])
    match_id = match_id_for(enterprise_id, participant_id)
    event = new_event(
        "matching",
        Context(correlation_id="e2e-match"),
        "match.proposed",
        match_id,
        Match(
            match_id=match_id,
            roadshow_id=uuid.UUID(roadshow["roadshow_id"]),
            enterprise_id=enterprise_id,
            participant_id=participant_id,
            participant_kind=ParticipantKind.BANK,
            score=0.77,
            components=[
                MatchComponent(name="sector_fit", score=0.8, weight=0.4, reason="both work in AI")
            ],
            status="proposed",
            version=1,
        ),
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            registration.topics.matching, event.to_bytes(), key=event.key.encode()
        )
    finally:
        await producer.stop()

    async def delivered() -> bool:
        return len(receiver.requests) >= 1

    await eventually(delivered, within=30, what="the webhook to arrive")
    (request,) = receiver.requests
    payload = Webhook(subscription["secret"]).verify(request.body, request.headers)
    assert payload["data"]["match"]["match_id"] == str(match_id)
    assert payload["data"]["enterprise"]["name"] == enterprise["name"]
    assert payload["data"]["participant"]["name"] == bank["name"]

    records = await read_topic(
        broker.bootstrap_servers, registration.topics.notification, at_least=1
    )
    (announced,) = [Envelope.from_bytes(r.value) for r in records]
    assert announced.type == "notification.delivered"
    assert announced.data["notification_id"] == request.headers["webhook-id"]
    assert announced.correlation_id == "e2e-match"

    token = partner["Authorization"].split()[1]
    resp = await registration.client.delete(
        f"/admin/partners/{partner['X-Partner-Id']}/keys/{uuid.UUID(hex=token.split('_')[1])}",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert resp.status == 204

    async def revoked_here() -> bool:
        resp = await notification.get("/v1/subscriptions", headers=partner)
        return resp.status == 401

    await eventually(revoked_here, within=20, what="the revocation to reach notification")
