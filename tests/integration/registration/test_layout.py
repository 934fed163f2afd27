"""A road show's venues, travel, agenda and interpreters, and people's languages:
accepted and carried by the events; bad input is 422 naming the field, nothing written."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from shared.testing.plugin import count_rows
from tests import factories
from tests.conftest import Registration

LAYOUT: dict[str, Any] = {
    "venues": [
        {"name": "Caohejing", "tables": 6},
        {"name": "Zhangjiang", "tables": 4, "dates": ["2027-05-16"]},
    ],
    "travel": [{"between": ["Caohejing", "Zhangjiang"], "minutes": 45}],
    "agenda": [
        {
            "title": "Lunch",
            "starts_at": "2027-05-15T12:00:00+08:00",
            "ends_at": "2027-05-15T13:30:00+08:00",
        }
    ],
    "interpreters": [
        {"languages": ["en", "zh"]},
        {
            "languages": ["zh", "en", "es"],
            "available": [
                {"starts_at": "2027-05-15T09:00:00+08:00", "ends_at": "2027-05-15T12:00:00+08:00"}
            ],
        },
    ],
}


def two_days(**layout: Any) -> dict[str, Any]:
    return factories.roadshow(end_date="2027-05-16", **{**LAYOUT, **layout})


async def test_layout_is_stored_and_carried(registration: Registration) -> None:
    partner = await registration.new_partner()
    created = await registration.new_roadshow(partner, end_date="2027-05-16", **LAYOUT)
    assert created["tables"] == 10  # the venues' tables
    assert [v["name"] for v in created["venues"]] == ["Caohejing", "Zhangjiang"]
    assert created["travel"] == [{"between": ["Caohejing", "Zhangjiang"], "minutes": 45}]
    first, second = created["interpreters"]
    assert first["languages"] == ["en", "zh"] and first["available"] is None
    assert second["available"][0]["ends_at"].startswith("2027-05-15T12:00:00")
    # A change keeps the interpreters' ids (they come back with the current state).
    resp = await registration.client.patch(
        f"/v1/roadshows/{created['roadshow_id']}",
        json={"agenda": []},
        headers=partner,
    )
    assert resp.status == 200, await resp.text()
    updated = await resp.json()
    assert updated["agenda"] == [] and updated["interpreters"] == created["interpreters"]
    conn = await asyncpg.connect(registration.dsn)
    try:
        rows = await conn.fetch(
            "SELECT event_type, payload FROM outbox WHERE key = $1 ORDER BY id",
            created["roadshow_id"],
        )
    finally:
        await conn.close()
    assert [r["event_type"] for r in rows] == ["roadshow.created", "roadshow.updated"]
    data = json.loads(rows[0]["payload"])["data"]
    assert data["venues"][1]["dates"] == ["2027-05-16"]
    assert data["interpreters"][0]["interpreter_id"] == first["interpreter_id"]


async def test_a_roadshow_without_layout_reads_as_before(registration: Registration) -> None:
    partner = await registration.new_partner()
    created = await registration.new_roadshow(partner)
    assert created["tables"] == 20
    assert created["venues"] == created["travel"] == created["interpreters"] == []


async def test_languages_of_presidents_and_contacts(registration: Registration) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    body = factories.participant(roadshow["roadshow_id"])
    body["contact"] = {**body["contact"], "languages": ["zh"]}
    resp = await registration.client.post("/v1/participants", json=body, headers=partner)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["contact"]["languages"] == ["zh"]
    resp = await registration.client.post(
        "/v1/participants",
        json={**body, "contact": {**body["contact"], "languages": ["Chinese"]}},
        headers=partner,
    )
    assert resp.status == 422
    assert (await resp.json())["field"] == "contact.languages.0"


BAD = [
    ({"venues": [{"name": "A", "tables": 0}]}, "venues.0.tables"),
    (
        {"venues": [{"name": "A", "tables": 2}, {"name": "A", "tables": 2}], "travel": []},
        "venues",
    ),
    ({"travel": []}, "travel"),
    ({"travel": [{"between": ["Caohejing", "Pudong"], "minutes": 10}]}, "travel.0.between"),
    ({"travel": [{"between": ["Caohejing", "Zhangjiang"], "minutes": -1}]}, "travel.0.minutes"),
    (
        {"venues": [{"name": "Caohejing", "tables": 6, "dates": ["2027-06-01"]}], "travel": []},
        "venues.0.dates",
    ),
    (
        {
            "agenda": [
                {
                    "title": "Lunch",
                    "starts_at": "2027-05-15T13:00:00+08:00",
                    "ends_at": "2027-05-15T12:00:00+08:00",
                }
            ]
        },
        "agenda.0.ends_at",
    ),
    (
        {"agenda": [{"title": "Lunch", "starts_at": "2027-05-15T12:00:00", "ends_at": "x"}]},
        "agenda.0.starts_at",
    ),
    ({"interpreters": [{"languages": ["en"]}]}, "interpreters.0.languages"),
    ({"interpreters": [{"languages": ["en", "EN!"]}]}, "interpreters.0.languages.1"),
    (
        {
            "interpreters": [
                {
                    "languages": ["en", "zh"],
                    "available": [
                        {
                            "starts_at": "2027-05-15T12:00:00+08:00",
                            "ends_at": "2027-05-15T09:00:00+08:00",
                        }
                    ],
                }
            ]
        },
        "interpreters.0.available.0.ends_at",
    ),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[b[1] for b in BAD])
async def test_bad_layout_is_422_naming_the_field(
    registration: Registration, change: dict[str, Any], field: str
) -> None:
    partner = await registration.new_partner()
    events = await count_rows(registration.dsn, "outbox")
    resp = await registration.client.post("/v1/roadshows", json=two_days(**change), headers=partner)
    assert resp.status == 422, await resp.text()
    problem = await resp.json()
    assert problem["field"] == field
    assert await count_rows(registration.dsn, "roadshows") == 0
    assert await count_rows(registration.dsn, "outbox") == events
