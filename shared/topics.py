"""Topic names, in one place. One topic per producing service, plus a dead-letter
topic per consumed topic; names carry a prefix so tests get fresh ones."""

from __future__ import annotations

from dataclasses import dataclass

PARTITIONS = 3


@dataclass(frozen=True)
class Topics:
    prefix: str = "roadshow."

    @property
    def registration(self) -> str:
        return f"{self.prefix}registration.v1"

    @property
    def matching(self) -> str:
        return f"{self.prefix}matching.v1"

    @property
    def notification(self) -> str:
        return f"{self.prefix}notification.v1"

    @property
    def keys(self) -> str:
        """Personal-data keys (compacted where the broker compacts: Apache Kafka)."""
        return f"{self.prefix}keys.v1"

    @staticmethod
    def dead_letter(topic: str) -> str:
        return f"{topic}.dlq"

    def compacted(self) -> frozenset[str]:
        return frozenset({self.keys})

    def all(self) -> list[str]:
        main = [self.registration, self.matching, self.notification, self.keys]
        return main + [self.dead_letter(t) for t in main]
