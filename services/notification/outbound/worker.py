"""The delivery worker: one loop for every channel. Round by round it asks each
channel (`Channel`: claim, send, record) for due notifications within its free
capacity, sends each in a task of its own and records how the attempt ended.
Several workers can run against one database; claims are leases, so a worker
that dies mid-delivery only delays its notifications until the lease runs out."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import asyncpg
import structlog

from services.notification.outbound import repository as outbound
from services.notification.outbound.policy import Attempt, Clock, Decision
from shared.db import create_pool
from shared.envelope import Context, utcnow
from shared.failures import backoff_seconds, is_transient
from shared.logging import get_logger, scrub_text
from shared.unit_of_work import UnitOfWork, UnitsOfWork

log = get_logger(__name__)

# Claims emit nothing; the context only names the flow in the logs. A run of
# recordings emits each outcome in its own notification's flow.
_CLAIMING = Context(correlation_id="delivery-worker")
_RECORDING = _CLAIMING


class Job(Protocol):
    """One claimed attempt of one notification."""

    @property
    def notification_id(self) -> uuid.UUID: ...

    @property
    def number(self) -> int: ...

    @property
    def token(self) -> uuid.UUID:
        """The lease the attempt runs under."""
        ...

    @property
    def context(self) -> Context:
        """The flow the notification belongs to: what recording its end emits carries it."""
        ...


J = TypeVar("J", bound=Job)


class Channel(Protocol[J]):
    """A way out (webhooks, e-mail) as the worker drives it."""

    # Log events are `<log_as>.attempted` and `<log_as>.record_failed`.
    log_as: str
    # Attempts of this channel in flight at once in one worker.
    limit: int
    # Whether a failure to record may be logged with its message (False: it may
    # quote personal data, so only the class is logged).
    quote_errors: bool

    def opened(self) -> AbstractAsyncContextManager[None]:
        """The channel's clients (HTTP session, ...) for the worker's lifetime."""
        ...

    async def claim(self, uow: UnitOfWork, capacity: int) -> Sequence[J]: ...

    async def send(self, job: J) -> Attempt: ...

    async def record(
        self, uow: UnitOfWork, ended: Sequence[tuple[J, Attempt]]
    ) -> list[Decision | None]:
        """Store how a run of attempts ended (in bulk), in their order; None for
        one whose lease was lost. Whatever it emits, it emits in each
        notification's own flow (`uow.acting_as(job.context)`)."""
        ...

    def log_fields(self, job: J) -> dict[str, str]:
        """Ids bound to every log line about the job (never personal data)."""
        ...

    def attempt_fields(self, job: J) -> dict[str, str]:
        """Extra fields of the `attempted` line."""
        ...


@dataclass(frozen=True)
class WorkerDatabase:
    """Where the worker's units of work come from: a pool of its own on `dsn`
    (`pool_max` connections), or `units`, a pool the caller owns. `dsn` is also
    where the worker listens for new notifications."""

    dsn: str
    producer: str
    topic: str
    pool_max: int = 5
    units: UnitsOfWork | None = None


