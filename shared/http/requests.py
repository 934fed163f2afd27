"""The base of every HTTP request model: strict (an unknown field is a 422 naming
it), whitespace-trimmed, and free of NUL characters (PostgreSQL text cannot hold
them, so they would otherwise fail in the database)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

V = TypeVar("V", bound=list[Any] | None)

# Ids a client may choose (X-Request-ID, X-Correlation-ID) travel into every log line
# and event of the flow, so they are short and plain: letters, digits and . _ : / - only.
TRACE_ID_PATTERN = r"^[A-Za-z0-9._:/-]{1,128}$"


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


def _moment(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("give a time zone offset")
    # Near year 1 or 9999 an offset pushes the instant out of what datetimes and
    # PostgreSQL hold; no road show is that far away.
    if not 1900 <= value.year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    return value


# An instant a request names: with its offset, and within two centuries of now.
Moment = Annotated[datetime, AfterValidator(_moment)]
