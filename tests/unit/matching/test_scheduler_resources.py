"""Venues with travel, interpreters and closed slots (hypothesis): the exact path
and the heuristic's resource pass never double-book an interpreter, always leave
the travel time between venues, never use a closed slot; and the exact path is
the optimum (the heuristic never beats it)."""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.scheduling import problem as sp
from services.matching.scheduling import solver as s

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def instances(draw: st.DrawFn) -> s.Instance:
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    k = draw(st.integers(2, 6))
    v = draw(st.integers(1, 3))
    cells = sorted(draw(st.sets(st.tuples(st.integers(0, m - 1), st.integers(0, n - 1)))))
    scores = [draw(st.floats(0.4, 1.0).map(lambda x: round(x, 3))) for _ in cells]
    venue_tables = np.array([draw(st.integers(1, 3)) for _ in range(v)], dtype=np.int64)
    # Slots of 30 minutes with gaps of 0-60 minutes between them (a lunch, a keynote).
    gaps = [draw(st.sampled_from([0, 0, 15, 60])) for _ in range(k)]
    start = np.cumsum([30 + g for g in gaps]).astype(np.int64) - 30
    travel = np.array(
        [
            [0 if a == b else draw(st.sampled_from([10, 30, 45, 90])) for b in range(v)]
            for a in range(v)
        ],
        dtype=np.int64,
    )
    travel = np.maximum(travel, travel.T)
    closed = np.array([draw(st.booleans()) and draw(st.booleans()) for _ in range(k)])  # agenda
    interpreters = draw(st.integers(0, 3))
    needs = np.array([draw(st.booleans()) for _ in cells], dtype=bool) & (interpreters > 0)

    def grid(rows: int, cols: int, p: float) -> np.ndarray:
        return np.array(
            [[draw(st.floats(0, 1)) < p for _ in range(cols)] for _ in range(rows)], dtype=bool
        ).reshape(rows, cols)

    return s.Instance(
        n_enterprises=m,
        n_participants=n,
        n_slots=k,
        tables=int(venue_tables.sum()),
        pair_enterprise=np.array([c[0] for c in cells], dtype=np.int64),
        pair_participant=np.array([c[1] for c in cells], dtype=np.int64),
        pair_score=np.array(scores, dtype=np.float64),
        enterprise_cap=np.full(m, k, dtype=np.int64),
        participant_cap=np.array([draw(st.integers(1, k)) for _ in range(n)], dtype=np.int64),
        enterprise_available=grid(m, k, 0.9) & ~closed,
        participant_available=grid(n, k, 0.8) & ~closed,
        fair_minimum=draw(st.integers(0, 2)),
        venue_tables=venue_tables,
        venue_open=grid(v, k, 0.8),
        slot_start=start,
        slot_end=start + 30,
        travel_minutes=travel,
        pair_needs_interpreter=needs,
        pair_interpreters=grid(len(cells), interpreters, 0.6),
        interpreter_available=grid(interpreters, k, 0.7),
    )


def check_by_hand(inst: s.Instance, schedule: s.Schedule) -> None:
    """The rules counted independently of `violations`."""
    assert inst.slot_start is not None and inst.slot_end is not None
    assert inst.travel_minutes is not None
    venue = inst.venue_of_table(schedule.table)
    days: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    booked: set[tuple[int, int]] = set()
    for j, k in enumerate(schedule.pair):
        t, v, i = int(schedule.slot[j]), int(venue[j]), int(schedule.interpreter[j])
        assert inst.enterprise_available[inst.pair_enterprise[k], t]  # closed slots stay empty
        assert inst.participant_available[inst.pair_participant[k], t]
        assert inst.open_at()[v, t]
        days["e", int(inst.pair_enterprise[k])].append((t, v))
        days["p", int(inst.pair_participant[k])].append((t, v))
        if inst.needs_interpreter()[k]:
            assert i >= 0 and (i, t) not in booked  # never in two meetings at once
            booked.add((i, t))
            days["i", i].append((t, v))
        else:
            assert i == -1
    starts, ends = inst.slot_start, inst.slot_end
    for meetings in days.values():
        meetings.sort(key=lambda m: int(starts[m[0]]))
        for (t, v), (u, w) in itertools.pairwise(meetings):
            gap = int(starts[u]) - int(ends[t])
            assert t != u and gap >= int(inst.travel_minutes[v, w])


