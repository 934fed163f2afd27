"""The console's forms as pydantic models: a bad value is a message beside its
field, and nothing is sent to a service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from multidict import MultiDictProxy
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Form(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class SignInForm(Form):
    api_key: Annotated[str, Field(min_length=1, max_length=500)]


class ScheduleRunForm(Form):
    fair_minimum: Annotated[int, Field(ge=0, le=48)] | None = None
    enterprise_max_meetings: Annotated[int, Field(ge=1, le=200)] | None = None

    @field_validator("fair_minimum", "enterprise_max_meetings", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any) -> Any:
        return None if value == "" else value


class ProvisionalRunForm(ScheduleRunForm):
    provisional: bool = False  # a checkbox: present when ticked


class PlaceForm(Form):
    slot: Annotated[int, Field(ge=0)]
    table: Annotated[int, Field(ge=1)]


class AddMeetingForm(PlaceForm):
    match_id: uuid.UUID


class LockForm(Form):
    locked: bool


class InterestForm(Form):
    side: Literal["enterprise", "participant"]
    interest: Literal["accept", "decline", "must-meet"]
    next: str = "/"


def parse(model: type[Form], data: MultiDictProxy[Any]) -> tuple[Any, dict[str, str]]:
    """(the form, {}) or (None, field -> message)."""
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, {str(e["loc"][0]) if e["loc"] else "form": e["msg"] for e in exc.errors()}
