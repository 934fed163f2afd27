"""The idempotent consumer every service reads its topics through.

Per poll, each partition's records are worked on concurrently with the other
partitions', and in their order within the partition (so one key's events keep
their order). A partition's batch is handled in ONE transaction: its event ids
go into `inbox` in one statement (a redelivered or replayed event conflicts and is
skipped), every fresh event runs through its handlers, and only after that commit
is the partition's offset committed. A poll of a few records (`together_up_to`)
over several partitions is one transaction for all of them, still in order within
each partition: a steady flow spreads each registration's events over the
partitions, and a transaction per partition paid its fixed statements each time
(at 40 registrations a second this took the pipeline from falling behind, first
bank webhook p50 5 s, to keeping up, p50 0.3 s). A consumer given `weigh` splits
that transaction into consecutive runs of at most `max_weight` (`in_runs`), each
its own transaction, the offset still committed after the last.

Failures:
- a record that cannot be parsed or breaks its contract goes to the topic's
  dead-letter topic at once (it would fail the same way on every try);
- a transient failure (connection lost or refused, pool closed, serialization
  failure, deadlock, timeout) is retried with backoff until it passes — never
  dead-lettered; the partition waits and readiness says so (a handler's `NotYet`,
  waiting on another topic's event, is tried again as soon as another consumer
  of the process commits: `shared/arrivals.py`);
- any other failure of a batch is retried event by event, so that only the event
  that fails goes to the dead-letter topic, after `max_attempts` tries.
The poll loop itself survives any exception: it logs, backs off and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from shared import metrics
from shared.arrivals import ARRIVALS
from shared.consumer_metrics import ConsumerProgress
from shared.contracts import CONTRACTS, UnknownEventType, parse_data
from shared.db import create_pool
from shared.envelope import Context, Envelope
from shared.event_handlers import EventHandlers
from shared.failures import NotYet, backoff_seconds, is_transient
from shared.kafka import make_producer
from shared.logging import get_logger
from shared.settings import ServiceSettings
from shared.topics import Topics
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)

# The first retry after NotYet waits at least this long (doubling per retry):
# time for the awaited consumer's commit, and no busy loop on others' commits.
_NOT_YET_FLOOR = 0.002

Record: TypeAlias = ConsumerRecord[bytes, bytes]
# What an event costs its handler, in the unit `max_weight` counts.
Weigh: TypeAlias = Callable[[Envelope, BaseModel], int]
T = TypeVar("T")


@dataclass(frozen=True)
class _Parsed:
    record: Record
    envelope: Envelope
    data: BaseModel


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: IdempotentConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._owner.commit_pending()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info(
            "consumer.assigned", partitions=sorted(f"{tp.topic}/{tp.partition}" for tp in assigned)
        )


class IdempotentConsumer:
    def __init__(  # noqa: PLR0913 - keyword-only settings, each with its default
        self,
        *,
        name: str,
        topics: list[str],
        handlers: EventHandlers,
        dsn: str,
        bootstrap_servers: str,
        producer: str,
        emits_to: str,
        pool_max: int = 5,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        retry_cap_seconds: float = 5.0,
        fetch_max_wait_ms: int = 50,
        max_batch: int = 500,
        together_up_to: int = 100,
        idempotent_producer: bool = False,
        session_timeout_ms: int = 10_000,
        after_commit: Callable[[Envelope], None] | None = None,
        weigh: Weigh | None = None,
        max_weight: int = 0,
    ) -> None:
        self.name = name
        self._topics = topics
        self._handlers = handlers
        # What handlers emit: events of `producer`, staged for `emits_to` in the same unit.
        self._producer = producer
        self._emits_to = emits_to
        self._dsn = dsn
        self._pool_max = pool_max
        self._pool: asyncpg.Pool | None = None
        self._bootstrap = bootstrap_servers
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._retry_cap = retry_cap_seconds  # the longest wait between two tries
        self._fetch_wait = fetch_max_wait_ms
        self._max_batch = max_batch
        # A poll of at most this many records is one transaction, whatever its partitions.
        self._together = together_up_to
        self._idempotent = idempotent_producer
        # A member that died is noticed after this long; its partitions wait until then.
        self._session_timeout_ms = session_timeout_ms
        # Called after an effect's transaction committed, before its offset is:
        # the hook tests use to die in exactly that window.
        self._after_commit = after_commit
        # A poll's events go in transactions of at most `max_weight` by `weigh` (an
        # event heavier than that alone): a handler's cost per event can differ by
        # orders of magnitude (matching: the counterparts each party is scored
        # against), and so can the time a transaction may keep its effects unseen.
        self._weigh: Weigh = weigh or _weightless
        self._max_weight = max_weight
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._pending: dict[TopicPartition, int] = {}
        self.last_poll = time.monotonic()
        self.handled = 0
        self.progress = ConsumerProgress(name)  # lag gauges, computed at scrape
        # Set while a transient failure holds a partition back (readiness shows it).
        self.waiting_on: str | None = None

    def healthy(self, max_silence: float = 30.0) -> bool:
        """Ready means the poll loop is turning, not merely that a socket is open
        (a consumer can hang silently after a broker restart: aiokafka #1154)."""
        return self._consumer is not None and time.monotonic() - self.last_poll < max_silence

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        attempt = 0
        while not stop.is_set():
            try:
                await self._run_connected(stop)
                attempt = 0
            except Exception as exc:  # the loop outlives any failure, and says so
                attempt += 1
                log.error(
                    "consumer.loop_failed",
                    consumer=self.name,
                    error=type(exc).__name__,
                    detail=str(exc)[:500],
                    retry_in=backoff_seconds(attempt, 0.5),
                )
                await _wait(stop, backoff_seconds(attempt, 0.5))

    async def _run_connected(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._fetch_wait,
            max_poll_interval_ms=300_000,
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(self._session_timeout_ms // 4, 500),
        )
        consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        dead_letters = make_producer(self._bootstrap, self._idempotent)
        try:
            self._pool = await create_pool(self._dsn, self._pool_max)
            await consumer.start()
            await dead_letters.start()
            self._consumer, self._dead_letters = consumer, dead_letters
            log.info("consumer.started", consumer=self.name, topics=self._topics)
            while not stop.is_set():
                self.last_poll = time.monotonic()
                batch = await consumer.getmany(timeout_ms=500, max_records=self._max_batch)
                self.progress.fetched(batch)
                await self._poll(batch)
                await self.commit_pending()
                self.progress.settled(consumer)
        finally:
            with contextlib.suppress(KafkaError, IllegalStateError):
                await self.commit_pending()
            self._consumer = self._dead_letters = None
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await dead_letters.stop()
            if self._pool is not None:
                with contextlib.suppress(Exception):
                    await self._pool.close()

    async def commit_pending(self) -> None:
        if not self._pending or self._consumer is None:
            return
        offsets, self._pending = self._pending, {}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on (or a partition is no longer ours): its events come
            # again, to whoever owns it now, and the inbox absorbs them.
            log.warning("consumer.commit_failed", consumer=self.name, error=type(exc).__name__)

    # --- one poll's records ---------------------------------------------------------

    async def _poll(self, batch: dict[TopicPartition, list[Record]]) -> None:
        """A poll's records: a few over several partitions in one transaction, as
        many partitions' batches concurrently otherwise (records in order within
        a partition either way, so one key's events keep their order)."""
        parsed = {tp: await self._parsed(records) for tp, records in batch.items()}
        few = len(parsed) > 1 and sum(len(items) for items in parsed.values()) <= self._together
        if not (few and await self._handled_together(parsed)):
            await asyncio.gather(*(self._partition(tp, items) for tp, items in parsed.items()))
        for tp, records in batch.items():
            if records:
                self._pending[tp] = records[-1].offset + 1

    async def _parsed(self, records: list[Record]) -> list[_Parsed]:
        parsed: list[_Parsed] = []
        for record in records:
            item = await self._parse(record)
            if item is not None:
                parsed.append(item)
        return parsed

    async def _handled_together(self, parsed: dict[TopicPartition, list[_Parsed]]) -> bool:
        """Every partition's items in one transaction: a steady flow spreads each
        registration's events over the partitions (matching's three batches of
        match changes), and a transaction each cost its fixed statements three
        times. False when it failed for good: then each partition goes alone."""
        items = [item for part in parsed.values() for item in part]
        what = ", ".join(f"{tp.topic}/{tp.partition}" for tp in parsed)
        for run in self._runs(items):
            # A run that failed for good sends the whole poll to its partitions; the
            # runs already committed are in the inbox, so they are not done twice.
            if (
                await self._retrying_transient(what, functools.partial(self._handle, run))
                is not None
            ):
                return False
        return True

    async def _partition(self, tp: TopicPartition, parsed: list[_Parsed]) -> None:
        for run in self._runs(parsed):
            failed = await self._retrying_transient(
                f"{tp.topic}/{tp.partition}", functools.partial(self._handle, run)
            )
            if failed is not None:  # not transient: find the event that fails, alone
                for item in run:
                    await self._one_by_one(item)

    def _runs(self, items: list[_Parsed]) -> Iterator[list[_Parsed]]:
        return in_runs(items, lambda i: self._weigh(i.envelope, i.data), self._max_weight)

    async def _parse(self, record: Record) -> _Parsed | None:
        """The record as an envelope and its contract; None when there is nothing to
        handle (an event type nobody here wants, or a record now dead-lettered)."""
        event_type = _header(record, "event_type")
        if event_type is not None and not self._handlers.handles(event_type):
            metrics.CONSUMED.labels(self.name, "ignored").inc()
            return None
        fast = _parsed_in_one_pass(record, event_type)
        if fast is not None:
            return _Parsed(record, *fast)
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, "unparseable", _fields(exc))
            return None
        if not self._handlers.handles(envelope.type):
            metrics.CONSUMED.labels(self.name, "ignored").inc()
            return None
        try:
            data = parse_data(envelope)
        except (ValidationError, UnknownEventType) as exc:
            detail = _fields(exc) if isinstance(exc, ValidationError) else str(exc)
            with _bound(envelope):
                await self._dead_letter(record, "invalid-contract", detail)
            return None
        return _Parsed(record, envelope, data)

    async def _handle(self, items: list[_Parsed]) -> None:
        """One transaction: inbox rows in bulk, then every fresh event, in order."""
        assert self._pool is not None
        started = time.perf_counter()
        async with (
            self._pool.acquire() as conn,
            UnitOfWork.joining(
                conn,
                Context.caused_by(items[0].envelope),
                producer=self._producer,
                topic=self._emits_to,
            ) as uow,
        ):
            fresh_ids = {
                r["event_id"]
                for r in await conn.fetch(
                    "INSERT INTO inbox (consumer, event_id, event_type)"
                    " SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::text[]) AS e(id, type)"
                    " ON CONFLICT DO NOTHING RETURNING event_id",
                    self.name,
                    [i.envelope.id for i in items],
                    [i.envelope.type for i in items],
                )
            }
            fresh = _first_of_each(items, fresh_ids)
            await self._handlers.run(uow, [(i.envelope, i.data) for i in fresh])
        self._handled(items, fresh, time.perf_counter() - started)

    async def _one_by_one(self, item: _Parsed) -> None:
        with _bound(item.envelope):
            error = ""
            for attempt in range(1, self._max_attempts + 1):
                failed = await self._retrying_transient(
                    str(item.envelope.id), lambda: self._handle([item])
                )
                if failed is None:
                    return
                error = failed
                log.warning(
                    "consumer.handler_failed",
                    consumer=self.name,
                    attempt=attempt,
                    error=error,
                    **_source(item.record),
                )
                if attempt < self._max_attempts:
                    await _wait(self._stop, backoff_seconds(attempt, self._retry_base))
            await self._dead_letter(item.record, "handler-failed", error)

    async def _retrying_transient(
        self, what: str, work: Callable[[], Awaitable[object]]
    ) -> str | None:
        """`await work()`, retrying transient failures with backoff for as long as it
        takes. None once it passed; the error when it failed deterministically."""
        attempt = 0
        while True:
            try:
                await work()
            except Exception as exc:
                if not is_transient(exc):
                    return repr(exc)[:1000]
                attempt += 1
                self.waiting_on = what
                metrics.CONSUMED.labels(self.name, "transient-retry").inc()
                log.warning(
                    "consumer.transient_failure",
                    consumer=self.name,
                    error=type(exc).__name__,
                    attempt=attempt,
                    waiting_on=what,
                )
                if self._stop.is_set():
                    raise
                backoff = backoff_seconds(attempt, self._retry_base, cap=self._retry_cap)
                if isinstance(exc, NotYet):
                    # What it waits for comes through another consumer: try again
                    # as soon as one commits, at the latest after the backoff.
                    floor = min(backoff, _NOT_YET_FLOOR * 2 ** min(attempt - 1, 10))
                    await ARRIVALS.wait_after(self._stop, floor, backoff)
                else:
                    await _wait(self._stop, backoff)
                continue
            if self.waiting_on == what:
                self.waiting_on = None
                log.info("consumer.recovered", consumer=self.name, waited_on=what)
            return None

    def _handled(self, items: list[_Parsed], fresh: list[_Parsed], seconds: float) -> None:
        ARRIVALS.arrived()
        duplicates = len(items) - len(fresh)
        if duplicates:
            metrics.CONSUMED.labels(self.name, "duplicate").inc(duplicates)
        if not fresh:
            return
        metrics.CONSUMED.labels(self.name, "handled").inc(len(fresh))
        age = (datetime.now(UTC) - fresh[-1].envelope.occurred_at).total_seconds()
        metrics.CONSUMER_LAG_SECONDS.labels(self.name).set(age)
        self.handled += len(fresh)
        last = fresh[-1].record
        log.info(
            "consumer.handled",
            consumer=self.name,
            events=len(fresh),
            ms=round(seconds * 1000, 1),
            # Every flow this batch advanced, so ops find each one's step here.
            correlation_ids=sorted({i.envelope.correlation_id for i in fresh})[:50],
            **_source(last),
        )
        if self._after_commit is not None:
            for item in fresh:
                self._after_commit(item.envelope)

    async def _dead_letter(self, record: Record, reason: str, detail: str) -> None:
        async def send() -> None:
            assert self._dead_letters is not None
            await self._dead_letters.send_and_wait(
                Topics.dead_letter(record.topic),
                value=record.value,
                key=record.key,
                headers=[
                    ("reason", reason.encode()),
                    ("error", detail[:2000].encode()),
                    ("consumer", self.name.encode()),
                    ("source_topic", record.topic.encode()),
                    ("source_partition", str(record.partition).encode()),
                    ("source_offset", str(record.offset).encode()),
                ],
            )

        failed = await self._retrying_transient(f"dead-letter {record.offset}", send)
        if failed is not None:
            raise RuntimeError(f"could not dead-letter: {failed}")
        metrics.CONSUMED.labels(self.name, "dead-lettered").inc()
        log.error("consumer.dead_lettered", consumer=self.name, reason=reason, **_source(record))


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


def _parsed_in_one_pass(
    record: Record, event_type: str | None
) -> tuple[Envelope, BaseModel] | None:
    """The envelope and its data validated together straight from JSON, when the
    outbox's header names a type with one contract: half the cost of the careful
    path (JSON to dicts, then dicts to models), which was a quarter of
    notification's CPU. None sends the record the careful way, which also says
    why a bad record is bad."""
    typed = CONTRACTS.typed_envelope(event_type) if event_type is not None else None
    if typed is None:
        return None
    model, version = typed
    try:
        parsed = model.model_validate_json(record.value or b"")
    except ValidationError:
        return None
    if parsed.type != event_type or parsed.version != version:
        return None
    return parsed.split()


def _first_of_each(items: list[_Parsed], fresh_ids: set[uuid.UUID]) -> list[_Parsed]:
    """The items whose ids the inbox took, each id once (a batch may carry an event twice)."""
    left = set(fresh_ids)
    out = []
    for item in items:
        if item.envelope.id in left:
            left.discard(item.envelope.id)
            out.append(item)
    return out


def _source(record: Record) -> dict[str, Any]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _bound(envelope: Envelope) -> contextlib.AbstractContextManager[Any]:
    return structlog.contextvars.bound_contextvars(
        correlation_id=envelope.correlation_id,
        event_id=str(envelope.id),
        event_type=envelope.type,
    )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _fields(exc: ValidationError) -> str:
    # Field locations and messages only: input values may hold personal data.
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
    )


