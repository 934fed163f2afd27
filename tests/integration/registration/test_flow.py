"""A partner registers a delegation over HTTP; the rows are in the database and
its events come back from the real broker, valid and in order per aggregate."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

import asyncpg

from shared import personal_data as pd
from shared.contracts import parse_data
from shared.contracts.export import HEADERS_SCHEMA
from shared.embedded import EmbeddedBroker
from shared.envelope import Envelope
from shared.testing.kafka import read_topic
from shared.testing.waiting import eventually
from tests import factories
from tests.conftest import Registration


async def test_delegation_reaches_database_and_topic(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    resp = await registration.client.post(
        "/v1/delegations",
        json=factories.delegation(roadshow["roadshow_id"], enterprises=3),
        headers=partner,
    )
    assert resp.status == 201, await resp.text()
    delegation = await resp.json()
    assert len(delegation["enterprises"]) == 3
    enterprise_id = delegation["enterprises"][0]["enterprise_id"]

    conn = await asyncpg.connect(registration.dsn)
    try:
        rows = await conn.fetch("SELECT id, delegation_id, status FROM enterprises ORDER BY seq")
        assert [str(r["id"]) for r in rows] == [
            e["enterprise_id"] for e in delegation["enterprises"]
        ]
        assert {str(r["delegation_id"]) for r in rows} == {delegation["delegation_id"]}
    finally:
        await conn.close()

    # Change, then withdraw, one enterprise: its three events must keep their order.
    resp = await registration.client.patch(
        f"/v1/enterprises/{enterprise_id}", json={"sectors": ["robotics"]}, headers=partner
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["version"] == 2
    resp = await registration.client.post(
        f"/v1/enterprises/{enterprise_id}/withdraw", headers=partner
    )
    assert (await resp.json())["status"] == "withdrawn"

    # partner.registered + key_issued + roadshow.created + delegation.registered
    # + 3 enterprise.registered + enterprise.updated + enterprise.withdrawn
    records = await read_topic(
        broker.bootstrap_servers, registration.topics.registration, at_least=9, settle_ms=300
    )
    envelopes = [Envelope.from_bytes(r.value) for r in records]
    assert len({e.id for e in envelopes}) == len(envelopes) == 9
    for record, envelope in zip(records, envelopes, strict=True):
        parse_data(envelope)  # valid against its contract
        assert record.key.decode() == envelope.key
        assert envelope.producer == "registration"

    by_key: dict[str, list[Envelope]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[record.key.decode()].append(Envelope.from_bytes(record.value))
    assert [e.type for e in by_key[enterprise_id]] == [
        "enterprise.registered",
        "enterprise.updated",
        "enterprise.withdrawn",
    ]
    assert [e.data["version"] for e in by_key[enterprise_id]] == [1, 2, 3]
    registered = by_key[enterprise_id][0]
    assert registered.partner_id == uuid.UUID(partner["X-Partner-Id"])
    # The president travels sealed with their own key: readable with it, not without.
    president = registered.data["president"]
    sent = delegation["enterprises"][0]["president"]
    assert sent["email"] not in json.dumps(registered.data)
    key = await _person_key(registration.dsn, registered.key)
    subject = uuid.UUID(registered.key)
    assert pd.open_sealed(key, subject, president["email"]) == sent["email"]
    assert pd.open_sealed(key, subject, president["name"]) == sent["name"]
    assert president["title"] == sent.get("title")


async def _person_key(dsn: str, subject: str) -> bytes:
    conn = await asyncpg.connect(dsn)
    try:
        key: bytes = await conn.fetchval(
            "SELECT key FROM person_keys WHERE subject_id = $1", uuid.UUID(subject)
        )
        return key
    finally:
        await conn.close()


async def test_correlation_id_travels_from_request_to_events(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    resp = await registration.client.post(
        "/v1/participants",
        json=factories.participant(roadshow["roadshow_id"], kind="bank"),
        headers={**partner, "X-Correlation-ID": "corr-bank-42"},
    )
    assert resp.status == 201, await resp.text()
    assert resp.headers["X-Correlation-ID"] == "corr-bank-42"
    records = await read_topic(
        broker.bootstrap_servers, registration.topics.registration, at_least=4
    )
    bank_events = [
        Envelope.from_bytes(r.value) for r in records if b"participant.registered" in r.value
    ]
    assert [e.correlation_id for e in bank_events] == ["corr-bank-42"]
    # ... and as the Kafka headers the AsyncAPI document declares, for tools that read no payload.
    record = next(r for r in records if b"participant.registered" in r.value)
    declared = HEADERS_SCHEMA["required"]
    assert {h: dict(record.headers)[h].decode() for h in declared} == {
        "event_type": "participant.registered",
        "correlation_id": "corr-bank-42",
    }


async def test_lists_paginate_and_filter(registration: Registration) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    rid = roadshow["roadshow_id"]
    for kind in ("fund", "bank", "company", "fund", "bank"):
        resp = await registration.client.post(
            "/v1/participants", json=factories.participant(rid, kind=kind), headers=partner
        )
        assert resp.status == 201, await resp.text()

    seen, cursor = [], None
    while True:
        params = {"limit": "2", "roadshow_id": rid} | ({"cursor": str(cursor)} if cursor else {})
        page = await (
            await registration.client.get("/v1/participants", params=params, headers=partner)
        ).json()
        seen += [p["participant_id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5

    banks = await (
        await registration.client.get("/v1/participants", params={"kind": "bank"}, headers=partner)
    ).json()
    assert [p["kind"] for p in banks["items"]] == ["bank", "bank"]
    robotics = await (
        await registration.client.get(
            "/v1/participants", params={"sector": ["robotics", "big-data"]}, headers=partner
        )
    ).json()
    assert len(robotics["items"]) == 5
    none = await (
        await registration.client.get(
            "/v1/participants", params={"sector": "biotech"}, headers=partner
        )
    ).json()
    assert none["items"] == []


async def test_withdrawing_a_delegation_withdraws_its_enterprises(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    delegation = await (
        await registration.client.post(
            "/v1/delegations",
            json=factories.delegation(roadshow["roadshow_id"], enterprises=2),
            headers=partner,
        )
    ).json()
    resp = await registration.client.post(
        f"/v1/delegations/{delegation['delegation_id']}/withdraw", headers=partner
    )
    body = await resp.json()
    assert body["status"] == "withdrawn"
    assert {e["status"] for e in body["enterprises"]} == {"withdrawn"}
    # A withdrawn enterprise cannot change any more.
    resp = await registration.client.patch(
        f"/v1/enterprises/{body['enterprises'][0]['enterprise_id']}",
        json={"name": "X"},
        headers=partner,
    )
    assert resp.status == 409
    assert (await resp.json())["field"] == "status"

    async def withdrawals() -> list[str]:
        records = await read_topic(
            broker.bootstrap_servers, registration.topics.registration, at_least=1
        )
        return [
            t for r in records if (t := Envelope.from_bytes(r.value).type).endswith("withdrawn")
        ]

    types = await eventually(lambda: _at_least(withdrawals, 3), what="three withdrawal events")
    assert sorted(types) == ["delegation.withdrawn", "enterprise.withdrawn", "enterprise.withdrawn"]


async def _at_least(probe: Callable[[], Awaitable[list[str]]], n: int) -> list[str] | None:
    found = await probe()
    return found if len(found) >= n else None
