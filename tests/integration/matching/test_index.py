"""The in-memory index on a real database: after any sequence of registrations,
updates and withdrawals (in batches, some rolled back) it equals a fresh build
from the read model, and the published matches are what scoring from scratch
gives; two processes sharing the database never score from a stale copy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.bootstrap import create_consumer
from services.matching.events.handlers import party_event
from services.matching.readmodel import repository as readmodel
from services.matching.scoring import model as d
from services.matching.use_cases import UseCases
from shared.consumer import IdempotentConsumer, _Parsed
from shared.contracts import EventType, parse_data
from shared.db import create_pool
from shared.envelope import Context, Envelope, new_event
from shared.unit_of_work import UnitOfWork
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    withdrawn,
)
from tests.unit.matching.test_index import assert_same_features

_ENTERPRISES: list[dict[str, Any]] = [
    {"sectors": ["robotics"], "project": {"summary": "Warehouse robots for logistics."}},
    {"sectors": ["fintech"], "project": {"summary": "Payments and lending for exporters."}},
    {
        "sectors": ["biotech"],
        "project": {"partnership_types": ["distribution"], "summary": "Enzymes."},
    },
]
_PARTICIPANTS = [
    ("fund", {"sectors": ["robotics"], "focus": "Robotics and logistics start-ups."}),
    ("bank", {"sectors": ["fintech"], "focus": "Payments, lending and trade finance."}),
    ("company", {"sectors": ["biotech"], "focus": "Enzymes and diagnostics."}),
]


@dataclass
class _World:
    """What the test has told matching so far: each party's last version."""

    roadshows: list[uuid.UUID]
    versions: dict[uuid.UUID, int] = field(default_factory=dict)
    ids: dict[tuple[str, int, int], uuid.UUID] = field(default_factory=dict)

    def event(self, op: tuple[str, int, int, int]) -> tuple[EventType, Any]:
        kind, show, slot, variant = op
        side = "enterprise" if kind.startswith("e") else "participant"
        rid = self.roadshows[show]
        party_id = self.ids.setdefault((side, show, slot), uuid.uuid4())
        version = self.versions.get(party_id, 0) + 1
        self.versions[party_id] = version
        if kind.endswith("withdraw"):
            return f"{side}.withdrawn", withdrawn(party_id, rid, version)  # type: ignore[return-value]
        first = version == 1
        if side == "enterprise":
            data: Any = enterprise_contract(rid, party_id, version, **dict(_ENTERPRISES[variant]))
            return ("enterprise.registered" if first else "enterprise.updated"), data
        p_kind, overrides = _PARTICIPANTS[variant]
        data = participant_contract(rid, p_kind, party_id, version, **overrides)
        return ("participant.registered" if first else "participant.updated"), data


def _envelope(event_type: EventType, data: Any, partner: uuid.UUID) -> Envelope:
    return new_event(
        "registration", Context("t", partner_id=partner), event_type, uuid.uuid4(), data
    )


async def _handle(consumer: IdempotentConsumer, envelopes: list[Envelope]) -> None:
    """One poll batch through the consumer's own transaction."""
    record = ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, [])
    await consumer._handle([_Parsed(record, e, parse_data(e)) for e in envelopes])


async def _rolled_back(store: Store, uses: UseCases, envelopes: list[Envelope]) -> None:
    """The batch's handlers run, then its transaction rolls back (as when a
    later statement of the batch fails): the index saw changes that never were."""

    class Rollback(Exception):
        pass

    try:
        async with store.conn.transaction():
            uow = UnitOfWork(store.conn, Context("t"), "matching", "m")
            await uses.readmodel.parties_changed(
                [party_event(uow, e, parse_data(e)) for e in envelopes]
            )
            raise Rollback
    except Rollback:
        pass


async def assert_index_fresh(store: Store, uses: UseCases, rid: uuid.UUID) -> None:
    """The index this process holds for the road show (as it stands, not synced)
    equals features built afresh from the read model."""
    index = uses.scoring.indexes.cached(rid)
    assert index is not None
    es = await readmodel.active_enterprises(store.conn, rid)
    ps = await readmodel.active_participants(store.conn, rid)
    assert_same_features(index.enterprises.live(), d.enterprise_features(es))
    assert_same_features(index.participants.live(), d.participant_features(ps))


async def assert_matches_fresh(store: Store, rid: uuid.UUID) -> None:
    """Proposed matches are exactly the pairs scoring from scratch puts at or
    above the threshold, each within the republishing delta of its fresh score."""
    s = store.settings
    es = await readmodel.active_enterprises(store.conn, rid)
    ps = await readmodel.active_participants(store.conn, rid)
    expected: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    if es and ps:
        total = d.score(d.enterprise_features(es), d.participant_features(ps), s.weights()).total
        for i, j in zip(*np.nonzero(total >= s.match_threshold), strict=True):
            expected[(es[i].enterprise_id, ps[j].participant_id)] = float(total[i, j])
    rows = await store.conn.fetch(
        "SELECT enterprise_id, participant_id, score FROM matches"
        " WHERE roadshow_id = $1 AND status = 'proposed'",
        rid,
    )
    stored = {(r["enterprise_id"], r["participant_id"]): r["score"] for r in rows}
    assert stored.keys() == expected.keys()
    for pair, fresh in expected.items():
        assert abs(stored[pair] - fresh) < s.match_update_delta + 1e-9


