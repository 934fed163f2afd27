"""The road-show and person contracts stay backward compatible: an event written
before venues, agenda, interpreters and languages existed still validates, with
empty defaults, and matching reads a new one into its scheduling layout."""

from __future__ import annotations

import uuid

from services.matching.readmodel.model import layout_of
from shared.contracts import registration as reg

OLD_ROADSHOW = {
    "roadshow_id": str(uuid.uuid4()),
    "name": "Road show",
    "venue": "Caohejing",
    "timezone": "Asia/Shanghai",
    "start_date": "2027-05-15",
    "end_date": "2027-05-15",
    "day_start": "09:00",
    "day_end": "17:00",
    "slot_minutes": 30,
    "tables": 20,
    "version": 1,
}


def test_an_old_roadshow_event_reads_with_empty_layout() -> None:
    r = reg.Roadshow.model_validate(OLD_ROADSHOW)
    assert not (r.venues or r.travel or r.agenda or r.interpreters)
    assert layout_of(r.model_dump(mode="json")) == layout_of({})
    person = reg.Person.model_validate({"name": None, "email": None})
    assert person.languages == []


def test_a_new_roadshow_event_becomes_the_schedulers_layout() -> None:
    r = reg.Roadshow.model_validate(
        {
            **OLD_ROADSHOW,
            "venues": [{"name": "A", "tables": 2}, {"name": "B", "tables": 1}],
            "travel": [{"between": ["A", "B"], "minutes": 45}],
            "interpreters": [{"interpreter_id": str(uuid.uuid4()), "languages": ["zh", "en"]}],
        }
    )
    layout = layout_of(r.model_dump(mode="json"))
    assert [v.name for v in layout.venues] == ["A", "B"]
    assert layout.travel == (("A", "B", 45),)
    assert layout.interpreters[0].languages == frozenset({"en", "zh"})
    assert layout.interpreters[0].available is None
