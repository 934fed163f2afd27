"""Runs last (marker `last`): the JSON logs of the whole test run — this process
and every service process the tests started — hold no person's name, e-mail or
phone number made by the factories."""

from __future__ import annotations

import json

import pytest

from shared.logging import get_logger, scrub
from shared.testing.plugin import LOG_DIR
from tests.factories import PEOPLE, person


@pytest.mark.last
def test_logs_of_the_run_hold_no_personal_data() -> None:
    # A probe through the real logging pipeline, so the scan always has a known
    # person to look for, even when this file runs alone.
    probe = person()
    get_logger("privacy").info(
        "privacy.probe", president=probe, note=f"reach {probe['email']} or {probe['phone']}"
    )
    logs = sorted(LOG_DIR.glob("*.jsonl"))
    assert logs, "the run wrote no JSON logs"
    lines = [line for path in logs for line in path.read_text().splitlines() if line.strip()]
    assert any('"privacy.probe"' in line for line in lines)
    for line in lines:
        json.loads(line)  # every line is a JSON object
    text = "\n".join(lines)
    leaked = sorted(p for p in PEOPLE if p in text)
    assert leaked == []


def test_redaction_catches_personal_data_wherever_it_hides() -> None:
    event = {
        "event": "delegation.registered",
        "president": {"name": "Avery Whitfield", "email": "avery@example.com"},
        "note": "call Avery at +1 415 555 0199 or avery@example.com",
        "contact_email": "x@y.org",
        "nested": [{"phone": "+86 21 5555 0000"}],
        "roadshow_date": "2027-05-15",
        "enterprise_id": "8d7f5a52-4a55-4c0e-9f39-2f3f0e8a0b11",
    }
    clean = scrub(event)
    flat = json.dumps(clean)
    for secret in ("Avery Whitfield", "avery@example.com", "555 0199", "x@y.org", "5555 0000"):
        assert secret not in flat
    assert clean["roadshow_date"] == "2027-05-15"
    assert clean["enterprise_id"] == event["enterprise_id"]
    assert clean["event"] == "delegation.registered"
