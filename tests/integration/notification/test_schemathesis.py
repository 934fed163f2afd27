"""schemathesis over notification's served OpenAPI document, against the service
on a real database holding a subscription with a notification: no 5xx, every
answer as the document says (tests/helpers/api_fuzz.py)."""

from __future__ import annotations

from tests.helpers.api_fuzz import fuzz_service
from tests.integration.notification.conftest import ADMIN, Env, Receiver, match_event


async def test_schemathesis_finds_no_server_error_nor_schema_violation(
    env: Env, receiver: Receiver
) -> None:
    partner = await env.partner()
    participant = await env.participant(partner)
    enterprise = await env.enterprise(partner=partner)
    c = env.client
    body = {"url": receiver.url, "event_types": ["match.proposed"]}
    created = await (await c.post("/v1/subscriptions", json=body, headers=partner)).json()
    sid = created["subscription_id"]
    await env.consume(match_event(participant, enterprise))
    listed = await (await c.get(f"/v1/subscriptions/{sid}/notifications", headers=partner)).json()
    known = {
        "subscription_id": sid,
        "notification_id": listed["items"][0]["notification_id"],
        "party_id": str(participant),
        "role": "contacts",
    }
    spec = await (await c.get("/openapi.json")).json()
    key = partner["Authorization"].removeprefix("Bearer ")
    credentials = {"partnerKey": key, "adminToken": ADMIN}
    done = await fuzz_service(spec, str(c.make_url("")).rstrip("/"), credentials, known)
    assert done.operations >= 20 and done.statuses.get(200, 0) > 20
    assert not done.failures, "\n\n".join(done.failures)
