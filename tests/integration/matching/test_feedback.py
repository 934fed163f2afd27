"""Feedback after a meeting, the follow-up on the deal, and their figures, on a
real database: partners answer over HTTP, the worker schedules, the follow-up
loop opens what fell due by the (moved) clock, the outbox holds the events."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.matching.bootstrap import create_follow_ups
from services.matching.feedback import model as mf
from services.matching.feedback.service import AfterMeetings
from services.matching.feedback.worker import FollowUpLoop
from shared.contracts.matching import Attendance, FeedbackRecorded, FollowUpDue, FollowUpRecorded
from shared.contracts.registration import ErasedSubject, PersonErased
from shared.db import create_pool
from shared.testing.waiting import eventually
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests.integration.matching.conftest import Store
from tests.integration.matching.test_interest import Clock, _event, _meetings, _schedule

DAY = timedelta(days=1)


def _clock(store: Store) -> Clock:
    """One clock for every use case the test touches."""
    clock = Clock()
    store.uses.interest.clock = clock
    store.uses.scheduling.clock = clock
    store.uses.after.clock = clock
    return clock


async def _scheduled(store: Store, **grid: Any) -> tuple[Clock, dict[str, Any], list[Any]]:
    """A road show with its schedule published (the organiser registered the
    participants, the delegate the enterprises); the meetings by start."""
    clock = _clock(store)
    ev = await _event(store, enterprises=2, participants=2, **grid)
    store.run_worker()
    await _schedule(store, ev, fair_minimum=0)
    meetings = sorted((await _meetings(store, ev["rid"])).values(), key=lambda m: m["starts_at"])
    assert len(meetings) == 4
    return clock, ev, meetings


async def _put(store: Store, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    resp = await store.client.put(path, json=body, headers=headers)
    return resp.status, await resp.json()


async def test_feedback_is_recorded_by_each_side_and_read_by_it_and_the_organiser(
    store: Store,
) -> None:
    clock, ev, meetings = await _scheduled(store)
    meeting = meetings[0]
    participant_side = f"/v1/meetings/{meeting['id']}/feedback/participant"
    enterprise_side = f"/v1/meetings/{meeting['id']}/feedback/enterprise"
    held = {"took_place": "held", "interest": "high", "next_step": "due-diligence"}
    # Before the meeting started there is nothing to say.
    status, problem = await _put(store, participant_side, held, ev["headers"])
    assert (status, problem["field"]) == (409, "took_place")
    clock.now = meetings[-1]["ends_at"]

    _, stranger = await store.partner()
    refusals: list[tuple[str, dict[str, Any], dict[str, str], int, str]] = [
        # Only the partner that registered a side speaks for it; to others the meeting
        # does not exist.
        (participant_side, held, ev["delegate_headers"], 404, "meeting_id"),
        (enterprise_side, held, ev["headers"], 404, "meeting_id"),
        (participant_side, held, stranger, 404, "meeting_id"),
        (
            f"/v1/meetings/{uuid.uuid4()}/feedback/participant",
            held,
            ev["headers"],
            404,
            "meeting_id",
        ),
        (f"/v1/meetings/{meeting['id']}/feedback/bank", held, ev["headers"], 404, "side"),
        # Bad input: 422 naming the field.
        (participant_side, {**held, "interest": "maybe"}, ev["headers"], 422, "interest"),
        (participant_side, {"took_place": "held"}, ev["headers"], 422, "interest"),
        (
            participant_side,
            {"took_place": "no-show", "interest": "low"},
            ev["headers"],
            422,
            "interest",
        ),
        (
            participant_side,
            {"took_place": "cancelled", "next_step": "none"},
            ev["headers"],
            422,
            "next_step",
        ),
        (participant_side, {**held, "next_step": "lunch"}, ev["headers"], 422, "next_step"),
        (participant_side, {**held, "note": "x" * 2001}, ev["headers"], 422, "note"),
        (participant_side, {**held, "side": "enterprise"}, ev["headers"], 422, "side"),
        (participant_side, {"took_place": "late"}, ev["headers"], 422, "took_place"),
    ]
    for path, body, headers, code, field in refusals:
        status, problem = await _put(store, path, body, headers)
        assert (status, problem.get("field")) == (code, field), (body, problem)
    # Nothing was written by any of those.
    assert await store.conn.fetchval("SELECT count(*) FROM meeting_feedback") == 0
    assert await store.outbox("feedback.recorded") == []

    note = "Wants the pilot data from the Shanghai stores before the call."
    status, got = await _put(store, participant_side, {**held, "note": note}, ev["headers"])
    assert status == 200, got
    assert (got["side"], got["interest"], got["version"], got["note"]) == (
        "participant",
        "high",
        1,
        note,
    )
    # The same PUT again is the same answer and no new event.
    status, again = await _put(store, participant_side, {**held, "note": note}, ev["headers"])
    assert status == 200 and again == got
    status, changed = await _put(
        store,
        participant_side,
        {"took_place": "held", "interest": "medium", "note": note},
        ev["headers"],
    )
    assert (changed["version"], changed["next_step"]) == (2, "none")
    status, theirs = await _put(
        store, enterprise_side, {"took_place": "no-show"}, ev["delegate_headers"]
    )
    assert status == 200 and theirs["interest"] is None and theirs["next_step"] is None

    events = await store.outbox("feedback.recorded")
    recorded = [FeedbackRecorded.model_validate(e["data"]) for e in events]
    assert [(e.side, e.interest, e.next_step, e.version) for e in recorded] == [
        ("participant", "high", "due-diligence", 1),
        ("participant", "medium", "none", 2),
        ("enterprise", None, None, 1),
    ]
    assert {e["key"] for e in events} == {str(meeting["match_id"])}
    assert all(e.meeting_id == meeting["id"] for e in recorded)
    assert recorded[0].participant_partner_id is not None
    # The note is the side's own words: in no event.
    assert all(note not in str(e) for e in events)

    # Each side's partner reads its own feedback, the organiser both; the
    # delegate does not see the participant side's.
    resp = await store.client.get(enterprise_side, headers=ev["delegate_headers"])
    assert resp.status == 200 and (await resp.json())["took_place"] == "no-show"
    resp = await store.client.get(participant_side, headers=ev["delegate_headers"])
    assert resp.status == 404
    resp = await store.client.get(participant_side, headers=ev["headers"])
    assert (await resp.json())["note"] == note
    resp = await store.client.get(
        f"/v1/meetings/{meetings[1]['id']}/feedback/participant", headers=ev["headers"]
    )
    assert resp.status == 404 and (await resp.json())["field"] == "side"


async def test_follow_up_falls_due_once_after_the_delay_and_records_deal_progress(
    store: Store,
) -> None:
    clock, ev, meetings = await _scheduled(store)
    first, no_show, cancelled, early = meetings
    clock.now = meetings[-1]["ends_at"]
    # One meeting the organiser marks as a no-show; in another both sides say
    # it was cancelled; a third records its deal before the follow-up is due.
    resp = await store.client.put(
        f"/v1/meetings/{no_show['id']}/attendance",
        json={"attendance": "no-show"},
        headers=ev["headers"],
    )
    assert resp.status == 200
    for side, headers in (("participant", ev["headers"]), ("enterprise", ev["delegate_headers"])):
        status, _ = await _put(
            store,
            f"/v1/meetings/{cancelled['id']}/feedback/{side}",
            {"took_place": "cancelled"},
            headers,
        )
        assert status == 200
    status, got = await _put(
        store,
        f"/v1/meetings/{early['id']}/follow-up",
        {"stage": "negotiating"},
        ev["delegate_headers"],
    )
    assert status == 200 and got["opened_at"] is None and got["reported_by"] == "enterprise"
    assert datetime.fromisoformat(got["due_at"]) == early["ends_at"] + 90 * DAY

    # The loop, as `serve` runs it, opens nothing before the delay has passed.
    loop = create_follow_ups(store.settings, store.uses)
    pool = await create_pool(store.dsn, 2)
    units = UnitsOfWork(pool, "matching", store.settings.topics.matching)
    try:
        clock.now = first["ends_at"] + 90 * DAY - timedelta(seconds=1)
        assert await loop.run_once(units) == 0
        resp = await store.client.get(
            f"/v1/meetings/{first['id']}/follow-up", headers=ev["headers"]
        )
        assert resp.status == 404 and (await resp.json())["field"] == "follow_up"

        clock.now = meetings[-1]["ends_at"] + 90 * DAY
        # Two loops at once (two replicas), then again, then a new one (a restart):
        # each follow-up is opened exactly once.
        opened = await asyncio.gather(loop.run_once(units), loop.run_once(units))
        assert sum(opened) == 1
        assert await loop.run_once(units) == 0
        assert await create_follow_ups(store.settings, store.uses).run_once(units) == 0
    finally:
        await pool.close()
    due = [FollowUpDue.model_validate(e["data"]) for e in await store.outbox("follow-up.due")]
    assert [e.meeting_id for e in due] == [first["id"]]
    assert due[0].due_at == first["ends_at"] + 90 * DAY and due[0].ended_at == first["ends_at"]
    assert due[0].enterprise_partner_id is not None

    # Both sides' partners read it; deal progress is recorded by either (or the organiser).
    path = f"/v1/meetings/{first['id']}/follow-up"
    resp = await store.client.get(path, headers=ev["delegate_headers"])
    got = await resp.json()
    assert got["stage"] is None and got["opened_at"] is not None and got["version"] == 0
    _, stranger = await store.partner()
    refusals: list[tuple[dict[str, Any], dict[str, str], int, str]] = [
        (
            {"stage": "invested", "amount": "1000", "currency": "XYZ"},
            ev["headers"],
            422,
            "currency",
        ),
        (
            {"stage": "invested", "amount": "1000", "currency": "usd"},
            ev["headers"],
            422,
            "currency",
        ),
        ({"stage": "invested"}, ev["headers"], 422, "amount"),
        ({"stage": "invested", "amount": "1000"}, ev["headers"], 422, "currency"),
        ({"stage": "invested", "currency": "USD"}, ev["headers"], 422, "amount"),
        (
            {"stage": "negotiating", "amount": "1000", "currency": "USD"},
            ev["headers"],
            422,
            "amount",
        ),
        ({"stage": "invested", "amount": "-5", "currency": "USD"}, ev["headers"], 422, "amount"),
        (
            {"stage": "invested", "amount": "10.123", "currency": "USD"},
            ev["headers"],
            422,
            "amount",
        ),
        ({"stage": "invested", "amount": "1e30", "currency": "USD"}, ev["headers"], 422, "amount"),
        ({"stage": "signed"}, ev["headers"], 422, "stage"),
        ({"stage": "no-deal"}, stranger, 404, "meeting_id"),
    ]
    for body, headers, code, field in refusals:
        status, problem = await _put(store, path, body, headers)
        assert (status, problem.get("field")) == (code, field), (body, problem)
    assert len(await store.outbox("follow-up.recorded")) == 1  # the early one's only
    status, got = await _put(
        store, path, {"stage": "invested", "amount": "2000000", "currency": "USD"}, ev["headers"]
    )
    assert status == 200, got
    assert (got["stage"], got["amount"], got["currency"], got["reported_by"], got["version"]) == (
        "invested",
        "2000000.00",
        "USD",
        "participant",
        1,
    )
    recorded = [
        FollowUpRecorded.model_validate(e["data"]) for e in await store.outbox("follow-up.recorded")
    ]
    assert [(e.meeting_id, e.stage, e.amount) for e in recorded] == [
        (early["id"], "negotiating", None),
        (first["id"], "invested", 2_000_000),
    ]


class _FailingOnce(AfterMeetings):
    """The use cases with a first pass that blows up (a bug, a lost database)."""

    failed = False

    async def open_due(self, uow: UnitOfWork, limit: int = 500) -> int:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the first pass fails")
        return await super().open_due(uow, limit)


async def test_the_follow_up_loop_runs_on_its_own_and_survives_a_failing_pass(
    store: Store,
) -> None:
    clock, _, meetings = await _scheduled(store)
    clock.now = meetings[-1]["ends_at"] + 90 * DAY
    after = _FailingOnce(delay=store.uses.after.delay, clock=clock)
    loop = FollowUpLoop(
        dsn=store.dsn,
        producer="matching",
        topic=store.settings.topics.matching,
        after=after,
        interval=0.05,
        backoff_base_seconds=0.01,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:

        async def all_due() -> bool:
            assert not task.done(), "the loop ended"
            return len(await store.outbox("follow-up.due")) == 4

        await eventually(all_due, within=20, what="every follow-up to fall due")
        assert after.failed and loop.opened == 4 and loop.healthy()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert len(await store.outbox("follow-up.due")) == 4


async def test_figures_count_feedback_follow_ups_and_the_amount_invested(store: Store) -> None:
    clock, ev, meetings = await _scheduled(store)
    a, b, c, d = meetings
    clock.now = meetings[-1]["ends_at"]
    feedback = [
        (a, "participant", {"took_place": "held", "interest": "high", "next_step": "term-sheet"}),
        (a, "enterprise", {"took_place": "held", "interest": "medium", "next_step": "site-visit"}),
        (b, "participant", {"took_place": "held", "interest": "low"}),
        (c, "participant", {"took_place": "no-show"}),
    ]
    for m, side, body in feedback:
        headers = ev["headers"] if side == "participant" else ev["delegate_headers"]
        status, got = await _put(store, f"/v1/meetings/{m['id']}/feedback/{side}", body, headers)
        assert status == 200, got
    # d: nothing said at all.
    for m, body in (
        (a, {"stage": "invested", "amount": "1000000", "currency": "USD"}),
        (b, {"stage": "invested", "amount": "7120000", "currency": "CNY"}),
        (c, {"stage": "no-deal"}),
    ):
        status, got = await _put(store, f"/v1/meetings/{m['id']}/follow-up", body, ev["headers"])
        assert status == 200, got
    clock.now = d["ends_at"] + 90 * DAY
    async with store.unit() as uow:
        assert await store.uses.after.open_due(uow) == 1  # d (a, b and c were recorded)

    path = f"/v1/roadshows/{ev['rid']}/figures"
    resp = await store.client.get(path, headers=ev["headers"])
    f = await resp.json()
    assert (f["scheduled"], f["held"], f["no_show"], f["cancelled"], f["unrecorded"]) == (
        4,
        2,
        1,
        0,
        1,
    )
    assert f["no_show_rate"] == round(1 / 3, 4)
    assert f["feedback"] == 3
    assert f["feedback_by_interest"] == {"none": 0, "low": 1, "medium": 1, "high": 1}
    assert f["feedback_by_next_step"]["term-sheet"] == 1
    assert f["feedback_by_next_step"]["none"] == 1
    assert f["follow_ups_open"] == 1
    assert f["follow_ups_by_stage"] == {
        "negotiating": 0,
        "agreement-signed": 0,
        "invested": 2,
        "no-deal": 1,
    }
    # 7,120,000 CNY is 1,000,000 USD at the table's 7.12.
    assert f["invested"] == {
        "currency": "USD",
        "amount": "2000000.00",
        "rates_date": "2026-11-30",
        "deals": 2,
        "by_currency": {"CNY": "7120000.00", "USD": "1000000.00"},
    }
    resp = await store.client.get(path, params={"currency": "CNY"}, headers=ev["headers"])
    assert (await resp.json())["invested"]["amount"] == "14240000.00"
    for bad in ("XYZ", "usd", "dollars"):
        resp = await store.client.get(path, params={"currency": bad}, headers=ev["headers"])
        assert resp.status == 422 and (await resp.json())["field"] == "currency"
    resp = await store.client.get(path, headers=ev["delegate_headers"])
    assert resp.status == 404


async def test_the_loops_sql_opens_exactly_the_meetings_the_rule_says(store: Store) -> None:
    """`open_due_follow_ups` decides in SQL what `model.follows_up(took_place(...))`
    decides in Python: every combination of attendance and both sides' word."""
    _, _, meetings = await _scheduled(store)
    rid, schedule_id = meetings[0]["roadshow_id"], meetings[0]["schedule_id"]
    words: list[Attendance | None] = [None, "held", "no-show", "cancelled"]
    ends = datetime(2027, 5, 15, 2, tzinfo=UTC)
    # The schedule's own meetings: nothing said, so they follow up.
    expected: dict[uuid.UUID, bool] = {m["id"]: True for m in meetings}
    for slot, (attendance, enterprise, participant) in enumerate(
        itertools.product(words, words, words)
    ):
        meeting_id = uuid.uuid4()
        await store.conn.execute(
            """INSERT INTO meetings (id, schedule_id, roadshow_id, match_id, enterprise_id,
                                     participant_id, slot, table_no, starts_at, ends_at, score,
                                     status, published_status, attendance)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, 0.5, 'scheduled', 'scheduled',
                       $10)""",
            meeting_id,
            schedule_id,
            rid,
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
            1000 + slot,  # clear of the schedule's own slots
            ends - timedelta(minutes=30),
            ends,
            attendance,
        )
        for side, said in (("enterprise", enterprise), ("participant", participant)):
            if said is not None:
                cmd = mf.check_feedback(mf.RecordFeedback(said, "low" if said == "held" else None))
                await store.conn.execute(
                    """INSERT INTO meeting_feedback (meeting_id, side, roadshow_id, took_place,
                                                     interest, next_step, version, recorded_at)
                       VALUES ($1, $2, $3, $4, $5, $6, 1, $7)""",
                    meeting_id,
                    side,
                    rid,
                    cmd.took_place,
                    cmd.interest,
                    cmd.next_step,
                    ends,
                )
        expected[meeting_id] = mf.follows_up(mf.took_place(attendance, [enterprise, participant]))
    store.uses.after.clock = lambda: max(ends, meetings[-1]["ends_at"]) + 90 * DAY
    async with store.unit() as uow:
        await store.uses.after.open_due(uow)
    opened = {r["meeting_id"] for r in await store.conn.fetch("SELECT meeting_id FROM follow_ups")}
    assert opened == {m for m, due in expected.items() if due}
    assert 0 < len(opened) < len(expected)


