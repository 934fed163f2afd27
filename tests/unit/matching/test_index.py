"""The in-memory feature tables as pure data structures: after any puts and
removals they hold what a fresh build from the same parties holds, and the
index's sync decision never trusts a copy the database may not agree with."""

from __future__ import annotations

import dataclasses
import random
import uuid
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.scoring import model as d
from services.matching.scoring import plan
from services.matching.scoring.index import FeatureTable, RoadshowIndex
from shared.taxonomy import ParticipantKind

_IDS = [uuid.UUID(int=k + 1) for k in range(12)]
_SECTORS = [("robotics",), ("fintech",), ("robotics", "logistics"), ("biotech",)]


def _participant(party_id: uuid.UUID, variant: int) -> d.ParticipantProfile:
    return d.ParticipantProfile(
        participant_id=party_id,
        kind=[ParticipantKind.FUND, ParticipantKind.BANK][variant % 2],
        sectors=_SECTORS[variant % len(_SECTORS)],
        stages=("seed", "series-a") if variant % 2 == 0 else (),
        ticket_min=Decimal(1_000_000) if variant % 2 == 0 else None,
        ticket_max=Decimal(10_000_000) if variant % 2 == 0 else None,
        currency="USD" if variant % 2 == 0 else None,
        offers=("equity-investment",) if variant % 2 == 0 else ("debt-financing",),
        focus=["robotics and logistics", "payments and lending", "warehouse robots"][variant % 3],
    )


def assert_same_features(a: object, b: object) -> None:
    """Two features dataclasses hold the same rows (ids, arrays, text)."""
    assert type(a) is type(b)
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, list):
            assert x == y, f.name
        elif isinstance(x, np.ndarray):
            assert x.shape == y.shape and np.array_equal(x, y), f.name
        else:
            assert x.shape == y.shape and (x != y).nnz == 0, f.name


_OPS = st.lists(
    st.tuples(st.sampled_from(["put", "remove"]), st.sampled_from(_IDS), st.integers(0, 5)),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ops=_OPS, batch=st.integers(1, 4))
def test_a_table_after_any_puts_and_removals_equals_a_fresh_build(
    ops: list[tuple[str, uuid.UUID, int]], batch: int
) -> None:
    table = FeatureTable(d.participant_features([]))
    held: dict[uuid.UUID, d.ParticipantProfile] = {}
    for start in range(0, len(ops), batch):
        puts: dict[uuid.UUID, d.ParticipantProfile] = {}
        for op, party_id, variant in ops[start : start + batch]:
            if op == "put":
                puts[party_id] = held[party_id] = _participant(party_id, variant)
            else:
                puts.pop(party_id, None)
                held.pop(party_id, None)
                table.remove([party_id])
        table.put(d.participant_features(list(puts.values())))
    fresh = d.participant_features([held[i] for i in sorted(held)])
    assert_same_features(table.live(), fresh)
    assert len(table) == len(held)
    assert table.current().sum() == len(held)


def test_compaction_keeps_memory_within_twice_the_live_rows() -> None:
    table = FeatureTable(d.participant_features([]))
    rng = random.Random(3)
    ids = [uuid.uuid4() for _ in range(300)]
    for _ in range(10):
        table.put(d.participant_features([_participant(i, rng.randrange(6)) for i in ids]))
    assert len(table) == 300
    assert table.storage_rows <= 2 * 300 + 300
    fresh = d.participant_features([_participant(i, 0) for i in sorted(ids)])
    table.put(fresh)
    assert_same_features(table.live(), fresh)


def test_scoring_over_the_storage_rows_equals_scoring_the_live_ones() -> None:
    table = FeatureTable(d.participant_features([]))
    ps = [_participant(i, k) for k, i in enumerate(_IDS)]
    table.put(d.participant_features(ps))
    table.put(d.participant_features([_participant(_IDS[0], 1)]))  # a replaced row
    table.remove([_IDS[1]])
    e = d.EnterpriseProfile(
        enterprise_id=uuid.uuid4(),
        sectors=("robotics",),
        stage="series-a",
        funding_amount=Decimal(5_000_000),
        funding_currency="USD",
        partnership_types=("equity-investment", "debt-financing"),
        summary="Warehouse robots for logistics",
    )
    ef = d.enterprise_features([e])
    block = plan.Block(ef, table.storage(), np.ones(1, bool), table.current(), [])
    planned = plan.plan_block(block, d.Weights(), 0.3, 0.05)
    live = table.live()
    fresh = d.score(ef, live, d.Weights()).total[0]
    expected = {pid: float(fresh[j]) for j, pid in enumerate(live.ids) if fresh[j] >= 0.3}
    assert dict(zip(planned.participant_ids, planned.scores.tolist(), strict=True)) == expected
    assert _IDS[1] not in planned.participant_ids


def test_the_sync_decision() -> None:
    index = RoadshowIndex.empty(seq=5)
    assert index.sync_action(5, "x1") == "current"
    assert index.sync_action(9, "x1") == "catch_up"  # another process changed it
    index.stamp(7, "x1", {"enterprise": {_IDS[0]}, "participant": set()})
    # Its own transaction sees its own changes.
    assert index.sync_action(7, "x1") == "current"
    # Later: the token is its change only if that transaction committed.
    assert index.sync_action(7, "x2") == "committed"
    # Rolled back (token still 5), or changed since by someone else (9): read again.
    assert index.sync_action(5, "x2") == "catch_up"
    assert index.sync_action(9, "x2") == "catch_up"
    index.stamp(8, "x1", {"enterprise": set(), "participant": {_IDS[1]}})
    assert index.pending is not None and index.pending.seq == 8
    assert index.pending.touched == {"enterprise": {_IDS[0]}, "participant": {_IDS[1]}}
