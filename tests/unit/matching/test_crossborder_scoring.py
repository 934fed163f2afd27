"""Money in two currencies and mandatory criteria: scores, reasons and the
vectorised block path (pure functions, no database)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.scoring import model as d
from services.matching.scoring import plan
from services.matching.scoring.rates import RATES, RateTable, load_rates
from shared.taxonomy import SECTORS, STAGE_ORDER, ParticipantKind
from tests.unit.matching.test_scoring import components, enterprise, fund


def test_the_rate_table_is_dated_and_seeded_with_five_currencies() -> None:
    table = load_rates()
    assert isinstance(table.date, date) and table.base == "USD"
    assert {"CNY", "USD", "EUR", "HKD", "JPY"} <= set(table.per_base)
    assert abs(table.convert(table.convert(100.0, "CNY", "JPY"), "JPY", "CNY") - 100.0) < 1e-9


def test_a_cny_ticket_range_is_compared_with_a_usd_funding_need() -> None:
    cny = RATES.per_base["CNY"]
    # USD 2m is CNY 2m * rate: inside a CNY range around it, outside one far below.
    inside = fund(currency="CNY", ticket_min=Decimal(10_000_000), ticket_max=Decimal(20_000_000))
    e = enterprise(funding_amount=Decimal(2_000_000), funding_currency="USD")
    assert 10_000_000 < 2_000_000 * cny < 20_000_000
    _, c = components(e, inside)
    assert c["ticket_fit"].score == 1.0 and c["ticket_fit"].weight > 0
    reason = c["ticket_fit"].reason
    # Both amounts, and the date of the rates.
    assert "USD 2,000,000" in reason and f"CNY {2_000_000 * cny:,.0f}" in reason
    assert RATES.date.isoformat() in reason and "within the ticket range CNY 10,000,000" in reason
    below = fund(currency="CNY", ticket_min=Decimal(1_000_000), ticket_max=Decimal(2_000_000))
    _, c = components(e, below)
    assert c["ticket_fit"].score < 1.0 and "above the ticket range" in c["ticket_fit"].reason


def test_rates_are_configuration_a_different_table_changes_the_fit() -> None:
    e = enterprise(funding_amount=Decimal(1_000_000), funding_currency="USD")
    p = fund(currency="CNY", ticket_min=Decimal(7_000_000), ticket_max=Decimal(8_000_000))
    cheap = RateTable(date(2026, 1, 1), "USD", {"USD": 1.0, "CNY": 1.0})
    w = d.Weights()
    fits = [
        float(
            d.score(d.enterprise_features([e], t), d.participant_features([p], t), w).components[2][
                0, 0
            ]
        )
        for t in (RATES, cheap)
    ]
    assert fits[0] == 1.0 and fits[1] < 1.0


def test_a_failed_mandatory_criterion_scores_zero_and_says_why() -> None:
    strict = fund(mandatory=("stage", "country"), countries=("CA", "US"), stages=("seed",))
    e = enterprise(country="US", stage="series-a")
    total, _ = components(e, strict)
    assert total == 0.0
    assert d.mandatory_failures(e, strict) == [
        ("stage", "the project is at series-a; invests only at seed")
    ]
    ok = fund(mandatory=("stage", "country"), countries=("CA", "US"))
    assert components(e, ok)[0] > 0 and d.mandatory_failures(e, ok) == []
    abroad = enterprise(country="DE")
    (failure,) = d.mandatory_failures(abroad, ok)
    assert failure[0] == "country" and "DE" in failure[1]
    ticket = fund(mandatory=("ticket_range",), currency="CNY", ticket_max=Decimal(1_000_000))
    (failure,) = d.mandatory_failures(e, ticket)
    assert failure[0] == "ticket_range" and "CNY" in failure[1] and "USD 5,000,000" in failure[1]


# --- property: the block path never proposes a pair failing a mandatory criterion -------

_COUNTRIES = ("US", "CA", "CN", "DE")
_CURRENCIES = ("USD", "CNY", "EUR", "HKD", "JPY", "XAF")
_STAGES = [s.value for s in STAGE_ORDER]


@st.composite
def enterprises(draw: st.DrawFn) -> d.EnterpriseProfile:
    return enterprise(
        enterprise_id=uuid.uuid4(),
        sectors=tuple(draw(st.sets(st.sampled_from(SECTORS[:8]), min_size=1, max_size=2))),
        stage=draw(st.sampled_from(_STAGES)),
        funding_amount=Decimal(draw(st.integers(10_000, 500_000_000))),
        funding_currency=draw(st.sampled_from(_CURRENCIES)),
        country=draw(st.sampled_from(_COUNTRIES)),
    )


@st.composite
def participants(draw: st.DrawFn) -> d.ParticipantProfile:
    low = draw(st.integers(0, 50_000_000))
    return fund(
        participant_id=uuid.uuid4(),
        kind=ParticipantKind.FUND,
        sectors=tuple(draw(st.sets(st.sampled_from(SECTORS[:8]), min_size=1, max_size=3))),
        stages=tuple(draw(st.sets(st.sampled_from(_STAGES), min_size=1, max_size=3))),
        ticket_min=Decimal(low),
        ticket_max=Decimal(low + draw(st.integers(1, 500_000_000))),
        currency=draw(st.sampled_from(_CURRENCIES)),
        countries=tuple(draw(st.sets(st.sampled_from(_COUNTRIES), min_size=1, max_size=2))),
        mandatory=tuple(draw(st.sets(st.sampled_from(d.MANDATORY)))),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(enterprises(), min_size=1, max_size=6),
    st.lists(participants(), min_size=1, max_size=8),
)
def test_no_proposed_match_violates_a_mandatory_criterion(
    es: list[d.EnterpriseProfile], ps: list[d.ParticipantProfile]
) -> None:
    block = plan.Block(
        d.enterprise_features(es),
        d.participant_features(ps),
        np.ones(len(es), dtype=bool),
        np.ones(len(ps), dtype=bool),
        (),
    )
    # A threshold just above 0: everything that scores at all is proposed.
    planned = plan.plan_block(block, d.Weights(), 1e-6, 0.01)
    by_id = {e.enterprise_id: e for e in es} | {p.participant_id: p for p in ps}
    proposed = {
        (c.enterprise_id, c.participant_id)
        for c in planned.changes()
        if c.event_type == "match.proposed"
    }
    for e in es:
        for p in ps:
            failures = d.mandatory_failures(e, p)
            if (e.enterprise_id, p.participant_id) in proposed:
                assert failures == [], (by_id[e.enterprise_id], p)
            elif not failures:
                # Meeting every criterion, a pair is scored as before (never forced to 0).
                total, _ = components(e, p)
                assert total < 1e-6
