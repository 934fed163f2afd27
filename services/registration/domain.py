"""Registration's rules as plain functions over plain data (no I/O)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from shared.errors import Conflict, InvalidInput

M = TypeVar("M", bound=BaseModel)

ACTIVE = "active"
WITHDRAWN = "withdrawn"


def ensure_active(status: str, what: str) -> None:
    if status != ACTIVE:
        raise Conflict(f"this {what} is withdrawn and cannot change", field="status")


def merge_patch(current: M, patch: BaseModel, full: type[BaseModel]) -> dict[str, Any]:
    """Apply the fields a PATCH set onto the current state and validate the result
    as a whole (so cross-field rules hold after the change). Returns the new state
    as the `full` model's fields."""
    changes = patch.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise InvalidInput("cannot be null; leave it out to keep it", field=name)
    merged = {
        **current.model_dump(mode="json"),
        **patch.model_dump(mode="json", exclude_unset=True),
    }
    return full.model_validate(
        {k: v for k, v in merged.items() if k in full.model_fields}
    ).model_dump()


def has_changes(patch: BaseModel) -> bool:
    return bool(patch.model_fields_set)
