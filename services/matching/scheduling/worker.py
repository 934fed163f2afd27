"""The scheduling worker: runs queued jobs one at a time, and records expired
interest requests every so often (so their events go out even when nobody
schedules; each job checks again before reading its problem).

A job is claimed with SKIP LOCKED (several workers can share the queue), its
problem read, and solved in a process pool: the solver holds the GIL for
seconds, so neither the event loop (and the Kafka consumer's heartbeats on it)
nor a thread pool may run it. While it solves, the worker reports its progress
as a heartbeat; then it saves the schedule with its events in one unit of work.
A job whose worker dies is taken over once its heartbeat is older than the lease.

The loop survives any exception in one unit of work: a lost database is logged
and waited out with backoff (the pool reconnects); a job that fails for any
other reason is retried up to `scheduler_max_attempts` times, then failed with
its error (a poison job is never re-claimed forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import structlog

from services.matching.interest.service import Interest, expiry_context
from services.matching.scheduling.model import Job
from services.matching.scheduling.service import LoadedProblem, Scheduling
from services.matching.scheduling.solver import Schedule
from services.matching.scheduling.solver.process import (
    PRELOAD,
    init_pool_process,
    ready,
    solve_reporting,
)
from services.matching.settings import MatchingSettings
from shared.db import create_pool
from shared.envelope import Context
from shared.failures import backoff_seconds, is_transient
from shared.logging import get_logger
from shared.unit_of_work import UnitsOfWork

log = get_logger(__name__)

PRODUCER = "matching"
# Failures in a row after which the worker starts over with a new pool.
_RECONNECT_AFTER = 3


class _SolverPool:
    """One solver process at a time, started fresh by 'forkserver' (never forked
    from this process: its event loop, sockets and threads stay here), with the
    solver preloaded so a pool starts in milliseconds after the first."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self.progress: Any = self._context.Value("d", 0.0, lock=False)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=self._context,
            initializer=init_pool_process,
            initargs=(self.progress,),
        )

    async def start(self) -> None:
        """Start the solver process now, off the event loop: starting it waits
        for the fork server (seconds, the first time), which a job should not."""
        await asyncio.to_thread(lambda: self._pool.submit(ready).result())

    async def solve(self, problem: LoadedProblem) -> Schedule:
        """Raises what the solver raised; BrokenProcessPool when its process died
        (the pool is replaced, so the next job gets a new one)."""
        self.progress.value = 0.0
        p = problem.problem
        future = self._pool.submit(solve_reporting, p.instance, p.must, p.fixed, p.locked)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            await self.start()
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class SchedulingWorker:
    def __init__(
        self,
        settings: MatchingSettings,
        scheduling: Scheduling,
        interest: Interest,
        heartbeat_seconds: float = 0.5,
        backoff_base_seconds: float = 0.5,
    ) -> None:
        self._dsn = settings.database_url.get_secret_value()
        self._topic = settings.topics.matching
        self._poll = settings.scheduler_poll_seconds
        self._expiry_every = settings.interest_expiry_check_seconds
        self._next_expiry = 0.0
        self._scheduling = scheduling
        self._interest = interest
        self._heartbeat = heartbeat_seconds
        self._backoff_base = backoff_base_seconds
        self.last_beat = time.monotonic()
        self.jobs_run = 0

    def healthy(self, max_silence: float = 30.0) -> bool:
        return time.monotonic() - self.last_beat < max_silence

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: the loop outlives any failure. A lost database (refused,
        dropped connection, closed pool) is logged and waited out with backoff,
        reconnecting; a job that fails is retried, then failed (see `_run_job`)."""
        solver = _SolverPool()
        try:
            await solver.start()
            failures = 0
            while not stop.is_set():
                try:
                    await self._run_connected(stop, solver)
                except Exception as exc:
                    failures += 1
                    self._log_failure("matching.worker_reconnecting", exc, failures)
                    await _wait(stop, backoff_seconds(failures, self._backoff_base))
        finally:
            # A job still solving finishes first: the loop only stops between jobs.
            await asyncio.to_thread(solver.close)

    async def _run_connected(self, stop: asyncio.Event, solver: _SolverPool) -> None:
        pool = await create_pool(self._dsn, 3)
        units = UnitsOfWork(pool, PRODUCER, self._topic)
        failures = 0
        try:
            while not stop.is_set():
                self.last_beat = time.monotonic()
                try:
                    if time.monotonic() >= self._next_expiry:
                        self._next_expiry = time.monotonic() + self._expiry_every
                        await self._expire(units)
                    ran = await self._run_one(units, solver)
                    failures = 0
                except Exception as exc:
                    # One unit of work failed (the database went away, most likely):
                    # a claimed job stays claimed; its lease runs out and it is retried.
                    failures += 1
                    self._log_failure("matching.worker_error", exc, failures)
                    if failures >= _RECONNECT_AFTER:
                        raise  # a fresh pool, should this one be beyond repair
                    await _wait(stop, backoff_seconds(failures, self._backoff_base))
                    continue
                if not ran:
                    await _wait(stop, self._poll)
        finally:
            with contextlib.suppress(Exception):
                await pool.close()

    def _log_failure(self, event: str, exc: Exception, failures: int) -> None:
        log.warning(
            event,
            error=type(exc).__name__,
            detail=str(exc)[:500],
            failures=failures,
            retry_in=backoff_seconds(failures, self._backoff_base),
        )

    async def _expire(self, units: UnitsOfWork) -> None:
        async with units.begin(expiry_context()) as uow:
            await self._interest.expire(uow)

    async def _run_one(self, units: UnitsOfWork, solver: _SolverPool) -> bool:
        async with units.begin(Context(correlation_id=f"claim-{uuid.uuid4()}")) as uow:
            job = await self._scheduling.claim_job(uow, uuid.uuid4())
        if job is None:
            return False
        with structlog.contextvars.bound_contextvars(
            correlation_id=job.correlation_id, job_id=str(job.id)
        ):
            try:
                await self._run_job(units, solver, job)
            except Exception as exc:
                if is_transient(exc):
                    raise  # the lease runs out and the job is retried
                # Deterministic (bad input, a bug): retried up to max_attempts, then
                # failed with its error, so a poison job is never claimed forever.
                log.error("matching.schedule_error", error=type(exc).__name__, detail=str(exc))
                async with units.begin(job.context()) as uow:
                    await self._scheduling.job_failed(uow, job, f"{type(exc).__name__}: {exc}")
        return True

    async def _run_job(self, units: UnitsOfWork, solver: _SolverPool, job: Job) -> None:
        log.info("matching.schedule_started", attempt=job.attempts)
        await self._expire(units)
        async with units.pool.acquire() as conn:
            problem = await self._scheduling.read_problem(conn, job)
        schedule = await self._solve(units, solver, job, problem)
        if schedule is None:
            return
        async with units.begin(job.context()) as uow:
            await self._scheduling.save_schedule(uow, job, problem, schedule)
        self.jobs_run += 1

    async def _solve(
        self, units: UnitsOfWork, solver: _SolverPool, job: Job, problem: LoadedProblem
    ) -> Schedule | None:
        """The solver's schedule, heartbeating meanwhile; None when it failed
        (the job is then failed)."""
        beat = asyncio.create_task(self._beat(units, job, solver))
        started = time.monotonic()
        try:
            schedule = await solver.solve(problem)
        except (ValueError, RuntimeError, MemoryError, BrokenProcessPool) as exc:
            log.error("matching.schedule_failed", error=type(exc).__name__)
            async with units.begin(job.context()) as uow:
                await self._scheduling.fail_job(uow, job, f"the solver failed: {exc}")
            return None
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        log.info(
            "matching.schedule_solved",
            seconds=round(time.monotonic() - started, 3),
            pairs=problem.problem.instance.n_pairs,
            meetings=schedule.size,
        )
        return schedule

    async def _beat(self, units: UnitsOfWork, job: Job, solver: _SolverPool) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            self.last_beat = time.monotonic()
            try:
                async with units.pool.acquire() as conn:
                    await self._scheduling.heartbeat(conn, job, solver.progress.value)
            except Exception as exc:  # a missed beat is no reason to stop solving
                log.warning("matching.heartbeat_failed", error=type(exc).__name__)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
