"""Feedback and follow-up after a meeting, as pure functions over plain data.

After a meeting each side (its registering partner) says whether it took place
(`held`; `no-show`: the other side did not come; `cancelled`), how interested it
is and what it wants next. Some months later (`follow_up_delay`, default 90
days, after the meeting ended) a meeting that took place has its follow-up
opened, and either side or the organiser records where the deal stands:
negotiating, agreement signed, invested (with the amount and currency), or no
deal.

Whether a meeting took place is decided from what was recorded: the organiser's
attendance first (it was there), else a side that says it was held (a side that
met the other cannot be wrong about it), else what the sides say otherwise.
Nothing recorded is `None`: the follow-up still opens for it (silence is not a
no-show), and the figures count it apart.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import get_args

from services.matching.scoring.rates import RateTable
from shared.contracts.matching import (
    Attendance,
    DealStage,
    InterestLevel,
    NextStep,
    Reporter,
    Side,
    feedback_problem,
)
from shared.errors import InvalidInput

INTEREST_LEVELS: tuple[InterestLevel, ...] = get_args(InterestLevel)
NEXT_STEPS: tuple[NextStep, ...] = get_args(NextStep)
DEAL_STAGES: tuple[DealStage, ...] = get_args(DealStage)
# Stages that may name an amount (agreed or invested), and the one that must.
WITH_AMOUNT: frozenset[DealStage] = frozenset({"agreement-signed", "invested"})
INVESTED: DealStage = "invested"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RecordFeedback:
    """One side's feedback, as its partner gives it."""

    took_place: Attendance
    interest: InterestLevel | None = None
    next_step: NextStep | None = None
    note: str | None = None


def check_feedback(cmd: RecordFeedback) -> RecordFeedback:
    """The feedback as stored: a meeting that took place has an interest level
    and a next step (none given: `none`); one that did not has neither. Raises
    InvalidInput naming the field (the rule is `feedback_problem`, shared with
    the form of notification's feedback link)."""
    problem = feedback_problem(cmd.took_place, cmd.interest, cmd.next_step)
    if problem is not None:
        raise InvalidInput(problem[1], field=problem[0])
    if cmd.took_place == "held":
        return RecordFeedback(cmd.took_place, cmd.interest, cmd.next_step or "none", cmd.note)
    return cmd


@dataclass(frozen=True)
class Feedback:
    """A side's feedback as recorded."""

    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    side: Side
    took_place: Attendance
    interest: InterestLevel | None
    next_step: NextStep | None
    note: str | None
    version: int
    recorded_at: datetime

    def says(self, cmd: RecordFeedback) -> bool:
        """Whether `cmd` says what is recorded already (a PUT repeated)."""
        return (self.took_place, self.interest, self.next_step, self.note) == (
            cmd.took_place,
            cmd.interest,
            cmd.next_step,
            cmd.note,
        )


def email_feedback_refusal(
    published: bool | None,
    starts_at: datetime | None,
    on_file: Feedback | None,
    given_at: datetime,
) -> str | None:
    """Why a person's feedback from their e-mail is not recorded, or None.
    `published`: the meeting is on the schedule its parties were told of
    (None: the meeting is unknown). Feedback is given once a meeting has
    started (as over the API); one given before the side's feedback on file
    was recorded is older news (the later word wins, partner or person)."""
    if published is None:
        return "unknown_meeting"
    if not published:
        return "not_on_schedule"
    if starts_at is not None and given_at < starts_at:
        return "not_started"
    if on_file is not None and on_file.recorded_at > given_at:
        return "superseded"
    return None


def took_place(
    attendance: Attendance | None, sides: Iterable[Attendance | None]
) -> Attendance | None:
    """Whether a meeting took place, from the organiser's attendance and the
    sides' feedback (see the module's docstring); None: nothing recorded."""
    if attendance is not None:
        return attendance
    said = [s for s in sides if s is not None]
    if "held" in said:
        return "held"
    if not said:
        return None
    # One side says no-show, the other cancelled (or both alike): the first
    # serious claim wins, a no-show (someone came) before a cancellation.
    return "no-show" if "no-show" in said else "cancelled"


def follows_up(outcome: Attendance | None) -> bool:
    """Does a meeting with this outcome get a follow-up? One that took place,
    or of which nothing was said."""
    return outcome in ("held", None)


def due_at(ended_at: datetime, delay: timedelta) -> datetime:
    return ended_at + delay


@dataclass(frozen=True)
class RecordFollowUp:
    stage: DealStage
    amount: Decimal | None = None
    currency: str | None = None


