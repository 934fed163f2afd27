"""The exact path (`solver/exact.py` in stages, and `solve` where it is cheap)
against the whole MILP handed to HiGHS in one piece: the same optimum, every
schedule keeping every rule (checked by `violations` and by hand), and
"proven" only ever said of an optimum."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.matching.scheduling import solver as s
from services.matching.scheduling.solver import baselines, exact
from tests.unit.matching.test_scheduler_resources import SETTINGS, check_by_hand, instances


def event(seed: int, *, venues: bool, interpreters: int, scattered: bool) -> s.Instance:
    """A road show of 8 presidents and 24 visitors over 8 half-hour slots, large
    enough that the LP relaxation is rarely integral (so the dives and the
    whole MILP run), small enough for the whole MILP in a fraction of a second."""
    rng = np.random.default_rng(seed)
    m, n, k = 8, 24, 8
    e, p = np.nonzero(rng.random((m, n)) < 0.45)
    free_e = np.ones((m, k), dtype=bool)
    free_p = np.where(
        rng.random((n, 1)) < (0.6 if scattered else 0.2), rng.random((n, k)) < 0.5, True
    )
    free_e[:, 3] = False  # a keynote
    free_p[:, 3] = False
    extra: dict[str, object] = {}
    tables = 5
    if venues:
        start = np.arange(k, dtype=np.int64) * 30
        extra |= {
            "venue_tables": np.array([3, 2]),
            "venue_open": np.ones((2, k), dtype=bool),
            "slot_start": start,
            "slot_end": start + 30,
            "travel_minutes": np.array([[0, 45], [45, 0]]),
        }
    if interpreters:
        extra |= {
            "pair_needs_interpreter": rng.random(e.size) < 0.35,
            "pair_interpreters": rng.random((e.size, interpreters)) < 0.8,
            "interpreter_available": rng.random((interpreters, k)) < 0.75,
        }
    return s.Instance(
        n_enterprises=m,
        n_participants=n,
        n_slots=k,
        tables=tables,
        pair_enterprise=e.astype(np.int64),
        pair_participant=p.astype(np.int64),
        pair_score=np.round(rng.uniform(0.4, 1.0, e.size), 4),
        enterprise_cap=np.full(m, k, dtype=np.int64),
        participant_cap=rng.choice([1, 2, 2, 3], n).astype(np.int64),
        enterprise_available=free_e,
        participant_available=free_p,
        fair_minimum=4,
        **extra,  # type: ignore[arg-type]
    )


EVENTS = [
    (seed, venues, interpreters, scattered)
    for seed in range(4)
    for venues, interpreters, scattered in ((True, 0, False), (False, 2, False), (True, 2, True))
]


@pytest.fixture
def time_to_prove(monkeypatch: pytest.MonkeyPatch) -> None:
    """The product path's budget raised from 1.6 s, so that what it proves does
    not depend on how loaded the machine is (the bench measures the time)."""
    # The module, not the function the package exports under the same name.
    module = importlib.import_module("services.matching.scheduling.solver.solving")
    monkeypatch.setattr(module, "EXACT_SECONDS", 60.0)


@pytest.mark.parametrize(("seed", "venues", "interpreters", "scattered"), EVENTS)
@pytest.mark.usefixtures("time_to_prove")
def test_the_stages_reach_the_whole_milps_optimum(
    seed: int, venues: bool, interpreters: int, scattered: bool
) -> None:
    inst = event(seed, venues=venues, interpreters=interpreters, scattered=scattered)
    whole, _, whole_proven = baselines.exact_schedule(inst, time_limit=60)
    staged, bound, proven = exact.solve_exact(inst, time_limit=60)
    assert whole_proven and proven
    for schedule in (whole, staged):
        assert s.violations(inst, schedule) == []
        if venues:
            check_by_hand(inst, schedule)
    assert s.objective(inst, staged) == pytest.approx(s.objective(inst, whole), abs=1e-6)
    assert bound == pytest.approx(s.objective(inst, staged), abs=1e-6)
    # And the product path says so.
    ours = s.solve(inst)
    assert ours.stats["proven"] == 1.0 and ours.stats["gap"] <= 1e-6
    assert s.objective(inst, ours) == pytest.approx(s.objective(inst, whole), abs=1e-6)
    assert s.violations(inst, ours) == []


def test_the_stages_run_where_the_lp_is_fractional() -> None:
    """The events above exercise the dives and the whole MILP, not only the LP."""
    stages = {
        exact.solve_exact(
            event(*args[:1], venues=args[1], interpreters=args[2], scattered=args[3])
        )[0].stats["exact_stage"]
        for args in EVENTS
    }
    assert stages & {1.0, 2.0, 3.0}


@SETTINGS
@given(instances())
def test_solve_is_the_optimum_when_it_says_so(inst: s.Instance) -> None:
    ours = s.solve(inst)
    whole, _, proven = baselines.exact_schedule(inst, time_limit=20)
    assert proven and s.violations(inst, ours) == []
    check_by_hand(inst, ours)
    optimum = s.objective(inst, whole)
    assert s.objective(inst, ours) <= optimum + 1e-6
    if ours.stats["proven"]:
        assert s.objective(inst, ours) == pytest.approx(optimum, abs=1e-6)
    assert ours.bound is not None and optimum <= ours.bound + 1e-6


@SETTINGS
@given(instances(), st.data())
def test_must_meets_in_the_exact_path(inst: s.Instance, data: st.DataObject) -> None:
    """Must-meets carry the same bonus in the stages as in the whole MILP: the
    same boosted optimum, so every must-meet that can be scheduled is."""
    must = np.array(
        data.draw(st.lists(st.booleans(), min_size=inst.n_pairs, max_size=inst.n_pairs)),
        dtype=bool,
    ).reshape(inst.n_pairs)
    ours = s.solve(inst, must=must, method="exact")
    boosted = dataclasses.replace(inst, pair_score=inst.pair_score + s.MUST_MEET_BONUS * must)
    whole, _, proven = baselines.exact_schedule(boosted, time_limit=20)
    assert proven and s.violations(inst, ours) == []
    assert s.objective(boosted, ours) <= s.objective(boosted, whole) + 1e-6
    if ours.stats["proven"]:
        assert s.objective(boosted, ours) == pytest.approx(s.objective(boosted, whole), abs=1e-6)
    # The reported bound is on the real objective (no bonus).
    assert ours.bound is not None and s.objective(inst, ours) <= ours.bound + 1e-6


@SETTINGS
@given(instances())
def test_an_optimal_previous_schedule_stays_where_it_is(inst: s.Instance) -> None:
    """Rescheduling an unchanged road show keeps every meeting in place."""
    first = s.solve(inst)
    again = s.solve(inst, fixed=(first.pair, first.slot, first.table))
    assert s.violations(inst, again) == []
    before = set(zip(first.pair.tolist(), first.slot.tolist(), strict=True))
    assert before <= set(zip(again.pair.tolist(), again.slot.tolist(), strict=True))
    assert s.objective(inst, again) == pytest.approx(s.objective(inst, first), abs=1e-6)


@pytest.mark.parametrize("seconds", [0.0, 0.05, 0.3])
def test_out_of_time_it_says_how_far_it_may_be(
    seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With little or no time for the MILP a schedule still comes back (the
    heuristic's when the MILP has none), valid, and honest: "proven" only at the
    optimum, and its value plus its gap never below the optimum."""
    module = importlib.import_module("services.matching.scheduling.solver.solving")
    monkeypatch.setattr(module, "EXACT_SECONDS", seconds)
    for seed in range(2):
        inst = event(seed, venues=True, interpreters=2, scattered=True)
        ours = s.solve(inst)
        whole, _, _ = baselines.exact_schedule(inst, time_limit=60)
        optimum = s.objective(inst, whole)
        assert s.violations(inst, ours) == []
        check_by_hand(inst, ours)
        value = s.objective(inst, ours)
        assert value <= optimum + 1e-6
        assert value + ours.stats["gap"] >= optimum - 1e-6
        assert ours.bound is not None and ours.bound >= optimum - 1e-6
        if ours.stats["proven"]:
            assert value == pytest.approx(optimum, abs=1e-6)


