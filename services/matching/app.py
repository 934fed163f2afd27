"""Wiring: the matching app and its background loops (outbox relay, registration
consumer, scheduling worker), from settings."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from pathlib import Path

import asyncpg
import structlog
from aiohttp import web

from services.matching import scheduler
from services.matching.api import SERVICE, api
from services.matching.service import Matching
from services.matching.settings import MatchingSettings
from shared.db import SHARED_MIGRATIONS, create_pool
from shared.http.app import create_service_app
from shared.logging import get_logger
from shared.outbox import OutboxRelay, relay_from_settings

log = get_logger(__name__)

MIGRATIONS = [("shared", SHARED_MIGRATIONS), ("matching", Path(__file__).parent / "migrations")]


def create_app(settings: MatchingSettings) -> web.Application:
    app = create_service_app(api, settings)
    app[SERVICE] = Matching(settings)
    return app


def create_relay(settings: MatchingSettings) -> OutboxRelay:
    return relay_from_settings(settings)


class _Progress:
    """The solver's progress, written from its thread, read by the heartbeat."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0.0

    def set(self, value: float) -> None:
        with self._lock:
            self._value = value

    @property
    def value(self) -> float:
        with self._lock:
            return self._value


class SchedulingWorker:
    """Runs queued scheduling jobs one at a time: claims one (SKIP LOCKED, so
    several workers can share the queue), solves it in a thread so the event loop
    (and the Kafka consumer's heartbeats on it) keeps turning, reports progress as
    a heartbeat, then saves the schedule with its events in one transaction. A job
    whose worker dies is taken over once its heartbeat is older than the lease."""

    def __init__(
        self, settings: MatchingSettings, service: Matching, heartbeat_seconds: float = 0.5
    ) -> None:
        self._dsn = settings.database_url.get_secret_value()
        self._poll = settings.scheduler_poll_seconds
        self._expiry_every = settings.interest_expiry_check_seconds
        self._next_expiry = 0.0
        self._service = service
        self._heartbeat = heartbeat_seconds
        self.last_beat = time.monotonic()
        self.jobs_run = 0

    def healthy(self, max_silence: float = 30.0) -> bool:
        return time.monotonic() - self.last_beat < max_silence

    async def run(self, stop: asyncio.Event) -> None:
        pool = await create_pool(self._dsn, 3)
        try:
            while not stop.is_set():
                self.last_beat = time.monotonic()
                try:
                    await self._expire(pool)
                    ran = await self._run_one(pool)
                except (OSError, asyncpg.PostgresError) as exc:
                    # The job stays claimed; its lease runs out and it is retried.
                    log.warning("matching.worker_error", error=type(exc).__name__)
                    ran = False
                if not ran:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._poll)
        finally:
            await pool.close()

    async def _expire(self, pool: asyncpg.Pool) -> None:
        """Record expired interest requests every so often, so their events go out
        even when nobody schedules (scheduling checks again before each job)."""
        if time.monotonic() < self._next_expiry:
            return
        self._next_expiry = time.monotonic() + self._expiry_every
        async with pool.acquire() as conn:
            await self._service.expire_interest(conn)

    async def _run_one(self, pool: asyncpg.Pool) -> bool:
        async with pool.acquire() as conn:
            job = await self._service.claim_job(conn, uuid.uuid4())
        if job is None:
            return False
        with structlog.contextvars.bound_contextvars(
            correlation_id=job["correlation_id"], job_id=str(job["id"])
        ):
            log.info("matching.schedule_started", attempt=job["attempts"])
            async with pool.acquire() as conn:
                problem, version = await self._service.scheduling_problem(conn, job)
            progress = _Progress()
            beat = asyncio.create_task(self._beat(pool, job, progress))
            started = time.monotonic()
            try:
                schedule = await asyncio.to_thread(
                    scheduler.solve,
                    problem.instance,
                    progress.set,
                    must=problem.must,
                    fixed=problem.fixed,
                )
            except (ValueError, RuntimeError, MemoryError) as exc:
                log.error("matching.schedule_failed", error=type(exc).__name__)
                async with pool.acquire() as conn:
                    await self._service.fail_job(conn, job, f"the solver failed: {exc}")
                return True
            finally:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
            log.info(
                "matching.schedule_solved",
                seconds=round(time.monotonic() - started, 3),
                pairs=problem.instance.n_pairs,
                meetings=schedule.size,
            )
            async with pool.acquire() as conn:
                await self._service.save_schedule(conn, job, problem, version, schedule)
            self.jobs_run += 1
        return True

    async def _beat(self, pool: asyncpg.Pool, job: asyncpg.Record, progress: _Progress) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            self.last_beat = time.monotonic()
            try:
                async with pool.acquire() as conn:
                    await self._service.heartbeat(conn, job, progress.value)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("matching.heartbeat_failed", error=type(exc).__name__)
