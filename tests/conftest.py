from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.registration.bootstrap import MIGRATIONS, create_app, create_relay
from services.registration.settings import RegistrationSettings
from shared.embedded import EmbeddedBroker
from shared.testing.plugin import DatabaseFactory
from shared.topics import Topics
from tests import factories

ADMIN = "test-admin-token"


@dataclass
class Registration:
    client: TestClient[Any, Any]
    dsn: str
    topics: Topics
    settings: RegistrationSettings

    async def new_partner(
        self, name: str = "Shanghai Foreign Investment Promotion Center"
    ) -> dict[str, str]:
        """Creates a partner; returns headers that authenticate as it."""
        resp = await self.client.post(
            "/admin/partners", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        return {"Authorization": f"Bearer {body['api_key']}", "X-Partner-Id": body["partner_id"]}

    async def new_roadshow(self, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
        resp = await self.client.post(
            "/v1/roadshows", json=factories.roadshow(**overrides), headers=headers
        )
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


def registration_settings(
    dsn: str, broker: EmbeddedBroker, topics: Topics, **extra: Any
) -> RegistrationSettings:
    return RegistrationSettings(
        database_url=SecretStr(dsn),
        kafka_bootstrap_servers=broker.bootstrap_servers,
        topic_prefix=topics.prefix,
        admin_token=SecretStr(ADMIN),
        outbox_poll_seconds=0.2,
        **extra,
    )


@pytest_asyncio.fixture
async def registration_db(databases: DatabaseFactory) -> str:
    return await databases.fresh(MIGRATIONS)


@pytest_asyncio.fixture
async def registration(
    registration_db: str, broker: EmbeddedBroker, topics: Topics, request: pytest.FixtureRequest
) -> AsyncIterator[Registration]:
    """The registration API on a real server, with its outbox relay running
    (unless the test is marked `no_relay`)."""
    settings = registration_settings(registration_db, broker, topics, http_max_body_bytes=64 * 1024)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    stop = asyncio.Event()
    relay_task = None
    if request.node.get_closest_marker("no_relay") is None:
        relay_task = asyncio.create_task(create_relay(settings).run(stop))
    try:
        yield Registration(client, registration_db, topics, settings)
    finally:
        stop.set()
        if relay_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(relay_task, 10)
        await client.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_relay: do not run the outbox relay in-process")
    config.addinivalue_line("markers", "last: run after every other test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The log-privacy check reads the logs of the whole run, so it runs last.
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
