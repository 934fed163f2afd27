"""The scheduler on random instances (hypothesis): it never breaks a rule, its
bound is an upper bound, it gets close to the exact MILP, and it only ever uses
eligible pairs."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.scheduling import problem as d
from services.matching.scheduling import solver as s
from services.matching.scheduling.solver import baselines
from shared.contracts.matching import MatchStatus

# Derandomised: the same examples every run, so a quality bound cannot flake.
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def instances(draw: st.DrawFn, max_enterprises: int = 5, max_participants: int = 8) -> s.Instance:
    m = draw(st.integers(1, max_enterprises))
    n = draw(st.integers(1, max_participants))
    k = draw(st.integers(1, 6))
    cells = draw(st.sets(st.tuples(st.integers(0, m - 1), st.integers(0, n - 1)), max_size=m * n))
    pairs = sorted(cells)
    scores = draw(
        st.lists(
            st.floats(0.4, 1.0, allow_nan=False).map(lambda x: round(x, 3)),
            min_size=len(pairs),
            max_size=len(pairs),
        )
    )

    def availability(rows: int) -> np.ndarray:
        flat = draw(st.lists(st.booleans(), min_size=rows * k, max_size=rows * k))
        # Mostly available: one in three parties draws a pattern, the rest are free.
        busy = np.array(flat, dtype=bool).reshape(rows, k)
        keep = np.array(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)))
        return np.where(keep[:, None], True, busy | np.eye(rows, k, dtype=bool))

    return s.Instance(
        n_enterprises=m,
        n_participants=n,
        n_slots=k,
        tables=draw(st.integers(1, 4)),
        pair_enterprise=np.array([p[0] for p in pairs], dtype=np.int64),
        pair_participant=np.array([p[1] for p in pairs], dtype=np.int64),
        pair_score=np.array(scores, dtype=np.float64),
        enterprise_cap=np.array(draw(st.lists(st.integers(1, k), min_size=m, max_size=m))),
        participant_cap=np.array(draw(st.lists(st.integers(1, k), min_size=n, max_size=n))),
        enterprise_available=availability(m),
        participant_available=availability(n),
        fair_minimum=draw(st.integers(0, 3)),
    )


@SETTINGS
@given(instances())
def test_no_rule_is_ever_broken(inst: s.Instance) -> None:
    for method in ("auto", "heuristic"):
        ours = s.solve(inst, method=method)
        assert s.violations(inst, ours) == []
        assert ours.bound is not None and s.objective(inst, ours) <= ours.bound + 1e-6
    assert s.violations(inst, baselines.round_robin(inst)) == []


@SETTINGS
@given(instances())
def test_column_generation_reaches_the_full_lp(inst: s.Instance) -> None:
    """Pricing adds every pair the shortlist missed: the bound is the full LP's."""
    common = inst.common_slots()
    usable = np.asarray(common.any(axis=1), dtype=bool)
    _, full = s.select_pairs(inst, usable, common, shortlist=0)
    _, priced = s.select_pairs(inst, usable, common, shortlist=1)
    assert abs(full - priced) < 1e-6


@SETTINGS
@given(instances())
def test_close_to_the_exact_optimum(inst: s.Instance) -> None:
    """The heuristic (large fairs') near the optimum; small instances solved exactly."""
    ours = s.solve(inst, method="heuristic")
    exact, bound, proven = baselines.exact_schedule(inst, time_limit=20)
    assert proven and s.violations(inst, exact) == []
    best = s.objective(inst, exact)
    assert abs(s.objective(inst, s.solve(inst)) - best) < 1e-6  # small: exact in production
    assert s.objective(inst, ours) <= best + 1e-6  # the MILP really is the optimum
    assert ours.bound is not None and bound <= ours.bound + 1e-6  # the LP bound is looser
    # Fairness first: no more enterprises short of the minimum than necessary...
    assert s.shortfall(inst, ours) <= s.shortfall(inst, exact) + 1
    # ...and on these small instances the heuristic is within 10% of the score.
    if s.shortfall(inst, ours) == s.shortfall(inst, exact):
        assert s.total_score(inst, ours) >= 0.9 * s.total_score(inst, exact) - 1e-9


