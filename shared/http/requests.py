"""The base of every HTTP request model: strict (an unknown field is a 422 naming
it), whitespace-trimmed, and free of NUL characters (PostgreSQL text cannot hold
them, so they would otherwise fail in the database)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

V = TypeVar("V", bound=list[Any] | None)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def unique(values: V) -> V:
    """Field validator: a list names each value once."""
    if values is not None and len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values
