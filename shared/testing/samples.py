"""A sample of every event contract, built from its fields, so that every contract,
present or future, is exercised without a hand-written table."""

from __future__ import annotations

import json
import types
import typing
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from shared.contracts import CONTRACTS
from shared.envelope import Context, new_event


def sample_of(annotation: Any) -> Any:  # noqa: PLR0911 - one answer per kind of field
    """A value of a field's type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return sample_of(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        return sample_of(next(a for a in args if a is not type(None)))
    if origin is tuple and Ellipsis not in args:  # fixed length: one value per place
        return [sample_of(a) for a in args]
    if origin in (list, tuple, set, frozenset):
        return [sample_of(args[0])]
    if origin is dict:
        return {"k": sample_of(args[1])}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return {n: sample_of(f.annotation) for n, f in annotation.model_fields.items()}
        if issubclass(annotation, Enum):
            return next(iter(annotation)).value
        simple: dict[type, Any] = {
            bool: True,
            int: 3,
            float: 0.5,
            Decimal: "1000000",
            uuid.UUID: str(uuid.uuid4()),
            datetime: "2027-05-15T01:30:00+00:00",
            date: "2027-05-15",
            time: "09:00:00",
            str: "x",
        }
        for kind, value in simple.items():
            if issubclass(annotation, kind):
                return value
    raise TypeError(f"no sample for {annotation!r}; teach _sample this type")


def sample_events() -> list[tuple[tuple[str, int], dict[str, Any]]]:
    """(type, version) and a valid event of it, as the outbox puts it on the topic."""
    out = []
    for event_type, version in sorted(CONTRACTS.keys()):
        model = CONTRACTS.contract_for(event_type, version)
        data = model.model_validate(sample_of(model))
        ctx = Context(correlation_id="c-1", partner_id=uuid.uuid4(), causation_id="e-0")
        envelope = new_event("test", ctx, event_type, uuid.uuid4(), data)
        wire = json.loads(envelope.to_bytes())  # as the outbox puts it on the topic
        out.append(((event_type, version), wire))
    return out
