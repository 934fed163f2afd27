"""A road show with two venues, a lunch block and one interpreter, scheduled by the
worker on a real database: no meeting at lunch, each meeting at a venue with its
table there, interpreted meetings never two at once, and the schedule (JSON, CSV,
.ics) and events show the venue and the interpreter's languages."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from shared.contracts.matching import Meeting
from tests import factories
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)
from tests.integration.matching.test_scheduling_jobs import _finished, _scheduled, _start

SHANGHAI = ZoneInfo("Asia/Shanghai")
LUNCH = (
    datetime(2027, 5, 15, 10, 0, tzinfo=SHANGHAI),
    datetime(2027, 5, 15, 10, 30, tzinfo=SHANGHAI),
)
LAYOUT: dict[str, Any] = {
    "day_start": "09:00",
    "day_end": "12:00",
    "slot_minutes": 30,
    "venues": [{"name": "Caohejing", "tables": 2}, {"name": "Zhangjiang", "tables": 1}],
    "travel": [{"between": ["Caohejing", "Zhangjiang"], "minutes": 45}],
    "agenda": [{"title": "Lunch", "starts_at": LUNCH[0], "ends_at": LUNCH[1]}],
    "interpreters": [{"interpreter_id": uuid.uuid4(), "languages": ["en", "zh"]}],
}


def speaking(languages: list[str]) -> dict[str, Any]:
    return {**factories.person(), "languages": languages}


async def test_venues_lunch_and_interpreter(store: Store) -> None:
    organiser, headers = await store.partner()
    delegate, delegate_headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid, tables=3, **LAYOUT), organiser)
    for i in range(6):
        contact = speaking(["zh"] if i % 2 else ["zh", "en"])
        kind = ["fund", "bank"][i % 2]
        await store.deliver(
            "participant.registered", participant_contract(rid, kind, contact=contact), organiser
        )
    firms = [enterprise_contract(rid, president=speaking(["en"])) for _ in range(3)]
    for e in firms:
        await store.deliver("enterprise.registered", e, delegate)

    job = await _start(store, rid, headers, fair_minimum=2)
    store.run_worker()
    done = await _finished(store, job["job_id"], headers)
    assert done["status"] == "succeeded", done
    meetings = await _scheduled(store, rid)
    assert meetings
    assert 2 not in {m["slot"] for m in meetings}  # 10:00-10:30 is lunch
    assert {m["venue_name"] for m in meetings} <= {"Caohejing", "Zhangjiang"}
    for m in meetings:
        limit = 2 if m["venue_name"] == "Caohejing" else 1
        assert 1 <= m["venue_table"] <= limit
    interpreted = [m for m in meetings if m["interpreter_languages"]]
    assert interpreted and all(m["interpreter_languages"] == ["en", "zh"] for m in interpreted)
    assert len({m["slot"] for m in interpreted}) == len(interpreted)  # one interpreter

    events = [Meeting.model_validate(e["data"]) for e in await store.outbox("meeting.scheduled")]
    assert {e.venue for e in events} == {m["venue_name"] for m in meetings}
    assert sum(bool(e.interpreter_languages) for e in events) == len(interpreted)
    (completed,) = await store.outbox("schedule.completed")
    assert completed["data"]["interpreted"] == len(interpreted)
    assert isinstance(completed["data"]["without_interpreter"], list)

    path = f"/v1/roadshows/{rid}/schedule"
    body = await (await store.client.get(path, headers=headers)).json()
    assert {m["venue"] for m in body["meetings"]} == {m["venue_name"] for m in meetings}
    resp = await store.client.get(path, headers=headers, params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert {r["venue"] for r in rows} == {m["venue_name"] for m in meetings}
    assert sum(r["interpreter_languages"] == "en zh" for r in rows) == len(interpreted)
    resp = await store.client.get(
        f"/v1/enterprises/{firms[0].enterprise_id}/schedule",
        headers=delegate_headers,
        params={"format": "ics"},
    )
    calendar = Calendar.from_ical(await resp.read())
    locations = {str(v["location"]).split(",")[0] for v in calendar.walk("VEVENT")}
    assert locations and locations <= {"Caohejing", "Zhangjiang"}
