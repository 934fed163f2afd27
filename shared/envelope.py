"""The one envelope every event travels in, whatever the topic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

D = TypeVar("D", bound=BaseModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    # Consumers tolerate fields added by newer producers (additive evolution).
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str
    causation_id: str | None = None
    partner_id: uuid.UUID | None = None
    key: str = Field(description="Aggregate id; the Kafka message key")
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


class TypedEnvelope(Envelope, Generic[D]):
    """An envelope whose data is validated as its contract in the same pass as the
    envelope, straight from JSON: the consumer's fast path (`parse_record`)."""

    data: D  # type: ignore[assignment]  # the contract, not its dict

    def split(self) -> tuple[Envelope, D]:
        """The plain envelope (its data left empty: the contract is beside it) and
        the data."""
        fields = {name: getattr(self, name) for name in Envelope.model_fields if name != "data"}
        return Envelope.model_construct(**fields, data={}), self.data


@dataclass(frozen=True)
class Context:
    """Who asked and which flow this belongs to; carried from request to events."""

    correlation_id: str
    partner_id: uuid.UUID | None = None
    causation_id: str | None = None

    @classmethod
    def caused_by(cls, event: Envelope) -> Context:
        """The context of work done on behalf of `event`: its flow, its partner, and
        the event itself as the cause."""
        return cls(
            correlation_id=event.correlation_id,
            partner_id=event.partner_id,
            causation_id=str(event.id),
        )


def new_event(
    producer: str, ctx: Context, type_: str, key: uuid.UUID | str, data: BaseModel
) -> Envelope:
    # Every field is already of its type (the data validated as its contract), so the
    # envelope is built without validating it again: this runs once per emitted event.
    # Every field is given: model_construct inspects a default factory's signature
    # on each call, which cost more than the rest of the envelope.
    return Envelope.model_construct(
        id=uuid.uuid4(),
        type=type_,
        version=1,
        occurred_at=utcnow(),
        producer=producer,
        correlation_id=ctx.correlation_id,
        causation_id=ctx.causation_id,
        partner_id=ctx.partner_id,
        key=str(key),
        data=data.model_dump(mode="json"),
    )
