"""Kafka clients with safe settings, and topic administration."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.logging import get_logger
from shared.topics import PARTITIONS

log = get_logger(__name__)


def make_producer(bootstrap_servers: str, idempotent: bool = False) -> AIOKafkaProducer:
    # acks=all always; the idempotent producer only where the broker has it
    # (Apache Kafka yes, the embedded tansu no: it fails at start).
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=5,
        request_timeout_ms=15_000,
    )


async def ensure_topics(
    bootstrap_servers: str, names: list[str], partitions: int = PARTITIONS
) -> None:
    """Create topics explicitly (auto-created ones get the broker's default layout)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            # Another process may have created it first.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
    finally:
        await admin.close()


async def wait_for_broker(bootstrap_servers: str, within_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + within_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"broker {bootstrap_servers} not reachable") from exc
            await asyncio.sleep(0.2)
        finally:
            await admin.close()
