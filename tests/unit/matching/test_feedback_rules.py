"""The after-meeting rules as pure functions: what feedback and follow-ups are
accepted, whether a meeting took place, and the figures (amounts in decimal,
converted with the dated rate table)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.matching.feedback import model as mf
from services.matching.scoring.rates import RateTable
from shared.errors import InvalidInput

RATES = RateTable(date(2026, 11, 30), "USD", {"USD": 1.0, "CNY": 7.12, "EUR": 0.925})
T0 = datetime(2027, 5, 15, 2, tzinfo=UTC)
MEETING = uuid.uuid4()
ROADSHOW = uuid.uuid4()

attendance = st.sampled_from(["held", "no-show", "cancelled"])


def _field(exc: pytest.ExceptionInfo[InvalidInput]) -> str | None:
    return exc.value.field


def test_feedback_on_a_meeting_held_has_an_interest_and_a_next_step() -> None:
    got = mf.check_feedback(mf.RecordFeedback("held", "high"))
    assert (got.interest, got.next_step) == ("high", "none")
    assert mf.check_feedback(mf.RecordFeedback("held", "low", "site-visit")).next_step == (
        "site-visit"
    )
    with pytest.raises(InvalidInput) as exc:
        mf.check_feedback(mf.RecordFeedback("held"))
    assert _field(exc) == "interest"
    for bad, name in (
        (mf.RecordFeedback("no-show", interest="none"), "interest"),
        (mf.RecordFeedback("cancelled", next_step="none"), "next_step"),
    ):
        with pytest.raises(InvalidInput) as exc:
            mf.check_feedback(bad)
        assert _field(exc) == name
    assert mf.check_feedback(mf.RecordFeedback("no-show")) == mf.RecordFeedback("no-show")


@given(attendance, st.lists(st.none() | attendance, max_size=2))
def test_took_place_attendance_first_then_a_side_that_met(
    organiser: str, sides: list[str | None]
) -> None:
    # The organiser's word wins whatever the sides say.
    assert mf.took_place(organiser, sides) == organiser  # type: ignore[arg-type]
    said = [s for s in sides if s is not None]
    got = mf.took_place(None, sides)  # type: ignore[arg-type]
    if not said:
        assert got is None and mf.follows_up(got)
    elif "held" in said:
        assert got == "held" and mf.follows_up(got)
    else:
        assert got in said and not mf.follows_up(got)
    # Order of the sides does not matter.
    assert mf.took_place(None, list(reversed(sides))) == got  # type: ignore[arg-type]


def test_follow_up_amounts_go_with_agreements_and_investments() -> None:
    ok = mf.check_follow_up(mf.RecordFollowUp("invested", Decimal("2000000"), "cny"), RATES)
    assert (ok.amount, ok.currency) == (Decimal("2000000"), "CNY")
    assert mf.check_follow_up(mf.RecordFollowUp("agreement-signed"), RATES).amount is None
    assert mf.check_follow_up(mf.RecordFollowUp("no-deal"), RATES).currency is None
    cases = [
        (mf.RecordFollowUp("invested"), "amount"),
        (mf.RecordFollowUp("invested", Decimal(5)), "currency"),
        (mf.RecordFollowUp("agreement-signed", None, "USD"), "amount"),
        (mf.RecordFollowUp("negotiating", Decimal(5), "USD"), "amount"),
        (mf.RecordFollowUp("no-deal", Decimal(5), "USD"), "amount"),
        (mf.RecordFollowUp("invested", Decimal(5), "XYZ"), "currency"),
        (mf.RecordFollowUp("invested", Decimal(0), "USD"), "amount"),
        (mf.RecordFollowUp("invested", Decimal("1.005"), "USD"), "amount"),
    ]
    for cmd, name in cases:
        with pytest.raises(InvalidInput) as exc:
            mf.check_follow_up(cmd, RATES)
        assert _field(exc) == name, cmd


def _feedback(side: str, took: str, interest: str | None, step: str | None) -> mf.Feedback:
    return mf.Feedback(MEETING, ROADSHOW, side, took, interest, step, None, 1, T0)  # type: ignore[arg-type]


def _follow_up(
    stage: str | None, amount: str | None = None, currency: str | None = None
) -> mf.FollowUp:
    return mf.FollowUp(
        MEETING,
        ROADSHOW,
        T0 + timedelta(days=90),
        T0 + timedelta(days=90),
        stage,  # type: ignore[arg-type]
        Decimal(amount) if amount else None,
        currency,
        "participant" if stage else None,
        1 if stage else 0,
        T0 if stage else None,
    )


def test_figures_count_outcomes_feedback_stages_and_convert_investments() -> None:
    meetings = [
        mf.MeetingOutcome(
            None,
            [
                _feedback("participant", "held", "high", "term-sheet"),
                _feedback("enterprise", "no-show", None, None),
            ],
            _follow_up("invested", "1000000", "USD"),
        ),
        mf.MeetingOutcome("held", [], _follow_up("invested", "7120000", "CNY")),
        mf.MeetingOutcome("no-show", [_feedback("participant", "held", "low", "none")], None),
        mf.MeetingOutcome(None, [], _follow_up(None)),
        mf.MeetingOutcome(None, [_feedback("enterprise", "cancelled", None, None)], None),
    ]
    f = mf.after_meeting_figures(meetings, RATES, "USD")
    # The organiser's no-show wins over a side's "held"; its feedback still counts.
    assert (f.held, f.no_show, f.cancelled, f.unrecorded) == (2, 1, 1, 1)
    assert f.no_show_rate == round(1 / 3, 4)
    assert f.feedback == 2 and f.by_interest == {"none": 0, "low": 1, "medium": 0, "high": 1}
    assert f.by_next_step["term-sheet"] == 1 and f.by_next_step["none"] == 1
    assert f.follow_ups_open == 1
    assert f.by_stage == {"negotiating": 0, "agreement-signed": 0, "invested": 2, "no-deal": 0}
    assert f.invested == mf.Invested(
        "USD",
        Decimal("2000000.00"),
        "2026-11-30",
        2,
        {"CNY": Decimal("7120000"), "USD": Decimal("1000000")},
    )
    assert mf.after_meeting_figures(meetings, RATES, "CNY").invested.amount == Decimal(
        "14240000.00"
    )
    empty = mf.after_meeting_figures([], RATES, "EUR")
    assert empty.no_show_rate is None and empty.invested.amount == 0


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e15"), places=2)


@given(st.lists(st.tuples(amounts, st.sampled_from(["USD", "CNY", "EUR"])), max_size=30))
def test_totals_by_currency_are_exact_and_the_converted_total_is_their_conversion(
    investments: list[tuple[Decimal, str]],
) -> None:
    """Decimal arithmetic: the per-currency sums are exactly what was recorded,
    and the total is each amount converted to the cent, summed (no float drift)."""
    meetings = [
        mf.MeetingOutcome("held", [], _follow_up("invested", str(a), c)) for a, c in investments
    ]
    f = mf.after_meeting_figures(meetings, RATES, "EUR")
    for currency in {c for _, c in investments}:
        assert f.invested.by_currency[currency] == sum(a for a, c in investments if c == currency)
    expected = sum((mf.convert(a, c, "EUR", RATES) for a, c in investments), Decimal(0))
    assert f.invested.amount == expected
    assert f.invested.deals == len(investments)
    # Converting there and back loses at most a cent per amount.
    for a, c in investments:
        back = mf.convert(mf.convert(a, c, "EUR", RATES), "EUR", c, RATES)
        assert abs(back - a) <= Decimal("0.02") * Decimal(repr(RATES.per_base[c]))
