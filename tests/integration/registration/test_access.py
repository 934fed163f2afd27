"""Partner scoping, API keys and their revocation, idempotency keys, erasure."""

from __future__ import annotations

import asyncio

from shared.embedded import EmbeddedBroker
from shared.envelope import Envelope
from shared.testing.kafka import read_topic
from shared.testing.plugin import count_rows
from tests import factories
from tests.conftest import ADMIN, Registration


async def test_partner_b_cannot_touch_partner_a_data(registration: Registration) -> None:
    a = await registration.new_partner("Caohejing High-Tech Park Development Corporation")
    b = await registration.new_partner("Chamber of Commerce abroad")
    roadshow = await registration.new_roadshow(a)
    delegation = await (
        await registration.client.post(
            "/v1/delegations", json=factories.delegation(roadshow["roadshow_id"]), headers=a
        )
    ).json()
    participant = await (
        await registration.client.post(
            "/v1/participants", json=factories.participant(roadshow["roadshow_id"]), headers=a
        )
    ).json()
    enterprise_id = delegation["enterprises"][0]["enterprise_id"]
    c = registration.client
    for method, url, body in [
        ("GET", f"/v1/delegations/{delegation['delegation_id']}", None),
        ("PATCH", f"/v1/delegations/{delegation['delegation_id']}", {"name": "mine now"}),
        ("POST", f"/v1/delegations/{delegation['delegation_id']}/withdraw", None),
        (
            "POST",
            f"/v1/delegations/{delegation['delegation_id']}/enterprises",
            factories.enterprise(),
        ),
        ("GET", f"/v1/enterprises/{enterprise_id}", None),
        ("PATCH", f"/v1/enterprises/{enterprise_id}", {"name": "mine now"}),
        ("POST", f"/v1/enterprises/{enterprise_id}/withdraw", None),
        ("GET", f"/v1/participants/{participant['participant_id']}", None),
        ("PATCH", f"/v1/participants/{participant['participant_id']}", {"name": "mine now"}),
        ("POST", f"/v1/participants/{participant['participant_id']}/withdraw", None),
    ]:
        resp = await c.request(method, url, json=body, headers=b)
        assert resp.status == 404, (method, url, resp.status)
        assert resp.content_type == "application/problem+json"
    # B's lists do not show A's data; A's still does, unchanged.
    for url in ("/v1/delegations", "/v1/enterprises", "/v1/participants"):
        assert (await (await c.get(url, headers=b)).json())["items"] == []
    mine = await (await c.get(f"/v1/enterprises/{enterprise_id}", headers=a)).json()
    assert mine["status"] == "active" and mine["version"] == 1
    # Road shows are the shared calendar: B reads and registers into A's, but only
    # the organiser changes it.
    assert (await c.get(f"/v1/roadshows/{roadshow['roadshow_id']}", headers=b)).status == 200
    resp = await c.patch(
        f"/v1/roadshows/{roadshow['roadshow_id']}", json={"name": "B's show"}, headers=b
    )
    assert resp.status == 403


