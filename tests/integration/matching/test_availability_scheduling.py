"""Availability from registration's events in the schedule: meetings only where
both parties can meet; a change reschedules by itself, with minimum change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.contracts import registration as reg
from shared.testing.waiting import eventually
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)

# 09:00-12:00 in 30-minute slots: 6 slots, 3 tables each (factory date 2027-05-15).
GRID: dict[str, Any] = {"day_start": "09:00", "day_end": "12:00", "slot_minutes": 30, "tables": 3}
MORNING = reg.Availability(
    windows=[reg.TimeWindow(start=datetime(2027, 5, 15, 9), end=datetime(2027, 5, 15, 10))]
)


async def _jobs(store: Store, rid: uuid.UUID) -> list[Any]:
    return list(
        await store.conn.fetch(
            "SELECT * FROM scheduling_jobs WHERE roadshow_id = $1 ORDER BY created_at", rid
        )
    )


async def _succeeded(store: Store, rid: uuid.UUID, count: int) -> list[Any]:
    async def done() -> list[Any] | None:
        jobs = await _jobs(store, rid)
        assert not [j for j in jobs if j["status"] == "failed"], jobs
        ok = [j for j in jobs if j["status"] == "succeeded"]
        return ok if len(ok) >= count else None

    result: list[Any] = await eventually(done, within=60, what=f"{count} scheduling jobs")
    return result


async def _meetings(store: Store, rid: uuid.UUID) -> dict[uuid.UUID, Any]:
    rows = await store.conn.fetch(
        "SELECT * FROM meetings WHERE roadshow_id = $1 AND status = 'scheduled'", rid
    )
    return {r["id"]: r for r in rows}


async def test_the_schedule_honours_availability_and_a_change_reschedules(store: Store) -> None:
    organiser, headers = await store.partner()
    delegate, _ = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid, **GRID), organiser)
    people = [participant_contract(rid, ("fund", "bank")[i % 2]) for i in range(4)]
    people[0] = people[0].model_copy(update={"availability": MORNING})
    for p in people:
        await store.deliver("participant.registered", p, organiser)
    firms = [enterprise_contract(rid) for _ in range(3)]
    firms[0] = firms[0].model_copy(update={"availability": reg.Availability(slot_ids=[2, 3, 4, 5])})
    for e in firms:
        await store.deliver("enterprise.registered", e, delegate)

    resp = await store.client.post(f"/v1/roadshows/{rid}/schedule-jobs", json={}, headers=headers)
    assert resp.status == 202, await resp.text()
    store.run_worker()
    await _succeeded(store, rid, 1)
    before = await _meetings(store, rid)
    assert before
    for m in before.values():
        if m["participant_id"] == people[0].participant_id:
            assert m["slot"] in (0, 1)
        if m["enterprise_id"] == firms[0].enterprise_id:
            assert m["slot"] in (2, 3, 4, 5)
    # Every meeting event carries its match's reasons.
    (event, *_) = await store.outbox("meeting.scheduled")
    assert {c["name"] for c in event["data"]["reasons"]} >= {"sector_fit", "ticket_fit"}
    assert all(c["reason"] for c in event["data"]["reasons"])
    moving = people[1].participant_id
    assert any(m["participant_id"] == moving and m["slot"] != 5 for m in before.values())

    # The bank can now meet only in the last slot: matching queues a job itself.
    changed = people[1].model_copy(
        update={"availability": reg.Availability(slot_ids=[5]), "version": 2}
    )
    await store.deliver("participant.updated", changed, organiser)
    jobs = await _succeeded(store, rid, 2)
    assert jobs[1]["partner_id"] == organiser
    after = await _meetings(store, rid)
    assert all(m["slot"] == 5 for m in after.values() if m["participant_id"] == moving)
    # Minimum change: every meeting of the other parties is where it was.
    for meeting_id, m in before.items():
        if m["participant_id"] != moving:
            assert meeting_id in after
            assert (after[meeting_id]["slot"], after[meeting_id]["table_no"]) == (
                m["slot"],
                m["table_no"],
            )
    others = [m for m in before.values() if m["participant_id"] != moving]
    assert jobs[1]["changes"]["kept"] >= len(others)

    # A change that leaves availability as it was queues nothing.
    renamed = changed.model_copy(update={"name": "Renamed bank", "version": 3})
    await store.deliver("participant.updated", renamed, organiser)
    assert len(await _jobs(store, rid)) == 2
