"""A rescoring that changes more matches than one batch may carry publishes them
as several `matches.changed` batches under the same shard key, in order: every
change exactly once, no batch over `MAX_CHANGES_PER_BATCH`, every record far
below Kafka's 1 MB limit."""

from __future__ import annotations

import math
import uuid
from collections import Counter

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from services.matching.scoring import service as scoring
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


@pytest.mark.parametrize("pairs_per_slice", [2_000, 37])
async def test_a_large_rescoring_is_several_batches_of_one_key(
    store: Store, monkeypatch: pytest.MonkeyPatch, pairs_per_slice: int
) -> None:
    # Built and written a slice of pairs at a time (37: many slices, some batches
    # spanning two of them) or in one: the same changes either way.
    monkeypatch.setattr(scoring, "_SLICE", pairs_per_slice)
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
    stored = await store.conn.fetchval(
        "SELECT count(*) FROM matches WHERE enterprise_id = $1 AND status = 'proposed'",
        enterprise.enterprise_id,
    )
    assert stored == len(changes)
    per_key = Counter(c_key for c_key, b in batches for _ in b.changes)
    batches_per_key = Counter(key for key, _ in batches)
    for key, n in per_key.items():
        fewest = math.ceil(n / MAX_CHANGES_PER_BATCH)
        slices = math.ceil(len(changes) / pairs_per_slice)
        # One slice: as few batches as the cap allows; more slices, one more at most each.
        assert fewest <= batches_per_key[key] <= fewest + slices - 1
        assert all(
            Envelope.model_validate(r["payload"]).key == key for r in rows if r["key"] == key
        )


async def test_a_poll_of_registrations_goes_in_transactions_sized_by_its_pairs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five funds in memory: an enterprise's event weighs 5 pairs. At most 10 pairs a
    # transaction: six enterprises go two by two, in order, each scored once.
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid), uuid.uuid4())
    for _ in range(5):
        fund = participant_contract(rid, "fund", sectors=["robotics"], focus="Robotics start-ups.")
        await store.deliver("participant.registered", fund)
    monkeypatch.setattr(store.consumer, "_max_weight", 10)
    enterprises = [
        enterprise_contract(rid, sectors=["robotics"], project={"summary": "Robot arms."})
        for _ in range(6)
    ]
    events = [
        new_event("registration", Context("t"), "enterprise.registered", e.enterprise_id, e)
        for e in enterprises
    ]
    scoring_ = store.uses.scoring
    assert [scoring_.pairs_of(e, parse_data(e)) for e in events] == [5] * 6
    unknown = enterprise_contract(uuid.uuid4())
    assert scoring_.pairs_of(events[0], unknown) == scoring_.pairs_per_transaction
    record = ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, [])
    parsed = [_Parsed(record, e, parse_data(e)) for e in events]
    await store.consumer._partition(TopicPartition("t", 0), parsed)

    rows = await store.conn.fetch(
        "SELECT event_id, xmin::text AS tx FROM inbox WHERE event_id = ANY($1::uuid[])",
        [e.id for e in events],
    )
    position = {e.id: k for k, e in enumerate(events)}
    runs: dict[str, list[int]] = {}
    for r in rows:
        runs.setdefault(r["tx"], []).append(position[r["event_id"]])
    assert sorted(sorted(run) for run in runs.values()) == [[0, 1], [2, 3], [4, 5]]
    scored = await store.conn.fetch(
        "SELECT enterprise_id, count(*) AS n FROM matches WHERE roadshow_id = $1"
        " GROUP BY enterprise_id",
        rid,
    )
    assert {r["enterprise_id"]: r["n"] for r in scored} == {
        e.enterprise_id: 5 for e in enterprises
    }  # every enterprise scored against every fund, once
