"""Interest, matching modes, expiry, minimum-change rescheduling, attendance and
figures on a real database: partners answer over HTTP, the worker schedules,
the outbox holds the events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.matching import InterestRecorded, Meeting, MeetingMoved
from shared.testing.waiting import eventually
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)

# 09:00-11:00 in 30-minute slots: 4 slots, `tables` tables.
GRID = {"day_start": "09:00", "day_end": "11:00", "slot_minutes": 30, "tables": 3}


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2027, 5, 1, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _clock(store: Store) -> Clock:
    """One clock for the worker's service and the API's."""
    clock = Clock()
    store.uses.interest.clock = clock
    store.uses.scheduling.clock = clock
    return clock


async def _event(
    store: Store, enterprises: int = 3, participants: int = 4, **grid: Any
) -> dict[str, Any]:
    organiser, headers = await store.partner()
    delegate, delegate_headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid, **{**GRID, **grid}), organiser)
    people = [participant_contract(rid, "fund") for _ in range(participants)]
    for p in people:
        await store.deliver("participant.registered", p, organiser)
    firms = [enterprise_contract(rid) for _ in range(enterprises)]
    for e in firms:
        await store.deliver("enterprise.registered", e, delegate)
    matches = await store.conn.fetch(
        "SELECT * FROM matches WHERE roadshow_id = $1 AND status = 'proposed' ORDER BY match_id",
        rid,
    )
    assert len(matches) == enterprises * participants  # the factories' parties all match
    return {
        "rid": rid,
        # The organiser registered the participants, the delegate the enterprises.
        "headers": headers,
        "delegate_headers": delegate_headers,
        "matches": matches,
    }


async def _interest(
    store: Store, match_id: Any, side: str, interest: str, headers: dict[str, str]
) -> Any:
    resp = await store.client.put(
        f"/v1/matches/{match_id}/interest",
        json={"side": side, "interest": interest},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _both(store: Store, ev: dict[str, Any], match: Any, interest: str = "accept") -> None:
    await _interest(store, match["match_id"], "enterprise", interest, ev["delegate_headers"])
    await _interest(store, match["match_id"], "participant", interest, ev["headers"])


async def _settings(store: Store, ev: dict[str, Any], **body: Any) -> Any:
    resp = await store.client.put(
        f"/v1/roadshows/{ev['rid']}/matching-settings", json=body, headers=ev["headers"]
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _schedule(store: Store, ev: dict[str, Any], **body: Any) -> dict[str, Any]:
    resp = await store.client.post(
        f"/v1/roadshows/{ev['rid']}/schedule-jobs", json=body, headers=ev["headers"]
    )
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["job_id"]

    async def done() -> dict[str, Any] | None:
        r = await store.client.get(f"/v1/schedule-jobs/{job_id}", headers=ev["headers"])
        job: dict[str, Any] = await r.json()
        return job if job["status"] in ("succeeded", "failed") else None

    job = await eventually(done, within=30, what="the scheduling job to finish")
    assert job["status"] == "succeeded", job
    return job


async def _meetings(store: Store, rid: uuid.UUID) -> dict[uuid.UUID, Any]:
    rows = await store.conn.fetch(
        "SELECT * FROM meetings WHERE roadshow_id = $1 AND status = 'scheduled'", rid
    )
    return {r["match_id"]: r for r in rows}


async def test_interest_over_http_is_partner_scoped_and_closes(store: Store) -> None:
    clock = _clock(store)
    ev = await _event(store, enterprises=1, participants=2)
    match = ev["matches"][0]
    path = f"/v1/matches/{match['match_id']}/interest"
    _, stranger_headers = await store.partner()
    # Only the partner that registered a side answers for it.
    for side, headers in (
        ("enterprise", ev["headers"]),
        ("participant", ev["delegate_headers"]),
        ("enterprise", stranger_headers),
    ):
        resp = await store.client.put(
            path, json={"side": side, "interest": "accept"}, headers=headers
        )
        assert resp.status == 404 and (await resp.json())["field"] == "match_id"
    resp = await store.client.put(
        path, json={"side": "enterprise", "interest": "maybe"}, headers=ev["delegate_headers"]
    )
    assert resp.status == 422 and "interest" in (await resp.json())["field"]

    body = await _interest(store, match["match_id"], "enterprise", "accept", ev["delegate_headers"])
    assert body["enterprise_interest"] == "accept" and body["participant_interest"] is None
    assert body["interest_expires_at"] is not None
    await _interest(store, match["match_id"], "participant", "must-meet", ev["headers"])
    await _interest(store, match["match_id"], "enterprise", "decline", ev["delegate_headers"])
    # Both sides' partners and the organiser read both answers.
    for headers in (ev["headers"], ev["delegate_headers"]):
        resp = await store.client.get(f"/v1/matches/{match['match_id']}", headers=headers)
        got = await resp.json()
        assert (got["enterprise_interest"], got["participant_interest"]) == ("decline", "must-meet")
    resp = await store.client.get(f"/v1/matches/{match['match_id']}", headers=stranger_headers)
    assert resp.status == 404

    events = [
        InterestRecorded.model_validate(e["data"]) for e in await store.outbox("interest.recorded")
    ]
    assert [(e.side, e.interest) for e in events] == [
        ("enterprise", "accept"),
        ("participant", "must-meet"),
        ("enterprise", "decline"),
    ]
    keys = {e["key"] for e in await store.outbox("interest.recorded")}
    assert keys == {str(match["match_id"])}

    # Only the organiser sets the settings; after the closing time answers are frozen.
    resp = await store.client.put(
        f"/v1/roadshows/{ev['rid']}/matching-settings",
        json={"mode": "opt-in"},
        headers=ev["delegate_headers"],
    )
    assert resp.status == 404 and (await resp.json())["field"] == "roadshow_id"
    # No offset; and an offset that pushes the instant before year 1 (was a 500).
    for bad in ("2027-05-02T00:00:00", "0001-01-01T00:00:00+01:00"):
        resp = await store.client.put(
            f"/v1/roadshows/{ev['rid']}/matching-settings",
            json={"scheduling_closes_at": bad},
            headers=ev["headers"],
        )
        assert resp.status == 422 and "scheduling_closes_at" in (await resp.json())["field"]
    closes = clock.now + timedelta(hours=1)
    got = await _settings(store, ev, mode="opt-in", scheduling_closes_at=closes.isoformat())
    assert got["mode"] == "opt-in" and got["interest_ttl_hours"] == 72
    await _interest(store, match["match_id"], "enterprise", "accept", ev["delegate_headers"])
    clock.now = closes
    resp = await store.client.put(
        path, json={"side": "enterprise", "interest": "decline"}, headers=ev["delegate_headers"]
    )
    assert resp.status == 409 and (await resp.json())["field"] == "scheduling_closes_at"


async def test_opt_in_schedules_only_mutual_accepts_and_must_meets(store: Store) -> None:
    ev = await _event(store)
    await _settings(store, ev, mode="opt-in")
    m = ev["matches"]
    await _both(store, ev, m[0])
    await _both(store, ev, m[1], "must-meet")
    await _interest(store, m[2]["match_id"], "enterprise", "accept", ev["delegate_headers"])
    await _interest(store, m[3]["match_id"], "participant", "accept", ev["headers"])
    await _interest(store, m[4]["match_id"], "enterprise", "must-meet", ev["delegate_headers"])
    await _interest(store, m[4]["match_id"], "participant", "decline", ev["headers"])
    store.run_worker()
    job = await _schedule(store, ev, fair_minimum=0)
    assert set(await _meetings(store, ev["rid"])) == {m[0]["match_id"], m[1]["match_id"]}
    assert job["meetings"] == 2 and job["changes"]["added"] == 2

    resp = await store.client.get(f"/v1/roadshows/{ev['rid']}/figures", headers=ev["headers"])
    figures = await resp.json()
    assert figures == {
        **figures,
        "matches": 12,
        "accepted": 2,
        "declined": 1,
        "scheduled": 2,
        "held": 0,
        "no_show_rate": None,
    }


async def test_must_meet_pairs_are_all_scheduled_when_feasible(store: Store) -> None:
    # 3 enterprises x 4 funds, 2 slots and 1 table: 2 meetings in all, and the
    # must-meets are two of the lowest-scoring pairs.
    ev = await _event(store, day_end="10:00", tables=1)
    lowest = sorted(ev["matches"], key=lambda r: r["score"])
    first = lowest[0]
    second = next(
        r
        for r in lowest[1:]
        if r["enterprise_id"] != first["enterprise_id"]
        and r["participant_id"] != first["participant_id"]
    )
    await _interest(store, first["match_id"], "enterprise", "must-meet", ev["delegate_headers"])
    await _interest(store, second["match_id"], "participant", "must-meet", ev["headers"])
    store.run_worker()
    await _schedule(store, ev, fair_minimum=0)
    assert set(await _meetings(store, ev["rid"])) == {first["match_id"], second["match_id"]}


async def test_expired_requests_free_their_slot(store: Store) -> None:
    clock = _clock(store)
    # One slot, one table: the single meeting goes to one pair.
    ev = await _event(store, enterprises=1, participants=2, day_end="09:30", tables=1)
    await _settings(store, ev, mode="opt-in", interest_ttl_hours=24)
    silent, answered = sorted(ev["matches"], key=lambda r: -r["score"])
    # The enterprise asks for both; one fund answers, the other stays silent.
    await _interest(store, silent["match_id"], "enterprise", "must-meet", ev["delegate_headers"])
    await _both(store, ev, answered)
    assert await store.expire_interest() == 0
    clock.now += timedelta(hours=24)
    store.run_worker()
    job = await _schedule(store, ev, fair_minimum=0)
    assert set(await _meetings(store, ev["rid"])) == {answered["match_id"]}
    assert job["meetings"] == 1
    expired = [
        InterestRecorded.model_validate(e["data"])
        for e in await store.outbox("interest.recorded")
        if e["data"]["interest"] == "expired"
    ]
    assert [(e.match_id, e.side) for e in expired] == [(silent["match_id"], "participant")]
    resp = await store.client.get(f"/v1/matches/{silent['match_id']}", headers=ev["headers"])
    assert (await resp.json())["participant_interest"] == "expired"


async def test_decline_after_publication_and_minimum_change_rescheduling(store: Store) -> None:
    ev = await _event(store, enterprises=3, participants=4, tables=3)
    store.run_worker()
    first = await _schedule(store, ev, fair_minimum=2)
    before = await _meetings(store, ev["rid"])
    assert len(before) >= 4

    # A decline after publication cancels that meeting at once; the rest stay put.
    gone_match, gone = next(iter(before.items()))
    participant_side = ev["headers"]
    await _interest(store, gone_match, "participant", "decline", participant_side)
    after = await _meetings(store, ev["rid"])
    assert gone_match not in after
    assert {k: (r["id"], r["slot"], r["table_no"]) for k, r in after.items()} == {
        k: (r["id"], r["slot"], r["table_no"]) for k, r in before.items() if k != gone_match
    }
    (cancelled,) = await store.outbox("meeting.cancelled")
    assert cancelled["data"]["meeting_id"] == str(gone["id"])
    assert cancelled["data"]["status"] == "cancelled" and cancelled["key"] == str(gone_match)

    # Scheduling again keeps every still-valid meeting where it was, announces them
    # again under the new schedule id, and reports what changed.
    scheduled_before = len(await store.outbox("meeting.scheduled"))
    second = await _schedule(store, ev, fair_minimum=2)
    now = await _meetings(store, ev["rid"])
    assert gone_match not in now
    for k, r in after.items():
        assert (now[k]["id"], now[k]["slot"], now[k]["table_no"]) == (
            r["id"],
            r["slot"],
            r["table_no"],
        )
    changes = second["changes"]
    assert changes["kept"] == len(after) and changes["moved"] == 0 and changes["cancelled"] == 0
    assert changes["added"] == len(now) - len(after)
    new_schedule = second["schedule_id"]
    assert new_schedule != first["schedule_id"]
    announced = [
        Meeting.model_validate(e["data"])
        for e in (await store.outbox("meeting.scheduled"))[scheduled_before:]
    ]
    moved = [MeetingMoved.model_validate(e["data"]) for e in await store.outbox("meeting.moved")]
    assert {str(m.schedule_id) for m in announced + moved} == {new_schedule}
    completed = (await store.outbox("schedule.completed"))[-1]["data"]
    assert completed["schedule_id"] == new_schedule
    assert completed["meetings"] == len(announced) + len(moved) == len(now)


async def test_a_meeting_that_no_longer_fits_moves_and_is_reported(store: Store) -> None:
    # 2 x 2 pairs, 4 slots, 2 tables: everyone meets, with free slots to move to.
    ev = await _event(store, enterprises=2, participants=2, tables=2)
    store.run_worker()
    await _schedule(store, ev, fair_minimum=0)
    before = await _meetings(store, ev["rid"])
    assert len(before) == 4
    # The enterprise of one meeting becomes unavailable at its time (availability
    # is not sent by registration yet, so it is set in the read model).
    match_id, shifted = next(iter(before.items()))
    await store.conn.execute(
        "UPDATE enterprises SET unavailable = ARRAY[tstzrange($2, $3)] WHERE id = $1",
        shifted["enterprise_id"],
        shifted["starts_at"],
        shifted["ends_at"],
    )
    job = await _schedule(store, ev, fair_minimum=0)
    now = await _meetings(store, ev["rid"])
    assert now[match_id]["id"] == shifted["id"] and now[match_id]["slot"] != shifted["slot"]
    changes = job["changes"]
    assert changes["moved_meeting_ids"] == [str(shifted["id"])]
    assert changes["kept"] + changes["moved"] == 4 and changes["cancelled"] == 0
    (moved,) = [MeetingMoved.model_validate(e["data"]) for e in await store.outbox("meeting.moved")]
    assert moved.meeting_id == shifted["id"] and moved.previous_slot == shifted["slot"]
    assert moved.previous_starts_at == shifted["starts_at"] and moved.slot == now[match_id]["slot"]
    assert str(moved.schedule_id) == job["schedule_id"]


async def test_attendance_and_figures(store: Store) -> None:
    clock = _clock(store)
    ev = await _event(store, enterprises=2, participants=2)
    store.run_worker()
    await _schedule(store, ev, fair_minimum=0)
    meetings = list((await _meetings(store, ev["rid"])).values())
    assert len(meetings) >= 3
    path = f"/v1/meetings/{meetings[0]['id']}/attendance"
    # Before the meeting starts there is nothing to record.
    resp = await store.client.put(path, json={"attendance": "held"}, headers=ev["headers"])
    assert resp.status == 409 and (await resp.json())["field"] == "attendance"
    clock.now = max(m["ends_at"] for m in meetings)
    resp = await store.client.put(path, json={"attendance": "held"}, headers=ev["delegate_headers"])
    assert resp.status == 404  # not the organiser
    resp = await store.client.put(path, json={"attendance": "late"}, headers=ev["headers"])
    assert resp.status == 422
    for m, mark in zip(meetings, ["held", "no-show", "held"], strict=False):
        resp = await store.client.put(
            f"/v1/meetings/{m['id']}/attendance", json={"attendance": mark}, headers=ev["headers"]
        )
        assert resp.status == 200, await resp.text()
    events = await store.outbox("attendance.recorded")
    assert [e["data"]["attendance"] for e in events] == ["held", "no-show", "held"]
    resp = await store.client.get(f"/v1/roadshows/{ev['rid']}/figures", headers=ev["headers"])
    figures = await resp.json()
    assert (figures["matches"], figures["scheduled"]) == (4, len(meetings))
    assert (figures["held"], figures["no_show"], figures["no_show_rate"]) == (2, 1, 0.3333)
    resp = await store.client.get(
        f"/v1/roadshows/{ev['rid']}/figures", headers=ev["delegate_headers"]
    )
    assert resp.status == 404