class DeliveryWorker:
    def __init__(
        self,
        channels: Sequence[Channel[Any]],
        *,
        database: WorkerDatabase,
        concurrency: int,
        poll_seconds: float,
        clock: Clock = utcnow,
    ) -> None:
        self._channels = list(channels)
        self._db = database
        self._dsn = database.dsn
        self._units: UnitsOfWork | None = database.units
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = {channel.log_as: 0 for channel in self._channels}
        self._wake = asyncio.Event()
        self._to_record: list[_Ended] = []
        self._recording = False
        self._open = False
        self.last_round = time.monotonic()

    def healthy(self, max_silence: float = 30.0) -> bool:
        return self._open and time.monotonic() - self.last_round < max_silence

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[DeliveryWorker]:
        """The worker's database pool and every channel's clients, for `run` or
        for driving it round by round (`deliver_due`)."""
        pool: asyncpg.Pool | None = None
        if self._units is None:
            pool = await create_pool(self._dsn, self._db.pool_max)
            self._units = UnitsOfWork(pool, self._db.producer, self._db.topic)
        try:
            async with contextlib.AsyncExitStack() as stack:
                for channel in self._channels:
                    await stack.enter_async_context(channel.opened())
                self._open = True
                try:
                    yield self
                finally:
                    await self.drain()
                    self._open = False
        finally:
            if pool is not None:
                await pool.close()
                self._units = self._db.units

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`, outliving any failure: a round that fails (the
        database away, a bug in one claim) is logged and tried again after a
        backoff; a pool that cannot be opened is opened again."""
        failures = 0
        while not stop.is_set():
            try:
                async with self.opened():
                    log.info("delivery.started")
                    await self._rounds(stop)
            except Exception as exc:
                failures += 1
                retry_in = backoff_seconds(failures, 0.5)
                log.error("delivery.loop_failed", **_failure(exc), retry_in=retry_in)
                await _wait(stop, retry_in)

    async def _rounds(self, stop: asyncio.Event) -> None:
        listener: asyncpg.Connection | None = None
        failures = 0
        try:
            while not stop.is_set():
                self.last_round = time.monotonic()
                if listener is None or listener.is_closed():
                    # A dropped listening connection is opened again; until
                    # then the poll interval is the fallback.
                    listener = await self._listen()
                try:
                    claimed = await self.run_once()
                except Exception as exc:
                    # One round's failure (the database away for a moment, a
                    # claim that trips): the next round, after a backoff, retries.
                    failures += 1
                    retry_in = backoff_seconds(failures, 0.2, cap=10.0)
                    log.warning("delivery.round_failed", **_failure(exc), retry_in=retry_in)
                    await _wait(stop, retry_in)
                    continue
                failures = 0
                if claimed and self._sending < self._concurrency:
                    continue  # more may be due right now
                await self._sleep(stop)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close(timeout=5)

    async def _listen(self) -> asyncpg.Connection | None:
        # NOTIFY wakes the worker as soon as notifications commit; the poll
        # interval is the fallback and the clock for scheduled retries.
        try:
            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener("notifications", lambda *_: self._wake.set())
            # Lost, it is reopened at the top of the next round: wake for that too.
            conn.add_termination_listener(lambda *_: self._wake.set())
            return conn
        except Exception as exc:
            log.warning("delivery.listen_failed", error=type(exc).__name__)
            return None

    async def _sleep(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def run_once(self) -> int:
        """Claim what is due (within this worker's free capacity and each
        channel's bound) and start sending it; returns how many attempts started."""
        assert self._units is not None and self._open
        started = 0
        for channel in self._channels:
            capacity = min(
                self._concurrency - self._sending,
                channel.limit - self._in_flight[channel.log_as],
            )
            if capacity <= 0:
                continue
            async with self._units.begin(_CLAIMING) as uow:
                jobs = await channel.claim(uow, capacity)
            for job in jobs:
                self._in_flight[channel.log_as] += 1
                self._start(self._deliver(channel, job))
            started += len(jobs)
        return started

    @property
    def _sending(self) -> int:
        """Requests in flight, over every channel."""
        return sum(self._in_flight.values())

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # capacity freed

    async def drain(self) -> None:
        """Wait for every attempt in flight to be sent and recorded."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def deliver_due(self) -> int:
        """One round: claim what is due, send it, record it."""
        started = await self.run_once()
        await self.drain()
        return started

    async def _deliver(self, channel: Channel[J], job: J) -> None:
        with structlog.contextvars.bound_contextvars(
            correlation_id=job.context.correlation_id, **channel.log_fields(job)
        ):
            try:
                attempt = await self._send(channel, job)
            finally:
                # The request is over: its capacity goes to the next one now, not
                # once its recording (a group commit it may queue for) is done.
                # What waits to be recorded stays bounded by each channel's claim
                # (a subscription's attempts in flight across workers).
                self._in_flight[channel.log_as] -= 1
                self._wake.set()
            decision = await self._record(channel, job, attempt)
            log.info(
                f"{channel.log_as}.attempted",
                **channel.attempt_fields(job),
                attempt=job.number,
                outcome=attempt.outcome,
                status_code=attempt.status_code,
                ms=attempt.latency_ms,
                result=decision.status if decision else "not_recorded",
            )

    async def _send(self, channel: Channel[J], job: J) -> Attempt:
        try:
            return await channel.send(job)
        except Exception as exc:
            # Whatever a send raises (an answer we could not read, a bug) is a
            # failed attempt like any other: recorded, and bounded by the schedule.
            log.error(f"{channel.log_as}.send_failed", **_failure(exc, channel.quote_errors))
            return Attempt("failed", error=_error(exc, channel.quote_errors))

    async def _record(self, channel: Channel[J], job: J, attempt: Attempt) -> Decision | None:
        """Record an attempt together with every other that ends meanwhile (group
        commit: one transaction for a run of them, not one each). The first to
        arrive records, run after run, until none is waiting."""
        done: asyncio.Future[Decision | None] = asyncio.get_running_loop().create_future()
        self._to_record.append(_Ended(channel, job, attempt, done))
        if not self._recording:
            self._recording = True
            try:
                while self._to_record:
                    run, self._to_record = self._to_record, []
                    await self._record_run(run)
            finally:
                self._recording = False
                for left in self._to_record:  # only if this task was cancelled
                    left.done.cancel()
                self._to_record = []
        return await done

    async def _record_run(self, run: list[_Ended]) -> None:
        assert self._units is not None
        by_channel: dict[str, list[_Ended]] = {}
        for e in run:
            by_channel.setdefault(e.channel.log_as, []).append(e)
        recorded: list[tuple[_Ended, Decision | None]] = []
        try:
            async with self._units.begin(_RECORDING) as uow:
                for ended in by_channel.values():
                    decisions = await ended[0].channel.record(
                        uow, [(e.job, e.attempt) for e in ended]
                    )
                    recorded.extend(zip(ended, decisions, strict=True))
        except Exception:
            # One of them cannot be recorded: each on its own, so the others
            # are, and the one that fails is dealt with alone.
            recorded = [(e, await self._record_one(e.channel, e.job, e.attempt)) for e in run]
        for e, decision in recorded:
            if not e.done.done():
                e.done.set_result(decision)

    async def _record_one(self, channel: Channel[J], job: J, attempt: Attempt) -> Decision | None:
        assert self._units is not None
        try:
            async with self._units.begin(job.context) as uow:
                [decision] = await channel.record(uow, [(job, attempt)])
                return decision
        except Exception as exc:
            log.error(f"{channel.log_as}.record_failed", **_failure(exc, channel.quote_errors))
            if is_transient(exc):
                # The lease runs out and another round tries again; the attempt
                # stays in flight until then and is marked abandoned.
                return None
            error = _error(exc, channel.quote_errors)
        # Recording fails the same way on every try: the notification would go
        # out again after every lease, for ever. It ends dead, with the error.
        try:
            async with self._units.begin(job.context) as uow:
                await outbound.give_up(
                    uow.conn,
                    job.notification_id,
                    number=job.number,
                    token=job.token,
                    error=error,
                    now=self._clock(),
                )
        except Exception as again:
            log.error(f"{channel.log_as}.give_up_failed", error=type(again).__name__)
        return None


@dataclass
class _Ended:
    """An attempt sent and waiting to be recorded."""

    channel: Channel[Any]
    job: Any
    attempt: Attempt
    done: asyncio.Future[Decision | None]


def _error(exc: BaseException, quote: bool) -> str:
    """What an attempt's row says about an exception: its class, and its message
    when the channel may quote it."""
    return f"{type(exc).__name__}: {scrub_text(str(exc))}"[:500] if quote else type(exc).__name__


def _failure(exc: BaseException, quote: bool = True) -> dict[str, str]:
    fields = {"error": type(exc).__name__}
    if quote:
        fields["detail"] = scrub_text(str(exc))[:300]
    return fields


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