@SETTINGS
@given(instances())
def test_exact_and_heuristic_keep_every_rule(inst: s.Instance) -> None:
    exact = s.solve(inst, method="exact")
    heuristic = s.solve(inst, method="heuristic", improve_seconds=0.5)
    for schedule in (exact, heuristic):
        assert s.violations(inst, schedule) == []
        check_by_hand(inst, schedule)
    assert exact.stats["proven"] == 1.0
    assert s.objective(inst, heuristic) <= s.objective(inst, exact) + 1e-6
    assert exact.bound is not None and s.objective(inst, exact) <= exact.bound + 1e-6


def test_travel_moves_a_visitors_second_meeting_away() -> None:
    """Two presidents at two venues (each keeps hers all day), a participant
    meeting both, slots back to back and 30 minutes between the venues: the
    second meeting is not in the slot right after the first."""
    inst = s.Instance(
        n_enterprises=2,
        n_participants=1,
        n_slots=3,
        tables=2,
        pair_enterprise=np.array([0, 1]),
        pair_participant=np.array([0, 0]),
        pair_score=np.array([0.9, 0.8]),
        enterprise_cap=np.array([3, 3]),
        participant_cap=np.array([3]),
        enterprise_available=np.array([[True, False, False], [True, True, True]]),
        participant_available=np.ones((1, 3), dtype=bool),
        venue_tables=np.array([1, 1]),
        slot_start=np.array([0, 30, 60]),
        slot_end=np.array([30, 60, 90]),
        travel_minutes=np.array([[0, 30], [30, 0]]),
        enterprise_venue=np.array([[0], [1]]),
    )
    schedule = s.solve(inst)
    assert s.violations(inst, schedule) == []
    assert sorted(schedule.slot.tolist()) == [0, 2]  # slot 1 at the other venue is too soon
    assert inst.venue_of_table(schedule.table).tolist() == [0, 1]


def test_a_meeting_without_a_capable_interpreter_is_not_scheduled() -> None:
    inst = s.Instance(
        n_enterprises=1,
        n_participants=2,
        n_slots=1,
        tables=2,
        pair_enterprise=np.array([0, 0]),
        pair_participant=np.array([0, 1]),
        pair_score=np.array([0.9, 0.8]),
        enterprise_cap=np.array([2]),
        participant_cap=np.array([1, 1]),
        enterprise_available=np.ones((1, 2), dtype=bool)[:, :1],
        participant_available=np.ones((2, 1), dtype=bool),
        pair_needs_interpreter=np.array([True, False]),
        pair_interpreters=np.array([[False], [True]]),
        interpreter_available=np.array([[True]]),
    )
    schedule = s.solve(inst)
    assert schedule.pair.tolist() == [1]


AGENDA_GRID = sp.SlotGrid(
    "Asia/Shanghai", date(2027, 5, 15), date(2027, 5, 16), time(9), time(12), 30, 3
)
ZONE = ZoneInfo("Asia/Shanghai")


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 11), st.integers(1, 4)), min_size=1, max_size=3
    ),
    st.integers(0, 3),
)
def test_nothing_in_an_agenda_block(blocks: list[tuple[int, int, int]], seed: int) -> None:
    """Blocks of any length at any quarter hour of either day: no meeting overlaps one."""
    agenda = tuple(
        sp.AgendaBlock(
            "block",
            datetime.combine(date(2027, 5, 15 + day), time(9), ZONE) + timedelta(minutes=15 * q),
            datetime.combine(date(2027, 5, 15 + day), time(9), ZONE)
            + timedelta(minutes=15 * (q + length)),
        )
        for day, q, length in blocks
    )
    rng = np.random.default_rng(seed)
    es = [sp.Party(uuid.uuid4(), languages=frozenset({"en"})) for _ in range(3)]
    ps = [sp.Party(uuid.uuid4(), languages=frozenset({"zh", "en"})) for _ in range(5)]
    candidates = [
        sp.Candidate(uuid.uuid4(), e.party_id, p.party_id, float(rng.uniform(0.5, 1)), "proposed")
        for e in es
        for p in ps
    ]
    rules = sp.Rules(threshold=0.4, fair_minimum=2, enterprise_cap=None)
    problem = sp.scheduling_problem(
        AGENDA_GRID, es, ps, candidates, rules, layout=sp.Layout(agenda=agenda)
    )
    schedule = s.solve(problem.instance)
    assert s.violations(problem.instance, schedule) == []
    assert schedule.size > 0
    for t in schedule.slot:
        start, end = problem.slots[int(t)]
        assert not any(b.starts_at < end and start < b.ends_at for b in agenda)
