"""The matching API on a real database (events handed to the handlers directly):
matches ranked, filtered, paginated and scoped to partners; problems name the
field."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest

from shared.pagination import encode_cursor
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)


async def _event(store: Store) -> dict[str, Any]:
    """A road show organised by one partner, whose participants it registered,
    and an enterprise registered by another partner."""
    organiser, organiser_headers = await store.partner()
    delegate, delegate_headers = await store.partner()
    _, stranger_headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid), organiser)
    fund = participant_contract(rid, "fund")
    bank = participant_contract(rid, "bank")
    company = participant_contract(rid, "company")
    near_fund = participant_contract(rid, "fund", stages=["series-b"], sectors=["robotics"])
    for p in (fund, bank, company, near_fund):
        await store.deliver("participant.registered", p, organiser)
    enterprise = enterprise_contract(rid)
    await store.deliver("enterprise.registered", enterprise, delegate)
    return {
        "rid": rid,
        "organiser": organiser_headers,
        "delegate": delegate_headers,
        "stranger": stranger_headers,
        "enterprise": enterprise,
        "fund": fund,
        "bank": bank,
        "company": company,
        "near_fund": near_fund,
    }


async def _get(store: Store, path: str, headers: dict[str, str], **params: Any) -> Any:
    resp = await store.client.get(path, headers=headers, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_matches_are_ranked_explained_and_filtered(store: Store) -> None:
    ev = await _event(store)
    path = f"/v1/enterprises/{ev['enterprise'].enterprise_id}/matches"
    page = await _get(store, path, ev["delegate"])
    items = page["items"]
    scores = [m["score"] for m in items]
    assert scores == sorted(scores, reverse=True)
    ids = {m["participant_id"] for m in items}
    assert {str(ev["fund"].participant_id), str(ev["bank"].participant_id)} <= ids
    # A company offering nothing the enterprise seeks stays below the threshold.
    assert str(ev["company"].participant_id) not in ids
    best = items[0]
    assert best["participant_id"] == str(ev["fund"].participant_id)
    assert best["participant_name"] == ev["fund"].name
    assert best["enterprise_name"] == ev["enterprise"].name
    reasons = {c["name"]: c["reason"] for c in best["components"]}
    assert reasons["stage_fit"] == "invests at series-a, the project's stage"
    assert "within the ticket range" in reasons["ticket_fit"]
    assert reasons["sector_fit"].startswith("related sectors in the ai group")

    banks = await _get(store, path, ev["delegate"], kind="bank")
    assert [m["participant_kind"] for m in banks["items"]] == ["bank"]
    bank_reasons = {c["name"]: c for c in banks["items"][0]["components"]}
    assert bank_reasons["partnership_fit"]["reason"] == (
        "offers bank-account-services, sought by the enterprise"
    )
    assert bank_reasons["stage_fit"]["weight"] == 0  # not applicable to a bank

    high = await _get(store, path, ev["delegate"], min_score=str(scores[0]))
    assert [m["score"] for m in high["items"]] == [scores[0]]

    # One at a time, following next_cursor, gives the same ranking.
    seen, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        one = await _get(store, path, ev["delegate"], **params)
        seen += [m["match_id"] for m in one["items"]]
        cursor = one["next_cursor"]
        if cursor is None:
            break
    assert seen == [m["match_id"] for m in items]


async def test_matches_are_scoped_to_partners(store: Store) -> None:
    ev = await _event(store)
    enterprise = f"/v1/enterprises/{ev['enterprise'].enterprise_id}/matches"
    bank = f"/v1/participants/{ev['bank'].participant_id}/matches"
    roadshow = f"/v1/roadshows/{ev['rid']}/matches"
    # The organiser reads everything of its road show.
    assert (await _get(store, enterprise, ev["organiser"]))["items"]
    assert len((await _get(store, roadshow, ev["organiser"]))["items"]) >= 2
    theirs = await _get(store, bank, ev["organiser"])
    assert [m["enterprise_id"] for m in theirs["items"]] == [str(ev["enterprise"].enterprise_id)]
    # Another partner's party is missing, not forbidden; a road show's matches are
    # the organiser's, and to anyone else its organiser routes are missing too.
    for path, headers in ((enterprise, ev["stranger"]), (bank, ev["delegate"])):
        resp = await store.client.get(path, headers=headers)
        assert resp.status == 404
        assert resp.content_type == "application/problem+json"
    resp = await store.client.get(roadshow, headers=ev["delegate"])
    assert resp.status == 404 and (await resp.json())["field"] == "roadshow_id"
    resp = await store.client.get(enterprise)
    assert resp.status == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"min_score": "2"}, "min_score"),
        ({"min_score": "high"}, "min_score"),
        ({"kind": "charity"}, "kind"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": encode_cursor(math.nan, uuid.UUID(int=1))}, "cursor"),
        ({"surprise": "1"}, "surprise"),
    ],
)
async def test_bad_queries_are_problems_naming_the_field(
    store: Store, query: dict[str, str], field: str
) -> None:
    partner, headers = await store.partner()
    rid = uuid.uuid4()
    enterprise = enterprise_contract(rid)
    await store.deliver("enterprise.registered", enterprise, partner)
    resp = await store.client.get(
        f"/v1/enterprises/{enterprise.enterprise_id}/matches", headers=headers, params=query
    )
    assert resp.status == 422, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["field"] == field


async def test_unknown_ids_and_formats(store: Store) -> None:
    partner, headers = await store.partner()
    for path in (
        f"/v1/enterprises/{uuid.uuid4()}/matches",
        "/v1/enterprises/not-a-uuid/matches",
        f"/v1/schedule-jobs/{uuid.uuid4()}",
        f"/v1/roadshows/{uuid.uuid4()}/schedule",
        f"/v1/participants/{uuid.uuid4()}/schedule",
    ):
        resp = await store.client.get(path, headers=headers)
        assert resp.status == 404, path
        assert resp.content_type == "application/problem+json"
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid), partner)
    resp = await store.client.get(
        f"/v1/roadshows/{rid}/schedule", headers=headers, params={"format": "ics"}
    )
    assert resp.status == 422 and (await resp.json())["field"] == "format"
    for body, status, field in (
        (b"{", 400, "body"),
        (b'{"fair_minimum": -1}', 422, "fair_minimum"),
        (b'{"tables": 3}', 422, "tables"),
    ):
        resp = await store.client.post(
            f"/v1/roadshows/{rid}/schedule-jobs",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert resp.status == status, await resp.text()
        assert (await resp.json())["field"] == field
    resp = await store.client.get("/openapi.json")
    paths = (await resp.json())["paths"]
    assert "/v1/roadshows/{roadshow_id}/schedule-jobs" in paths


async def test_a_foreign_roadshow_answers_exactly_like_an_unknown_one(store: Store) -> None:
    """Organiser routes: another partner's road show is missing, not forbidden, so
    the answer does not reveal that it exists."""
    ev = await _event(store)
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/v1/roadshows/{}/matches", None),
        ("POST", "/v1/roadshows/{}/schedule-jobs", {}),
        ("GET", "/v1/roadshows/{}/schedule", None),
        ("GET", "/v1/roadshows/{}/matching-settings", None),
        ("PUT", "/v1/roadshows/{}/matching-settings", {"mode": "opt-in"}),
        ("GET", "/v1/roadshows/{}/figures", None),
    ]
    for method, path, body in routes:
        answers = []
        for rid in (ev["rid"], uuid.uuid4()):  # foreign (the delegate's view), unknown
            resp = await store.client.request(
                method,
                path.format(rid),
                json=body,
                headers={**ev["delegate"], "Idempotency-Key": uuid.uuid4().hex},
            )
            problem = await resp.json()
            answers.append((resp.status, {k: v for k, v in problem.items() if k != "instance"}))
        assert answers[0] == answers[1], (method, path)
        assert answers[0][0] == 404 and answers[0][1]["field"] == "roadshow_id", (method, path)
