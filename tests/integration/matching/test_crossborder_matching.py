"""Two currencies and mandatory criteria through matching's read model and API
(events handed to the handlers directly): a CNY fund meets a USD need, a
mandatory criterion keeps a pair unmatched, and the enterprise's partner reads
why."""

from __future__ import annotations

import uuid
from typing import Any

from services.matching.scoring.rates import RATES
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)


async def _get(store: Store, path: str, headers: dict[str, str]) -> Any:
    resp = await store.client.get(path, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_currencies_and_mandatory_criteria_decide_matches(store: Store) -> None:
    organiser, organiser_headers = await store.partner()
    delegate, delegate_headers = await store.partner()
    _, stranger_headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid), organiser)
    cny: dict[str, Any] = {"currency": "CNY", "ticket_min": "10000000", "ticket_max": "50000000"}
    cny_fund = participant_contract(rid, "fund", **cny)
    picky = participant_contract(
        rid, "fund", **cny, countries=["CN"], mandatory=["country", "stage"], stages=["seed"]
    )
    open_minded = participant_contract(rid, "fund", **cny, countries=["US"], mandatory=["country"])
    for p in (cny_fund, picky, open_minded):
        await store.deliver("participant.registered", p, organiser)
    enterprise = enterprise_contract(
        rid, project={"funding_amount": "3000000", "funding_currency": "USD"}
    )
    await store.deliver("enterprise.registered", enterprise, delegate)

    base = f"/v1/enterprises/{enterprise.enterprise_id}"
    matches = {
        m["participant_id"]: m
        for m in (await _get(store, f"{base}/matches", delegate_headers))["items"]
    }
    assert str(picky.participant_id) not in matches
    assert {str(cny_fund.participant_id), str(open_minded.participant_id)} <= set(matches)
    ticket = {c["name"]: c for c in matches[str(cny_fund.participant_id)]["components"]}[
        "ticket_fit"
    ]
    in_cny = 3_000_000 * RATES.per_base["CNY"]
    assert ticket["score"] == 1.0 and ticket["weight"] > 0
    assert f"USD 3,000,000 (= CNY {in_cny:,.0f}" in ticket["reason"]

    # Why the picky fund is not a match: both failed criteria, with reasons.
    out = await _get(store, f"{base}/exclusions", delegate_headers)
    (excluded,) = out["items"]
    assert excluded["participant_id"] == str(picky.participant_id)
    assert excluded["participant_name"] == picky.name
    assert [f["criterion"] for f in excluded["failures"]] == ["stage", "country"]
    assert "US" in excluded["failures"][1]["reason"]
    assert (await _get(store, f"{base}/exclusions", organiser_headers))["items"]
    resp = await store.client.get(f"{base}/exclusions", headers=stranger_headers)
    assert resp.status == 404 and (await resp.json())["field"] == "enterprise_id"

    # The fund drops the criterion: the pair is matched; it makes one mandatory
    # that fails: the match is withdrawn.
    relaxed = picky.model_copy(update={"mandatory": [], "version": 2})
    await store.deliver("participant.updated", relaxed, organiser)
    matches = (await _get(store, f"{base}/matches", delegate_headers))["items"]
    assert str(picky.participant_id) in {m["participant_id"] for m in matches}
    assert (await _get(store, f"{base}/exclusions", delegate_headers))["items"] == []
    strict = cny_fund.model_copy(
        update={"mandatory": ["country"], "countries": ["JP"], "version": 2}
    )
    await store.deliver("participant.updated", strict, organiser)
    matches = (await _get(store, f"{base}/matches", delegate_headers))["items"]
    assert str(cny_fund.participant_id) not in {m["participant_id"] for m in matches}
