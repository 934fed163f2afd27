"""Availability as partners set it (windows of local time, slot ids) in the
scheduling problem, and in every schedule the solver makes (hypothesis)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.scheduling import problem as d
from services.matching.scheduling import solver as s

# 09:00-13:00 in 30-minute slots on two days (8 a day), 3 tables; wall-clock in Shanghai.
GRID = d.SlotGrid("Asia/Shanghai", date(2027, 5, 15), date(2027, 5, 16), time(9), time(13), 30, 3)
SLOTS = d.slot_times(GRID)


def test_windows_are_local_times_and_slot_ids_index_the_slots() -> None:
    morning = (datetime(2027, 5, 16, 9), datetime(2027, 5, 16, 10, 15))
    free = d.offered_slots(SLOTS, [morning], {0})
    # Slot 0 by id; 09:00 and 09:30 of the second day lie inside the window,
    # 10:00-10:30 does not end inside it.
    assert free.nonzero()[0].tolist() == [0, 8, 9]
    # Unavailable periods (the raw column) are taken out of what is offered.
    party = d.Party(
        uuid.uuid4(),
        windows=(morning,),
        unavailable=((SLOTS[8][0], SLOTS[8][1]),),
    )
    problem = d.scheduling_problem(
        GRID, [party], [d.Party(uuid.uuid4())], [], d.Rules(0.5, 0, None)
    )
    assert problem.instance.enterprise_available[0].nonzero()[0].tolist() == [9]
    assert problem.instance.participant_available[0].all()


@st.composite
def availability(draw: st.DrawFn) -> tuple[tuple[tuple[datetime, datetime], ...], frozenset[int]]:
    windows = []
    for _ in range(draw(st.integers(0, 2))):
        day = draw(st.sampled_from([15, 16]))
        start = draw(st.integers(9 * 60, 12 * 60))
        length = draw(st.integers(15, 180))
        begin = datetime(2027, 5, day, start // 60, start % 60)
        end_minutes = min(start + length, 23 * 60)
        windows.append((begin, datetime(2027, 5, day, end_minutes // 60, end_minutes % 60)))
    slot_ids = frozenset(draw(st.sets(st.integers(0, len(SLOTS) - 1), max_size=4)))
    return tuple(windows), slot_ids


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(availability(), min_size=2, max_size=4),
    st.lists(availability(), min_size=2, max_size=5),
    st.lists(st.floats(0.5, 1, allow_nan=False), min_size=20, max_size=20),
)
def test_no_meeting_outside_either_partys_availability(
    es: list[tuple[tuple[tuple[datetime, datetime], ...], frozenset[int]]],
    ps: list[tuple[tuple[tuple[datetime, datetime], ...], frozenset[int]]],
    scores: list[float],
) -> None:
    enterprises = [d.Party(uuid.uuid4(), windows=w, slot_ids=ids) for w, ids in es]
    participants = [d.Party(uuid.uuid4(), windows=w, slot_ids=ids) for w, ids in ps]
    candidates = [
        d.Candidate(uuid.uuid4(), e.party_id, p.party_id, scores[k % len(scores)], "proposed")
        for k, (e, p) in enumerate((e, p) for e in enterprises for p in participants)
    ]
    problem = d.scheduling_problem(
        GRID, enterprises, participants, candidates, d.Rules(0.5, 1, None)
    )
    result = s.solve(problem.instance, improve_seconds=0.2)
    assert s.violations(problem.instance, result) == []
    e_of = {c.match_id: c.enterprise_id for c in candidates}
    p_of = {c.match_id: c.participant_id for c in candidates}
    parties = {party.party_id: party for party in enterprises + participants}

    def can_meet(party: d.Party, slot: int) -> bool:
        # Independently of the code under test: a listed id, or inside a window.
        if not (party.windows or party.slot_ids):
            return True
        start, end = (t.replace(tzinfo=None) for t in SLOTS[slot])
        return slot in party.slot_ids or any(a <= start and end <= b for a, b in party.windows)

    for k, slot in zip(result.pair.tolist(), result.slot.tolist(), strict=True):
        match_id = problem.match_ids[k]
        for party_id in (e_of[match_id], p_of[match_id]):
            assert can_meet(parties[party_id], slot), (party_id, slot)
