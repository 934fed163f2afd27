"""Interest rules and the scheduler's must-meet and keep-in-place behaviour, as
pure functions (no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from services.matching.interest import model as mi
from services.matching.scheduling import problem as domain
from services.matching.scheduling import solver as s
from shared.contracts.matching import InterestState

T0 = datetime(2027, 5, 1, 9, tzinfo=UTC)
TTL = timedelta(hours=24)


def pair(
    e: InterestState | None = None, p: InterestState | None = None, at: datetime = T0
) -> mi.PairInterest:
    return mi.PairInterest(e, p, at if e else None, at if p else None)


@pytest.mark.parametrize(
    ("e", "p", "opt_in", "opt_out", "must"),
    [
        (None, None, False, True, False),
        ("accept", None, False, True, False),
        ("accept", "accept", True, True, False),
        ("must-meet", "accept", True, True, True),
        ("must-meet", None, False, True, True),
        ("must-meet", "decline", False, False, False),  # a decline is never overridden
        ("decline", "must-meet", False, False, False),
        ("accept", "expired", False, True, False),
        ("decline", None, False, False, False),
    ],
)
def test_eligibility_by_mode(
    e: InterestState | None, p: InterestState | None, opt_in: bool, opt_out: bool, must: bool
) -> None:
    answers = pair(e, p)
    assert mi.eligible(mi.OPT_IN, answers) is opt_in
    assert mi.eligible(mi.OPT_OUT, answers) is opt_out
    assert mi.must_meet(answers) is must


def test_a_request_expires_after_the_ttl_for_the_silent_side_only() -> None:
    asked = pair("accept", None)
    assert mi.expires_at(asked, TTL) == T0 + TTL
    assert mi.expiring_side(asked, T0 + TTL - timedelta(seconds=1), TTL) is None
    assert mi.expiring_side(asked, T0 + TTL, TTL) == "participant"
    assert mi.with_expiry(asked, T0 + TTL, TTL).participant == mi.EXPIRED
    assert mi.expiring_side(pair(None, "must-meet"), T0 + TTL, TTL) == "enterprise"
    # Nobody asked, or both answered: nothing to expire.
    assert mi.expiring_side(pair(), T0 + 10 * TTL, TTL) is None
    assert mi.expiring_side(pair("accept", "accept"), T0 + 10 * TTL, TTL) is None
    assert mi.expires_at(pair("accept", "decline"), TTL) is None


def test_figures() -> None:
    # How many matches have each combination of answers.
    answers = [
        (pair("accept", "accept"), 4),
        (pair("must-meet", None), 1),
        (pair("decline", "accept"), 2),
        (pair(), 7),
        (pair("accept", "expired"), 1),
        (pair("must-meet", "decline"), 3),
    ]
    f = mi.figures(answers, scheduled=3)
    assert (f.matches, f.accepted, f.declined, f.scheduled) == (18, 5, 5, 3)


GRID = domain.SlotGrid(
    "Asia/Shanghai", date(2027, 5, 15), date(2027, 5, 15), time(9), time(11), 30, 2
)


def _problem(
    answers: dict[tuple[int, int], mi.PairInterest], mode: mi.MatchingMode
) -> domain.SchedulingProblem:
    es = [domain.Party(uuid.uuid4()) for _ in range(2)]
    ps = [domain.Party(uuid.uuid4()) for _ in range(3)]
    candidates = [
        domain.Candidate(
            uuid.uuid4(),
            es[i].party_id,
            ps[j].party_id,
            0.5 + 0.1 * j,
            "proposed",
            answers.get((i, j), mi.PairInterest()),
        )
        for i in range(2)
        for j in range(3)
    ]
    return domain.scheduling_problem(
        GRID,
        es,
        ps,
        candidates,
        domain.Rules(
            threshold=0.45,
            fair_minimum=0,
            enterprise_cap=None,
            mode=mode,
            now=T0 + 2 * TTL,
            interest_ttl=TTL,
        ),
    )


def test_the_problem_keeps_only_eligible_pairs_and_marks_must_meets() -> None:
    answers = {
        (0, 0): pair("accept", "accept"),
        (0, 1): pair("accept", None),  # expires by `now`
        (1, 2): pair("must-meet", "accept"),
        (1, 0): pair("must-meet", "decline"),
    }
    opt_in = _problem(answers, mi.OPT_IN)
    assert opt_in.instance.n_pairs == 2
    assert opt_in.must is not None and opt_in.must.tolist() == [False, True]
    opt_out = _problem(answers, mi.OPT_OUT)
    assert opt_out.instance.n_pairs == 5  # all but the declined pair


def _random_instance(seed: int, tables: int = 4) -> s.Instance:
    rng = np.random.default_rng(seed)
    ne, npp, slots = 8, 16, 6
    pe, pp = np.nonzero(rng.random((ne, npp)) < 0.6)
    return s.Instance(
        n_enterprises=ne,
        n_participants=npp,
        n_slots=slots,
        tables=tables,
        pair_enterprise=pe.astype(np.int64),
        pair_participant=pp.astype(np.int64),
        pair_score=rng.uniform(0.45, 1.0, pe.size),
        enterprise_cap=np.full(ne, slots, dtype=np.int64),
        participant_cap=rng.choice([1, 2, 3], npp).astype(np.int64),
        enterprise_available=rng.random((ne, slots)) < 0.8,
        participant_available=rng.random((npp, slots)) < 0.8,
        fair_minimum=2,
    )


@pytest.mark.parametrize("seed", range(5))
def test_must_meet_pairs_are_all_scheduled_when_feasible(seed: int) -> None:
    inst = _random_instance(seed)
    common = inst.common_slots()
    # The cheapest pairs as must-meets, at most one per party: such a set fits.
    must = np.zeros(inst.n_pairs, dtype=bool)
    used_e: set[int] = set()
    used_p: set[int] = set()
    for k in np.argsort(inst.pair_score):
        e, p = int(inst.pair_enterprise[k]), int(inst.pair_participant[k])
        if e not in used_e and p not in used_p and common[k].any() and len(used_e) < inst.tables:
            must[k] = True
            used_e.add(e)
            used_p.add(p)
    plain = s.solve(inst, improve_seconds=1.0)
    assert not must[plain.pair].all()  # without the flag the solver prefers others
    out = s.solve(inst, must=must, improve_seconds=1.0)
    assert s.violations(inst, out) == []
    assert set(np.flatnonzero(must)) <= set(out.pair.tolist())
    assert out.bound is not None and s.objective(inst, out) <= out.bound + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_rescheduling_keeps_the_previous_meetings_in_place(seed: int) -> None:
    inst = _random_instance(seed)
    first = s.solve(inst, improve_seconds=1.0)
    # One pair drops out (a decline): the others' places are kept.
    gone = int(first.pair[0])
    rest = first.pair != gone
    smaller = s.Instance(
        **{
            **{f: getattr(inst, f) for f in inst.__dataclass_fields__},
            "pair_score": np.where(np.arange(inst.n_pairs) == gone, 0.0, inst.pair_score),
        }
    )
    fixed = (first.pair[rest], first.slot[rest], first.table[rest])
    again = s.solve(smaller, fixed=fixed, improve_seconds=1.0)
    assert s.violations(smaller, again) == []
    assert gone not in again.pair.tolist()
    before = {int(k): (int(t), int(b)) for k, t, b in zip(*fixed, strict=True)}
    after = {
        int(k): (int(t), int(b))
        for k, t, b in zip(again.pair, again.slot, again.table, strict=True)
    }
    assert all(after.get(k) == place for k, place in before.items())
