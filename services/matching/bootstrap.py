"""Wiring, from settings: matching's use cases, its app, and its background
loops (outbox relay, registration consumer, answers consumer, scheduling
worker, follow-ups). Nothing is created at import time."""

from __future__ import annotations

import threading
from pathlib import Path

from aiohttp import web
from threadpoolctl import threadpool_limits

from services.matching.events.handlers import answer_handlers, event_handlers
from services.matching.feedback.worker import FollowUpLoop
from services.matching.http.routes import USE_CASES, api
from services.matching.scheduling.worker import PRODUCER, SchedulingWorker
from services.matching.scoring import segment
from services.matching.settings import MatchingSettings
from services.matching.use_cases import UseCases
from shared.consumer import IdempotentConsumer, consumer_from_settings
from shared.db import SHARED_MIGRATIONS
from shared.http.app import create_service_app
from shared.outbox import OutboxRelay, relay_from_settings
from shared.runtime import Background

MIGRATIONS = [("shared", SHARED_MIGRATIONS), ("matching", Path(__file__).parent / "migrations")]


def create_app(settings: MatchingSettings, uses: UseCases | None = None) -> web.Application:
    """The HTTP API; `uses` lets a caller share one set of use cases (and clock)
    with the worker."""
    limit_blas(settings)
    app = create_service_app(api, settings, producer=PRODUCER, topic=settings.topics.matching)
    app[USE_CASES] = uses or UseCases.from_settings(settings)
    return app


def create_relay(settings: MatchingSettings) -> OutboxRelay:
    return relay_from_settings(settings)


def create_consumer(settings: MatchingSettings, uses: UseCases) -> IdempotentConsumer:
    """The registration consumer: its events keep the read model and the matches current."""
    return consumer_from_settings(
        settings,
        settings.consumer_group,
        [settings.topics.registration],
        event_handlers(uses.readmodel),
        producer=PRODUCER,
        emits_to=settings.topics.matching,
        weigh=uses.scoring.pairs_of,
        max_weight=uses.scoring.pairs_per_transaction,
    )


def create_answers_consumer(settings: MatchingSettings, uses: UseCases) -> IdempotentConsumer:
    """The notification topic's consumer, a group of its own: people's answers
    from their e-mail (`answer.given`) become the side's interest, their feedback
    after a meeting (`feedback.given`) the side's feedback. Apart from
    the registration consumer, so a registration rush never delays an answer."""
    return consumer_from_settings(
        settings,
        f"{settings.consumer_group}-answers",
        [settings.topics.notification],
        answer_handlers(uses.interest, uses.after),
        producer=PRODUCER,
        emits_to=settings.topics.matching,
    )


def create_worker(
    settings: MatchingSettings, uses: UseCases, heartbeat_seconds: float = 0.5
) -> SchedulingWorker:
    return SchedulingWorker(settings, uses.scheduling, uses.interest, heartbeat_seconds)


def create_follow_ups(settings: MatchingSettings, uses: UseCases) -> FollowUpLoop:
    return FollowUpLoop(
        dsn=settings.database_url.get_secret_value(),
        producer=PRODUCER,
        topic=settings.topics.matching,
        after=uses.after,
        interval=settings.follow_up_check_seconds,
    )


def background(settings: MatchingSettings) -> list[Background]:
    """The loops `worker` and `serve` run. The scheduling worker also records
    expired interest requests (one loop, so readiness has one entry for both)."""
    limit_blas(settings)
    uses = UseCases.from_settings(settings)
    # The Chinese dictionary loads in a thread now, not on the event loop when the
    # first Chinese text arrives (that would stall heartbeats for a second or more).
    threading.Thread(target=segment.load, name="segmenter-load", daemon=True).start()
    relay = create_relay(settings)
    consumer = create_consumer(settings, uses)
    answers = create_answers_consumer(settings, uses)
    worker = create_worker(settings, uses)
    follow_ups = create_follow_ups(settings, uses)
    return [
        Background("outbox_relay", relay.run, relay.healthy),
        Background("registration_consumer", consumer.run, consumer.healthy),
        Background("answers_consumer", answers.run, answers.healthy),
        Background("scheduling_worker", worker.run, worker.healthy),
        Background("follow_up_loop", follow_ups.run, follow_ups.healthy),
    ]


def limit_blas(settings: MatchingSettings) -> None:
    # OpenBLAS starts a thread per core and busy-waits between products: on a
    # 2-core machine one registration against 100,000 participants scored in
    # 85 ms with them and 20 ms without, and their spinning took the CPU the
    # other services needed (bench/scoring.py, bench/pipeline.py).
    threadpool_limits(limits=settings.blas_threads, user_api="blas")