async def test_keys_authenticate_and_revocation_is_immediate(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    c = registration.client
    assert (await c.get("/v1/delegations")).status == 401
    assert (
        await c.get("/v1/delegations", headers={"Authorization": "Bearer rs_0_nope"})
    ).status == 401
    partner = await registration.new_partner()
    partner_id = partner["X-Partner-Id"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert (await c.post("/admin/partners", json={"name": "x"}, headers=partner)).status == 403
    second = await (await c.post(f"/admin/partners/{partner_id}/keys", headers=admin)).json()
    second_headers = {"Authorization": f"Bearer {second['api_key']}"}
    assert (await c.get("/v1/delegations", headers=second_headers)).status == 200
    resp = await c.delete(f"/admin/partners/{partner_id}/keys/{second['key_id']}", headers=admin)
    assert resp.status == 204
    resp = await c.get("/v1/delegations", headers=second_headers)
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    assert (await c.get("/v1/delegations", headers=partner)).status == 200  # the first key lives on
    records = await read_topic(
        broker.bootstrap_servers, registration.topics.registration, at_least=4
    )
    types = [Envelope.from_bytes(r.value).type for r in records]
    assert types.count("partner.key_issued") == 2 and types.count("partner.key_revoked") == 1
    # The secret itself never travels; only its hash does.
    assert all(second["api_key"].encode() not in r.value for r in records)


async def test_idempotency_key_replays_and_detects_reuse(registration: Registration) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    body = factories.delegation(roadshow["roadshow_id"], enterprises=2)
    headers = {**partner, "Idempotency-Key": "delegation-2027-na-1"}
    outbox_before = await count_rows(registration.dsn, "outbox")
    first, second = await asyncio.gather(
        registration.client.post("/v1/delegations", json=body, headers=headers),
        registration.client.post("/v1/delegations", json=body, headers=headers),
    )
    assert first.status == second.status == 201
    assert await first.json() == await second.json()
    third = await registration.client.post("/v1/delegations", json=body, headers=headers)
    assert await third.json() == await first.json()
    assert await count_rows(registration.dsn, "delegations") == 1
    assert await count_rows(registration.dsn, "enterprises") == 2
    # Once: the delegation, its two enterprises, and each president's key.
    assert await count_rows(registration.dsn, "outbox") == outbox_before + 5
    other = {**body, "name": "another delegation"}
    resp = await registration.client.post("/v1/delegations", json=other, headers=headers)
    assert resp.status == 409
    assert (await resp.json())["field"] == "Idempotency-Key"
    assert await count_rows(registration.dsn, "delegations") == 1
    # Keys are per partner: another partner may use the same one.
    other_partner = await registration.new_partner("other")
    resp = await registration.client.post(
        "/v1/delegations",
        json=body,
        headers={**other_partner, "Idempotency-Key": "delegation-2027-na-1"},
    )
    assert resp.status == 201
    assert await count_rows(registration.dsn, "delegations") == 2


async def test_erasure_removes_the_person_and_tells_the_others(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    delegation = await (
        await registration.client.post(
            "/v1/delegations", json=factories.delegation(roadshow["roadshow_id"]), headers=partner
        )
    ).json()
    president = delegation["enterprises"][0]["president"]
    enterprise_id = delegation["enterprises"][0]["enterprise_id"]
    other_partner = await registration.new_partner("other")
    # Another partner cannot erase (or learn about) this partner's people.
    resp = await registration.client.post(
        "/v1/erasures", json={"email": president["email"]}, headers=other_partner
    )
    assert (await resp.json())["subjects"] == 0

    resp = await registration.client.post(
        "/v1/erasures", json={"email": president["email"].upper()}, headers=partner
    )
    assert resp.status == 202
    assert (await resp.json())["subjects"] == 1
    after = await (
        await registration.client.get(f"/v1/enterprises/{enterprise_id}", headers=partner)
    ).json()
    assert after["president"] == {
        "name": None,
        "title": None,
        "email": None,
        "phone": None,
        "languages": [],
    }
    untouched = delegation["enterprises"][1]
    still = await (
        await registration.client.get(
            f"/v1/enterprises/{untouched['enterprise_id']}", headers=partner
        )
    ).json()
    assert still["president"]["email"] == untouched["president"]["email"]

    records = await read_topic(
        broker.bootstrap_servers, registration.topics.registration, at_least=7
    )
    erased = [Envelope.from_bytes(r.value) for r in records if b"person.erased" in r.value]
    assert len(erased) == 1
    assert erased[0].key == enterprise_id
    assert erased[0].data["subjects"] == [{"kind": "enterprise.president", "id": enterprise_id}]
    assert president["email"].encode() not in records[-1].value


async def test_ops_endpoints(registration: Registration) -> None:
    c = registration.client
    assert (await (await c.get("/healthz")).json()) == {"status": "ok"}
    ready = await c.get("/readyz")
    assert ready.status == 200 and (await ready.json())["checks"]["database"] is True
    await registration.new_partner()
    metrics = await (await c.get("/metrics")).text()
    assert (
        'roadshow_http_requests_total{method="POST",route="/admin/partners",status="201"}'
        in metrics
    )
    spec = await (await c.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    op = spec["paths"]["/v1/delegations"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DelegationIn"
    )
    assert "DelegationIn" in spec["components"]["schemas"]
    assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])
    docs = await (await c.get("/docs")).text()
    assert "/docs/assets/swagger-ui-bundle.js" in docs  # Swagger UI, over /openapi.json
    sectors = await (await c.get("/v1/sectors")).json()
    flat = {s for g in sectors["groups"] for s in g["sectors"]}
    for field in (
        "artificial-intelligence",
        "logistics-networks",
        "autonomous-driving",
        "battery-management",
        "big-data",
        "robotics",
    ):
        assert field in flat
