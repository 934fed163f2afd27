"""The dashboard's figures from API answers: capacity, interest, KPIs, the grid."""

from __future__ import annotations

from datetime import time
from typing import Any

from services.console import charts, dashboard

ROADSHOW: dict[str, Any] = {
    "start_date": "2027-05-15",
    "end_date": "2027-05-16",
    "day_start": "09:00:00",
    "day_end": "12:00:00",
    "slot_minutes": 40,
    "tables": 2,
}
ZONE = "Asia/Shanghai"


def _match(
    e: str, p: str, kind: str = "fund", ei: str | None = None, pi: str | None = None
) -> dict[str, Any]:
    return {
        "enterprise_id": e,
        "participant_id": p,
        "participant_kind": kind,
        "enterprise_interest": ei,
        "participant_interest": pi,
        "enterprise_partner_id": "A",
        "participant_partner_id": "B",
    }


def test_slots_are_whole_slots_between_start_and_end() -> None:
    assert dashboard.slots_per_day(time(9), time(12), 40) == 4  # 09:00..11:40, 12:20 does not fit
    assert dashboard.slots_per_day(time(9), time(9), 40) == 0


def test_capacity_names_tables_as_the_limit_when_the_room_is_too_small() -> None:
    matches = [_match(f"e{i}", f"p{j}") for i in range(5) for j in range(4)]
    cap = dashboard.capacity(ROADSHOW, matches, fair_minimum=4)
    assert (cap.days, cap.slots, cap.tables) == (2, 8, 2)
    assert cap.meetings_wanted == 20 and cap.tables * cap.slots == 16
    assert not cap.minimum_reachable and cap.limit == "tables"
    assert dashboard.capacity(ROADSHOW, matches, fair_minimum=3).limit is None


def test_capacity_counts_declined_pairs_out() -> None:
    matches = [_match("e1", "p1", ei="decline"), _match("e1", "p2"), _match("e2", "p1")]
    cap = dashboard.capacity(ROADSHOW, matches, fair_minimum=1)
    assert cap.eligible_pairs == 2 and cap.limit is None
    assert dashboard.capacity(ROADSHOW, matches, fair_minimum=2).limit == "pairs"
    assert dashboard.capacity(ROADSHOW, matches, fair_minimum=9).limit == "slots"


def test_interest_answers_count_both_sides_and_acceptance_needs_both_answers() -> None:
    matches = [
        _match("e1", "p1", ei="accept", pi="must-meet"),
        _match("e1", "p2", ei="accept", pi="decline"),
        _match("e2", "p1", ei="accept"),
    ]
    answers = dashboard.interest_answers(matches)
    assert answers == {"pending": 1, "accept": 3, "must-meet": 1, "decline": 1, "expired": 0}
    assert dashboard.acceptance_rate(matches) == 0.5
    assert dashboard.acceptance_rate([_match("e1", "p1")]) is None


def test_parties_by_kind_and_partner_count_each_party_once() -> None:
    matches = [_match("e1", "p1"), _match("e2", "p1"), _match("e1", "b1", kind="bank")]
    assert dashboard.parties_by_kind(matches) == {
        "enterprise": 2,
        "fund": 1,
        "bank": 1,
        "company": 0,
    }
    assert dashboard.parties_by_partner(matches) == {"A": 2, "B": 2}


def _meeting(e: str, slot: int, starts_at: str, status: str = "scheduled") -> dict[str, Any]:
    return {
        "enterprise_id": e,
        "enterprise_name": e.upper(),
        "participant_name": "P",
        "slot": slot,
        "table": 1,
        "starts_at": starts_at,
        "status": status,
    }


def test_meetings_per_enterprise_includes_enterprises_without_a_meeting() -> None:
    matches = [_match("e1", "p1"), _match("e2", "p1"), _match("e3", "p1")]
    meetings = [
        _meeting("e1", 0, "2027-05-15T01:00:00+00:00"),
        _meeting("e1", 1, "2027-05-15T01:40:00+00:00"),
        _meeting("e2", 0, "2027-05-15T01:00:00+00:00"),
        _meeting("e3", 0, "2027-05-15T01:00:00+00:00", status="cancelled"),
    ]
    assert dashboard.meetings_per_enterprise(matches, meetings) == {0: 1, 1: 1, 2: 1}


def test_grid_puts_meetings_in_their_slot_column_in_the_event_zone() -> None:
    meetings = [
        _meeting("e2", 4, "2027-05-16T01:00:00+00:00"),  # 09:00 in Shanghai, second day
        _meeting("e1", 1, "2027-05-15T01:40:00+00:00"),
        _meeting("e1", 0, "2027-05-14T17:00:00-08:00"),  # 09:00 on the 15th in Shanghai
    ]
    zone = ZONE
    assert dashboard.days(meetings, zone) == ["2027-05-15", "2027-05-16"]
    g = dashboard.grid(meetings, zone)
    assert [s for s, _ in g.slots] == [0, 1, 4]
    assert [(eid, [c is not None for c in cells]) for eid, _, cells in g.rows] == [
        ("e1", [True, True, False]),
        ("e2", [False, False, True]),
    ]
    first_day = dashboard.grid(meetings, zone, day="2027-05-15")
    assert [s for s, _ in first_day.slots] == [0, 1] and len(first_day.rows) == 1


def test_grid_filters_by_venue_and_lists_the_venues_in_use() -> None:
    meetings = [
        _meeting("e1", 0, "2027-05-15T01:00:00+00:00") | {"venue": "Caohejing"},
        _meeting("e2", 1, "2027-05-15T01:40:00+00:00") | {"venue": "Zhangjiang"},
        _meeting("e3", 2, "2027-05-15T02:20:00+00:00") | {"venue": "Zhangjiang"},
    ]
    assert dashboard.venues(meetings) == ["Caohejing", "Zhangjiang"]
    g = dashboard.grid(meetings, ZONE, venue="Zhangjiang")
    assert [eid for eid, _, _ in g.rows] == ["e2", "e3"] and [s for s, _ in g.slots] == [1, 2]
    assert dashboard.venues([_meeting("e1", 0, "2027-05-15T01:00:00+00:00")]) == []


def test_charts_escape_labels_and_scale_bars_to_the_largest_value() -> None:
    svg = str(charts.bars("t", [("<b>", 10), ("x", 5)]))
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert 'width="320"' in svg and 'width="160"' in svg
    assert "style=" not in svg  # the CSP forbids inline styles
