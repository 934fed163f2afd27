"""A road show's dashboard figures as pure functions over what the APIs answered
(plain dicts as they come off the wire): no I/O, unit-tested on small data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PARTICIPANT_KINDS = ("fund", "bank", "company")
ANSWERS = ("pending", "accept", "must-meet", "decline", "expired")


@dataclass(frozen=True)
class Capacity:
    days: int
    slots_per_day: int
    tables: int
    enterprises: int
    fair_minimum: int
    eligible_pairs: int  # matches no side declined: the most meetings the solver may use

    @property
    def slots(self) -> int:
        return self.days * self.slots_per_day

    @property
    def meetings_possible(self) -> int:
        """At most one meeting per table and slot, and no more than the eligible pairs."""
        return min(self.tables * self.slots, self.eligible_pairs)

    @property
    def meetings_wanted(self) -> int:
        return self.enterprises * self.fair_minimum

    @property
    def minimum_reachable(self) -> bool:
        return (
            self.meetings_wanted <= self.tables * self.slots
            and self.fair_minimum <= self.slots
            and self.meetings_wanted <= self.eligible_pairs
        )

    @property
    def limit(self) -> str | None:
        """What stops the fair minimum: 'tables', 'slots', 'pairs', or None when reachable."""
        if self.fair_minimum > self.slots:
            return "slots"
        if self.meetings_wanted > self.tables * self.slots:
            return "tables"
        if self.meetings_wanted > self.eligible_pairs:
            return "pairs"
        return None


def slots_per_day(day_start: time, day_end: time, slot_minutes: int) -> int:
    """As matching builds its grid: whole slots between the day's start and end."""
    start = datetime.combine(date(2000, 1, 1), day_start)
    end = datetime.combine(date(2000, 1, 1), day_end)
    minutes = int((end - start) / timedelta(minutes=1))
    return max(minutes // slot_minutes, 0) if slot_minutes > 0 else 0


def capacity(
    roadshow: dict[str, Any], matches: list[dict[str, Any]], fair_minimum: int
) -> Capacity:
    days = (
        date.fromisoformat(roadshow["end_date"]) - date.fromisoformat(roadshow["start_date"])
    ).days + 1
    per_day = slots_per_day(
        time.fromisoformat(roadshow["day_start"]),
        time.fromisoformat(roadshow["day_end"]),
        int(roadshow["slot_minutes"]),
    )
    enterprises = {m["enterprise_id"] for m in matches}
    eligible = sum(1 for m in matches if "decline" not in _answers(m))
    return Capacity(
        days, per_day, int(roadshow["tables"]), len(enterprises), fair_minimum, eligible
    )


def _answers(m: dict[str, Any]) -> tuple[str | None, str | None]:
    return m.get("enterprise_interest"), m.get("participant_interest")


def parties_by_kind(matches: list[dict[str, Any]]) -> dict[str, int]:
    """Parties with at least one match: enterprises, and participants by kind."""
    out = {"enterprise": len({m["enterprise_id"] for m in matches})}
    by_kind: dict[str, set[str]] = {k: set() for k in PARTICIPANT_KINDS}
    for m in matches:
        by_kind.setdefault(m["participant_kind"], set()).add(m["participant_id"])
    out.update({kind: len(ids) for kind, ids in by_kind.items()})
    return out


def parties_by_partner(matches: list[dict[str, Any]]) -> dict[str, int]:
    """Parties with at least one match, by the partner that registered them."""
    seen: dict[str, set[str]] = {}
    for m in matches:
        seen.setdefault(str(m.get("enterprise_partner_id")), set()).add(m["enterprise_id"])
        seen.setdefault(str(m.get("participant_partner_id")), set()).add(m["participant_id"])
    return {partner: len(ids) for partner, ids in sorted(seen.items())}


def interest_answers(matches: list[dict[str, Any]]) -> dict[str, int]:
    """Every side's answer on every match (two per match); unanswered is 'pending'."""
    counts = Counter(a or "pending" for m in matches for a in _answers(m))
    return {a: counts.get(a, 0) for a in ANSWERS}


def acceptance_rate(matches: list[dict[str, Any]]) -> float | None:
    """Share of matches both sides accepted (or must-meet) among those both answered."""
    answered = [m for m in matches if all(a is not None for a in _answers(m))]
    if not answered:
        return None
    positive = {"accept", "must-meet"}
    both = sum(1 for m in answered if all(a in positive for a in _answers(m)))
    return both / len(answered)


def meetings_per_enterprise(
    matches: list[dict[str, Any]], meetings: list[dict[str, Any]]
) -> dict[int, int]:
    """How many enterprises (with a match) have 0, 1, 2, ... scheduled meetings."""
    per = Counter(m["enterprise_id"] for m in meetings if m.get("status") == "scheduled")
    enterprises = {m["enterprise_id"] for m in matches} | set(per)
    dist = Counter(per.get(e, 0) for e in enterprises)
    top = max(dist, default=0)
    return {n: dist.get(n, 0) for n in range(top + 1)}


@dataclass(frozen=True)
class Grid:
    """The schedule as rows (enterprises) by columns (slots), each cell a meeting or None."""

    slots: list[tuple[int, str]]  # (slot number, its start as an ISO time)
    rows: list[tuple[str, str, list[dict[str, Any] | None]]]  # (enterprise id, name, cells)


def local_start(meeting: dict[str, Any], zone: str) -> datetime:
    return datetime.fromisoformat(str(meeting["starts_at"])).astimezone(ZoneInfo(zone))


def grid(
    meetings: list[dict[str, Any]], zone: str, day: str | None = None, venue: str | None = None
) -> Grid:
    """Scheduled meetings only; `day` (an ISO date in the event's zone) keeps that
    day's, `venue` that venue's."""
    live = [m for m in meetings if m.get("status") == "scheduled"]
    if day:
        live = [m for m in live if local_start(m, zone).date().isoformat() == day]
    if venue:
        live = [m for m in live if m.get("venue") == venue]
    slots = sorted({(int(m["slot"]), local_start(m, zone).isoformat()) for m in live})
    column = {slot: i for i, (slot, _) in enumerate(slots)}
    rows: dict[str, tuple[str, list[dict[str, Any] | None]]] = {}
    for m in live:
        eid = str(m["enterprise_id"])
        _, cells = rows.setdefault(eid, (m.get("enterprise_name") or eid, [None] * len(slots)))
        cells[column[int(m["slot"])]] = m
    ordered = sorted(rows.items(), key=lambda kv: kv[1][0].lower())
    return Grid(slots, [(eid, name, cells) for eid, (name, cells) in ordered])


def days(meetings: list[dict[str, Any]], zone: str) -> list[str]:
    """The days (ISO dates in the event's zone) that have scheduled meetings."""
    live = [m for m in meetings if m.get("status") == "scheduled"]
    return sorted({local_start(m, zone).date().isoformat() for m in live})


def venues(meetings: list[dict[str, Any]]) -> list[str]:
    """The venues that have scheduled meetings (none for a road show without venues)."""
    return sorted(
        {m["venue"] for m in meetings if m.get("status") == "scheduled" and m.get("venue")}
    )


def slot_starts(roadshow: dict[str, Any]) -> list[datetime]:
    """Each slot's start in the road show's zone, numbered as matching numbers them."""
    zone = ZoneInfo(roadshow["timezone"])
    step = timedelta(minutes=int(roadshow["slot_minutes"]))
    per_day = slots_per_day(
        time.fromisoformat(roadshow["day_start"]),
        time.fromisoformat(roadshow["day_end"]),
        int(roadshow["slot_minutes"]),
    )
    first = date.fromisoformat(roadshow["start_date"])
    last = date.fromisoformat(roadshow["end_date"])
    out: list[datetime] = []
    day = first
    while day <= last:
        start = datetime.combine(day, time.fromisoformat(roadshow["day_start"]))
        out += [(start + i * step).replace(tzinfo=zone) for i in range(per_day)]
        day += timedelta(days=1)
    return out