def test_fair_minimum_where_possible() -> None:
    # 6 enterprises all want the same 2 star participants most, but 8 slots and
    # plenty of other partners let everyone reach 3 meetings.
    rng = np.random.default_rng(3)
    m, n, k = 6, 10, 8
    e, p = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    score = np.where(p.ravel() < 2, 1.0, rng.uniform(0.4, 0.5, m * n))
    inst = s.Instance(
        n_enterprises=m,
        n_participants=n,
        n_slots=k,
        tables=6,
        pair_enterprise=e.ravel(),
        pair_participant=p.ravel(),
        pair_score=score,
        enterprise_cap=np.full(m, k),
        participant_cap=np.array([k, k] + [1] * (n - 2)),
        enterprise_available=np.ones((m, k), dtype=bool),
        participant_available=np.ones((n, k), dtype=bool),
        fair_minimum=3,
    )
    ours = s.solve(inst)
    met = np.bincount(inst.pair_enterprise[ours.pair], minlength=m)
    assert met.min() >= 3 and s.shortfall(inst, ours) == 0
    # Without the minimum the stars' fans take everything they can.
    greedy = s.solve(replace_fair(inst, 0))
    assert np.bincount(inst.pair_enterprise[greedy.pair], minlength=m).min() < 3


def replace_fair(inst: s.Instance, fair_minimum: int) -> s.Instance:
    from dataclasses import replace

    return replace(inst, fair_minimum=fair_minimum)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1, allow_nan=False).map(lambda x: round(x, 3)),
            st.sampled_from(["proposed", "withdrawn"]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.integers(0, 15), max_size=3),
)
def test_only_eligible_pairs_meet_and_only_when_available(
    matches: list[tuple[float, MatchStatus]], busy_slots: list[int]
) -> None:
    grid = d.SlotGrid("Europe/Paris", date(2027, 6, 1), date(2027, 6, 1), time(9), time(13), 15, 4)
    slots = d.slot_times(grid)
    enterprises = [d.Party(uuid.uuid4()) for _ in range(3)]
    busy = tuple((slots[i][0], slots[i][0] + timedelta(minutes=1)) for i in busy_slots)
    participants = [d.Party(uuid.uuid4(), max_meetings=2, unavailable=busy) for _ in range(4)]
    participants.append(d.Party(uuid.uuid4()))  # never matched
    candidates = [
        d.Candidate(
            uuid.uuid4(),
            enterprises[i % 3].party_id,
            participants[i % 4].party_id,
            score,
            status,
        )
        for i, (score, status) in enumerate(matches)
        if i < 12  # one candidate per pair
    ]
    problem = d.scheduling_problem(
        grid,
        enterprises,
        participants,
        candidates,
        d.Rules(threshold=0.5, fair_minimum=1, enterprise_cap=None),
    )
    result = s.solve(problem.instance)
    assert s.violations(problem.instance, result) == []
    by_id = {c.match_id: c for c in candidates}
    for k, slot in zip(result.pair, result.slot, strict=True):
        chosen = by_id[problem.match_ids[k]]
        assert chosen.status == "proposed" and chosen.score >= 0.5
        if chosen.participant_id != participants[4].party_id:
            start, end = problem.slots[slot]
            assert not any(b_start < end and start < b_end for b_start, b_end in busy)
    assert all(isinstance(t, datetime) for t, _ in problem.slots)


def test_grids_matching_cannot_build_are_refused_by_name() -> None:
    ok = d.SlotGrid("Asia/Shanghai", date(2027, 5, 15), date(2027, 5, 16), time(9), time(17), 30, 3)
    assert len(d.slot_times(ok)) == 32
    bad: list[dict[str, Any]] = [
        {"end_date": date(9999, 12, 31)},  # overflowed the date arithmetic
        {"start_date": date(1999, 12, 31)},
        {"start_date": date(2027, 5, 17)},  # after its end
        {"end_date": date(2099, 12, 31)},  # a century of slots
        {"slot_minutes": 0},
        {"tables": 0},
        {"tables": 10**9},
    ]
    for change in bad:
        grid = dataclasses.replace(ok, **change)
        with pytest.raises(d.GridOutOfBounds):
            d.slot_times(grid)