async def test_an_erased_persons_meetings_lose_their_notes_and_keep_the_rest(
    store: Store,
) -> None:
    # Notes are free text and may name the people of either side: erasing a
    # president blanks the notes on every meeting of their enterprise, both sides'.
    clock, ev, meetings = await _scheduled(store)
    clock.now = meetings[-1]["ends_at"]
    erased = meetings[0]
    other = next(m for m in meetings if m["enterprise_id"] != erased["enterprise_id"])
    held = {"took_place": "held", "interest": "high", "next_step": "term-sheet"}
    for meeting in (erased, other):
        for side, headers in (
            ("participant", ev["headers"]),
            ("enterprise", ev["delegate_headers"]),
        ):
            status, _ = await _put(
                store,
                f"/v1/meetings/{meeting['id']}/feedback/{side}",
                {**held, "note": f"Met the {side} side's president in person."},
                headers,
            )
            assert status == 200

    subject = ErasedSubject(kind="enterprise.president", id=erased["enterprise_id"])
    assert await store.deliver(
        "person.erased", PersonErased(erasure_id=uuid.uuid4(), subjects=[subject])
    )

    rows = await store.conn.fetch(
        "SELECT meeting_id, side, note, interest, next_step FROM meeting_feedback"
    )
    by = {(r["meeting_id"], r["side"]): r for r in rows}
    for side in ("participant", "enterprise"):
        gone, kept = by[(erased["id"], side)], by[(other["id"], side)]
        assert gone["note"] is None and (gone["interest"], gone["next_step"]) == (
            "high",
            "term-sheet",
        )
        assert kept["note"] == f"Met the {side} side's president in person."
