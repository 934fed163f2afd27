"""Wiring: the registration app and its background loops, from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.registration.api import SERVICE, api
from services.registration.service import Registration
from services.registration.settings import RegistrationSettings
from shared.db import SHARED_MIGRATIONS, create_pool
from shared.http.app import READINESS, create_base_app
from shared.http.middleware import POOL
from shared.outbox import OutboxRelay

MIGRATIONS = [("shared", SHARED_MIGRATIONS), ("registration", Path(__file__).parent / "migrations")]


def create_app(settings: RegistrationSettings) -> web.Application:
    app = create_base_app(
        api, max_body_bytes=settings.http_max_body_bytes, admin_token=settings.admin_token
    )
    app[SERVICE] = Registration(settings.topics)

    async def database(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url.get_secret_value(), settings.db_pool_max)
        app[POOL] = pool

        async def db_ready() -> bool:
            return bool(await pool.fetchval("SELECT true"))

        app[READINESS]["database"] = db_ready
        yield
        await pool.close()

    app.cleanup_ctx.append(database)
    return app


def create_relay(settings: RegistrationSettings) -> OutboxRelay:
    return OutboxRelay(
        settings.database_url.get_secret_value(),
        settings.kafka_bootstrap_servers,
        idempotent_producer=settings.kafka_idempotent_producer,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )
