"""Provisional schedules on a real database, through the HTTP API: a run that stays
provisional announces nothing; the organiser locks, moves, cancels and adds meetings
by hand (conflicts refused with the reason, nothing written); a re-run keeps the
locked meeting and does not bring back a pair cancelled by hand; publishing
announces the schedule, and later publications announce only what changed."""

from __future__ import annotations

import uuid
from typing import Any

from tests.integration.matching.conftest import Store
from tests.integration.matching.test_scheduling_jobs import _event, _finished, _scheduled, _start

SLOTS, TABLES = 6, 3  # test_scheduling_jobs.GRID


async def _schedule(store: Store, rid: uuid.UUID, headers: dict[str, str]) -> dict[str, Any]:
    resp = await store.client.get(f"/v1/roadshows/{rid}/schedule", headers=headers)
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


def _places(rows: list[Any]) -> set[tuple[Any, ...]]:
    return {(r["id"], r["slot"], r["table_no"], r["status"]) for r in rows}


def _free_place(
    rows: list[Any], enterprise: uuid.UUID, participant: uuid.UUID
) -> tuple[int, int] | None:
    """A slot where neither party meets, and a table free in it (None: the grid is full)."""
    for slot in range(SLOTS):
        here = [r for r in rows if r["slot"] == slot]
        if any(
            r["enterprise_id"] == enterprise or r["participant_id"] == participant for r in here
        ):
            continue
        tables = set(range(1, TABLES + 1)) - {r["table_no"] for r in here}
        if tables:
            return slot, min(tables)
    return None


