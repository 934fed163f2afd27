"""A rescoring that changes more matches than one batch may carry publishes them
as several `matches.changed` batches under the same shard key, in order: every
change exactly once, no batch over `MAX_CHANGES_PER_BATCH`, every record far
below Kafka's 1 MB limit."""

from __future__ import annotations

import math
import uuid
from collections import Counter

from aiokafka.structs import ConsumerRecord

from shared.consumer import _Parsed
from shared.contracts import parse_data
from shared.contracts.matching import MAX_CHANGES_PER_BATCH, MatchesChanged
from shared.envelope import Context, Envelope, new_event
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)

FUNDS = 3 * MAX_CHANGES_PER_BATCH + 50  # more than one batch in every shard


async def test_a_large_rescoring_is_several_batches_of_one_key(store: Store) -> None:
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid), uuid.uuid4())
    record = ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, [])
    funds = [
        new_event(
            "registration",
            Context("t"),
            "participant.registered",
            uuid.uuid4(),
            participant_contract(
                rid, "fund", sectors=["robotics"], focus="Robotics and logistics start-ups."
            ),
        )
        for _ in range(FUNDS)
    ]
    await store.consumer._handle([_Parsed(record, e, parse_data(e)) for e in funds])
    before = await store.conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")

    enterprise = enterprise_contract(
        rid, sectors=["robotics"], project={"summary": "Warehouse robots for logistics."}
    )
    await store.deliver("enterprise.registered", enterprise)

    rows = await store.conn.fetch(
        "SELECT key, payload, octet_length(payload::text) AS size FROM outbox"
        " WHERE id > $1 AND event_type = 'matches.changed' ORDER BY id",
        before,
    )
    batches = [(r["key"], MatchesChanged.model_validate(r["payload"]["data"])) for r in rows]
    changes = [c for _, b in batches for c in b.changes]
    assert len(changes) > 3 * MAX_CHANGES_PER_BATCH  # the premise: every shard overflows
    assert len({c.match.match_id for c in changes}) == len(changes)  # each once
    assert all(c.match.enterprise_id == enterprise.enterprise_id for c in changes)
    assert max(len(b.changes) for _, b in batches) <= MAX_CHANGES_PER_BATCH
    assert max(r["size"] for r in rows) < 512 * 1024
    per_key = Counter(c_key for c_key, b in batches for _ in b.changes)
    batches_per_key = Counter(key for key, _ in batches)
    for key, n in per_key.items():
        assert batches_per_key[key] == math.ceil(n / MAX_CHANGES_PER_BATCH)
        assert all(
            Envelope.model_validate(r["payload"]).key == key for r in rows if r["key"] == key
        )
