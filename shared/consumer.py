"""The idempotent consumer every service reads its topics through.

For each message: parse the envelope and its contract, then in one transaction
record the event id in `inbox` and run the handler; only after that commit is the
Kafka offset committed. A redelivered or replayed event hits the inbox's primary
key and changes nothing. A message that cannot be parsed, or whose handler keeps
failing after `max_attempts`, goes to the topic's dead-letter topic with the error
and the partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from shared import metrics
from shared.contracts import UnknownEventType, parse_data
from shared.db import create_pool
from shared.envelope import Context, Envelope
from shared.event_handlers import EventHandler, EventHandlers
from shared.kafka import make_producer
from shared.logging import get_logger
from shared.settings import ServiceSettings
from shared.topics import Topics
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


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
    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        handlers: EventHandlers,
        dsn: str,
        producer: str,
        emits_to: str,
        bootstrap_servers: str,
        pool_max: int = 5,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        fetch_max_wait_ms: int = 50,
        idempotent_producer: bool = False,
        session_timeout_ms: int = 10_000,
        after_commit: Callable[[Envelope], None] | None = None,
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
        self._fetch_wait = fetch_max_wait_ms
        self._idempotent = idempotent_producer
        # A member that died is noticed after this long; its partitions wait until then.
        self._session_timeout_ms = session_timeout_ms
        # Called after an effect's transaction committed, before its offset is:
        # the hook tests use to die in exactly that window.
        self._after_commit = after_commit
        self._consumer: AIOKafkaConsumer | None = None
        self._pending: dict[TopicPartition, int] = {}
        self.last_poll = time.monotonic()
        self.handled = 0

    def healthy(self, max_silence: float = 30.0) -> bool:
        """Ready means the poll loop is turning, not merely that a socket is open
        (a consumer can hang silently after a broker restart: aiokafka #1154)."""
        return self._consumer is not None and time.monotonic() - self.last_poll < max_silence

    async def run(self, stop: asyncio.Event) -> None:
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
        self._pool = await create_pool(self._dsn, self._pool_max)
        await consumer.start()
        await dead_letters.start()
        self._consumer = consumer
        log.info("consumer.started", consumer=self.name, topics=self._topics)
        try:
            while not stop.is_set():
                self.last_poll = time.monotonic()
                batch = await consumer.getmany(timeout_ms=500, max_records=200)
                for tp, records in batch.items():
                    for record in records:
                        await self._process(record, dead_letters)
                        self._pending[tp] = record.offset + 1
                await self.commit_pending()
        finally:
            with contextlib.suppress(KafkaError):
                await self.commit_pending()
            self._consumer = None
            await consumer.stop()
            await dead_letters.stop()
            await self._pool.close()

    async def commit_pending(self) -> None:
        if not self._pending or self._consumer is None:
            return
        offsets, self._pending = self._pending, {}
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            # The group moved on; the events will come again and the inbox absorbs them.
            log.warning("consumer.commit_failed", consumer=self.name)

    async def _process(self, record: ConsumerRecord[bytes, bytes], dead_letters: Any) -> None:
        source = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, dead_letters, "unparseable", _fields(exc))
            return
        handlers = self._handlers.handlers_for(envelope.type)
        if not handlers:
            metrics.CONSUMED.labels(self.name, "ignored").inc()
            return
        with structlog.contextvars.bound_contextvars(
            correlation_id=envelope.correlation_id,
            event_id=str(envelope.id),
            event_type=envelope.type,
        ):
            try:
                data: BaseModel = parse_data(envelope)
            except (ValidationError, UnknownEventType) as exc:
                detail = _fields(exc) if isinstance(exc, ValidationError) else str(exc)
                await self._dead_letter(record, dead_letters, "invalid-contract", detail)
                return
            for attempt in range(1, self._max_attempts + 1):
                try:
                    done = await self._handle_once(envelope, data, handlers)
                    break
                except Exception as exc:  # one bad message must not stop the partition
                    log.warning(
                        "consumer.handler_failed",
                        consumer=self.name,
                        attempt=attempt,
                        error=type(exc).__name__,
                        **source,
                    )
                    if attempt == self._max_attempts:
                        await self._dead_letter(record, dead_letters, "handler-failed", repr(exc))
                        return
                    await asyncio.sleep(self._retry_base * 2 ** (attempt - 1))
            metrics.CONSUMED.labels(self.name, "handled" if done else "duplicate").inc()
            age = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
            metrics.CONSUMER_LAG_SECONDS.labels(self.name).set(age)
            if done:
                self.handled += 1
                log.info("consumer.handled", consumer=self.name, **source)
                if self._after_commit is not None:
                    self._after_commit(envelope)

    async def _handle_once(
        self, envelope: Envelope, data: BaseModel, handlers: tuple[EventHandler, ...]
    ) -> bool:
        assert self._pool is not None
        async with (
            self._pool.acquire() as conn,
            UnitOfWork.joining(
                conn, Context.caused_by(envelope), producer=self._producer, topic=self._emits_to
            ) as uow,
        ):
            fresh = await conn.fetchval(
                "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING true",
                self.name,
                envelope.id,
                envelope.type,
            )
            if not fresh:
                return False
            for handler in handlers:
                await handler(uow, envelope, data)
            return True

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], producer: Any, reason: str, detail: str
    ) -> None:
        await producer.send_and_wait(
            Topics.dead_letter(record.topic),
            value=record.value,
            key=record.key,
            headers=[
                ("reason", reason.encode()),
                ("error", detail.encode()),
                ("consumer", self.name.encode()),
                ("source_topic", record.topic.encode()),
                ("source_partition", str(record.partition).encode()),
                ("source_offset", str(record.offset).encode()),
            ],
        )
        metrics.CONSUMED.labels(self.name, "dead-lettered").inc()
        log.error(
            "consumer.dead_lettered",
            consumer=self.name,
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )


def _fields(exc: ValidationError) -> str:
    # Field locations and messages only: input values may hold personal data.
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
    )


def consumer_from_settings(
    settings: ServiceSettings,
    name: str,
    topics: list[str],
    handlers: EventHandlers,
    *,
    producer: str,
    emits_to: str,
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
        idempotent_producer=settings.kafka_idempotent_producer,
        session_timeout_ms=settings.consumer_session_timeout_ms,
    )