async def test_a_provisional_schedule_is_edited_by_hand_then_published(store: Store) -> None:
    ev = await _event(store, enterprises=4, participants=5)
    rid, h = ev["rid"], ev["headers"]
    store.run_worker()
    # One meeting per enterprise: most matches stay without one, to add by hand.
    job = await _start(store, rid, h, fair_minimum=1, enterprise_max_meetings=1, publish=False)
    assert job["publish"] is False
    done = await _finished(store, job["job_id"], h)
    assert done["status"] == "succeeded", done
    assert await store.outbox("meeting.scheduled") == []  # nothing announced
    schedule = await _schedule(store, rid, h)
    assert schedule["pending_changes"] == len(schedule["meetings"]) >= 3
    assert all(m["pending"] and not m["locked"] for m in schedule["meetings"])

    rows = await _scheduled(store, rid)
    locked, moving, cancelling = rows[0], rows[1], rows[2]
    resp = await store.client.put(
        f"/v1/meetings/{locked['id']}/lock", json={"locked": True}, headers=h
    )
    assert resp.status == 200 and (await resp.json())["locked"] is True
    resp = await store.client.put(
        f"/v1/meetings/{locked['id']}/place", json={"slot": 0, "table": 1}, headers=h
    )
    assert resp.status == 409 and "locked" in (await resp.json())["detail"]

    # Conflicts are refused with the reason, and nothing moves.
    other = rows[3]
    resp = await store.client.put(
        f"/v1/meetings/{moving['id']}/place",
        json={"slot": other["slot"], "table": other["table_no"]},
        headers=h,
    )
    problem = await resp.json()
    assert resp.status == 409 and problem["detail"].startswith(("no table", "double-booked"))
    resp = await store.client.put(
        f"/v1/meetings/{moving['id']}/place", json={"slot": 0, "table": TABLES + 1}, headers=h
    )
    problem = await resp.json()
    assert resp.status == 409 and problem["field"] == "table" and "no table" in problem["detail"]
    resp = await store.client.put(
        f"/v1/meetings/{moving['id']}/place", json={"slot": SLOTS, "table": 1}, headers=h
    )
    assert resp.status == 409 and (await resp.json())["field"] == "slot"
    resp = await store.client.put(
        f"/v1/meetings/{moving['id']}/place", json={"slot": -1, "table": 1}, headers=h
    )
    assert resp.status == 422 and (await resp.json())["field"] == "slot"
    assert _places(await _scheduled(store, rid)) == _places(rows)  # nothing written

    free = _free_place(rows, moving["enterprise_id"], moving["participant_id"])
    assert free is not None
    slot, table = free
    resp = await store.client.put(
        f"/v1/meetings/{moving['id']}/place", json={"slot": slot, "table": table}, headers=h
    )
    assert resp.status == 200, await resp.text()
    moved = await resp.json()
    assert (moved["slot"], moved["table"]) == (slot, table)

    resp = await store.client.post(f"/v1/meetings/{cancelling['id']}/cancel", headers=h)
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    resp = await store.client.post(
        f"/v1/meetings/{cancelling['id']}/cancel", headers=ev["delegate_headers"]
    )
    assert resp.status == 404  # not the organiser: no such meeting

    # A meeting by hand for a match that has none.
    have = {r["match_id"] for r in await _scheduled(store, rid)} | {cancelling["match_id"]}
    candidates = await store.conn.fetch(
        "SELECT match_id, enterprise_id, participant_id FROM matches WHERE roadshow_id = $1", rid
    )
    now = await _scheduled(store, rid)
    meeting = {r["enterprise_id"] for r in now}
    extra = next(
        c for c in candidates if c["match_id"] not in have and c["enterprise_id"] in meeting
    )
    theirs = next(r for r in now if r["enterprise_id"] == extra["enterprise_id"])
    clash = {"match_id": str(extra["match_id"]), "slot": theirs["slot"], "table": 1}
    resp = await store.client.post(f"/v1/roadshows/{rid}/meetings", json=clash, headers=h)
    problem = await resp.json()
    assert resp.status == 409 and problem["detail"].startswith(("double-booked", "no table"))
    free = _free_place(now, extra["enterprise_id"], extra["participant_id"])
    assert free is not None
    slot, table = free
    body = {"match_id": str(extra["match_id"]), "slot": slot, "table": table}
    resp = await store.client.post(f"/v1/roadshows/{rid}/meetings", json=body, headers=h)
    assert resp.status == 201, await resp.text()
    added = await resp.json()
    assert added["added_by_hand"] and added["pending"]
    resp = await store.client.post(f"/v1/roadshows/{rid}/meetings", json=body, headers=h)
    assert resp.status == 409 and "already has a meeting" in (await resp.json())["detail"]
    assert await store.outbox("meeting.scheduled") == []  # still nothing announced

    # A provisional re-run keeps the locked meeting and leaves the cancelled pair out.
    rerun = await _start(store, rid, h, fair_minimum=1, publish=False)
    assert (await _finished(store, rerun["job_id"], h))["status"] == "succeeded"
    after = {r["id"]: r for r in await _scheduled(store, rid)}
    assert (after[locked["id"]]["slot"], after[locked["id"]]["table_no"]) == (
        locked["slot"],
        locked["table_no"],
    )
    assert cancelling["match_id"] not in {r["match_id"] for r in after.values()}
    assert await store.outbox("meeting.scheduled") == []

    # Publishing announces every scheduled meeting, and no cancellation of a meeting
    # nobody was told about.
    resp = await store.client.post(f"/v1/roadshows/{rid}/schedule/publish", headers=h)
    assert resp.status == 200, await resp.text()
    publication = await resp.json()
    scheduled = await store.outbox("meeting.scheduled")
    assert publication["meetings"] == len(scheduled) == len(after)
    assert {e["data"]["meeting_id"] for e in scheduled} == {str(i) for i in after}
    assert await store.outbox("meeting.cancelled") == []
    assert (await _schedule(store, rid, h))["pending_changes"] == 0

    # A later change is announced alone: a cancellation of an announced meeting.
    gone = next(r for r in after.values() if r["id"] != locked["id"])
    resp = await store.client.post(f"/v1/meetings/{gone['id']}/cancel", headers=h)
    assert resp.status == 200
    assert (await _schedule(store, rid, h))["pending_changes"] == 1
    resp = await store.client.post(f"/v1/roadshows/{rid}/schedule/publish", headers=h)
    assert (await resp.json())["cancelled"] == 1
    (cancelled,) = await store.outbox("meeting.cancelled")
    assert cancelled["data"]["meeting_id"] == str(gone["id"])
    assert (await _schedule(store, rid, h))["pending_changes"] == 0
