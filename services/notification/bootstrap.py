"""Wiring: the notification app, its outbox relay, its consumer and its
delivery worker, from settings. The clock and resolver are injectable so tests
control time and DNS; a test passes the same `UseCases` to the app and the loops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractResolver

from services.notification.email.channel import EmailChannel
from services.notification.email.matches import DueMailLoop
from services.notification.events.handlers import (
    CONSUMER,
    keys_handlers,
    matching_handlers,
    registration_handlers,
)
from services.notification.http.routes import USE_CASES, api
from services.notification.outbound.policy import Clock
from services.notification.outbound.worker import Channel, DeliveryWorker, WorkerDatabase
from services.notification.parties.expiry import HeldEventExpiry
from services.notification.settings import NotificationSettings
from services.notification.use_cases import UseCases, create_use_cases
from services.notification.webhooks.channel import WebhookChannel
from shared.consumer import consumer_from_settings
from shared.db import SHARED_MIGRATIONS
from shared.envelope import utcnow
from shared.http.app import create_service_app
from shared.outbox import OutboxRelay, relay_from_settings
from shared.runtime import Background
from shared.unit_of_work import UnitsOfWork

MIGRATIONS = [("shared", SHARED_MIGRATIONS), ("notification", Path(__file__).parent / "migrations")]

PRODUCER = "notification"


def create_app(
    settings: NotificationSettings,
    *,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
    use_cases: UseCases | None = None,
) -> web.Application:
    app = create_service_app(
        api,
        settings,
        producer=PRODUCER,
        topic=settings.topics.notification,
        admin_token=settings.admin_token,
    )
    app[USE_CASES] = use_cases or create_use_cases(settings, clock=clock, resolver=resolver)
    return app


def create_relay(settings: NotificationSettings) -> OutboxRelay:
    return relay_from_settings(settings)


def create_consumers(settings: NotificationSettings, use_cases: UseCases) -> list[Background]:
    """One consumer per topic, each its own group (`notification-registration`,
    `notification-matching`) with its own loop and readiness check: a flood of
    match events never holds back a registration (the parties they wait for)."""
    topics = settings.topics
    out = []
    for stream, topic, handlers in (
        ("registration", topics.registration, registration_handlers(use_cases)),
        ("matching", topics.matching, matching_handlers(use_cases)),
        # Apart from registration's: a person's registration waits (retrying) for the
        # key that opens it, which must be able to arrive meanwhile.
        ("keys", topics.keys, keys_handlers(use_cases)),
    ):
        consumer = consumer_from_settings(
            settings,
            f"{CONSUMER}-{stream}",
            [topic],
            handlers,
            producer=PRODUCER,
            emits_to=topics.notification,
        )
        out.append(Background(f"consumer_{stream}", consumer.run, consumer.healthy))
    return out


def channels(
    settings: NotificationSettings,
    *,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
) -> list[Channel[Any]]:
    """The ways out the worker drives: webhooks, and e-mail when it is on."""
    out: list[Channel[Any]] = [WebhookChannel(settings, clock=clock, resolver=resolver)]
    if settings.email_enabled:
        out.append(EmailChannel(settings, clock=clock))
    return out


def create_worker(
    settings: NotificationSettings,
    *,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
    units: UnitsOfWork | None = None,
) -> DeliveryWorker:
    """The delivery worker; `units` shares a pool the caller owns."""
    return DeliveryWorker(
        channels(settings, clock=clock, resolver=resolver),
        database=WorkerDatabase(
            dsn=settings.database_url.get_secret_value(),
            producer=PRODUCER,
            topic=settings.topics.notification,
            pool_max=settings.db_pool_max,
            units=units,
        ),
        concurrency=settings.worker_concurrency,
        poll_seconds=settings.worker_poll_seconds,
        clock=clock,
    )


def background(
    settings: NotificationSettings,
    *,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
    use_cases: UseCases | None = None,
) -> list[Background]:
    """What `serve` and `worker` run besides the API: the outbox relay, the
    consumers of registration and of matching events, the delivery worker, the
    expiry of held events and, with e-mail on, the loops that make match e-mails
    and feedback requests once due."""
    use_cases = use_cases or create_use_cases(settings, clock=clock, resolver=resolver)
    relay = create_relay(settings)
    worker = create_worker(settings, clock=clock, resolver=resolver)
    expiry = HeldEventExpiry(
        dsn=settings.database_url.get_secret_value(),
        max_age=settings.held_event_max_age,
        interval=settings.held_check_seconds,
        clock=clock,
    )
    loops = [
        Background("outbox_relay", relay.run, relay.healthy),
        *create_consumers(settings, use_cases),
        Background("delivery_worker", worker.run, worker.healthy),
        Background("held_events", expiry.run, expiry.healthy),
    ]
    dsn = settings.database_url.get_secret_value()
    interval = settings.email_match_check_seconds
    for name, on, make_due in (
        ("match_mail", use_cases.match_mail.enabled, use_cases.match_mail.make_due),
        ("feedback_mail", use_cases.feedback_mail.enabled, use_cases.feedback_mail.make_due),
    ):
        if on:
            loop = DueMailLoop(dsn=dsn, make_due=make_due, interval=interval, name=name)
            loops.append(Background(name, loop.run, loop.healthy))
    return loops
