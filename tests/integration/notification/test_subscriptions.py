"""The subscription API: partner-scoped, strict input as problem+json naming the
field, the secret shown once, idempotent creation, lists and their pages."""

from __future__ import annotations

import uuid

import pytest

from shared.contracts.registration import PartnerKeyRevoked
from shared.partner_keys import revoke_key
from tests.integration.notification.conftest import Env, Receiver


async def test_create_read_change_and_list(env: Env, receiver: Receiver) -> None:
    partner = await env.partner()
    bank = uuid.uuid4()
    created = await env.subscribe(
        partner,
        receiver.url,
        description="Bank of Pudong treasury desk",
        event_types=["match.proposed", "meeting.scheduled"],
        participant_ids=[str(bank)],
        sectors=["robotics"],
    )
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active" and created["participant_ids"] == [str(bank)]
    sub_id = created["subscription_id"]

    resp = await env.client.get(f"/v1/subscriptions/{sub_id}", headers=partner)
    read = await resp.json()
    assert "secret" not in read and read["sectors"] == ["robotics"]

    resp = await env.client.patch(
        f"/v1/subscriptions/{sub_id}",
        json={"sectors": None, "participant_kinds": ["bank", "fund"]},
        headers=partner,
    )
    changed = await resp.json()
    assert resp.status == 200, changed
    assert changed["sectors"] is None and changed["participant_kinds"] == ["bank", "fund"]
    assert changed["participant_ids"] == [str(bank)] and changed["version"] == 2

    for _ in range(2):
        await env.subscribe(partner, receiver.url)
    seen, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": str(cursor)} if cursor else {})
        page = await (
            await env.client.get("/v1/subscriptions", params=params, headers=partner)
        ).json()
        seen += [s["subscription_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3 and seen[0] == sub_id


async def test_another_partners_subscription_is_missing(env: Env, receiver: Receiver) -> None:
    owner, stranger = await env.partner(), await env.partner()
    sub = await env.subscribe(owner, receiver.url)
    base = f"/v1/subscriptions/{sub['subscription_id']}"
    for method, path, body in (
        ("GET", base, None),
        ("PATCH", base, {"status": "disabled"}),
        ("POST", f"{base}/rotate-secret", {}),
        ("GET", f"{base}/notifications", None),
        ("POST", f"{base}/notifications/{uuid.uuid4()}/redeliver", None),
    ):
        resp = await env.client.request(method, path, json=body, headers=stranger)
        assert resp.status == 404, (method, path)
        assert resp.content_type == "application/problem+json"
    listed = await (await env.client.get("/v1/subscriptions", headers=stranger)).json()
    assert listed["items"] == []


async def test_idempotent_creation_returns_the_same_subscription(
    env: Env, receiver: Receiver
) -> None:
    partner = await env.partner()
    body = {"url": receiver.url, "event_types": ["match.proposed"]}
    headers = {**partner, "Idempotency-Key": "sub-1"}
    first = await (await env.client.post("/v1/subscriptions", json=body, headers=headers)).json()
    again = await env.client.post("/v1/subscriptions", json=body, headers=headers)
    assert again.status == 201 and (await again.json()) == first
    other = await env.client.post(
        "/v1/subscriptions", json={**body, "event_types": ["match.updated"]}, headers=headers
    )
    assert other.status == 409
    count = await env.pool.fetchval("SELECT count(*) FROM subscriptions")
    assert count == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["match.proposed"]}, "url"),
        ({"url": "URL", "event_types": []}, "event_types"),
        ({"url": "URL", "event_types": ["participant.registered"]}, "event_types.0"),
        ({"url": "URL", "event_types": ["match.proposed"], "sectors": ["astrology"]}, "sectors.0"),
        ({"url": "URL", "event_types": ["match.proposed", "match.proposed"]}, "event_types"),
        ({"url": "URL", "event_types": ["match.proposed"], "secret": "mine"}, "secret"),
        (
            {"url": "URL", "event_types": ["match.proposed"], "participant_ids": ["x"]},
            "participant_ids.0",
        ),
        ({"url": "ftp://files.example/x", "event_types": ["match.proposed"]}, "url"),
        ({"url": "http://user:pw@127.0.0.1/x", "event_types": ["match.proposed"]}, "url"),
        ({"url": "https://exa mple.com/x", "event_types": ["match.proposed"]}, "url"),
        ({"url": "https://hooks.example:99999/x", "event_types": ["match.proposed"]}, "url"),
        ({"url": "https://a..b/x", "event_types": ["match.proposed"]}, "url"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    env: Env, receiver: Receiver, body: dict[str, object], field: str
) -> None:
    partner = await env.partner()
    if body.get("url") == "URL":
        body = {**body, "url": receiver.url}
    resp = await env.client.post("/v1/subscriptions", json=body, headers=partner)
    problem = await resp.json()
    assert resp.status == 422, problem
    assert resp.content_type == "application/problem+json"
    assert problem["field"] == field


async def test_patch_refuses_null_for_what_must_stay(env: Env, receiver: Receiver) -> None:
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url)
    for name in ("url", "event_types", "status"):
        resp = await env.client.patch(
            f"/v1/subscriptions/{sub['subscription_id']}", json={name: None}, headers=partner
        )
        assert resp.status == 422 and (await resp.json())["field"] == name


async def test_keys_of_the_replica_authenticate_and_revocation_applies(
    env: Env, receiver: Receiver
) -> None:
    resp = await env.client.get("/v1/subscriptions")
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    partner = await env.partner()
    assert (await env.client.get("/v1/subscriptions", headers=partner)).status == 200
    token = partner["Authorization"].split()[1]
    async with env.pool.acquire() as conn:
        await revoke_key(
            conn,
            PartnerKeyRevoked(
                partner_id=uuid.UUID(partner["X-Partner-Id"]),
                key_id=uuid.UUID(hex=token.split("_")[1]),
            ),
        )
    resp = await env.client.get("/v1/subscriptions", headers=partner)
    assert resp.status == 401 and (await resp.json())["field"] == "Authorization"


async def test_reference_and_platform_routes(env: Env) -> None:
    types = await (await env.client.get("/v1/event-types")).json()
    assert "meeting.cancelled" in types["event_types"]
    spec = await (await env.client.get("/openapi.json")).json()
    assert "/v1/subscriptions/{subscription_id}/redeliver" in spec["paths"]
    assert (await env.client.get("/healthz")).status == 200
    assert (await env.client.get("/readyz")).status == 200
