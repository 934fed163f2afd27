"""The scheduling problem of an event as pure functions (no I/O): its time slots,
which matches the scheduler may use under the organiser's mode, and the
solver's instance built from the read model."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from services.matching.interest import model as interest
from services.matching.scheduling.solver import (
    BoolArray,
    FloatArray,
    Instance,
    IntArray,
    Schedule,
)
from shared.contracts.matching import MatchStatus


@dataclass(frozen=True)
class SlotGrid:
    timezone: str
    start_date: date
    end_date: date
    day_start: time
    day_end: time
    slot_minutes: int
    tables: int


# What matching schedules, whatever its input says (registration refuses dates
# outside these years too, but a stored or replayed event may carry anything:
# 9999-12-31 overflows the date arithmetic, a century of days exhausts memory).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
MAX_SLOTS = 20_000
MAX_TABLES = 10_000


# --- a road show's venues, agenda and interpreters (issue 12) ---------------------------


@dataclass(frozen=True)
class Venue:
    name: str
    tables: int
    dates: tuple[date, ...] = ()  # the days it is used; empty: every day


@dataclass(frozen=True)
class AgendaBlock:
    """A keynote, a lunch: no meetings in a slot that overlaps it."""

    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Interpreter:
    languages: frozenset[str]
    # Windows of availability; None: the whole road show.
    available: tuple[tuple[datetime, datetime], ...] | None = None


@dataclass(frozen=True)
class Layout:
    """What a road show adds to its slot grid: venues (none: the road show's one
    venue with the grid's tables), the travel minutes between each pair of
    venues, agenda blocks and interpreters."""

    venues: tuple[Venue, ...] = ()
    travel: tuple[tuple[str, str, int], ...] = ()
    agenda: tuple[AgendaBlock, ...] = ()
    interpreters: tuple[Interpreter, ...] = ()


def needs_interpreter(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two sides that both said which languages they speak and share none.
    A side that said nothing is taken to manage (no interpreter is asked for)."""
    return bool(a) and bool(b) and not a & b


def interpreter_arrays(
    enterprise_languages: Sequence[frozenset[str]],
    participant_languages: Sequence[frozenset[str]],
    interpreters: Sequence[frozenset[str]],
) -> tuple[BoolArray, BoolArray]:
    """Per pair (its two sides' languages): whether it needs an interpreter, and
    (pairs, interpreters) who can serve it: one speaking a language of each side."""
    needs = np.array(
        [
            needs_interpreter(a, b)
            for a, b in zip(enterprise_languages, participant_languages, strict=True)
        ],
        dtype=bool,
    ).reshape(len(enterprise_languages))
    able = np.array(
        [
            [bool(i & a) and bool(i & b) for i in interpreters]
            for a, b in zip(enterprise_languages, participant_languages, strict=True)
        ],
        dtype=bool,
    ).reshape(len(enterprise_languages), len(interpreters))
    return needs, able & needs[:, None]


def travel_matrix(venues: Sequence[Venue], travel: Sequence[tuple[str, str, int]]) -> IntArray:
    """(V, V) minutes, both ways, as shortest paths (so the rule between any two
    meetings equals the rule between consecutive ones); a pair not given is 0."""
    index = {v.name: i for i, v in enumerate(venues)}
    n = len(venues)
    out = np.full((n, n), np.iinfo(np.int64).max // 4, dtype=np.int64)
    np.fill_diagonal(out, 0)
    given = np.zeros((n, n), dtype=bool)
    for a, b, minutes in travel:
        if a in index and b in index and a != b:
            i, j = index[a], index[b]
            out[i, j] = out[j, i] = min(int(out[i, j]), minutes) if given[i, j] else minutes
            given[i, j] = given[j, i] = True
    out[~given & ~np.eye(n, dtype=bool)] = 0
    for k in range(n):
        out = np.minimum(out, out[:, k : k + 1] + out[k : k + 1, :])
    return out


def agenda_closed(
    slots: Sequence[tuple[datetime, datetime]], agenda: Sequence[AgendaBlock]
) -> BoolArray:
    """True for each slot that overlaps an agenda block."""
    return ~available_slots(slots, [(b.starts_at, b.ends_at) for b in agenda])


def within_windows(
    slots: Sequence[tuple[datetime, datetime]],
    windows: Sequence[tuple[datetime, datetime]] | None,
) -> BoolArray:
    """True for each slot that lies inside one of the windows (all, for None)."""
    if windows is None:
        return np.ones(len(slots), dtype=bool)
    return np.array(
        [any(ws <= start and end <= we for ws, we in windows) for start, end in slots], dtype=bool
    ).reshape(len(slots))


class GridOutOfBounds(ValueError):
    """A road show's slot grid that matching will not schedule."""


def check_grid(grid: SlotGrid) -> None:
    """Raises GridOutOfBounds (naming the problem) unless the grid's slots can be
    built: dates within FIRST_DAY..LAST_DAY in order, positive slot length and
    tables, at most MAX_SLOTS slots and MAX_TABLES tables."""
    if not FIRST_DAY <= grid.start_date <= grid.end_date <= LAST_DAY:
        raise GridOutOfBounds(
            f"road show dates {grid.start_date}..{grid.end_date} are not an interval"
            f" within {FIRST_DAY}..{LAST_DAY}"
        )
    if grid.slot_minutes <= 0 or not 0 < grid.tables <= MAX_TABLES:
        raise GridOutOfBounds(
            f"slot length {grid.slot_minutes} min or {grid.tables} tables out of range"
        )
    minutes = (grid.day_end.hour * 60 + grid.day_end.minute) - (
        grid.day_start.hour * 60 + grid.day_start.minute
    )
    days = (grid.end_date - grid.start_date).days + 1
    if days * max(minutes // grid.slot_minutes, 0) > MAX_SLOTS:
        raise GridOutOfBounds(f"more than {MAX_SLOTS} slots ({days} days)")


def slot_times(grid: SlotGrid) -> list[tuple[datetime, datetime]]:
    """Every slot_minutes between day_start and day_end on each day, as wall-clock
    times in the event's zone (so a DST change keeps 09:00 at 09:00). Raises
    GridOutOfBounds for a grid `check_grid` refuses."""
    check_grid(grid)
    zone = zoneinfo.ZoneInfo(grid.timezone)
    step = timedelta(minutes=grid.slot_minutes)
    out = []
    day = grid.start_date
    while day <= grid.end_date:
        start = datetime.combine(day, grid.day_start)
        end_of_day = datetime.combine(day, grid.day_end)
        while start + step <= end_of_day:
            out.append((start.replace(tzinfo=zone), (start + step).replace(tzinfo=zone)))
            start += step
        day += timedelta(days=1)
    return out


def available_slots(
    slots: Sequence[tuple[datetime, datetime]], unavailable: Sequence[tuple[datetime, datetime]]
) -> BoolArray:
    """False for each slot that overlaps one of the unavailable periods."""
    free = np.ones(len(slots), dtype=bool)
    for i, (start, end) in enumerate(slots):
        for u_start, u_end in unavailable:
            if start < u_end and u_start < end:
                free[i] = False
                break
    return free


def eligible_for_scheduling(
    status: Sequence[MatchStatus],
    scores: FloatArray,
    threshold: float,
    mode: interest.MatchingMode = interest.OPT_OUT,
    pairs: Sequence[interest.PairInterest] | None = None,
) -> BoolArray:
    """Which matches the scheduler may use: proposed, at or above the threshold,
    and allowed by both sides' interest under the organiser's mode (a decline
    never passes; opt-in needs both sides' accept or must-meet)."""
    proposed: BoolArray = np.asarray(status) == "proposed"
    out: BoolArray = proposed & (scores >= threshold)
    if pairs is not None:
        allowed = np.array([interest.eligible(mode, p) for p in pairs], dtype=bool)
        out &= allowed.reshape(out.shape)
    return out


# --- the scheduling problem of an event ---------------------------------------------------


@dataclass(frozen=True)
class Party:
    """A party as the scheduler sees it. `windows` (wall-clock, in the road show's
    zone) and `slot_ids` say when it can meet: a slot inside a window or listed
    by id; neither given, any slot. `unavailable` periods are taken out of that."""

    party_id: uuid.UUID
    max_meetings: int | None = None
    unavailable: tuple[tuple[datetime, datetime], ...] = ()
    languages: frozenset[str] = frozenset()  # what its people speak; empty: not said
    windows: tuple[tuple[datetime, datetime], ...] = ()
    slot_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Candidate:
    """A match the scheduler might turn into a meeting."""

    match_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    score: float
    status: MatchStatus
    answers: interest.PairInterest = field(default_factory=interest.PairInterest)


@dataclass(frozen=True)
class PreviousMeeting:
    """A meeting of the current schedule: rescheduling keeps it here if it can."""

    match_id: uuid.UUID
    slot: int
    table: int  # 0-based, as the solver counts
    locked: bool = False  # by the organiser: kept where it is whatever else could go there


@dataclass(frozen=True)
class SchedulingProblem:
    instance: Instance
    grid: SlotGrid
    slots: list[tuple[datetime, datetime]]
    match_ids: list[uuid.UUID]  # per pair of the instance
    enterprise_ids: list[uuid.UUID]
    participant_ids: list[uuid.UUID]
    # Per pair: a must-meet (placed first). And the previous schedule's meetings
    # that are still eligible, as (pairs, slots, tables) for `scheduler.solve`.
    must: BoolArray | None = None
    fixed: tuple[IntArray, IntArray, IntArray] | None = None
    locked: BoolArray | None = None  # per meeting of `fixed`: locked by the organiser
    layout: Layout = field(default_factory=Layout)
    closed: BoolArray | None = None  # per slot: inside an agenda block

    def interpreter_languages(self, interpreter: int) -> list[str]:
        if interpreter < 0:
            return []
        return sorted(self.layout.interpreters[interpreter].languages)

    def without_interpreter(self, scheduled: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """The matches that needed an interpreter and are not in the schedule."""
        needs = self.instance.needs_interpreter()
        meeting = set(scheduled)
        return [m for m, n in zip(self.match_ids, needs, strict=True) if n and m not in meeting]


@dataclass(frozen=True)
class Rules:
    """What decides an event's problem besides its parties and matches."""

    threshold: float
    fair_minimum: int
    enterprise_cap: int | None
    fairness_penalty: float = 10.0
    mode: interest.MatchingMode = interest.OPT_OUT
    # Interest as it stands at `now`, with requests living `interest_ttl`.
    now: datetime | None = None
    interest_ttl: timedelta | None = None


def scheduling_problem(
    grid: SlotGrid,
    enterprises: Sequence[Party],
    participants: Sequence[Party],
    candidates: Sequence[Candidate],
    rules: Rules,
    previous: Sequence[PreviousMeeting] = (),
    *,
    layout: Layout | None = None,
) -> SchedulingProblem:
    """The solver's instance for an event: its slots, its active parties with caps
    and availability, and the eligible matches between them under the
    organiser's mode, with interest as it stands at `now` (a request past its
    deadline counts as expired even before the periodic check recorded it).
    `previous` meetings still eligible are handed to the solver to keep.
    `layout` adds venues with travel, agenda blocks (no slot overlapping one is
    used) and interpreters for the pairs whose sides share no language."""
    layout = layout or Layout()
    slots = slot_times(grid)
    closed = agenda_closed(slots, layout.agenda)
    e_index = {p.party_id: i for i, p in enumerate(enterprises)}
    p_index = {p.party_id: i for i, p in enumerate(participants)}
    known = [c for c in candidates if c.enterprise_id in e_index and c.participant_id in p_index]
    pairs, must = _eligible_pairs(known, rules)
    pair_of = {c.match_id: i for i, c in enumerate(pairs)}
    still = [m for m in previous if m.match_id in pair_of]
    fixed = (
        np.array([pair_of[m.match_id] for m in still], dtype=np.int64).reshape(len(still)),
        np.array([m.slot for m in still], dtype=np.int64).reshape(len(still)),
        np.array([m.table for m in still], dtype=np.int64).reshape(len(still)),
    )
    pair_e = np.array([e_index[c.enterprise_id] for c in pairs], dtype=np.int64)
    pair_p = np.array([p_index[c.participant_id] for c in pairs], dtype=np.int64)
    instance = Instance(
        n_enterprises=len(enterprises),
        n_participants=len(participants),
        n_slots=len(slots),
        tables=sum(v.tables for v in layout.venues) if layout.venues else grid.tables,
        pair_enterprise=pair_e.reshape(len(pairs)),
        pair_participant=pair_p.reshape(len(pairs)),
        pair_score=np.array([c.score for c in pairs], dtype=np.float64),
        enterprise_cap=_caps(enterprises, rules.enterprise_cap, len(slots)),
        participant_cap=_caps(participants, None, len(slots)),
        enterprise_available=_availability(enterprises, slots) & ~closed,
        participant_available=_availability(participants, slots) & ~closed,
        fair_minimum=rules.fair_minimum,
        fairness_penalty=rules.fairness_penalty,
        **_resources(layout, slots, grid.timezone),
        **_interpreting(
            layout,
            slots,
            [enterprises[int(i)].languages for i in pair_e],
            [participants[int(i)].languages for i in pair_p],
        ),
    )
    return SchedulingProblem(
        instance=instance,
        grid=grid,
        slots=slots,
        match_ids=[c.match_id for c in pairs],
        enterprise_ids=[p.party_id for p in enterprises],
        participant_ids=[p.party_id for p in participants],
        must=must,
        fixed=fixed if still else None,
        locked=np.array([m.locked for m in still], dtype=bool).reshape(len(still))
        if still
        else None,
        layout=layout,
        closed=closed,
    )


def _resources(
    layout: Layout, slots: Sequence[tuple[datetime, datetime]], timezone: str
) -> dict[str, Any]:
    """The instance's venue arrays (none without venues)."""
    if not layout.venues:
        return {}
    zone = zoneinfo.ZoneInfo(timezone)
    days = [start.astimezone(zone).date() for start, _ in slots]
    open_at = np.array(
        [[not v.dates or day in v.dates for day in days] for v in layout.venues], dtype=bool
    ).reshape(len(layout.venues), len(slots))
    return {
        "venue_tables": np.array([v.tables for v in layout.venues], dtype=np.int64),
        "venue_open": open_at,
        # Minutes on the real time line (a DST change is counted as it happens).
        "slot_start": np.array([int(a.timestamp()) // 60 for a, _ in slots], dtype=np.int64),
        "slot_end": np.array([int(b.timestamp()) // 60 for _, b in slots], dtype=np.int64),
        "travel_minutes": travel_matrix(layout.venues, layout.travel),
        "slot_day": np.array([(d - days[0]).days for d in days], dtype=np.int64).reshape(
            len(slots)
        ),
    }


def _interpreting(
    layout: Layout,
    slots: Sequence[tuple[datetime, datetime]],
    enterprise_languages: Sequence[frozenset[str]],
    participant_languages: Sequence[frozenset[str]],
) -> dict[str, Any]:
    """The instance's interpreter arrays (none when no pair needs one)."""
    langs = [i.languages for i in layout.interpreters]
    needs, able = interpreter_arrays(enterprise_languages, participant_languages, langs)
    if not needs.any():
        return {}
    available = np.array(
        [within_windows(slots, i.available) for i in layout.interpreters], dtype=bool
    ).reshape(len(langs), len(slots))
    return {
        "pair_needs_interpreter": needs,
        "pair_interpreters": able,
        "interpreter_available": available,
    }


def _eligible_pairs(known: Sequence[Candidate], rules: Rules) -> tuple[list[Candidate], BoolArray]:
    """The candidates the scheduler may use, and which of them are must-meets."""
    scores = np.array([c.score for c in known], dtype=np.float64)
    now, ttl = rules.now, rules.interest_ttl
    answers = [
        interest.with_expiry(c.answers, now, ttl)
        if now is not None and ttl is not None
        else c.answers
        for c in known
    ]
    status = [c.status for c in known]
    keep = eligible_for_scheduling(status, scores, rules.threshold, rules.mode, answers)
    pairs = [c for c, k in zip(known, keep, strict=True) if k]
    must = np.array(
        [interest.must_meet(a) for a, k in zip(answers, keep, strict=True) if k], dtype=bool
    ).reshape(len(pairs))
    return pairs, must


def _caps(parties: Sequence[Party], default: int | None, n_slots: int) -> IntArray:
    return np.array(
        [p.max_meetings or default or n_slots for p in parties], dtype=np.int64
    ).reshape(len(parties))


def _availability(
    parties: Sequence[Party], slots: Sequence[tuple[datetime, datetime]]
) -> BoolArray:
    out = np.ones((len(parties), len(slots)), dtype=bool)
    for i, p in enumerate(parties):
        if p.windows or p.slot_ids:
            out[i] = offered_slots(slots, p.windows, p.slot_ids)
        if p.unavailable:
            out[i] &= available_slots(slots, p.unavailable)
    return out


def meeting_places(
    problem: SchedulingProblem, schedule: Schedule, default_venue: str
) -> list[tuple[uuid.UUID, str, int, list[str]]]:
    """Per meeting of a schedule: its match, venue (`default_venue` without
    venues), 1-based table at that venue, and its interpreter's languages."""
    inst = problem.instance
    venue = inst.venue_of_table(schedule.table)
    first = inst.first_table()[venue]
    return [
        (
            problem.match_ids[int(k)],
            problem.layout.venues[int(v)].name if problem.layout.venues else default_venue,
            int(table) - int(f) + 1,
            problem.interpreter_languages(int(i)),
        )
        for k, v, table, f, i in zip(
            schedule.pair, venue, schedule.table, first, schedule.interpreter, strict=True
        )
    ]


def offered_slots(
    slots: Sequence[tuple[datetime, datetime]],
    windows: Sequence[tuple[datetime, datetime]],
    slot_ids: Collection[int],
) -> BoolArray:
    """True for each slot listed by id or lying wholly inside one of the windows
    (wall-clock times in the slots' zone, compared as such)."""
    free = np.zeros(len(slots), dtype=bool)
    for i, (start, end) in enumerate(slots):
        local_start, local_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        free[i] = i in slot_ids or any(
            w_start <= local_start and local_end <= w_end for w_start, w_end in windows
        )
    return free
