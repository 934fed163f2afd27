"""Erasure reaches every copy: the stored answer of an idempotent request, the outbox
(what replay re-sends) and the topics, where the person's fields stay sealed with a
key that no longer exists."""

from __future__ import annotations

import json
import uuid

import asyncpg

from shared import personal_data as pd
from shared.embedded import EmbeddedBroker
from shared.envelope import Envelope
from shared.testing.kafka import read_topic
from shared.testing.waiting import eventually
from tests import factories
from tests.conftest import Registration


async def test_erasure_leaves_no_readable_copy(
    registration: Registration, broker: EmbeddedBroker
) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    body = factories.participant(roadshow["roadshow_id"], kind="bank")
    headers = {**partner, "Idempotency-Key": "bank-1"}
    created = await (
        await registration.client.post("/v1/participants", json=body, headers=headers)
    ).json()
    pid, contact = created["participant_id"], body["contact"]
    # The key has gone out (as in any real flow, where erasure comes much later).
    await read_topic(broker.bootstrap_servers, registration.topics.keys, at_least=1)

    resp = await registration.client.post(
        "/v1/erasures", json={"email": contact["email"]}, headers=partner
    )
    assert (await resp.json())["subjects"] == 1

    # The same request replayed answers without the person.
    replay = await registration.client.post("/v1/participants", json=body, headers=headers)
    assert replay.status == 201
    replayed = await replay.json()
    assert replayed["participant_id"] == pid
    assert replayed["contact"] == {
        "name": None,
        "title": None,
        "email": None,
        "phone": None,
        "languages": [],
    }

    conn = await asyncpg.connect(registration.dsn)
    try:
        assert await conn.fetchval("SELECT key FROM person_keys WHERE subject_id = $1", pid) is None
        outbox = [json.dumps(r["payload"]) for r in await conn.fetch("SELECT payload FROM outbox")]
        kinds = [r["event_type"] for r in await conn.fetch("SELECT event_type FROM outbox")]
        stored = [
            json.dumps(r["response"])
            for r in await conn.fetch("SELECT response FROM idempotency_keys")
        ]
    finally:
        await conn.close()
    for text in (*outbox, *stored):
        for value in (contact["email"], contact["name"], contact["phone"]):
            assert value not in text
    # Replay would not re-send the key: its outbox row is gone; its end is recorded.
    assert "person.key_issued" not in kinds and "person.key_destroyed" in kinds

    async def on_topic() -> list[Envelope] | None:
        records = await read_topic(
            broker.bootstrap_servers, registration.topics.registration, at_least=1
        )
        found = [
            e
            for r in records
            if (e := Envelope.from_bytes(r.value)).type == "participant.registered"
        ]
        return found or None

    (registered,) = await eventually(on_topic, what="the registration on its topic")
    sealed = registered.data["contact"]
    assert pd.is_sealed(sealed["email"]) and contact["email"] not in json.dumps(registered.data)
    keys = await read_topic(broker.bootstrap_servers, registration.topics.keys, at_least=2)
    issued = [Envelope.from_bytes(r.value) for r in keys]
    assert [e.type for e in issued] == ["person.key_issued", "person.key_destroyed"]
    assert all(e.key == pid for e in issued)
    # Even with the key-encryption key, the key once on the topic is the only way in;
    # compaction drops it there (Apache Kafka), and nothing else holds it.
    assert uuid.UUID(pid) == uuid.UUID(issued[0].data["subject_id"])
