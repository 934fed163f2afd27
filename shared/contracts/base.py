"""What every event contract shares: the base model and the one registry that
maps an event type and version to its contract.

Event types are `Literal`s, defined once beside their contracts; a typo in an
emitted type is a type error, not a silently ignored event.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from shared.envelope import TypedEnvelope

_set = object.__setattr__
C = TypeVar("C", bound="Contract")


class Contract(BaseModel):
    # Consumers tolerate fields added by newer producers (additive evolution).
    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def trusted(cls: type[C], **values: Any) -> C:
        """An instance of values already of their types, as `model_construct` makes
        it, without its walk over the fields (5 us each: a fair's rescoring builds
        millions). With a field left out it is `model_construct`, defaults and all."""
        if len(values) != _field_count(cls):
            return cast(C, cls.model_construct(**values))
        instance = cls.__new__(cls)
        _set(instance, "__dict__", values)
        _set(instance, "__pydantic_fields_set__", set(values))
        _set(instance, "__pydantic_extra__", None)
        _set(instance, "__pydantic_private__", None)
        return instance


@functools.cache
def _field_count(model: type[BaseModel]) -> int:
    return len(model.model_fields)  # a property that costs a microsecond a call


class UnknownEventType(LookupError):
    pass


class ContractRegistry:
    """(type, version) -> contract, assembled from each producer's table."""

    def __init__(self, *tables: Mapping[Any, type[BaseModel]]) -> None:
        self._contracts: dict[tuple[str, int], type[BaseModel]] = {}
        for table in tables:
            for key, model in table.items():
                if key in self._contracts:
                    raise ValueError(f"contract {key} defined twice")
                self._contracts[key] = model

    def __contains__(self, key: object) -> bool:
        return key in self._contracts

    def keys(self) -> list[tuple[str, int]]:
        return list(self._contracts)

    def event_types(self) -> set[str]:
        return {event_type for event_type, _ in self._contracts}

    def contract_for(self, event_type: str, version: int) -> type[BaseModel]:
        try:
            return self._contracts[(event_type, version)]
        except KeyError:
            raise UnknownEventType(f"{event_type} v{version}") from None

    @functools.cache  # noqa: B019 - the registries live as long as the process
    def typed_envelope(self, event_type: str) -> tuple[type[TypedEnvelope[Any]], int] | None:
        """The envelope that validates an event of this type and its data in one
        pass, and the version it is for, when the type has one version (the
        version is inside the payload: with several, the contract is known only
        after a first parse); else None."""
        versions = [(m, v) for (t, v), m in self._contracts.items() if t == event_type]
        if len(versions) != 1:
            return None
        model, version = versions[0]
        return TypedEnvelope[model], version  # type: ignore[valid-type]

    def parse(self, event_type: str, version: int, data: dict[str, Any]) -> BaseModel:
        """Validate an event's data against its contract (raises ValidationError)."""
        return self.contract_for(event_type, version).model_validate(data)
