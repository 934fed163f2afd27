"""What a road show adds to its days and slots (issue 12): venues with the travel
time between each pair, agenda blocks without meetings, interpreters; and the
languages people speak. Input models and the rules that tie them to the road show."""

from __future__ import annotations

import itertools
import uuid
from datetime import date
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from shared.contracts import registration as c
from shared.errors import InvalidInput
from shared.http.requests import Moment, Strict, unique

# ISO 639-1 (or -3) codes, lower case: "en", "zh", "yue".
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
Languages = Annotated[
    list[Language], Field(max_length=12, description="ISO 639 codes, e.g. en, zh")
]
VenueName = Annotated[str, Field(min_length=1, max_length=200)]


class VenueIn(Strict):
    name: VenueName
    tables: Annotated[int, Field(ge=1, le=2000)]
    dates: Annotated[list[date], Field(max_length=31)] = Field(
        default_factory=list, description="The days it is used; empty: every day"
    )


class TravelIn(Strict):
    between: tuple[VenueName, VenueName]
    minutes: Annotated[int, Field(ge=0, le=600)]


class AgendaBlockIn(Strict):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    starts_at: Moment
    ends_at: Moment


class WindowIn(Strict):
    starts_at: Moment
    ends_at: Moment


class InterpreterIn(Strict):
    interpreter_id: uuid.UUID | None = Field(
        default=None, description="Kept when given (an update); assigned otherwise"
    )
    languages: Annotated[list[Language], Field(min_length=2, max_length=12)]
    available: Annotated[list[WindowIn], Field(max_length=100)] | None = Field(
        default=None, description="Windows of availability; null: the whole road show"
    )

    _unique_languages = field_validator("languages")(unique)


class LayoutIn(Strict):
    """The fields a road show's create and update accept for its layout."""

    venues: Annotated[list[VenueIn], Field(max_length=20)] = Field(default_factory=list)
    travel: Annotated[list[TravelIn], Field(max_length=190)] = Field(default_factory=list)
    agenda: Annotated[list[AgendaBlockIn], Field(max_length=200)] = Field(default_factory=list)
    interpreters: Annotated[list[InterpreterIn], Field(max_length=200)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _consistent(self) -> LayoutIn:
        check_layout(self)
        return self


def check_layout(layout: LayoutIn, first: date | None = None, last: date | None = None) -> None:
    """Raises InvalidInput naming the field: venue names twice, travel naming an
    unknown venue or missing for a pair of venues (or given twice), a venue's day
    outside first..last, a block or window that ends before it starts."""
    names = [v.name for v in layout.venues]
    if len(set(names)) != len(names):
        raise InvalidInput("venue names must be unique", field="venues")
    for i, v in enumerate(layout.venues):
        if first and last and any(not first <= d <= last for d in v.dates):
            raise InvalidInput("a day outside the road show's dates", field=f"venues.{i}.dates")
    _check_travel(layout, names)
    _check_times(layout)


def _check_travel(layout: LayoutIn, names: list[str]) -> None:
    seen: set[frozenset[str]] = set()
    for i, t in enumerate(layout.travel):
        pair = frozenset(t.between)
        if len(pair) != 2 or not pair <= set(names):
            raise InvalidInput("must name two different venues", field=f"travel.{i}.between")
        if pair in seen:
            raise InvalidInput("this pair of venues is given twice", field=f"travel.{i}")
        seen.add(pair)
    for a, b in itertools.combinations(names, 2):
        if frozenset((a, b)) not in seen:
            raise InvalidInput(f"travel minutes between {a} and {b} are missing", field="travel")


def _check_times(layout: LayoutIn) -> None:
    for i, block in enumerate(layout.agenda):
        if block.ends_at <= block.starts_at:
            raise InvalidInput("must be after starts_at", field=f"agenda.{i}.ends_at")
    for i, interpreter in enumerate(layout.interpreters):
        for j, w in enumerate(interpreter.available or ()):
            if w.ends_at <= w.starts_at:
                raise InvalidInput(
                    "must be after starts_at", field=f"interpreters.{i}.available.{j}.ends_at"
                )
    ids = [x.interpreter_id for x in layout.interpreters if x.interpreter_id is not None]
    if len(set(ids)) != len(ids):
        raise InvalidInput("interpreter ids must be unique", field="interpreters")


def layout_fields(layout: LayoutIn) -> dict[str, object]:
    """The layout as the road show's event carries it (interpreters get ids)."""
    return {
        "venues": [c.Venue.model_validate(v.model_dump()) for v in layout.venues],
        "travel": [c.Travel.model_validate(t.model_dump()) for t in layout.travel],
        "agenda": [c.AgendaBlock.model_validate(b.model_dump()) for b in layout.agenda],
        "interpreters": [
            c.Interpreter(
                interpreter_id=x.interpreter_id or uuid.uuid4(),
                languages=x.languages,
                available=None
                if x.available is None
                else [c.Window.model_validate(w.model_dump()) for w in x.available],
            )
            for x in layout.interpreters
        ],
    }
