"""The lag gauges' arithmetic, on a clock the test moves: the age of what is being
worked on, the time since progress while the topic holds more, 0 when caught up."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import REGISTRY

from shared.consumer_metrics import ConsumerProgress

TP = TopicPartition("roadshow.registration.v1", 0)


@dataclass
class Partitions:
    """What the poll loop reads off the consumer: its assignment and high watermarks."""

    high: dict[TopicPartition, int] = field(default_factory=dict)

    def assignment(self) -> set[TopicPartition]:
        return set(self.high)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.high.get(partition)


def record(offset: int, at: float) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        TP.topic, TP.partition, offset, int(at * 1000), 0, b"k", b"v", None, 1, 1, []
    )


def test_lag_follows_the_clock_while_stuck_and_is_zero_when_caught_up() -> None:
    now = [1000.0]
    progress = ConsumerProgress("unit-lag", clock=lambda: now[0])
    partitions = Partitions({TP: 10})

    def scraped() -> tuple[float | None, float | None]:
        labels = {"consumer": "unit-lag"}
        return (
            REGISTRY.get_sample_value("roadshow_consumer_lag_seconds", labels),
            REGISTRY.get_sample_value("roadshow_consumer_lag_messages", labels),
        )

    assert scraped() == (0.0, 0.0)
    # Records produced at 990 and 995, fetched at 1000; the handler hangs.
    progress.fetched({TP: [record(0, 990.0), record(1, 995.0)]})
    now[0] = 1030.0
    assert scraped()[0] == 40.0
    now[0] = 1050.0
    assert scraped()[0] == 60.0  # grows with no handling at all
    # Handled; the partition holds 8 more (high watermark 10), and nothing moves.
    progress.settled(partitions)
    assert scraped() == (0.0, 8.0)
    now[0] = 1080.0
    assert scraped() == (30.0, 8.0)
    # Progress restarts the clock; caught up, both are 0.
    progress.fetched({TP: [record(i, 1079.0) for i in range(2, 10)]})
    progress.settled(partitions)
    assert scraped() == (0.0, 0.0)
    # A partition taken away (a rebalance) is no longer this consumer's lag.
    partitions.high[TP] = 20
    progress.settled(partitions)
    now[0] = 1100.0
    assert scraped() == (20.0, 10.0)
    progress.settled(Partitions())
    assert scraped() == (0.0, 0.0)
