"""The schedule as an Excel workbook (openpyxl): the grid as the console shows it,
and every meeting on its own row, times in the road show's zone."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from services.console.dashboard import grid, local_start

MEETING_COLUMNS = (
    "starts_at",
    "ends_at",
    "table",
    "enterprise_name",
    "participant_name",
    "participant_kind",
    "score",
)


def schedule_xlsx(meetings: list[dict[str, Any]], zone: str, labels: dict[str, str]) -> bytes:
    """Two sheets: Grid (enterprises x slots) and Meetings (one row each, by time).
    `labels` names the sheets and headers in the viewer's language."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = labels["grid"]
    g = grid(meetings, zone)
    sheet.append(
        [
            labels["enterprise"],
            *(local_start({"starts_at": s}, zone).strftime("%Y-%m-%d %H:%M") for _, s in g.slots),
        ]
    )
    for _, name, cells in g.rows:
        sheet.append(
            [
                name,
                *(
                    f"{m['participant_name']} · {labels['table']} {m['table']}" if m else ""
                    for m in cells
                ),
            ]
        )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    sheet.column_dimensions["A"].width = 40
    for row in sheet.iter_rows(min_row=2):
        for cell in row[1:]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    listing = book.create_sheet(labels["meetings"])
    listing.append([labels[c] for c in MEETING_COLUMNS])
    live = sorted(
        (m for m in meetings if m.get("status") == "scheduled"),
        key=lambda m: (local_start(m, zone), int(m["table"])),
    )
    for m in live:
        listing.append(
            [
                local_start(m, zone).replace(tzinfo=None),
                local_start({"starts_at": m["ends_at"]}, zone).replace(tzinfo=None),
                int(m["table"]),
                m.get("enterprise_name") or "",
                m.get("participant_name") or "",
                m.get("participant_kind") or "",
                float(m["score"]),
            ]
        )
    for cell in listing[1]:
        cell.font = Font(bold=True)
    for column in ("A", "B"):
        for cell in listing[column][1:]:
            cell.number_format = "yyyy-mm-dd hh:mm"
        listing.column_dimensions[column].width = 18
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
