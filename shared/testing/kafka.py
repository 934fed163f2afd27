"""Reading topics back in tests with a plain aiokafka consumer (no group: manual
assignment of every partition from the beginning, so no rebalance wait)."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    at_least: int,
    within: float = 30.0,
    settle_ms: int = 0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` once `at_least` have arrived (then `settle_ms` more
    of reading, to catch extras such as duplicates)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + within
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        settle_until: float | None = None
        while True:
            now = time.monotonic()
            if len(records) >= at_least and settle_until is None:
                settle_until = now + settle_ms / 1000
            if settle_until is not None and now >= settle_until:
                return records
            if now > deadline:
                raise AssertionError(f"{topic}: {len(records)} records, wanted {at_least}")
            batch = await consumer.getmany(timeout_ms=100)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
