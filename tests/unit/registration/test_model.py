"""Registration's rules, without a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registration.model import (
    EnterpriseChanges,
    NewEnterprise,
    NewParticipant,
    merge_patch,
)
from shared.errors import InvalidInput
from tests import factories


def test_merge_patch_validates_the_whole_result() -> None:
    current = NewEnterprise.model_validate(factories.enterprise())
    merged = merge_patch(current, EnterpriseChanges(sectors=["robotics"]), NewEnterprise)
    assert merged["sectors"] == ["robotics"]
    assert merged["name"] == current.name
    with pytest.raises(InvalidInput) as err:
        merge_patch(current, EnterpriseChanges.model_validate({"name": None}), NewEnterprise)
    assert err.value.field == "name"


def test_participant_rules_name_their_field() -> None:
    body = factories.participant("8d7f5a52-4a55-4c0e-9f39-2f3f0e8a0b11", kind="bank")
    NewParticipant.model_validate(body)
    with pytest.raises(InvalidInput) as err:
        NewParticipant.model_validate({**body, "offers": ["debt-financing", "rd-collaboration"]})
    assert err.value.field == "offers.1"
    with pytest.raises(ValidationError):
        NewParticipant.model_validate({**body, "surprise": 1})
