"""Bad input answers 4xx problem+json naming the field, and writes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.testing.plugin import count_rows
from tests import factories
from tests.conftest import Registration

TABLES = ("delegations", "enterprises", "participants", "outbox", "idempotency_keys")


async def _counts(dsn: str) -> dict[str, int]:
    return {t: await count_rows(dsn, t) for t in TABLES}


def _mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target: Any = body
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return body


_DELETE = object()

DELEGATION_CASES = [
    ("name", _DELETE, "name"),
    ("enterprises", [], "enterprises"),
    ("enterprises.0.president.email", "not-an-email", "enterprises.0.president.email"),
    ("enterprises.1.president", _DELETE, "enterprises.1.president"),
    ("enterprises.0.sectors", ["quantum-basket-weaving"], "enterprises.0.sectors.0"),
    ("enterprises.0.sectors", "robotics", "enterprises.0.sectors"),
    ("enterprises.0.project.funding_amount", "-5", "enterprises.0.project.funding_amount"),
    ("enterprises.0.project.funding_amount", "lots", "enterprises.0.project.funding_amount"),
    ("enterprises.0.project.funding_currency", "dollars", "enterprises.0.project.funding_currency"),
    ("enterprises.0.project.stage", "unicorn", "enterprises.0.project.stage"),
    (
        "enterprises.0.project.partnership_types",
        ["hugs"],
        "enterprises.0.project.partnership_types.0",
    ),
    ("enterprises.0.country", 7, "enterprises.0.country"),
    ("enterprises.0.nickname", "x", "enterprises.0.nickname"),
    ("roadshow_id", "not-a-uuid", "roadshow_id"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    DELEGATION_CASES,
    ids=[c[0] + "=" + str(c[1])[:12] for c in DELEGATION_CASES],
)
async def test_bad_delegation_is_422_naming_the_field(
    registration: Registration, path: str, value: Any, field: str
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    before = await _counts(registration.dsn)
    body = _mutate(factories.delegation(roadshow["roadshow_id"]), path, value)
    resp = await registration.client.post(
        "/v1/delegations", json=body, headers={**partner, "Idempotency-Key": "k1"}
    )
    assert resp.status == 422, await resp.text()
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["field"] == field
    assert problem["status"] == 422
    assert field in {e["field"] for e in problem["errors"]}
    assert await _counts(registration.dsn) == before


async def test_unknown_roadshow_is_404_and_writes_nothing(registration: Registration) -> None:
    partner = await registration.new_partner()
    before = await _counts(registration.dsn)
    resp = await registration.client.post(
        "/v1/delegations",
        json=factories.delegation("8d7f5a52-4a55-4c0e-9f39-2f3f0e8a0b11"),
        headers=partner,
    )
    assert resp.status == 404
    assert (await resp.json())["field"] == "roadshow_id"
    assert await _counts(registration.dsn) == before


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "field"),
    [
        (b"{not json", "application/json", 400, "body"),
        (b"\xff\xfe\x00", "application/json", 400, "body"),
        (b"", "application/json", 400, "body"),
        (b"[1, 2, 3]", "application/json", 422, "body"),
        (b'{"x": "' + b"a" * 70_000 + b'"}', "application/json", 413, "body"),
    ],
    ids=["malformed", "binary", "empty", "array", "oversized"],
)
async def test_unreadable_bodies(
    registration: Registration, raw: bytes, content_type: str, status: int, field: str
) -> None:
    partner = await registration.new_partner()
    before = await _counts(registration.dsn)
    resp = await registration.client.post(
        "/v1/delegations", data=raw, headers={**partner, "Content-Type": content_type}
    )
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["field"] == field
    assert await _counts(registration.dsn) == before


PARTICIPANT_CASES = [
    ({"kind": "bank", "offers": ["equity-investment"]}, "offers.0"),
    ({"ticket_min": "20000000"}, "ticket_min"),
    ({"ticket_max": "-1"}, "ticket_max"),
    ({"currency": None}, "currency"),
    ({"stages": []}, "stages"),
    ({"kind": "embassy"}, "kind"),
    ({"contact": {"name": "A", "email": "a@b.co", "phone": "call me"}}, "contact.phone"),
]


@pytest.mark.parametrize(
    ("change", "field"), PARTICIPANT_CASES, ids=[c[1] for c in PARTICIPANT_CASES]
)
async def test_bad_participant_names_the_field(
    registration: Registration, change: dict[str, Any], field: str
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    before = await _counts(registration.dsn)
    body = {**factories.participant(roadshow["roadshow_id"], kind="fund"), **change}
    resp = await registration.client.post("/v1/participants", json=body, headers=partner)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["field"] == field
    assert await _counts(registration.dsn) == before


async def test_bad_roadshow_dates_and_zone(registration: Registration) -> None:
    partner = await registration.new_partner()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"end_date": "2027-05-01"}, "end_date"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"day_end": "08:00"}, "day_end"),
        ({"slot_minutes": 0}, "slot_minutes"),
    ]
    for change, field in cases:
        resp = await registration.client.post(
            "/v1/roadshows", json=factories.roadshow(**change), headers=partner
        )
        assert resp.status == 422, (change, await resp.text())
        assert (await resp.json())["field"] == field
    assert await count_rows(registration.dsn, "roadshows") == 0


async def test_bad_patch_changes_nothing(registration: Registration) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    participant = await (
        await registration.client.post(
            "/v1/participants", json=factories.participant(roadshow["roadshow_id"]), headers=partner
        )
    ).json()
    before = await _counts(registration.dsn)
    url = f"/v1/participants/{participant['participant_id']}"
    for patch, field in [
        ({"ticket_min": "99999999"}, "ticket_min"),
        ({"name": None}, "name"),
        ({"sectors": ["nope"]}, "sectors.0"),
    ]:
        resp = await registration.client.patch(url, json=patch, headers=partner)
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["field"] == field
    assert await _counts(registration.dsn) == before
    assert (await (await registration.client.get(url, headers=partner)).json())["version"] == 1


async def test_bad_query_parameters(registration: Registration) -> None:
    partner = await registration.new_partner()
    for params, field in [
        ({"limit": "0"}, "limit"),
        ({"kind": "embassy"}, "kind"),
        ({"cursor": "abc"}, "cursor"),
    ]:
        resp = await registration.client.get("/v1/participants", params=params, headers=partner)
        assert resp.status == 422
        assert (await resp.json())["field"] == field


async def test_unknown_route_and_bad_id_are_problems(registration: Registration) -> None:
    partner = await registration.new_partner()
    resp = await registration.client.get("/v1/nowhere", headers=partner)
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    resp = await registration.client.get("/v1/enterprises/not-a-uuid", headers=partner)
    assert resp.status == 404 and (await resp.json())["field"] == "enterprise_id"
    resp = await registration.client.put("/v1/enterprises", headers=partner)
    assert resp.status == 405 and resp.content_type == "application/problem+json"
