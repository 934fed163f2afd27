"""The schedule page renders in headless Chromium and shows the schedule."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

from demo.schedule_page import render_schedule_html

ROADSHOW = {
    "name": "NA intelligent technology road show",
    "venue": "Caohejing",
    "timezone": "Asia/Shanghai",
}


def _meetings() -> tuple[dict[str, str], dict[str, tuple[str, str]], list[dict[str, object]]]:
    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(2027, 5, 15, 9, 0, tzinfo=zone)
    enterprises = {"e1": "Nova AI Labs", "e2": "Arc Battery Systems"}
    participants = {"p1": ("Xuhui AI Capital", "fund"), "p2": ("Bank of Pudong", "bank")}
    meetings = [
        {
            "enterprise_id": "e1",
            "participant_id": "p1",
            "slot": 0,
            "table": 3,
            "score": 0.91,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=40)).isoformat(),
        },
        {
            "enterprise_id": "e1",
            "participant_id": "p2",
            "slot": 2,
            "table": 1,
            "score": 0.72,
            "starts_at": (start + timedelta(minutes=80)).isoformat(),
            "ends_at": (start + timedelta(minutes=120)).isoformat(),
        },
        {
            "enterprise_id": "e2",
            "participant_id": "p2",
            "slot": 0,
            "table": 4,
            "score": 0.66,
            "starts_at": start.astimezone(ZoneInfo("UTC")).isoformat(),
            "ends_at": (start + timedelta(minutes=40)).isoformat(),
        },
    ]
    return enterprises, participants, meetings


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data + " ")


def test_schedule_page_renders_in_headless_chromium() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is required (Debian package 'chromium'; .ci/run installs it)"
    page = render_schedule_html(ROADSHOW, *_meetings())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schedule.html"
        path.write_text(page)
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp}/profile",
                "--dump-dom",
                path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    parser = _Cells()
    parser.feed(done.stdout)  # the DOM as the browser built it
    header, *rows = [r for r in parser.rows if r]
    assert header == ["Enterprise", "09:00", "10:20"]  # UTC times shown in the event's zone
    by_name = {r[0].split(" ")[0] + " " + r[0].split(" ")[1]: r for r in rows}
    assert by_name["Arc Battery"][1].startswith("Bank of Pudong bank · table 4")
    nova = by_name["Nova AI"]
    assert nova[0].endswith("2 meetings")
    assert nova[1].startswith("Xuhui AI Capital fund · table 3 · 0.91")
    assert nova[2].startswith("Bank of Pudong")
    assert "3</span> meetings" in done.stdout