def _weightless(_event: Envelope, _data: BaseModel) -> int:
    """No `weigh`: every event weighs nothing, so a poll's batch is one run."""
    return 0


def in_runs(items: Sequence[T], weight: Callable[[T], int], limit: int) -> Iterator[list[T]]:
    """Consecutive runs of `items`, in order, each weighing at most `limit` (an item
    heavier than that is a run alone). Lazy: an item is weighed when its run is
    made, so what the previous run did (an index built) can count."""
    run: list[T] = []
    total = 0
    for item in items:
        w = weight(item)
        if run and total + w > limit:
            yield run
            run, total = [], 0
        run.append(item)
        total += w
    if run:
        yield run


def consumer_from_settings(
    settings: ServiceSettings,
    name: str,
    topics: list[str],
    handlers: EventHandlers,
    *,
    producer: str,
    emits_to: str,
    weigh: Weigh | None = None,
    max_weight: int = 0,
) -> IdempotentConsumer:
    return IdempotentConsumer(
        name=name,
        topics=topics,
        handlers=handlers,
        producer=producer,
        emits_to=emits_to,
        dsn=settings.database_url.get_secret_value(),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        max_attempts=settings.consumer_max_attempts,
        retry_base_seconds=settings.consumer_retry_base_seconds,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_batch=settings.consumer_max_batch,
        idempotent_producer=settings.kafka_idempotent_producer,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        weigh=weigh,
        max_weight=max_weight,
    )
