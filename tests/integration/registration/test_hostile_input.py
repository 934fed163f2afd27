"""Hostile input answers a small, clear problem+json, never a 500, and changes nothing."""

from __future__ import annotations

from typing import Any

from shared.pagination import encode_cursor
from shared.testing.plugin import count_rows
from tests import factories
from tests.conftest import Registration


async def _problem(resp: Any, status: int, field: str) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    assert body["field"] == field, body
    return body


async def test_overlong_or_odd_trace_ids_are_refused_naming_the_header(
    registration: Registration,
) -> None:
    for header, value in (
        ("X-Correlation-ID", "c" * 8000),
        ("X-Request-ID", "r" * 200),
        ("X-Correlation-ID", "has space"),
    ):
        resp = await registration.client.get("/healthz", headers={header: value})
        await _problem(resp, 422, header)
    resp = await registration.client.get("/healthz", headers={"X-Correlation-ID": "demo-1.a:b/c"})
    assert resp.status == 200
    assert resp.headers["X-Correlation-ID"] == "demo-1.a:b/c"


async def test_a_huge_unknown_value_is_not_echoed(registration: Registration) -> None:
    headers = await registration.new_partner()
    roadshow = await registration.new_roadshow(headers)
    body = factories.participant(roadshow["roadshow_id"])
    body["sectors"] = ["x" * 24_000]
    resp = await registration.client.post("/v1/participants", json=body, headers=headers)
    problem = await _problem(resp, 422, "sectors.0")
    assert len(await resp.read()) < 2_000, "the answer quotes the whole value"
    assert "x" * 100 not in problem["detail"]
    assert await count_rows(registration.dsn, "participants") == 0


async def test_many_errors_are_named_in_a_bounded_answer(registration: Registration) -> None:
    headers = await registration.new_partner()
    roadshow = await registration.new_roadshow(headers)
    body = {**factories.delegation(roadshow["roadshow_id"]), "enterprises": [{}] * 150}
    resp = await registration.client.post("/v1/delegations", json=body, headers=headers)
    problem = await _problem(resp, 422, "enterprises.0.name")
    assert 1 < len(problem["errors"]) <= 20


async def test_bodies_past_the_parser_are_a_400_naming_the_body(
    registration: Registration,
) -> None:
    headers = await registration.new_partner()
    deep = b"[" * 30_000 + b"]" * 30_000
    huge_int = b'{"name": ' + b"9" * 5_000 + b"}"
    for raw in (deep, huge_int):
        resp = await registration.client.post(
            "/v1/roadshows", data=raw, headers={**headers, "Content-Type": "application/json"}
        )
        await _problem(resp, 400, "body")
    assert await count_rows(registration.dsn, "roadshows") == 0


async def test_cursors_this_api_did_not_write_are_a_422(registration: Registration) -> None:
    headers = await registration.new_partner()
    for cursor in ("9223372036854775808", "not-a-cursor", encode_cursor(2**63), encode_cursor(-1)):
        resp = await registration.client.get(
            "/v1/participants", params={"cursor": cursor}, headers=headers
        )
        await _problem(resp, 422, "cursor")


async def test_dates_outside_the_century_are_refused(registration: Registration) -> None:
    headers = await registration.new_partner()
    for field, value in (("end_date", "9999-12-31"), ("start_date", "0001-01-01")):
        body = {**factories.roadshow(), field: value}
        if field == "start_date":
            body["end_date"] = "0001-01-02"
        resp = await registration.client.post("/v1/roadshows", json=body, headers=headers)
        await _problem(resp, 422, field)
    assert await count_rows(registration.dsn, "roadshows") == 0
