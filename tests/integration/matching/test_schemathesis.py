"""schemathesis over matching's served OpenAPI document, against the service on a
real database holding one road show with matches: no 5xx, every answer as the
document says (tests/helpers/api_fuzz.py)."""

from __future__ import annotations

import uuid

from shared.contracts.matching import match_id_for
from tests.helpers.api_fuzz import fuzz_service
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)


async def test_schemathesis_finds_no_server_error_nor_schema_violation(store: Store) -> None:
    organiser, headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid), organiser)
    fund = participant_contract(rid, "fund")
    await store.deliver("participant.registered", fund, organiser)
    enterprise = enterprise_contract(rid)
    await store.deliver("enterprise.registered", enterprise, organiser)
    c = store.client
    spec = await (await c.get("/openapi.json")).json()
    known = {
        "roadshow_id": str(rid),
        "participant_id": str(fund.participant_id),
        "enterprise_id": str(enterprise.enterprise_id),
        "match_id": str(match_id_for(enterprise.enterprise_id, fund.participant_id)),
    }
    key = headers["Authorization"].removeprefix("Bearer ")
    done = await fuzz_service(spec, str(c.make_url("")).rstrip("/"), {"partnerKey": key}, known)
    assert done.operations >= 15 and done.statuses.get(200, 0) > 20
    assert not done.failures, "\n\n".join(done.failures)
