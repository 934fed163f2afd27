"""Mutual interest as pure functions (no I/O): which pairs the organiser's mode
lets the scheduler use, when an unanswered request expires, and an event's
figures before its meetings.

Each side of a match answers accept, decline or must-meet (or has not answered:
None): through the partner that registered it (HTTP), or the person themselves
through a link in their e-mail (notification's `answer.given`); the later
answer given wins. `expired` is not an answer a partner gives: matching records it for the
silent side once the other side answered and `ttl` passed.

  opt-out  every match above the threshold is eligible unless a side declines
           (silence, and so expiry, counts as consent);
  opt-in   only pairs that both sides accepted (accept or must-meet) are
           eligible; an expired side is a "no", so its pair never holds a slot.

A decline removes the pair in both modes and nothing overrides it, not even a
must-meet from the other side. A must-meet (from either side, no decline) makes
an eligible pair a priority: the scheduler places it before anything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from shared.contracts.matching import Attendance, InterestAnswer, InterestState, Side

ACCEPT: InterestAnswer = "accept"
DECLINE: InterestAnswer = "decline"
MUST_MEET: InterestAnswer = "must-meet"
EXPIRED: InterestState = "expired"
ANSWERS: tuple[InterestAnswer, ...] = get_args(InterestAnswer)
POSITIVE: frozenset[InterestState] = frozenset({ACCEPT, MUST_MEET})
MatchingMode = Literal["opt-in", "opt-out"]
OPT_IN: MatchingMode = "opt-in"
OPT_OUT: MatchingMode = "opt-out"


@dataclass(frozen=True)
class PairInterest:
    """Both sides' latest answers (None: not answered) and when they were given."""

    enterprise: InterestState | None = None
    participant: InterestState | None = None
    enterprise_at: datetime | None = None
    participant_at: datetime | None = None


def expiring_side(pair: PairInterest, now: datetime, ttl: timedelta) -> Side | None:
    """The side whose request expired by `now` ("enterprise" or "participant"),
    or None. A request is open when one side gave a real answer and the other
    has not answered at all; it expires `ttl` after that answer."""
    sides: tuple[tuple[Side, InterestState | None, datetime | None], ...] = (
        ("enterprise", pair.participant, pair.participant_at),
        ("participant", pair.enterprise, pair.enterprise_at),
    )
    for silent, answered, at in sides:
        own = pair.enterprise if silent == "enterprise" else pair.participant
        if own is None and answered in ANSWERS and at is not None and at + ttl <= now:
            return silent
    return None


def expires_at(pair: PairInterest, ttl: timedelta) -> datetime | None:
    """When the open request of a pair expires, or None when none is open."""
    if pair.enterprise is None and pair.participant in ANSWERS and pair.participant_at:
        return pair.participant_at + ttl
    if pair.participant is None and pair.enterprise in ANSWERS and pair.enterprise_at:
        return pair.enterprise_at + ttl
    return None


def with_expiry(pair: PairInterest, now: datetime, ttl: timedelta) -> PairInterest:
    """The pair as it stands at `now`: a silent side past the deadline reads as
    expired, whether or not the periodic check has recorded it yet."""
    side = expiring_side(pair, now, ttl)
    if side == "enterprise":
        return PairInterest(EXPIRED, pair.participant, now, pair.participant_at)
    if side == "participant":
        return PairInterest(pair.enterprise, EXPIRED, pair.enterprise_at, now)
    return pair


Refusal = Literal["withdrawn", "closed"]


def refusal(status: str, scheduling_closes_at: datetime | None, at: datetime) -> Refusal | None:
    """Why a side may not answer at `at`: the match was withdrawn, or the road
    show's scheduling had closed; None when it may."""
    if status != "proposed":
        return "withdrawn"
    if scheduling_closes_at is not None and at >= scheduling_closes_at:
        return "closed"
    return None


def superseded(
    on_file: InterestState | None, on_file_at: datetime | None, given_at: datetime
) -> bool:
    """Is an answer given at `given_at` older than the side's answer on file?
    Answers reach matching by two ways (a partner's request, a person's e-mail
    through the notification topic), so the later one given wins, whichever
    arrives last. `expired` is not an answer: a real one replaces it, as a
    partner's does."""
    return on_file in ANSWERS and on_file_at is not None and on_file_at > given_at


def declined(pair: PairInterest) -> bool:
    return DECLINE in (pair.enterprise, pair.participant)


def must_meet(pair: PairInterest) -> bool:
    """A must-meet from either side, unless the other declined (never overridden)."""
    return not declined(pair) and MUST_MEET in (pair.enterprise, pair.participant)


def eligible(mode: MatchingMode, pair: PairInterest) -> bool:
    """May the scheduler use this pair (its score already passed the threshold)?"""
    if declined(pair):
        return False
    if mode == OPT_IN:
        return pair.enterprise in POSITIVE and pair.participant in POSITIVE
    return True


def accepted(pair: PairInterest) -> bool:
    """Counted as accepted in the figures: mutual accepts and must-meets."""
    if declined(pair):
        return False
    both = pair.enterprise in POSITIVE and pair.participant in POSITIVE
    return both or must_meet(pair)


@dataclass(frozen=True)
class Figures:
    """A road show's figures before the meetings (after them: `feedback.model`)."""

    matches: int
    accepted: int
    declined: int
    scheduled: int


def figures(answers: Iterable[tuple[PairInterest, int]], scheduled: int) -> Figures:
    """An event's figures from how many of its matches have each combination of
    answers, and its number of scheduled meetings."""
    answers = list(answers)
    return Figures(
        matches=sum(n for _, n in answers),
        accepted=sum(n for p, n in answers if accepted(p)),
        declined=sum(n for p, n in answers if declined(p)),
        scheduled=scheduled,
    )


@dataclass(frozen=True)
class RecordInterest:
    """One side's answer, posted by the partner that registered that side."""

    side: Side
    interest: InterestAnswer


@dataclass(frozen=True)
class SettingsChange:
    mode: MatchingMode
    interest_ttl_hours: int
    scheduling_closes_at: datetime | None


@dataclass(frozen=True)
class RoadshowSettings:
    """The organiser's matching settings of a road show."""

    roadshow_id: uuid.UUID
    mode: MatchingMode
    interest_ttl_hours: int
    scheduling_closes_at: datetime | None


@dataclass(frozen=True)
class RecordedAttendance:
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    attendance: Attendance
    recorded_at: datetime
