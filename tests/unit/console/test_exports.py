"""The schedule workbook: the grid and the meeting list, in the road show's zone."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook

from services.console.exports import MEETING_COLUMNS, schedule_xlsx

LABELS = {"grid": "Grid", "meetings": "Meetings", "enterprise": "Enterprise", "table": "table"}
LABELS |= {c: c for c in MEETING_COLUMNS}


def _meeting(
    e: str, p: str, slot: int, start: str, end: str, status: str = "scheduled"
) -> dict[str, object]:
    return {
        "enterprise_id": e,
        "enterprise_name": e,
        "participant_name": p,
        "participant_kind": "bank",
        "slot": slot,
        "table": slot + 1,
        "score": 0.5,
        "starts_at": start,
        "ends_at": end,
        "status": status,
    }


def test_the_workbook_has_the_grid_and_every_scheduled_meeting_in_local_time() -> None:
    meetings = [
        _meeting("Nova", "Bank A", 1, "2027-05-15T01:40:00+00:00", "2027-05-15T02:20:00+00:00"),
        _meeting("Arc", "Fund B", 0, "2027-05-15T01:00:00+00:00", "2027-05-15T01:40:00+00:00"),
        _meeting(
            "Arc", "Gone", 1, "2027-05-15T01:40:00+00:00", "2027-05-15T02:20:00+00:00", "cancelled"
        ),
    ]
    book = load_workbook(io.BytesIO(schedule_xlsx(meetings, "Asia/Shanghai", LABELS)))
    grid = [[c.value for c in row] for row in book["Grid"].iter_rows()]
    assert grid == [
        ["Enterprise", "2027-05-15 09:00", "2027-05-15 09:40"],
        ["Arc", "Fund B · table 1", None],
        ["Nova", None, "Bank A · table 2"],
    ]
    rows = [[c.value for c in row] for row in book["Meetings"].iter_rows()]
    assert rows[0] == list(MEETING_COLUMNS)
    assert [r[0] for r in rows[1:]] == [datetime(2027, 5, 15, 9, 0), datetime(2027, 5, 15, 9, 40)]
    assert rows[1][3:5] == ["Arc", "Fund B"]