def check_follow_up(cmd: RecordFollowUp, rates: RateTable) -> RecordFollowUp:
    """The follow-up as stored, or InvalidInput naming the field: an amount only
    for an agreement or an investment (and always for an investment), with a
    currency the rate table lists (so the figures can convert it); cents at most."""
    if cmd.stage not in WITH_AMOUNT and cmd.amount is not None:
        raise InvalidInput(f"no amount for a deal that is {cmd.stage}", field="amount")
    if cmd.stage == INVESTED and cmd.amount is None:
        raise InvalidInput("say how much was invested", field="amount")
    if (cmd.amount is None) != (cmd.currency is None):
        missing = "currency" if cmd.currency is None else "amount"
        raise InvalidInput("an amount goes with its currency", field=missing)
    if cmd.currency is None:
        return cmd
    currency = cmd.currency.upper()
    if not rates.knows(currency):
        raise InvalidInput(
            f"{cmd.currency} is not in the {rates.date.isoformat()} rate table ("
            + ", ".join(sorted(rates.per_base))
            + ")",
            field="currency",
        )
    assert cmd.amount is not None
    if not cmd.amount > 0:
        raise InvalidInput("the amount must be positive", field="amount")
    if cmd.amount != cmd.amount.quantize(CENT):
        raise InvalidInput("at most two decimals", field="amount")
    return RecordFollowUp(cmd.stage, cmd.amount, currency)


@dataclass(frozen=True)
class FollowUp:
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    due_at: datetime
    opened_at: datetime | None  # when follow-up.due went out; None: recorded first
    stage: DealStage | None  # None: open, nothing recorded yet
    amount: Decimal | None
    currency: str | None
    reported_by: Reporter | None
    version: int
    recorded_at: datetime | None

    def says(self, cmd: RecordFollowUp) -> bool:
        return (self.stage, self.amount, self.currency) == (cmd.stage, cmd.amount, cmd.currency)


# --- figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingOutcome:
    """What the figures need of one meeting of the current schedule."""

    attendance: Attendance | None
    feedback: Sequence[Feedback]
    follow_up: FollowUp | None


@dataclass(frozen=True)
class Invested:
    currency: str  # what `amount` is in
    amount: Decimal
    rates_date: str  # the rate table converted with
    deals: int
    by_currency: dict[str, Decimal]  # as recorded, unconverted


@dataclass(frozen=True)
class AfterMeetingFigures:
    held: int
    no_show: int
    cancelled: int
    unrecorded: int  # nobody said whether it took place
    no_show_rate: float | None  # no-shows / (held + no-shows); None before any
    feedback: int  # sides' feedback on meetings held
    by_interest: dict[str, int]
    by_next_step: dict[str, int]
    follow_ups_open: int  # due, nothing recorded yet
    by_stage: dict[str, int]
    invested: Invested


def _zeros(names: Iterable[str], counts: Mapping[str, int]) -> dict[str, int]:
    return {n: counts.get(n, 0) for n in names}


def convert(amount: Decimal, source: str, target: str, rates: RateTable) -> Decimal:
    """`amount` of `source` in `target` with the table's rates, to the cent
    (decimal arithmetic: a sum of investments must not drift like floats)."""
    if source == target:
        return amount
    base = amount / Decimal(repr(rates.per_base[source]))
    return (base * Decimal(repr(rates.per_base[target]))).quantize(CENT, ROUND_HALF_EVEN)


def after_meeting_figures(
    meetings: Iterable[MeetingOutcome], rates: RateTable, currency: str
) -> AfterMeetingFigures:
    """Counts over a road show's meetings: how many took place, the sides'
    feedback (interest and next step, on meetings held), the follow-ups by
    stage, and the amount invested: in `currency` (converted with `rates`; the
    caller made sure the table lists it) and in each currency as recorded."""
    outcomes: Counter[str] = Counter()
    interest: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    by_currency: dict[str, Decimal] = {}
    feedback = follow_ups_open = deals = 0
    total = Decimal(0)
    for m in meetings:
        outcome = took_place(m.attendance, (f.took_place for f in m.feedback))
        outcomes[outcome or "unrecorded"] += 1
        for f in m.feedback:
            if f.took_place == "held" and f.interest and f.next_step:
                feedback += 1
                interest[f.interest] += 1
                steps[f.next_step] += 1
        fu = m.follow_up
        if fu is None:
            continue
        if fu.stage is None:
            follow_ups_open += fu.opened_at is not None
            continue
        stages[fu.stage] += 1
        if fu.stage == INVESTED and fu.amount is not None and fu.currency is not None:
            deals += 1
            by_currency[fu.currency] = by_currency.get(fu.currency, Decimal(0)) + fu.amount
            total += convert(fu.amount, fu.currency, currency, rates)
    held, no_show = outcomes["held"], outcomes["no-show"]
    return AfterMeetingFigures(
        held=held,
        no_show=no_show,
        cancelled=outcomes["cancelled"],
        unrecorded=outcomes["unrecorded"],
        no_show_rate=round(no_show / (held + no_show), 4) if held + no_show else None,
        feedback=feedback,
        by_interest=_zeros(INTEREST_LEVELS, interest),
        by_next_step=_zeros(NEXT_STEPS, steps),
        follow_ups_open=follow_ups_open,
        by_stage=_zeros(DEAL_STAGES, stages),
        invested=Invested(
            currency=currency,
            amount=total.quantize(CENT),
            rates_date=rates.date.isoformat(),
            deals=deals,
            by_currency=dict(sorted(by_currency.items())),
        ),
    )
