"""Availability, countries and mandatory criteria at the registration API: what
is accepted is stored and published; bad input is a 422 naming the field, and
writes nothing."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from shared.testing.plugin import count_rows
from tests import factories
from tests.conftest import Registration

TABLES = ("enterprises", "participants", "outbox")
# The factory's road show: one day, 09:00-17:00 in 30-minute slots.
SLOTS = 16


async def _counts(dsn: str) -> dict[str, int]:
    return {t: await count_rows(dsn, t) for t in TABLES}


async def _last_event(registration: Registration, key: str) -> dict[str, Any]:
    conn = await asyncpg.connect(registration.dsn)
    try:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE key = $1 ORDER BY id DESC LIMIT 1", key
        )
    finally:
        await conn.close()
    event: dict[str, Any] = json.loads(payload) if isinstance(payload, str) else payload
    return event


AVAILABILITY = {
    "windows": [{"start": "2027-05-15T09:00:00", "end": "2027-05-15T12:00:00"}],
    "slot_ids": [14, 15],
}


async def test_criteria_and_availability_are_stored_and_published(
    registration: Registration,
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    body = factories.participant(
        roadshow["roadshow_id"],
        countries=["US", "CA"],
        mandatory=["stage", "country", "ticket_range"],
        availability=AVAILABILITY,
    )
    resp = await registration.client.post("/v1/participants", json=body, headers=partner)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["mandatory"] == ["stage", "country", "ticket_range"]
    assert created["countries"] == ["US", "CA"] and created["availability"] == AVAILABILITY
    event = await _last_event(registration, created["participant_id"])
    assert event["data"]["mandatory"] == ["stage", "country", "ticket_range"]
    assert event["data"]["availability"] == AVAILABILITY
    # Later: PUT replaces the availability, and publishes the change.
    url = f"/v1/participants/{created['participant_id']}/availability"
    resp = await registration.client.put(url, json={"slot_ids": [0, 1]}, headers=partner)
    assert resp.status == 200, await resp.text()
    changed = await resp.json()
    assert changed["availability"] == {"windows": [], "slot_ids": [0, 1]}
    assert changed["version"] == 2
    event = await _last_event(registration, created["participant_id"])
    assert event["type"] == "participant.updated"
    assert event["data"]["availability"]["slot_ids"] == [0, 1]


async def test_an_enterprise_availability_at_registration_and_later(
    registration: Registration,
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    body = factories.delegation(roadshow["roadshow_id"], enterprises=1)
    body["enterprises"][0]["availability"] = {"slot_ids": [3]}
    resp = await registration.client.post("/v1/delegations", json=body, headers=partner)
    assert resp.status == 201, await resp.text()
    (enterprise,) = (await resp.json())["enterprises"]
    assert enterprise["availability"]["slot_ids"] == [3]
    url = f"/v1/enterprises/{enterprise['enterprise_id']}"
    resp = await registration.client.patch(
        url, json={"availability": AVAILABILITY}, headers=partner
    )
    assert resp.status == 200 and (await resp.json())["availability"] == AVAILABILITY
    other = await registration.new_partner()
    resp = await registration.client.put(f"{url}/availability", json={}, headers=other)
    assert resp.status == 404


PARTICIPANT_CASES: list[tuple[dict[str, Any], str]] = [
    ({"mandatory": ["wealth"]}, "mandatory.0"),
    ({"mandatory": ["country"]}, "mandatory.0"),
    (
        {
            "mandatory": ["sectors", "stage"],
            "kind": "bank",
            "stages": [],
            "ticket_min": None,
            "ticket_max": None,
            "currency": None,
            "offers": ["debt-financing"],
        },
        "mandatory.1",
    ),
    ({"mandatory": ["stage", "stage"]}, "mandatory"),
    ({"countries": ["usa"]}, "countries.0"),
    ({"countries": [f"A{chr(65 + i)}" for i in range(21)]}, "countries"),
    (
        {
            "availability": {
                "windows": [{"start": "2027-05-15T12:00:00", "end": "2027-05-15T11:00:00"}]
            }
        },
        "availability.windows.0.end",
    ),
    (
        {
            "availability": {
                "windows": [{"start": "2027-05-15T09:00:00+08:00", "end": "2027-05-15T11:00:00"}]
            }
        },
        "availability.windows.0.start",
    ),
    (
        {
            "availability": {
                "windows": [{"start": "2027-06-01T09:00:00", "end": "2027-06-01T11:00:00"}]
            }
        },
        "availability.windows.0",
    ),
    ({"availability": {"slot_ids": [SLOTS]}}, "availability.slot_ids.0"),
    ({"availability": {"slot_ids": [-1]}}, "availability.slot_ids.0"),
    ({"availability": {"slot_ids": "all"}}, "availability.slot_ids"),
    ({"availability": {"when": "mornings"}}, "availability.when"),
]


@pytest.mark.parametrize(
    ("change", "field"), PARTICIPANT_CASES, ids=[str(c[0])[:40] for c in PARTICIPANT_CASES]
)
async def test_bad_criteria_or_availability_is_422_naming_the_field(
    registration: Registration, change: dict[str, Any], field: str
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    before = await _counts(registration.dsn)
    body = {**factories.participant(roadshow["roadshow_id"]), **change}
    resp = await registration.client.post("/v1/participants", json=body, headers=partner)
    assert resp.status == 422, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["field"] == field
    assert await _counts(registration.dsn) == before


async def test_bad_availability_later_changes_nothing(registration: Registration) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    body = factories.delegation(roadshow["roadshow_id"], enterprises=1)
    (enterprise,) = (
        await (await registration.client.post("/v1/delegations", json=body, headers=partner)).json()
    )["enterprises"]
    url = f"/v1/enterprises/{enterprise['enterprise_id']}"
    before = await _counts(registration.dsn)
    for method, path, payload, field in [
        ("PUT", "/availability", {"slot_ids": [SLOTS + 3]}, "availability.slot_ids.0"),
        ("PUT", "/availability", {"slot_ids": [1, 1]}, "slot_ids"),
        (
            "PATCH",
            "",
            {"availability": {"windows": [{"start": "x", "end": "y"}]}},
            "availability.windows.0.start",
        ),
    ]:
        resp = await registration.client.request(method, url + path, json=payload, headers=partner)
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["field"] == field
    assert await _counts(registration.dsn) == before
    assert (await (await registration.client.get(url, headers=partner)).json())["version"] == 1
    # A delegation's enterprise is named by its position.
    bad = factories.delegation(roadshow["roadshow_id"], enterprises=2)
    bad["enterprises"][1]["availability"] = {"slot_ids": [SLOTS]}
    resp = await registration.client.post("/v1/delegations", json=bad, headers=partner)
    assert resp.status == 422
    assert (await resp.json())["field"] == "enterprises.1.availability.slot_ids.0"
    assert await _counts(registration.dsn) == before
