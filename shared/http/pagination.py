"""Cursor pagination every list endpoint shares: `limit` and `cursor` in,
`items` and `next_cursor` out (the cursor is the last row's sequence number)."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel):
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Annotated[int, Field(ge=0, description="next_cursor of the previous page")] | None = (
        None
    )


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: int | None = Field(description="Pass as cursor for the next page; null at the end")
