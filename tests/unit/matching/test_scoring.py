"""Scores, reasons and incremental decisions: pure functions, no database."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydantic import ValidationError

from services.matching.scheduling import problem as sp
from services.matching.scoring import model as d
from services.matching.scoring import plan
from services.matching.settings import MatchingSettings
from shared.contracts.matching import MatchComponent
from shared.taxonomy import SECTORS, STAGE_ORDER, ParticipantKind, PartnershipType

SUMMARY = "Camera-only perception and planning for delivery vehicles in dense cities."
FOCUS = "Early-stage AI and robotics companies entering the Chinese market."


def enterprise(**changes: object) -> d.EnterpriseProfile:
    base = d.EnterpriseProfile(
        enterprise_id=uuid.uuid4(),
        sectors=("autonomous-driving", "computer-vision"),
        stage="series-a",
        funding_amount=Decimal("5000000"),
        funding_currency="USD",
        partnership_types=("equity-investment", "pilot-customer", "bank-account-services"),
        summary=SUMMARY,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def fund(**changes: object) -> d.ParticipantProfile:
    base = d.ParticipantProfile(
        participant_id=uuid.uuid4(),
        kind=ParticipantKind.FUND,
        sectors=("artificial-intelligence", "robotics"),
        stages=("seed", "series-a"),
        ticket_min=Decimal("1000000"),
        ticket_max=Decimal("10000000"),
        currency="USD",
        offers=("equity-investment",),
        focus=FOCUS,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def bank(**changes: object) -> d.ParticipantProfile:
    return fund(
        kind=ParticipantKind.BANK,
        stages=(),
        ticket_min=None,
        ticket_max=None,
        currency=None,
        offers=("debt-financing", "bank-account-services"),
        **changes,
    )


def components(
    e: d.EnterpriseProfile, p: d.ParticipantProfile, weights: d.Weights | None = None
) -> tuple[float, dict[str, MatchComponent]]:
    w = weights or d.Weights()
    s = d.score(d.enterprise_features([e]), d.participant_features([p]), w)
    scores, applicable = s.pair(0, 0)
    return float(s.total[0, 0]), {c.name: c for c in d.explain(e, p, scores, applicable, w)}


def test_sector_fit_counts_related_sectors_not_only_equal_ones() -> None:
    cases = [
        (("computer-vision",), 1.0, "same sector: computer-vision"),
        (("machine-learning",), 0.7, "related sectors in the ai group"),
        (("autonomous-driving",), 0.4, "linked sector groups ai and mobility"),
        (("semiconductors",), 0.0, "no related sectors"),
    ]
    for sectors, expected, reason in cases:
        _, c = components(enterprise(sectors=("computer-vision",)), fund(sectors=sectors))
        assert c["sector_fit"].score == expected, sectors
        assert c["sector_fit"].reason.startswith(reason), c["sector_fit"].reason
    # The strongest relation of any two sectors counts.
    _, c = components(enterprise(), fund(sectors=("semiconductors", "autonomous-driving")))
    assert c["sector_fit"].score == 1.0


def test_stage_fit_for_funds_and_neutral_for_others() -> None:
    _, c = components(enterprise(), fund(stages=("series-a",)))
    assert c["stage_fit"].score == 1.0
    _, c = components(enterprise(), fund(stages=("series-b", "growth")))
    assert c["stage_fit"].score == 0.5 and "next to the project's series-a" in c["stage_fit"].reason
    _, c = components(enterprise(), fund(stages=("pre-ipo",)))
    assert c["stage_fit"].score == 0.0
    total, c = components(enterprise(), bank())
    assert c["stage_fit"].weight == 0 and c["stage_fit"].reason.startswith("not applicable")
    # Neutral means left out of the mean: the effective weights still sum to 1.
    assert abs(sum(x.weight for x in c.values()) - 1) < 1e-3
    assert abs(total - sum(x.weight * x.score for x in c.values())) < 1e-3


def test_ticket_fit_against_the_range_in_one_currency() -> None:
    _, c = components(enterprise(), fund())
    assert c["ticket_fit"].score == 1.0
    assert c["ticket_fit"].reason == (
        "seeks USD 5,000,000, within the ticket range USD 1,000,000-10,000,000"
    )
    _, c = components(enterprise(funding_amount=Decimal("20000000")), fund())
    assert c["ticket_fit"].score == 0.5 and "2.0x above" in c["ticket_fit"].reason
    _, c = components(enterprise(funding_amount=Decimal("250000")), fund())
    assert c["ticket_fit"].score == 0.0 and "4.0x below" in c["ticket_fit"].reason
    # A currency the rate table does not list is compared only with itself.
    _, c = components(enterprise(), fund(currency="XAF"))
    assert c["ticket_fit"].weight == 0 and "converts only" in c["ticket_fit"].reason
    _, c = components(enterprise(), fund(ticket_min=None))
    assert c["ticket_fit"].score == 1.0  # only a maximum: anything up to it fits


def test_partnership_fit_a_bank_against_an_enterprise_seeking_its_services() -> None:
    _, c = components(enterprise(), bank())
    # One of the two things a bank could offer here is sought.
    assert c["partnership_fit"].score == 0.5
    assert c["partnership_fit"].reason == "offers bank-account-services, sought by the enterprise"
    _, c = components(
        enterprise(partnership_types=("debt-financing", "bank-account-services")), bank()
    )
    assert c["partnership_fit"].score == 1.0
    _, c = components(enterprise(), fund(offers=("market-entry",)))
    assert c["partnership_fit"].score == 0.0
    assert c["partnership_fit"].reason.startswith("offers none of the partnership types sought")


def test_text_similarity_of_summary_and_focus() -> None:
    _, c = components(enterprise(), fund())
    assert c["text_similarity"].score == 0.0
    assert c["text_similarity"].reason == "project summary and focus share no terms"
    focus = "Perception for autonomous delivery vehicles in dense cities."
    _, c = components(enterprise(), fund(focus=focus))
    assert c["text_similarity"].score > 0.5
    assert c["text_similarity"].reason == (
        "project summary and focus share: perception, delivery, vehicle, dense, city"
    )
    # Abbreviations and plurals meet their spelled-out forms.
    _, c = components(
        enterprise(summary="AI for robots"), fund(focus="Artificial intelligence and robot arms")
    )
    assert "artificial, intelligence, robot" in c["text_similarity"].reason


def test_weights_are_configurable_and_scores_stay_in_range() -> None:
    e, p = enterprise(), fund()
    base, _ = components(e, p)
    text_only, c = components(
        e,
        p,
        d.Weights(sector_fit=0, stage_fit=0, ticket_fit=0, partnership_fit=0, text_similarity=1),
    )
    assert text_only == 0.0 and base > 0.7
    assert c["text_similarity"].weight == 1.0
    with pytest.raises(ValueError, match="must not all be 0"):
        d.Weights(sector_fit=0, partnership_fit=0, text_similarity=0)
    with pytest.raises(ValueError, match="non-negative"):
        d.Weights(sector_fit=-1)
    settings = MatchingSettings(database_url="postgresql://x", weight_text_similarity=0.5)
    assert settings.weights().text_similarity == 0.5
    with pytest.raises(ValidationError):
        MatchingSettings(
            database_url="postgresql://x",
            weight_sector_fit=0,
            weight_partnership_fit=0,
            weight_text_similarity=0,
        )


def _random_profiles(
    rng: random.Random, m: int, n: int
) -> tuple[list[d.EnterpriseProfile], list[d.ParticipantProfile]]:
    words = [
        "robot",
        "battery",
        "data",
        "cloud",
        "fleet",
        "perception",
        "vision",
        "retail",
        "bank",
        "lending",
        "logistics",
    ]
    types = [t.value for t in PartnershipType]
    stages = [s.value for s in STAGE_ORDER]
    es = [
        enterprise(
            sectors=tuple(rng.sample(SECTORS, rng.randint(1, 3))),
            stage=rng.choice(stages),
            funding_amount=Decimal(rng.randint(1, 400) * 100_000),
            funding_currency=rng.choice(["USD", "CNY"]),
            partnership_types=tuple(rng.sample(types, rng.randint(1, 4))),
            summary=" ".join(rng.choices(words, k=8)),
        )
        for _ in range(m)
    ]
    ps = []
    for _ in range(n):
        low = rng.choice([None, Decimal(rng.randint(1, 50) * 100_000)])
        ps.append(
            fund(
                kind=rng.choice(list(ParticipantKind)),
                sectors=tuple(rng.sample(SECTORS, rng.randint(1, 3))),
                stages=tuple(rng.sample(stages, rng.randint(0, 3))),
                ticket_min=low,
                ticket_max=rng.choice([None, (low or Decimal(1)) * rng.randint(1, 20)]),
                currency=rng.choice([None, "USD", "CNY"]),
                offers=tuple(rng.sample(types, rng.randint(1, 4))),
                focus=" ".join(rng.choices(words, k=6)),
            )
        )
    return es, ps


def test_vectorised_scores_equal_pair_by_pair_and_their_explanations() -> None:
    rng = random.Random(7)
    es, ps = _random_profiles(rng, 6, 40)
    w = d.Weights()
    full = d.score(d.enterprise_features(es), d.participant_features(ps), w)
    assert ((full.total >= 0) & (full.total <= 1)).all()
    # One enterprise against all participants, and one participant against all
    # enterprises: the same numbers as the full matrix.
    for i, e in enumerate(es):
        row = d.score(d.enterprise_features([e]), d.participant_features(ps), w)
        np.testing.assert_allclose(row.total[0], full.total[i])
    column = d.score(d.enterprise_features(es), d.participant_features(ps[:1]), w)
    np.testing.assert_allclose(column.total[:, 0], full.total[:, 0])
    for i, j in [(0, 0), (3, 17), (5, 39)]:
        scores, applicable = full.pair(i, j)
        explained = d.explain(es[i], ps[j], scores, applicable, w)
        assert abs(sum(c.weight * c.score for c in explained) - full.total[i, j]) < 2e-3
        assert all(c.reason for c in explained)


def test_plan_changes_proposes_updates_and_withdraws() -> None:
    new = np.array([0.8, 0.8, 0.8, 0.3, 0.3, 0.62])
    old = np.array([np.nan, 0.78, 0.6, 0.7, np.nan, 0.6])
    active = np.array([False, True, True, True, False, False])
    changes = plan.plan_changes(new, old, active, threshold=0.45, delta=0.05)
    assert changes.proposed.tolist() == [0, 5]  # new, and back above after a withdrawal
    assert changes.updated.tolist() == [2]  # moved by 0.2; index 1 moved by 0.02 only
    assert changes.withdrawn.tolist() == [3]


def test_slots_are_wall_clock_times_in_the_events_zone() -> None:
    grid = sp.SlotGrid(
        timezone="America/New_York",
        start_date=date(2027, 3, 13),
        end_date=date(2027, 3, 14),  # clocks go forward on the 14th
        day_start=time(9),
        day_end=time(11),
        slot_minutes=40,
        tables=5,
    )
    slots = sp.slot_times(grid)
    assert len(slots) == 6  # 09:00, 09:40, 10:20 on each day
    assert [s.strftime("%H:%M") for s, _ in slots[:3]] == ["09:00", "09:40", "10:20"]
    assert slots[0][0].utcoffset() != slots[3][0].utcoffset()
    assert slots[3][0].hour == 9 and str(slots[3][0].tzinfo) == "America/New_York"
    zone = ZoneInfo("America/New_York")
    busy = [(datetime(2027, 3, 13, 9, 30, tzinfo=zone), datetime(2027, 3, 13, 10, 0, tzinfo=zone))]
    assert sp.available_slots(slots, busy).tolist() == [False, False, True, True, True, True]
