"""End to end on the real broker and databases: registrations posted to the
registration service become explained matches on the matching API and events on
the matching topic; the organiser schedules; a withdrawal removes matches and
meetings with their events; replaying registration's outbox changes nothing.

The tests share one pair of services (module fixture `suite`), each on its own
road show, so the consumer group joins once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from services.matching.events.handlers import event_handlers
from services.matching.use_cases import UseCases
from shared.envelope import Envelope
from shared.outbox import replay
from shared.testing.events import single_events
from shared.testing.kafka import read_topic
from shared.testing.waiting import eventually
from tests import factories
from tests.factories import PEOPLE
from tests.integration.matching.conftest import Suite, dump_database


async def _post(suite: Suite, path: str, body: Any, headers: dict[str, str]) -> Any:
    resp = await suite.registration.client.post(path, json=body, headers=headers)
    assert resp.status in (200, 201, 202), await resp.text()
    return await resp.json()


async def _event(suite: Suite, enterprises: int = 3) -> dict[str, Any]:
    organiser = await suite.partner()
    delegate = await suite.partner()
    roadshow = await suite.registration.new_roadshow(
        organiser, day_start="09:00", day_end="12:00", slot_minutes=30, tables=4
    )
    rid = roadshow["roadshow_id"]
    participants = {
        kind: await _post(suite, "/v1/participants", factories.participant(rid, kind), organiser)
        for kind in ("fund", "bank", "company")
    }
    delegation = await _post(
        suite, "/v1/delegations", factories.delegation(rid, enterprises=enterprises), delegate
    )
    return {
        "rid": rid,
        "organiser": organiser,
        "delegate": delegate,
        "participants": participants,
        "enterprises": [e["enterprise_id"] for e in delegation["enterprises"]],
    }


async def _matching_events(suite: Suite, at_least: int) -> list[Envelope]:
    """The matching topic's events once `at_least` have arrived (a batch of match
    changes counts as its changes), each validated against its contract."""

    async def enough() -> list[Envelope] | None:
        records = await read_topic(
            suite.bootstrap, suite.settings.topics.matching, at_least=1, within=30
        )
        envelopes = []
        for r in records:
            envelope = Envelope.from_bytes(r.value or b"")
            assert r.key is not None and r.key.decode() == envelope.key
            envelopes.append(envelope)
        events = single_events(envelopes)
        return events if len(events) >= at_least else None

    return await eventually(enough, within=30, what=f"{at_least} matching events")


async def test_registrations_become_matches_and_a_schedule(suite: Suite) -> None:
    ev = await _event(suite)
    fund, bank = ev["participants"]["fund"], ev["participants"]["bank"]
    first = ev["enterprises"][0]

    async def matched() -> Any:
        page = await suite.try_json(f"/v1/enterprises/{first}/matches", ev["delegate"])
        return page if page and len(page["items"]) == 2 else None

    page = await suite.wait_for(matched, "the enterprise's matches")
    assert [m["participant_id"] for m in page["items"]] == [
        fund["participant_id"],
        bank["participant_id"],
    ]
    assert all(len(m["components"]) == 5 and m["score"] >= 0.45 for m in page["items"])
    banks = await suite.get_json(f"/v1/enterprises/{first}/matches", ev["delegate"], kind="bank")
    assert [m["participant_kind"] for m in banks["items"]] == ["bank"]

    async def all_enterprises() -> Any:
        page = await suite.get_json(
            f"/v1/participants/{fund['participant_id']}/matches", ev["organiser"]
        )
        return page if len(page["items"]) == 3 else None

    theirs = await suite.wait_for(all_enterprises, "the fund's matches")
    assert {m["enterprise_id"] for m in theirs["items"]} == set(ev["enterprises"])

    # The organiser schedules the event.
    resp = await suite.matching.post(
        f"/v1/roadshows/{ev['rid']}/schedule-jobs",
        json={"fair_minimum": 2},
        headers=ev["organiser"],
    )
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["job_id"]

    async def finished() -> Any:
        job = await suite.get_json(f"/v1/schedule-jobs/{job_id}", ev["organiser"])
        return job if job["status"] in ("succeeded", "failed") else None

    job = await suite.wait_for(finished, "the schedule")
    assert job["status"] == "succeeded" and job["meetings"] == 6  # 3 enterprises x 2 partners
    assert job["total_score"] == job["upper_bound"]  # everyone fits: the optimum
    schedule = await suite.get_json(f"/v1/roadshows/{ev['rid']}/schedule", ev["organiser"])
    assert len(schedule["meetings"]) == 6

    events = await _matching_events(suite, at_least=6 + 6 + 1)
    mine = [e for e in events if e.data["roadshow_id"] == ev["rid"]]
    counts = Counter(e.type for e in mine)
    assert counts == {"match.proposed": 6, "meeting.scheduled": 6, "schedule.completed": 1}
    proposed = [e for e in mine if e.type == "match.proposed"]
    assert {e.data["participant_partner_id"] for e in proposed} == {ev["organiser"]["X-Partner-Id"]}
    # The flow is traceable: a match names the registration event that caused it.
    assert all(e.causation_id for e in proposed)


async def test_withdrawal_removes_matches_and_meetings(suite: Suite) -> None:
    ev = await _event(suite, enterprises=2)
    leaving = ev["enterprises"][0]

    async def matched() -> bool:
        page = await suite.try_json(f"/v1/roadshows/{ev['rid']}/matches", ev["organiser"])
        return page is not None and len(page["items"]) == 4

    await suite.wait_for(matched, "the road show's matches")
    resp = await suite.matching.post(
        f"/v1/roadshows/{ev['rid']}/schedule-jobs", headers=ev["organiser"]
    )
    job_id = (await resp.json())["job_id"]

    async def scheduled() -> bool:
        job = await suite.get_json(f"/v1/schedule-jobs/{job_id}", ev["organiser"])
        return bool(job["status"] == "succeeded")

    await suite.wait_for(scheduled, "the schedule")
    await _post(suite, f"/v1/enterprises/{leaving}/withdraw", {}, ev["delegate"])

    async def gone() -> bool:
        page = await suite.get_json(f"/v1/enterprises/{leaving}/matches", ev["delegate"])
        return bool(page["items"] == [])

    await suite.wait_for(gone, "the withdrawn enterprise's matches to go")
    schedule = await suite.get_json(f"/v1/roadshows/{ev['rid']}/schedule", ev["organiser"])
    assert {m["enterprise_id"] for m in schedule["meetings"]} == {ev["enterprises"][1]}

    async def withdrawals() -> Any:
        events = await _matching_events(suite, at_least=1)
        mine = [e for e in events if e.data.get("enterprise_id") == leaving]
        kinds = Counter(e.type for e in mine)
        return kinds if kinds["match.withdrawn"] == 2 and kinds["meeting.cancelled"] == 2 else None

    kinds = await suite.wait_for(withdrawals, "withdrawal events on the topic")
    assert kinds == {
        "match.proposed": 2,
        "meeting.scheduled": 2,
        "match.withdrawn": 2,
        "meeting.cancelled": 2,
    }


async def test_replaying_registration_changes_nothing(suite: Suite) -> None:
    ev = await _event(suite, enterprises=1)
    enterprise_id = ev["enterprises"][0]
    # A president is erased: matching hears of it and holds nothing to erase.
    resp = await suite.registration.client.get(
        f"/v1/enterprises/{enterprise_id}", headers=ev["delegate"]
    )
    email = (await resp.json())["president"]["email"]
    erased = await _post(suite, "/v1/erasures", {"email": email}, ev["delegate"])
    assert erased["subjects"] == 1

    handled = set(event_handlers(UseCases.from_settings(suite.settings).readmodel).types)
    reg = await asyncpg.connect(suite.registration.dsn)
    db = await asyncpg.connect(suite.matching_dsn)
    try:
        expected = await reg.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = ANY($1::text[])", list(handled)
        )

        async def caught_up() -> bool:
            return bool(await db.fetchval("SELECT count(*) FROM inbox") == expected)

        await suite.wait_for(caught_up, "matching to handle every registration event")
        before = await _snapshot(db)
        duplicates = _duplicates(suite)
        assert await replay(reg) > 0

        async def replayed() -> bool:
            return bool(_duplicates(suite) >= duplicates + expected)

        await suite.wait_for(replayed, "the replayed events to arrive as duplicates")
        assert await _snapshot(db) == before

        # Nothing matching holds names a person.
        dump = await dump_database(db)
        assert enterprise_id in dump
        assert [p for p in PEOPLE if p in dump] == []
    finally:
        await reg.close()
        await db.close()


def _duplicates(suite: Suite) -> float:
    value = REGISTRY.get_sample_value(
        "roadshow_consumer_messages_total",
        {"consumer": suite.settings.consumer_group, "outcome": "duplicate"},
    )
    return value or 0.0


async def _snapshot(db: asyncpg.Connection) -> dict[str, Any]:
    return {
        "outbox": await db.fetchval("SELECT count(*) FROM outbox"),
        "inbox": await db.fetchval("SELECT count(*) FROM inbox"),
        "matches": [
            tuple(r)
            for r in await db.fetch(
                "SELECT match_id, status, score, version FROM matches ORDER BY match_id"
            )
        ],
        "meetings": [
            tuple(r) for r in await db.fetch("SELECT id, status FROM meetings ORDER BY id")
        ],
    }


async def test_opt_in_and_a_decline_after_publication_on_the_broker(suite: Suite) -> None:
    ev = await _event(suite)

    async def matched() -> Any:
        page = await suite.try_json(f"/v1/roadshows/{ev['rid']}/matches", ev["organiser"])
        return page["items"] if page is not None and len(page["items"]) == 6 else None

    matches = await suite.wait_for(matched, "the road show's matches")
    resp = await suite.matching.put(
        f"/v1/roadshows/{ev['rid']}/matching-settings",
        json={"mode": "opt-in"},
        headers=ev["organiser"],
    )
    assert resp.status == 200, await resp.text()
    # Both sides accept four pairs; the other two get one side's accept only.
    mutual = matches[:4]
    for i, m in enumerate(matches):
        answers = [("enterprise", ev["delegate"])]
        if i < 4:
            answers.append(("participant", ev["organiser"]))
        for side, headers in answers:
            resp = await suite.matching.put(
                f"/v1/matches/{m['match_id']}/interest",
                json={"side": side, "interest": "accept"},
                headers=headers,
            )
            assert resp.status == 200, await resp.text()
    resp = await suite.matching.post(
        f"/v1/roadshows/{ev['rid']}/schedule-jobs",
        json={"fair_minimum": 0},
        headers=ev["organiser"],
    )
    job_id = (await resp.json())["job_id"]

    async def scheduled() -> bool:
        job = await suite.get_json(f"/v1/schedule-jobs/{job_id}", ev["organiser"])
        return bool(job["status"] == "succeeded")

    await suite.wait_for(scheduled, "the schedule")
    before = await suite.get_json(f"/v1/roadshows/{ev['rid']}/schedule", ev["organiser"])
    assert {m["match_id"] for m in before["meetings"]} == {m["match_id"] for m in mutual}

    # The participant's partner declines one published meeting: it is cancelled, the
    # others keep their slot and table, and the events reach the topic.
    declined = before["meetings"][0]
    resp = await suite.matching.put(
        f"/v1/matches/{declined['match_id']}/interest",
        json={"side": "participant", "interest": "decline"},
        headers=ev["organiser"],
    )
    assert resp.status == 200, await resp.text()
    after = await suite.get_json(f"/v1/roadshows/{ev['rid']}/schedule", ev["organiser"])
    place = {(m["meeting_id"], m["slot"], m["table"]) for m in after["meetings"]}
    assert place == {(m["meeting_id"], m["slot"], m["table"]) for m in before["meetings"][1:]}

    async def on_topic() -> Any:
        events = await _matching_events(suite, at_least=1)
        mine = [e for e in events if e.data.get("roadshow_id") == ev["rid"]]
        kinds = Counter(e.type for e in mine)
        return (
            mine if kinds["meeting.cancelled"] == 1 and kinds["interest.recorded"] == 11 else None
        )

    mine = await suite.wait_for(on_topic, "the decline's events on the topic")
    (cancelled,) = [e for e in mine if e.type == "meeting.cancelled"]
    assert cancelled.data["meeting_id"] == declined["meeting_id"]
    assert cancelled.key == declined["match_id"]


async def test_cross_border_flow_chinese_cny_fund_and_availability_by_api(suite: Suite) -> None:
    """A Chinese-writing fund with a CNY range and a mandatory country meets the
    USD enterprises; the bank's availability, changed on registration's API after
    the schedule, reschedules by itself."""
    ev = await _event(suite, enterprises=2)
    rid, organiser = ev["rid"], ev["organiser"]
    chinese = factories.participant(
        rid,
        "fund",
        name="浦东人工智能创业投资",
        # The factory's project: camera-only perception and planning for delivery vehicles.
        focus="专注摄像头感知与规划：面向城市配送车辆的自动驾驶。",
        currency="CNY",
        ticket_min="10000000",
        ticket_max="60000000",
        countries=["US"],
        mandatory=["country", "ticket_range"],
    )
    fund = await _post(suite, "/v1/participants", chinese, organiser)
    first = ev["enterprises"][0]

    async def matched() -> Any:
        page = await suite.try_json(f"/v1/enterprises/{first}/matches", ev["delegate"])
        ids = {m["participant_id"]: m for m in (page or {}).get("items", [])}
        return ids.get(fund["participant_id"])

    match = await suite.wait_for(matched, "the Chinese fund's match")
    reasons = {c["name"]: c for c in match["components"]}
    assert reasons["text_similarity"]["score"] > 0.5
    assert "(= CNY" in reasons["ticket_fit"]["reason"] and reasons["ticket_fit"]["score"] == 1.0

    resp = await suite.matching.post(
        f"/v1/roadshows/{rid}/schedule-jobs", json={"fair_minimum": 1}, headers=organiser
    )
    assert resp.status == 202, await resp.text()

    async def schedule_of(previous: str | None) -> Any:
        schedule = await suite.get_json(f"/v1/roadshows/{rid}/schedule", organiser)
        return schedule if schedule["schedule_id"] not in (None, previous) else None

    before = await suite.wait_for(lambda: schedule_of(None), "the first schedule")
    bank = ev["participants"]["bank"]["participant_id"]
    resp = await suite.registration.client.put(
        f"/v1/participants/{bank}/availability", json={"slot_ids": [4, 5]}, headers=organiser
    )
    assert resp.status == 200, await resp.text()
    after = await suite.wait_for(
        lambda: schedule_of(before["schedule_id"]), "the schedule after the change", within=60
    )
    theirs = [m for m in after["meetings"] if m["participant_id"] == bank]
    assert theirs and {m["slot"] for m in theirs} <= {4, 5}
    assert all(m["reasons"] for m in after["meetings"])
