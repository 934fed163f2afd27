"""The platform's pure parts: taxonomy, envelope and contracts, idempotency, settings."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from shared.contracts import parse_data
from shared.contracts.registration import PartnerRegistered
from shared.envelope import Context, Envelope, new_event
from shared.http.idempotency import request_hash
from shared.taxonomy import SECTORS, relation


def test_sector_relations() -> None:
    assert relation("robotics", "robotics") == "same"
    assert relation("machine-learning", "computer-vision") == "group"
    assert relation("autonomous-driving", "computer-vision") == "linked"  # mobility ~ ai
    assert relation("biotech", "semiconductors") is None
    assert relation("robotics", "nonsense") is None
    assert len(SECTORS) == len(set(SECTORS))


def test_envelope_roundtrip_and_tolerance_of_unknown_fields() -> None:
    pid = uuid.uuid4()
    e = new_event(
        "registration",
        Context("c-1", pid),
        "partner.registered",
        pid,
        PartnerRegistered(partner_id=pid, name="n"),
    )
    raw = e.model_dump(mode="json")
    raw["added_later"] = {"x": 1}
    raw["data"]["also_new"] = True
    back = Envelope.model_validate(raw)
    assert back.id == e.id and back.key == str(pid)
    assert parse_data(back).partner_id == pid  # type: ignore[attr-defined]


def test_idempotency_hash_ignores_key_order() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})


def test_bad_setting_fails_fast_naming_it() -> None:
    env = {
        **os.environ,
        "REGISTRATION_DATABASE_URL": "postgresql://x/y",
        "REGISTRATION_HTTP_PORT": "eighty",
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.registration", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "REGISTRATION_HTTP_PORT" in done.stderr
    env.pop("REGISTRATION_DATABASE_URL")
    env["REGISTRATION_HTTP_PORT"] = "8081"
    done = subprocess.run(
        [sys.executable, "-m", "services.registration", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "REGISTRATION_DATABASE_URL" in done.stderr