@pytest.mark.parametrize("method", ["auto", "exact", "heuristic"])
def test_a_locked_meeting_stays_even_for_a_must_meet(method: str) -> None:
    """One president, one slot: the previous meeting gives way to a must-meet,
    unless the organiser locked it (in the MILP and in the heuristic alike)."""
    inst = s.Instance(
        n_enterprises=1,
        n_participants=2,
        n_slots=1,
        tables=1,
        pair_enterprise=np.array([0, 0]),
        pair_participant=np.array([0, 1]),
        pair_score=np.array([0.6, 0.9]),
        enterprise_cap=np.array([1]),
        participant_cap=np.array([1, 1]),
        enterprise_available=np.ones((1, 1), dtype=bool),
        participant_available=np.ones((2, 1), dtype=bool),
    )
    must = np.array([False, True])
    fixed = (np.array([0]), np.array([0]), np.array([0]))
    unlocked = s.solve(inst, must=must, fixed=fixed, method=method, improve_seconds=0.2)  # type: ignore[arg-type]
    assert unlocked.pair.tolist() == [1]
    locked = s.solve(
        inst,
        must=must,
        fixed=fixed,
        locked=np.array([True]),
        method=method,  # type: ignore[arg-type]
        improve_seconds=0.2,
    )
    assert locked.pair.tolist() == [0] and locked.slot.tolist() == [0]
    assert locked.table.tolist() == [0] and s.violations(inst, locked) == []


@SETTINGS
@given(instances(), st.data())
def test_locked_meetings_keep_their_place(inst: s.Instance, data: st.DataObject) -> None:
    """Rescheduling with some of the previous meetings locked and must-meets
    drawn at random: every locked meeting is where it was, all rules kept."""
    first = s.solve(inst)
    n = first.size
    locked = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    must = np.array(
        data.draw(st.lists(st.booleans(), min_size=inst.n_pairs, max_size=inst.n_pairs)),
        dtype=bool,
    ).reshape(inst.n_pairs)
    for method in ("auto", "heuristic"):
        again = s.solve(
            inst,
            must=must,
            fixed=(first.pair, first.slot, first.table),
            locked=locked.reshape(n),
            method=method,
            improve_seconds=0.2,
        )
        assert s.violations(inst, again) == []
        now = set(zip(again.pair.tolist(), again.slot.tolist(), again.table.tolist(), strict=True))
        for j in np.flatnonzero(locked):
            assert (int(first.pair[j]), int(first.slot[j]), int(first.table[j])) in now
