"""Keyset pagination every list endpoint shares: `limit` and an opaque `cursor` in,
`items` and `next_cursor` out.

A cursor is the sort key of the last row of a page (a sequence number, or a score
and an id), encoded so that clients pass it back as they got it. Its shape is the
repository's business: `Page.after(int)` or `Page.after(float, uuid.UUID)` decodes
it into that key, and anything that is not a cursor this API wrote is a 422
naming `cursor`, never a database error.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field

from shared.errors import InvalidInput

T = TypeVar("T")

_INT64 = 2**63 - 1
MAX_CURSOR_LENGTH = 200


class Page(BaseModel):
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: (
        Annotated[
            str,
            Field(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page"),
        ]
        | None
    ) = None

    def after(self, *kinds: type) -> tuple[Any, ...] | None:
        """The sort key this page starts after, typed as `kinds` (None: the first page).

        Raises InvalidInput (field `cursor`) for anything else."""
        if self.cursor is None:
            return None
        return decode_cursor(self.cursor, kinds)

    def after_seq(self) -> int | None:
        """The sequence number this page starts after, for lists in insertion order."""
        key = self.after(int)
        return None if key is None else int(key[0])


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end")


def encode_cursor(*key: int | float | str | uuid.UUID) -> str:
    values = [str(v) if isinstance(v, uuid.UUID) else v for v in key]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def next_cursor(rows: list[Any], limit: int, key: Any) -> str | None:
    """The cursor after a page of `limit` rows fetched with one extra row, or None at the end;
    `key(row)` gives a row's sort key."""
    if len(rows) <= limit:
        return None
    return encode_cursor(*key(rows[limit - 1]))


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    bad = InvalidInput("not a cursor this API returned", field="cursor")
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise bad
    return tuple(_typed(value, kind, bad) for value, kind in zip(values, kinds, strict=True))


def _typed(value: Any, kind: type, bad: InvalidInput) -> Any:
    if kind is int and type(value) is int and 0 <= value <= _INT64:
        return value
    # json.loads reads NaN and Infinity, which no cursor this API wrote holds.
    if kind is float and type(value) in (int, float) and math.isfinite(value):
        return float(value)
    if kind is str and isinstance(value, str):
        return value
    if kind is uuid.UUID and isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise bad
