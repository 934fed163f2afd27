"""Scheduling as jobs on a real database: the organiser starts one over HTTP, the
worker claims and solves it, the schedule replaces the previous one with events;
withdrawals and road-show changes cancel meetings; a dead worker's job is taken
over; a stale solution is refused."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from services.matching.scheduling.model import Job
from services.matching.scheduling.service import LoadedProblem, Scheduling
from services.matching.scheduling.solver import Schedule, solve
from shared.contracts.matching import Meeting
from shared.testing.waiting import eventually
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    matching_settings,
    participant_contract,
    roadshow_contract,
    withdrawn,
)

# 09:00-12:00 in 30-minute slots: 6 slots, 3 tables each.
GRID: dict[str, Any] = {"day_start": "09:00", "day_end": "12:00", "slot_minutes": 30, "tables": 3}


async def _claim(store: Store, scheduling: Scheduling) -> Job | None:
    async with store.unit() as uow:
        return await scheduling.claim_job(uow, uuid.uuid4())


async def _problem(store: Store, scheduling: Scheduling, job: Job) -> LoadedProblem:
    # As the worker does: expired requests are recorded, then the problem is read.
    await store.expire_interest()
    return await scheduling.read_problem(store.conn, job)


async def _save(
    store: Store, scheduling: Scheduling, job: Job, loaded: LoadedProblem, schedule: Schedule
) -> bool:
    async with store.unit() as uow:
        return await scheduling.save_schedule(uow, job, loaded, schedule)


async def _event(store: Store, enterprises: int = 4, participants: int = 6) -> dict[str, Any]:
    organiser, headers = await store.partner()
    delegate, delegate_headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid, **GRID), organiser)
    kinds = ["fund", "bank"]
    people = [participant_contract(rid, kinds[i % 2]) for i in range(participants)]
    for p in people:
        await store.deliver("participant.registered", p, organiser)
    firms = [enterprise_contract(rid) for _ in range(enterprises)]
    for e in firms:
        await store.deliver("enterprise.registered", e, delegate)
    return {
        "rid": rid,
        "organiser": organiser,
        "headers": headers,
        "delegate_headers": delegate_headers,
        "participants": people,
        "enterprises": firms,
    }


async def _start(store: Store, rid: uuid.UUID, headers: dict[str, str], **body: Any) -> Any:
    resp = await store.client.post(f"/v1/roadshows/{rid}/schedule-jobs", json=body, headers=headers)
    assert resp.status == 202, await resp.text()
    return await resp.json()


async def _finished(store: Store, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        resp = await store.client.get(f"/v1/schedule-jobs/{job_id}", headers=headers)
        job: dict[str, Any] = await resp.json()
        return job if job["status"] in ("succeeded", "failed") else None

    return await eventually(done, within=30, what="the scheduling job to finish")


async def _scheduled(store: Store, rid: uuid.UUID) -> list[Any]:
    return list(
        await store.conn.fetch(
            "SELECT * FROM meetings WHERE roadshow_id = $1 AND status = 'scheduled'", rid
        )
    )


async def test_organiser_schedules_and_reads_the_schedule(store: Store) -> None:
    ev = await _event(store)
    rid, headers = ev["rid"], ev["headers"]
    resp = await store.client.post(
        f"/v1/roadshows/{rid}/schedule-jobs", json={}, headers=ev["delegate_headers"]
    )
    assert resp.status == 404 and (await resp.json())["field"] == "roadshow_id"

    job = await _start(store, rid, {**headers, "Idempotency-Key": "k1"}, fair_minimum=2)
    assert job["status"] == "queued" and job["progress"] == 0 and job["fair_minimum"] == 2
    again = await _start(store, rid, {**headers, "Idempotency-Key": "k1"}, fair_minimum=2)
    assert again["job_id"] == job["job_id"]
    resp = await store.client.post(f"/v1/roadshows/{rid}/schedule-jobs", headers=headers)
    assert resp.status == 409 and (await resp.json())["field"] == "roadshow_id"
    resp = await store.client.get(
        f"/v1/schedule-jobs/{job['job_id']}", headers=ev["delegate_headers"]
    )
    assert resp.status == 404  # another partner's job

    store.run_worker()
    done = await _finished(store, job["job_id"], headers)
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1 and done["shortfall"] == 0
    assert done["total_score"] <= done["upper_bound"] + 1e-6
    # A road show this small is solved exactly; a queued job has nothing to prove yet.
    assert done["proven"] is True and job["proven"] is None
    meetings = await _scheduled(store, rid)
    assert len(meetings) == done["meetings"] > 0
    assert {m["slot"] for m in meetings} <= set(range(6))
    assert {m["table_no"] for m in meetings} <= {1, 2, 3}
    per_enterprise: dict[uuid.UUID, int] = {}
    for m in meetings:
        per_enterprise[m["enterprise_id"]] = per_enterprise.get(m["enterprise_id"], 0) + 1
    assert len(per_enterprise) == 4 and min(per_enterprise.values()) >= 2  # the fair minimum

    events = await store.outbox("meeting.scheduled")
    assert len(events) == len(meetings)
    sample = Meeting.model_validate(events[0]["data"])
    assert events[0]["key"] == str(sample.match_id)
    assert sample.timezone == "Asia/Shanghai" and sample.starts_at.utcoffset() is not None
    assert time(9) <= sample.starts_at.astimezone(ZoneInfo("Asia/Shanghai")).time() < time(12)
    (completed,) = await store.outbox("schedule.completed")
    assert completed["data"]["meetings"] == len(meetings)

    # The whole schedule, as JSON and CSV.
    path = f"/v1/roadshows/{rid}/schedule"
    body = await (await store.client.get(path, headers=headers)).json()
    assert body["schedule_id"] == done["schedule_id"] and len(body["meetings"]) == len(meetings)
    resp = await store.client.get(path, headers=headers, params={"format": "csv"})
    assert resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert len(rows) == len(meetings)
    assert rows[0]["starts_at"].endswith("+08:00")
    # One enterprise's own calendar, in the event's zone.
    enterprise = ev["enterprises"][0].enterprise_id
    resp = await store.client.get(
        f"/v1/enterprises/{enterprise}/schedule",
        headers=ev["delegate_headers"],
        params={"format": "ics"},
    )
    assert resp.status == 200 and resp.content_type == "text/calendar"
    calendar = Calendar.from_ical(await resp.read())
    vevents = list(calendar.walk("VEVENT"))
    assert len(vevents) == per_enterprise[enterprise]
    assert [t["TZID"] for t in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    start = vevents[0].decoded("dtstart")
    assert str(start.tzinfo) == "Asia/Shanghai" and time(9) <= start.time() < time(12)


async def test_rerun_replaces_and_withdrawals_cancel(store: Store) -> None:
    ev = await _event(store)
    rid, headers = ev["rid"], ev["headers"]
    store.run_worker()
    first = await _finished(store, (await _start(store, rid, headers))["job_id"], headers)
    before = {(m["match_id"], m["slot"], m["table_no"]) for m in await _scheduled(store, rid)}

    # A participant leaves: its meetings are cancelled at once, with events.
    leaving = ev["participants"][0]
    theirs = [
        m for m in await _scheduled(store, rid) if m["participant_id"] == leaving.participant_id
    ]
    assert theirs
    await store.deliver(
        "participant.withdrawn", withdrawn(leaving.participant_id, rid, 2), ev["organiser"]
    )
    cancelled = await store.outbox("meeting.cancelled")
    assert {c["data"]["meeting_id"] for c in cancelled} == {str(m["id"]) for m in theirs}
    assert all(c["data"]["status"] == "cancelled" for c in cancelled)

    # Scheduling again replaces the schedule: what stays keeps its meeting, the
    # rest is cancelled or newly scheduled, and the events say exactly that.
    second = await _finished(store, (await _start(store, rid, headers))["job_id"], headers)
    assert second["status"] == "succeeded" and second["schedule_id"] != first["schedule_id"]
    now = await _scheduled(store, rid)
    assert {m["schedule_id"] for m in now} == {uuid.UUID(second["schedule_id"])}
    assert leaving.participant_id not in {m["participant_id"] for m in now}
    scheduled = await store.outbox("meeting.scheduled")
    cancelled = await store.outbox("meeting.cancelled")
    live = {e["data"]["meeting_id"] for e in scheduled} - {
        e["data"]["meeting_id"] for e in cancelled
    }
    assert live == {str(m["id"]) for m in now}
    assert len(before) >= len(now) > 0

    # The road show's slots change: the schedule no longer fits and is cancelled.
    await store.deliver(
        "roadshow.updated",
        roadshow_contract(rid, version=2, **{**GRID, "slot_minutes": 20}),
        ev["organiser"],
    )
    assert await _scheduled(store, rid) == []
    body = await (await store.client.get(f"/v1/roadshows/{rid}/schedule", headers=headers)).json()
    assert body == {**body, "schedule_id": None, "meetings": []}


async def test_a_dead_workers_job_is_taken_over(store: Store) -> None:
    ev = await _event(store, enterprises=2, participants=3)
    job = await _start(store, ev["rid"], ev["headers"])
    # A worker claims the job and dies without a heartbeat.
    quick = Scheduling.from_settings(matching_settings(store.dsn, scheduler_lease_seconds=0.2))
    dead = await _claim(store, quick)
    assert dead is not None and str(dead.id) == job["job_id"]
    loaded = await _problem(store, quick, dead)

    async def taken_over() -> Job | None:
        return await _claim(store, quick)

    alive = await eventually(taken_over, within=10, what="the job's lease to run out")
    assert alive.id == dead.id and alive.attempts == 2
    schedule = solve(loaded.problem.instance)
    # The dead worker comes back too late: its result is refused.
    assert not await _save(store, quick, dead, loaded, schedule)
    assert await _save(store, quick, alive, loaded, schedule)
    done = await _finished(store, job["job_id"], ev["headers"])
    assert done["status"] == "succeeded" and done["meetings"] == schedule.size


async def test_new_slots_or_tables_during_solving_fail_the_job(store: Store) -> None:
    ev = await _event(store, enterprises=2, participants=3)
    job = await _start(store, ev["rid"], ev["headers"])
    claimed = await _claim(store, store.uses.scheduling)
    assert claimed is not None
    loaded = await _problem(store, store.uses.scheduling, claimed)
    schedule = solve(loaded.problem.instance)
    # A new venue name leaves the solution valid...
    renamed = roadshow_contract(ev["rid"], version=2, **GRID, venue="Hall B")
    await store.deliver("roadshow.updated", renamed, ev["organiser"])
    # ...fewer tables do not.
    fewer = roadshow_contract(ev["rid"], version=3, **{**GRID, "tables": 2})
    await store.deliver("roadshow.updated", fewer, ev["organiser"])
    assert not await _save(store, store.uses.scheduling, claimed, loaded, schedule)
    done = await _finished(store, job["job_id"], ev["headers"])
    assert done["status"] == "failed" and "changed while scheduling" in done["error"]
    assert await _scheduled(store, ev["rid"]) == []

    # Started again, it schedules on the new grid, and a rename does not disturb it.
    job = await _start(store, ev["rid"], ev["headers"])
    claimed = await _claim(store, store.uses.scheduling)
    assert claimed is not None
    loaded = await _problem(store, store.uses.scheduling, claimed)
    await store.deliver(
        "roadshow.updated",
        roadshow_contract(ev["rid"], version=4, **{**GRID, "tables": 2}, venue="Hall C"),
        ev["organiser"],
    )
    schedule = solve(loaded.problem.instance)
    assert await _save(store, store.uses.scheduling, claimed, loaded, schedule)
    assert {m["table_no"] for m in await _scheduled(store, ev["rid"])} <= {1, 2}


async def test_a_job_that_keeps_dying_fails(store: Store) -> None:
    attempts = 3
    ev = await _event(store, enterprises=1, participants=1)
    job = await _start(store, ev["rid"], ev["headers"])
    quick = Scheduling.from_settings(
        matching_settings(store.dsn, scheduler_lease_seconds=0.05, scheduler_max_attempts=attempts)
    )
    for _ in range(attempts):
        assert await eventually(lambda: _claim(store, quick), within=5, what="a claim")
    assert await eventually(
        lambda: store.conn.fetchval(
            "SELECT status = 'running' AND heartbeat_at < now() - interval '0.05 seconds'"
            " FROM scheduling_jobs WHERE id = $1",
            uuid.UUID(job["job_id"]),
        ),
        within=5,
    )
    assert await _claim(store, quick) is None
    done = await _finished(store, job["job_id"], ev["headers"])
    assert done["status"] == "failed" and "gave up" in done["error"]
