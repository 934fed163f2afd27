"""How far behind a consumer is, computed when Prometheus scrapes.

`roadshow_consumer_event_age_seconds` is set when an event is handled, so a
consumer that stops handling keeps showing its last good value. These gauges are
functions of the clock instead: while records a consumer fetched are still being
worked on (a handler waiting on a dead database, say), the lag is the age of the
oldest of them; while the topic holds more than the consumer has reached and the
consumer makes no progress, it is the time since its last progress (a lower bound
on the age of the next message, whose timestamp nobody here has read yet).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import Gauge

LAG_SECONDS = Gauge(
    "roadshow_consumer_lag_seconds",
    "Age of the oldest message a consumer has not finished, or seconds since its last"
    " progress while its topic holds more (0 when caught up); computed at scrape",
    ["consumer"],
)
LAG_MESSAGES = Gauge(
    "roadshow_consumer_lag_messages",
    "Messages on the consumer's partitions past what it has handled (high watermark - next offset)",
    ["consumer"],
)


class _Assigned(Protocol):
    def assignment(self) -> set[TopicPartition]: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...


class ConsumerProgress:
    """What one consumer has fetched and finished; the poll loop tells it both."""

    def __init__(self, consumer: str, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._working_since: float | None = None  # oldest record timestamp in the batch at work
        self._working: dict[TopicPartition, int] = {}  # the batch's next offset per partition
        self._next: dict[TopicPartition, int] = {}
        self._behind: dict[TopicPartition, int] = {}
        self._behind_since: dict[TopicPartition, float] = {}
        LAG_SECONDS.labels(consumer).set_function(self.seconds)
        LAG_MESSAGES.labels(consumer).set_function(self.messages)

    def fetched(
        self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        now = self._clock()
        # A record without a timestamp (-1) counts from when it was fetched.
        stamps = [
            r.timestamp / 1000 if r.timestamp > 0 else now
            for records in batch.values()
            for r in records
        ]
        self._working_since = min(stamps) if stamps else None
        self._working = {tp: rs[-1].offset + 1 for tp, rs in batch.items() if rs}

    def settled(self, consumer: _Assigned) -> None:
        """After a batch is handled and committed: which partitions are still behind."""
        self._working_since = None
        for tp, next_offset in self._working.items():
            self._next[tp] = next_offset
            self._behind_since.pop(tp, None)  # progress: the clock starts again
        self._working = {}
        now = self._clock()
        assigned = consumer.assignment()
        for tp in list(self._next):
            if tp not in assigned:  # revoked: someone else's lag now
                self._next.pop(tp)
                self._behind.pop(tp, None)
                self._behind_since.pop(tp, None)
        for tp in assigned:
            high: int | None = consumer.highwater(tp)
            reached = self._next.get(tp)
            if high is None or reached is None or high <= reached:
                self._behind.pop(tp, None)
                self._behind_since.pop(tp, None)
            else:
                self._behind[tp] = high - reached
                self._behind_since.setdefault(tp, now)

    def seconds(self) -> float:
        now = self._clock()
        ages = [now - since for since in self._behind_since.values()]
        if self._working_since is not None:
            ages.append(now - self._working_since)
        return max([0.0, *ages])

    def messages(self) -> float:
        return float(sum(self._behind.values()))