_OP = st.tuples(
    st.sampled_from(["e", "p", "e-withdraw", "p-withdraw"]),
    st.integers(0, 2),  # road show
    st.integers(0, 2),  # party slot
    st.integers(0, 2),  # profile variant
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(st.tuples(st.lists(_OP, min_size=1, max_size=5), st.booleans()), max_size=8)
)
async def test_the_index_equals_a_fresh_build_after_any_sequence(
    store: Store, batches: list[tuple[list[tuple[str, int, int, int]], bool]]
) -> None:
    world = _World([uuid.uuid4() for _ in range(3)])
    partner = uuid.uuid4()
    builds = store.uses.scoring.indexes.builds
    for ops, roll_back in batches:
        before = dict(world.versions)
        envelopes = [_envelope(*world.event(op), partner) for op in ops]
        if roll_back:
            await _rolled_back(store, store.uses, envelopes)
            world.versions = before
        else:
            await _handle(store.consumer, envelopes)
    for rid in world.roadshows:
        async with store.conn.transaction():
            if store.uses.scoring.indexes.cached(rid) is not None:
                await readmodel.lock_roadshow(store.conn, rid)
                async with store.uses.scoring.indexes.using(store.conn, rid):
                    pass  # brought up to date after any rolled-back batch
        await assert_matches_fresh(store, rid)
        if store.uses.scoring.indexes.cached(rid) is not None:
            await assert_index_fresh(store, store.uses, rid)
    # Built once per road show used, never again: every change was applied in place.
    assert store.uses.scoring.indexes.builds - builds <= len(world.roadshows)


async def test_a_road_show_is_built_once_then_changed_in_place(store: Store) -> None:
    world = _World([uuid.uuid4()])
    partner = uuid.uuid4()
    for op in [("p", 0, 0, 0), ("p", 0, 1, 1), ("e", 0, 0, 0), ("e", 0, 1, 1), ("p", 0, 0, 2)]:
        await _handle(store.consumer, [_envelope(*world.event(op), partner)])
        await assert_index_fresh(store, store.uses, world.roadshows[0])
    assert store.uses.scoring.indexes.builds == 1
    assert store.uses.scoring.indexes.catch_ups == 0
    await assert_matches_fresh(store, world.roadshows[0])


async def test_two_processes_never_score_from_a_stale_index(store: Store) -> None:
    """Two matching processes on one database (as two members of the consumer
    group, each getting some of a road show's parties): each scores every
    newcomer against what the other stored too."""
    other_uses = UseCases.from_settings(store.settings)
    other = create_consumer(store.settings, other_uses)
    other._pool = await create_pool(store.dsn, 2)
    try:
        world = _World([uuid.uuid4()])
        rid, partner = world.roadshows[0], uuid.uuid4()
        members = [store.consumer, other]
        ops = [
            ("p", 0, 0, 0),  # A builds its index
            ("p", 0, 1, 0),  # B builds its own, with A's participant
            ("e", 0, 0, 0),  # A must see B's participant: matched with both
            ("p", 0, 2, 0),  # B must see A's enterprise
            ("p-withdraw", 0, 0, 0),  # A withdraws one; B must not match it again
            ("e", 0, 1, 0),  # B
            ("p", 0, 1, 1),  # A updates B's participant (now a bank)
            ("e", 0, 0, 1),  # B updates A's enterprise
        ]
        for k, op in enumerate(ops):
            await _handle(members[k % 2], [_envelope(*world.event(op), partner)])
            await assert_matches_fresh(store, rid)
        assert store.uses.scoring.indexes.catch_ups > 0 and other_uses.scoring.indexes.catch_ups > 0
        assert store.uses.scoring.indexes.builds == 1 and other_uses.scoring.indexes.builds == 1
    finally:
        await other._pool.close()


async def test_a_rolled_back_change_is_read_again(store: Store) -> None:
    world = _World([uuid.uuid4()])
    rid, partner = world.roadshows[0], uuid.uuid4()
    await _handle(store.consumer, [_envelope(*world.event(("p", 0, 0, 0)), partner)])
    before = dict(world.versions)
    # A new enterprise and the participant's withdrawal, applied in memory, rolled back.
    doomed = [("e", 0, 0, 0), ("p-withdraw", 0, 0, 0)]
    await _rolled_back(store, store.uses, [_envelope(*world.event(op), partner) for op in doomed])
    world.versions = before
    index = store.uses.scoring.indexes.cached(rid)
    assert index is not None and len(index.participants) == 0  # the memory ran ahead
    await _handle(store.consumer, [_envelope(*world.event(("e", 0, 1, 0)), partner)])
    await assert_index_fresh(store, store.uses, rid)
    await assert_matches_fresh(store, rid)
    assert await store.conn.fetchval("SELECT count(*) FROM matches WHERE status = 'proposed'") == 1
