"""The scheduling worker under unfriendly faults (issue 11, items 3 and 4): a
road show whose grid cannot be built, a job that keeps failing, a database
connection that drops. The worker outlives each; a poison job ends failed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from services.matching.scheduling.model import Job
from services.matching.scheduling.worker import SchedulingWorker
from shared.testing.waiting import eventually
from shared.unit_of_work import UnitOfWork
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)


async def _roadshow(store: Store, **grid: Any) -> tuple[uuid.UUID, dict[str, str]]:
    organiser, headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid, **grid), organiser)
    await store.deliver("participant.registered", participant_contract(rid, "fund"), organiser)
    await store.deliver("enterprise.registered", enterprise_contract(rid), uuid.uuid4())
    return rid, headers


async def _start(store: Store, rid: uuid.UUID, headers: dict[str, str]) -> str:
    resp = await store.client.post(f"/v1/roadshows/{rid}/schedule-jobs", json={}, headers=headers)
    assert resp.status == 202, await resp.text()
    job_id: str = (await resp.json())["job_id"]
    return job_id


async def _finished(store: Store, job_id: str) -> asyncpg.Record:
    async def done() -> asyncpg.Record | None:
        row = await store.conn.fetchrow(
            "SELECT * FROM scheduling_jobs WHERE id = $1", uuid.UUID(job_id)
        )
        return row if row is not None and row["status"] in ("succeeded", "failed") else None

    row: asyncpg.Record = await eventually(done, within=30, what="the job to finish")
    return row


def _alive(store: Store) -> None:
    for task in store.tasks:
        assert not task.done(), task.exception() if not task.cancelled() else "cancelled"


async def test_a_road_show_ending_9999_fails_its_job_and_never_kills_the_worker(
    store: Store,
) -> None:
    rid, headers = await _roadshow(store, end_date="9999-12-31")
    store.run_worker()
    poison = await _finished(store, await _start(store, rid, headers))
    assert poison["status"] == "failed"
    assert poison["attempts"] == store.settings.scheduler_max_attempts
    assert "GridOutOfBounds" in poison["error"] and "9999-12-31" in poison["error"]
    _alive(store)
    # The same worker goes on with the next road show's job.
    good, good_headers = await _roadshow(store)
    assert (await _finished(store, await _start(store, good, good_headers)))["status"] == (
        "succeeded"
    )
    _alive(store)


async def test_a_job_failing_once_is_retried_then_succeeds(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduling = store.uses.scheduling
    real = scheduling.read_problem
    calls = 0

    async def flaky(conn: asyncpg.Connection, job: Job) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug that hits once")
        return await real(conn, job)

    monkeypatch.setattr(scheduling, "read_problem", flaky)
    rid, headers = await _roadshow(store)
    store.run_worker()
    job = await _finished(store, await _start(store, rid, headers))
    assert (job["status"], job["attempts"], job["error"]) == ("succeeded", 2, None)


async def test_the_worker_survives_a_dropped_database_connection(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduling = store.uses.scheduling
    real = scheduling.claim_job
    faults: list[Exception] = [
        asyncpg.InterfaceError("connection is closed"),
        ConnectionResetError("reset by peer"),
        asyncpg.InterfaceError("pool is closing"),  # three in a row: a new pool
    ]

    async def dropping(uow: UnitOfWork, claim: uuid.UUID) -> Job | None:
        if faults:
            raise faults.pop(0)
        return await real(uow, claim)

    monkeypatch.setattr(scheduling, "claim_job", dropping)
    worker: SchedulingWorker = store.run_worker()
    await eventually(lambda: _done(faults), within=10, what="the faults to be raised")
    # And a real drop: every server connection but the test's own is terminated.
    await store.conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    await asyncio.sleep(0.2)
    rid = uuid.uuid4()
    organiser = uuid.uuid4()
    await store.conn.execute(
        "INSERT INTO roadshows (id, organiser_id, name, venue, timezone, start_date, end_date,"
        " day_start, day_end, slot_minutes, tables, version)"
        " VALUES ($1, $2, 'r', 'v', 'UTC', '2027-05-15', '2027-05-15', '09:00', '12:00', 30, 3, 1)",
        rid,
        organiser,
    )
    job_id = uuid.uuid4()
    await store.conn.execute(
        "INSERT INTO scheduling_jobs (id, roadshow_id, partner_id, correlation_id, status,"
        " fair_minimum) VALUES ($1, $2, $3, 'c', 'queued', 0)",
        job_id,
        rid,
        organiser,
    )
    assert (await _finished(store, str(job_id)))["status"] == "succeeded"
    assert worker.healthy()
    _alive(store)


async def _done(faults: list[Exception]) -> bool:
    return not faults
