"""`Contract.trusted` builds what validation would, for every contract: equal,
serialised alike, the same fields set; with a field left out it falls back to
`model_construct` (defaults filled)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts import CONTRACTS
from shared.contracts.base import Contract
from shared.contracts.matching import ScheduleCompleted
from shared.testing.samples import sample_events

EVENTS = sample_events()


@pytest.mark.parametrize(("key", "wire"), EVENTS, ids=[f"{t}.v{v}" for (t, v), _ in EVENTS])
def test_trusted_is_what_validation_makes(key: tuple[str, int], wire: dict[str, Any]) -> None:
    model = CONTRACTS.contract_for(*key)
    assert issubclass(model, Contract)
    validated = model.model_validate(wire["data"])
    built = model.trusted(**dict(validated))
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set
    with pytest.raises(Exception, match="frozen"):
        built.__setattr__(next(iter(model.model_fields)), None)


def test_a_field_left_out_gets_its_default() -> None:
    sample = dict(
        ScheduleCompleted.model_validate(
            next(w["data"] for (t, _), w in EVENTS if t == "schedule.completed")
        )
    )
    del sample["interpreted"]
    built = ScheduleCompleted.trusted(**sample)
    assert built.interpreted == 0
    assert "interpreted" not in built.model_fields_set
