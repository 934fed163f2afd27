"""People answer from their inbox, through the real broker and a real SMTP
server: registration, matching and notification as `serve` runs them (APIs,
relays, consumers, delivery worker). A partner registers a participant and an
enterprise; matching proposes their match; the participant's contact receives
it by e-mail with three links; following one (GET, then the page's POST)
records the answer in matching: interest.recorded on the matching topic and
the match's interest over matching's API."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from services.matching import bootstrap as matching
from services.matching.use_cases import UseCases as MatchingUseCases
from services.notification.bootstrap import MIGRATIONS, background, create_app
from services.notification.use_cases import create_use_cases
from shared.embedded import EmbeddedBroker
from shared.envelope import Envelope
from shared.testing.kafka import read_topic
from shared.testing.plugin import DatabaseFactory
from shared.testing.waiting import eventually
from tests import factories
from tests.conftest import Registration
from tests.integration.matching.conftest import matching_settings
from tests.integration.notification.conftest import (
    SmtpServer,
    email_overrides,
    notification_settings,
)

LINK = re.compile(r"  (Accept|Decline|Must meet): https://notify\.roadshow\.test(\S+)")


async def _stop(tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
    stop.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)


@pytest_asyncio.fixture
async def services(
    databases: DatabaseFactory,
    broker: EmbeddedBroker,
    registration: Registration,
    smtp: SmtpServer,
) -> AsyncIterator[tuple[TestClient[Any, Any], TestClient[Any, Any]]]:
    """Matching (API, relay, both consumers) and notification (API and every
    loop, e-mail on, match e-mails without a settle delay) on the registration
    fixture's topics; returns (matching client, notification client)."""
    topics = registration.topics
    stop = asyncio.Event()
    m_dsn = await databases.fresh(matching.MIGRATIONS)
    m_settings = matching_settings(
        m_dsn, kafka_bootstrap_servers=broker.bootstrap_servers, topic_prefix=topics.prefix
    )
    uses = MatchingUseCases.from_settings(m_settings)
    m_client = TestClient(TestServer(matching.create_app(m_settings, uses)))
    await m_client.start_server()
    n_dsn = await databases.fresh(MIGRATIONS)
    n_settings = notification_settings(
        n_dsn,
        topics,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_session_timeout_ms=3000,
        fetch_max_wait_ms=10,
        **email_overrides(smtp.port, email_match_settle=0, email_match_check_seconds=0.2),
    )
    use_cases = create_use_cases(n_settings)
    n_client = TestClient(TestServer(create_app(n_settings, use_cases=use_cases)))
    await n_client.start_server()
    loops = [
        matching.create_relay(m_settings).run(stop),
        matching.create_consumer(m_settings, uses).run(stop),
        matching.create_answers_consumer(m_settings, uses).run(stop),
        *(b.run(stop) for b in background(n_settings, use_cases=use_cases)),
    ]
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        yield m_client, n_client
    finally:
        await _stop(tasks, stop)
        await m_client.close()
        await n_client.close()


async def test_an_answer_from_the_inbox_becomes_the_sides_interest_in_matching(
    registration: Registration,
    services: tuple[TestClient[Any, Any], TestClient[Any, Any]],
    smtp: SmtpServer,
    broker: EmbeddedBroker,
) -> None:
    matching_client, notification = services
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    body = factories.participant(roadshow["roadshow_id"], kind="fund")
    resp = await registration.client.post("/v1/participants", json=body, headers=partner)
    assert resp.status == 201, await resp.text()
    participant = await resp.json()
    resp = await registration.client.post(
        "/v1/delegations",
        json=factories.delegation(roadshow["roadshow_id"], enterprises=1),
        headers=partner,
    )
    assert resp.status == 201, await resp.text()
    contact = body["contact"]["email"]

    async def proposals() -> Any:
        mails = [m for m in smtp.sink.to(contact) if m.message["X-Roadshow-Message"] == "proposals"]
        return mails[0] if mails else None

    mail = await eventually(proposals, within=90, what="the contact's proposed matches")
    text = mail.message.get_body(("plain",)).get_content()
    links = dict(LINK.findall(text))
    assert set(links) == {"Accept", "Decline", "Must meet"}

    page = await notification.get(links["Accept"])
    assert page.status == 200, await page.text()
    done = await notification.post(links["Accept"])
    assert done.status == 200, await done.text()

    (match,) = (
        await (
            await matching_client.get(
                f"/v1/roadshows/{roadshow['roadshow_id']}/matches",
                headers={"Authorization": partner["Authorization"]},
            )
        ).json()
    )["items"]

    async def accepted() -> bool:
        resp = await matching_client.get(
            f"/v1/matches/{match['match_id']}", headers={"Authorization": partner["Authorization"]}
        )
        return resp.status == 200 and (await resp.json())["participant_interest"] == "accept"

    await eventually(accepted, within=60, what="the answer to reach matching")
    records = await read_topic(
        broker.bootstrap_servers, registration.topics.matching, at_least=1, within=30
    )
    recorded = [
        e
        for e in (Envelope.model_validate_json(r.value) for r in records if r.value)
        if e.type == "interest.recorded"
    ]
    (event,) = recorded
    assert event.data["match_id"] == match["match_id"]
    assert (event.data["side"], event.data["interest"]) == ("participant", "accept")
    assert uuid.UUID(event.data["participant_id"]) == uuid.UUID(participant["participant_id"])
