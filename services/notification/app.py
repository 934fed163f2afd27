"""Wiring: the notification app, its use cases and its background loops, from
settings. The clock and resolver are injectable so tests control time and DNS."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver

from services.notification.api import SERVICE, api
from services.notification.consumer import create_consumer
from services.notification.delivery import DeliveryWorker
from services.notification.domain import Clock, RetryPolicy
from services.notification.email_service import Emails
from services.notification.service import Notifications
from services.notification.settings import NotificationSettings
from shared.cli import Background
from shared.db import SHARED_MIGRATIONS
from shared.envelope import utcnow
from shared.http.app import create_service_app
from shared.outbox import OutboxRelay, relay_from_settings

MIGRATIONS = [("shared", SHARED_MIGRATIONS), ("notification", Path(__file__).parent / "migrations")]


def create_service(
    settings: NotificationSettings,
    *,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
) -> Notifications:
    return Notifications(
        settings.topics,
        policy=RetryPolicy(
            schedule=settings.retry_schedule,
            jitter=settings.retry_jitter,
            retry_after_cap=settings.retry_after_cap_seconds,
        ),
        allow_private=settings.allow_private_endpoints,
        clock=clock,
        resolver=resolver,
        emails=Emails(settings, clock=clock),
    )


def create_app(
    settings: NotificationSettings, *, service: Notifications | None = None
) -> web.Application:
    app = create_service_app(api, settings, admin_token=settings.admin_token)
    app[SERVICE] = service or create_service(settings)
    return app


def create_relay(settings: NotificationSettings) -> OutboxRelay:
    return relay_from_settings(settings)


def create_worker(
    settings: NotificationSettings,
    service: Notifications,
    resolver: AbstractResolver | None = None,
) -> DeliveryWorker:
    return DeliveryWorker(settings, service, resolver=resolver)


def background_loops(
    settings: NotificationSettings, service: Notifications | None = None
) -> list[Background]:
    """What `serve` and `worker` run besides the API: the outbox relay, the
    consumer of registration and matching events, and the delivery worker."""
    service = service or create_service(settings)
    relay = create_relay(settings)
    consumer = create_consumer(settings, service)
    worker = create_worker(settings, service, service.resolver)
    return [
        Background("outbox_relay", relay.run, relay.healthy),
        Background("consumer", consumer.run, consumer.healthy),
        Background("delivery_worker", worker.run, worker.healthy),
    ]
