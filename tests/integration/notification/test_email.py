"""E-mail to people against a real SMTP server on loopback (aiosmtpd): the
published schedule with its calendar in the road show's zone, exactly once;
change notices to both sides of a moved or cancelled meeting and to nobody
else; the reminder when due; opt-out by the partner and by the person's own
link; retries, dead messages, redelivery and a worker that died mid-send."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from services.notification.email.channel import EmailChannel
from services.notification.email.rules import Role, recipient_id
from shared.envelope import Context
from shared.testing.waiting import eventually
from tests.integration.notification.conftest import ADMIN, Env, Receiver, SmtpServer
from tests.integration.notification.mailworld import (
    ZONE,
    calendar_of,
    cancelled,
    completed,
    deliver,
    emails,
    html_of,
    make_world,
    meeting,
    moved,
    scheduled,
    text_of,
)

# E0 meets P0 (slot 1) and P1 (slot 2); E1 meets P0 (slot 3). Four people.
PAIRS = [(0, 0, 1, 3), (0, 1, 2, 4), (1, 0, 3, 5)]


def _assert_schedule_headers(mail: Any, email_id: Any) -> None:
    msg = mail.message
    assert msg["Message-ID"] == f"<{email_id}@roadshow.test>"
    assert msg["X-Roadshow-Category"] == "transactional"
    assert msg["List-Unsubscribe"].startswith("<https://notify.roadshow.test/v1/email/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # What mail programs read: the header as sent, one line, a plain <URL>.
    (unsubscribe,) = wire_headers(mail.raw, "List-Unsubscribe")
    assert unsubscribe == msg["List-Unsubscribe"] and "=?" not in unsubscribe
    assert mail.mail_from == "meetings@roadshow.test"


async def test_each_person_gets_one_schedule_with_a_calendar_in_the_event_zone(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await make_world(env, PAIRS)
    await env.consume(completed(w.schedule_id, len(w.meetings)))
    for m in w.meetings[:-1]:
        await env.consume(scheduled(m))
    assert await emails(env) == []  # held: one meeting of the schedule is still missing
    await env.consume(scheduled(w.meetings[-1]))

    await deliver(env)
    assert len(smtp.sink.messages) == 4
    e0, e1 = w.enterprises
    p0, p1 = w.participants
    expect = {e0: w.meetings[:2], e1: w.meetings[2:], p0: [w.meetings[0], w.meetings[2]]}
    expect[p1] = [w.meetings[1]]
    rows = {r["recipient_id"]: r for r in await emails(env, kind="schedule")}
    for party, mine in expect.items():
        (mail,) = smtp.sink.to(w.address(party))
        msg = mail.message
        role: Role = "enterprise.president" if party in w.enterprises else "participant.contact"
        _assert_schedule_headers(mail, rows[recipient_id(role, party)]["id"])
        text, page = text_of(msg), html_of(msg)
        assert f"Dear {w.name(party)}," in text and "Asia/Shanghai" in text
        # Why they meet: the match's reasons that count, strongest first.
        assert "why: same sector: robotics; offers debt-financing\r\n" in text
        assert "same sector: robotics<br>offers debt-financing" in page
        assert "invests at seed" not in text
        cal = calendar_of(msg)
        assert str(cal["method"]) == "PUBLISH"
        events = cal.walk("VEVENT")
        assert {str(e["uid"]) for e in events} == {f"{m.meeting_id}@roadshow" for m in mine}
        for event in events:
            m = next(m for m in mine if f"{m.meeting_id}@roadshow" == str(event["uid"]))
            other = m.participant_id if party in w.enterprises else m.enterprise_id
            starts = event.decoded("dtstart")
            assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
            assert starts.tzinfo is not None and str(starts.tzinfo) == "Asia/Shanghai"
            assert starts == m.starts_at and event.decoded("dtend") == m.ends_at
            local = m.starts_at.astimezone(ZONE).strftime("%H:%M")
            assert starts.strftime("%H:%M") == local and local in text and local in page
            assert str(event["summary"]) == f"Meeting with {await w.organisation(other)}"
            assert str(event["location"]) == f"Caohejing High-Tech Park, Shanghai, table {m.table}"
            assert event.decoded("sequence") == 0
        assert cal.walk("VTIMEZONE"), "the zone travels with the times"

    for row in rows.values():
        assert row["status"] == "delivered" and row["attempts"] == 1
        (attempt,) = await env.attempts(row["id"])
        assert attempt["outcome"] == "delivered" and attempt["status_code"] == 250

    # The same events again (a replay past the inbox): nothing new is made or sent.
    before = len(await emails(env))
    await w.publish()
    await deliver(env)
    assert len(await emails(env)) == before and len(smtp.sink.messages) == 4


async def test_the_reminder_goes_at_the_lead_time_before_the_first_meeting(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await make_world(env, PAIRS)
    await w.publish()
    await deliver(env)
    assert len(smtp.sink.messages) == 4
    reminders = await emails(env, kind="reminder")
    assert len(reminders) == 4 and {r["category"] for r in reminders} == {"reminder"}
    _e0, e1 = w.enterprises
    first_e1 = w.meetings[2].starts_at
    e1_reminder = next(
        r for r in reminders if r["recipient_id"] == recipient_id("enterprise.president", e1)
    )
    assert e1_reminder["next_attempt_at"] == first_e1 - timedelta(hours=24)

    env.clock.now = w.meetings[0].starts_at - timedelta(hours=24, seconds=1)
    await deliver(env)
    assert len(smtp.sink.messages) == 4  # not yet
    env.clock.now = first_e1 - timedelta(hours=24)
    await deliver(env)
    assert len(smtp.sink.messages) == 8
    (mail,) = [
        m for m in smtp.sink.to(w.address(e1)) if m.message["X-Roadshow-Category"] == "reminder"
    ]
    assert str(mail.message["Subject"]).strip().startswith("Reminder:")
    (event,) = calendar_of(mail.message).walk("VEVENT")
    assert str(event["uid"]) == f"{w.meetings[2].meeting_id}@roadshow"
    await deliver(env)
    assert len(smtp.sink.messages) == 8  # one reminder each, once


async def test_a_cancellation_after_publication_tells_both_sides_and_the_bank_webhook(
    email_env: Env, smtp: SmtpServer, receiver: Receiver
) -> None:
    env = email_env
    w = await make_world(env, PAIRS)
    await env.subscribe(w.partner, receiver.url, event_types=["meeting.cancelled"])
    await w.publish()
    await deliver(env)
    assert len(smtp.sink.messages) == 4 and receiver.requests == []

    declined = w.meetings[0]  # E0 with P0
    event = cancelled(declined)
    await env.consume(event)
    await deliver(env)
    new = smtp.sink.messages[4:]
    e0, e1 = w.enterprises
    p0, p1 = w.participants
    assert sorted(m.to for m in new) == sorted([w.address(e0), w.address(p0)])
    for mail in new:
        assert str(mail.message["Subject"]).strip().startswith("Cancelled:")
        assert mail.message["X-Roadshow-Category"] == "transactional"
        cal = calendar_of(mail.message)
        assert str(cal["method"]) == "CANCEL"
        (vevent,) = cal.walk("VEVENT")
        assert str(vevent["uid"]) == f"{declined.meeting_id}@roadshow"
        assert str(vevent["status"]) == "CANCELLED" and vevent.decoded("sequence") == 1
        assert vevent["dtstart"].params["TZID"] == "Asia/Shanghai"
        assert "is cancelled" in text_of(mail.message)
    for party in (e1, p1):
        assert len(smtp.sink.to(w.address(party))) == 1  # only their schedule

    (hook,) = receiver.requests
    assert b'"meeting.cancelled"' in hook.body and str(declined.meeting_id).encode() in hook.body

    # P0's reminder now waits for P0's one remaining meeting (E1, slot 3).
    (reminder,) = [
        r
        for r in await emails(env, kind="reminder")
        if r["recipient_id"] == recipient_id("participant.contact", p0)
    ]
    assert reminder["next_attempt_at"] == w.meetings[2].starts_at - timedelta(hours=24)

    await env.consume(event)  # redelivered: nothing new anywhere
    await deliver(env)
    assert len(smtp.sink.messages) == 6 and len(receiver.requests) == 1
    # Said again by another event: webhooks go per event (receivers order them
    # by content), but people hear of a cancellation once.
    await env.consume(cancelled(declined))
    await deliver(env)
    assert len(smtp.sink.messages) == 6


async def test_a_move_after_publication_sends_an_updated_request(
    email_env: Env, smtp: SmtpServer, receiver: Receiver
) -> None:
    env = email_env
    w = await make_world(env, PAIRS)
    await env.subscribe(w.partner, receiver.url, event_types=["meeting.moved"])
    await w.publish()
    await deliver(env)
    e0, _ = w.enterprises
    _, p1 = w.participants
    event, now = moved(w.meetings[1], slot=6, table=9)  # E0 with P1
    await env.consume(event)
    await deliver(env)
    new = smtp.sink.messages[4:]
    assert sorted(m.to for m in new) == sorted([w.address(e0), w.address(p1)])
    for mail in new:
        cal = calendar_of(mail.message)
        assert str(cal["method"]) == "REQUEST"
        (vevent,) = cal.walk("VEVENT")
        assert str(vevent["uid"]) == f"{now.meeting_id}@roadshow"
        assert vevent.decoded("sequence") == 1
        assert vevent.decoded("dtstart") == now.starts_at
        assert vevent.decoded("dtstart").strftime("%H:%M") == "12:00"
        assert str(vevent["location"]).endswith("table 9")
        assert str(vevent["attendee"]) == f"mailto:{mail.to}"
        text = text_of(mail.message)
        assert "It was: Sat 15 May 2027 10:00, table 4." in text
        assert "It is now: Sat 15 May 2027 12:00-12:30, table 9." in text
    (hook,) = receiver.requests  # banks hear of moves too
    body = json.loads(hook.body)
    assert body["type"] == "meeting.moved" and body["data"]["meeting"]["table"] == 9
    reasons = body["data"]["meeting"]["reasons"]
    assert reasons[0]["reason"] == "same sector: robotics" and len(reasons) == 3
    assert body["data"]["meeting"]["previous"]["table"] == 4

    await env.consume(event)  # the same event again
    again, _ = moved(now, slot=6, table=9)  # another event, but no change
    await env.consume(again)
    await deliver(env)
    assert len(smtp.sink.messages) == 6

    later, _ = moved(now, slot=7, table=9)
    await env.consume(later)
    await deliver(env)
    assert len(smtp.sink.messages) == 8
    (vevent,) = calendar_of(smtp.sink.messages[-1].message).walk("VEVENT")
    assert vevent.decoded("sequence") == 2


async def test_a_new_schedule_writes_only_to_people_whose_meetings_changed(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await make_world(env, PAIRS)
    await w.publish()
    await deliver(env)
    _e0, e1 = w.enterprises
    _p0, p1 = w.participants
    # A re-run keeps every meeting and adds E1 with P1: matching announces the
    # kept meetings under the new schedule and the new one.
    second = uuid.uuid4()
    kept = [m.model_copy(update={"schedule_id": second}) for m in w.meetings]
    added = meeting(second, e1, p1, 4, 6)
    await env.consume(completed(second, len(kept) + 1))
    for m in [*kept, added]:
        await env.consume(scheduled(m))
    await deliver(env)
    new = smtp.sink.messages[4:]
    assert sorted(m.to for m in new) == sorted([w.address(e1), w.address(p1)])
    for mail in new:
        assert len(calendar_of(mail.message).walk("VEVENT")) == 2


async def test_the_schedule_waits_for_the_road_show_and_every_party(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    partner = await env.partner()
    enterprise = await env.enterprise(partner=partner)
    late = env.participant_event(partner)  # registered, but not here yet
    participant = uuid.UUID(late.key)
    schedule_id = uuid.uuid4()
    m = meeting(schedule_id, enterprise, participant, 1, 1)
    await env.consume(scheduled(m))
    await env.consume(completed(schedule_id, 1))
    assert await emails(env) == []
    await env.roadshow()
    assert await emails(env) == []
    await env.consume(late)
    await deliver(env)
    assert sorted(x.to for x in smtp.sink.messages) == sorted(
        [env.people[enterprise]["email"], env.people[participant]["email"]]
    )


async def test_opted_out_people_get_nothing_at_all(email_env: Env, smtp: SmtpServer) -> None:
    env = email_env
    w = await make_world(env, PAIRS)
    e0, e1 = w.enterprises
    p0, p1 = w.participants
    resp = await env.client.put(
        f"/v1/email/contacts/{p0}/opt-out", json={"opted_out": True}, headers=w.partner
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["opted_out"] is True and body["opted_out_by"] == "partner"
    assert "email" not in body and "name" not in body

    await w.publish()
    await deliver(env)
    assert smtp.sink.to(w.address(p0)) == []
    (schedule,) = smtp.sink.to(w.address(e0))

    # E0's president follows the link in the message: the page asks, the button does it.
    link = urlsplit(schedule.message["List-Unsubscribe"].strip("<>"))
    path = f"{link.path}?{link.query}"
    page = await env.client.get(path)
    assert page.status == 200 and "<form" in await page.text()
    state = await env.client.get(f"/v1/email/presidents/{e0}", headers=w.partner)
    assert (await state.json())["opted_out"] is False  # a GET (a link scanner) changes nothing
    done = await env.client.post(path, data="List-Unsubscribe=One-Click")
    assert done.status == 200
    state = await env.client.get(f"/v1/email/presidents/{e0}", headers=w.partner)
    assert (await state.json())["opted_out_by"] == "recipient"
    assert (await env.client.post(path)).status == 200  # again: still fine
    lift = await env.client.put(
        f"/v1/email/presidents/{e0}/opt-out", json={"opted_out": False}, headers=w.partner
    )
    assert lift.status == 409  # the person's own choice stands
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert (await env.client.post(forged)).status == 404

    # Changes and reminders: the other sides only.
    await env.consume(cancelled(w.meetings[0]))  # E0 with P0: both opted out
    await env.consume(cancelled(w.meetings[1]))  # E0 with P1: P1 hears of it
    env.clock.now = w.meetings[2].starts_at - timedelta(hours=24)
    await deliver(env)
    assert len(smtp.sink.to(w.address(e0))) == 1 and smtp.sink.to(w.address(p0)) == []
    assert len(smtp.sink.to(w.address(p1))) == 2  # schedule, cancellation (no meeting left)
    assert len(smtp.sink.to(w.address(e1))) == 2  # schedule, reminder

    other = await env.partner()  # another partner's people answer as missing
    resp = await env.client.get(f"/v1/email/presidents/{e1}", headers=other)
    assert resp.status == 404


async def test_smtp_refusals_are_retried_then_dead_then_redelivered_with_one_message_id(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await make_world(env, [(0, 0, 1, 1)], enterprises=1, participants=1)
    address = w.address(w.enterprises[0])
    smtp.sink.rcpt_script = [f"451 4.3.0 <{address}> try again later"] * 2
    await w.publish()
    await deliver(env)
    rows = await emails(env, kind="schedule")
    assert [r["status"] for r in rows] == ["pending", "pending"]
    assert rows[0]["next_attempt_at"] == env.clock() + timedelta(seconds=5)
    assert smtp.sink.messages == []

    smtp.sink.rcpt_script = [f"550 5.1.1 <{address}> no such user"] * 2
    env.clock.advance(5)
    await deliver(env)
    rows = await emails(env, kind="schedule")
    assert [r["status"] for r in rows] == ["dead", "dead"]  # a 5xx is final
    for row in rows:
        attempts = await env.attempts(row["id"])
        assert [a["outcome"] for a in attempts] == ["failed", "rejected"]
        assert [a["status_code"] for a in attempts] == [451, 550]
        assert all(address not in (a["error"] or "") for a in attempts)
        assert "[redacted]" in attempts[1]["error"]

    president = next(
        r
        for r in rows
        if r["recipient_id"] == recipient_id("enterprise.president", w.enterprises[0])
    )
    resp = await env.client.post(
        f"/v1/email/presidents/{w.enterprises[0]}/messages/{president['id']}/redeliver",
        headers=w.partner,
    )
    assert resp.status == 202, await resp.text()
    await deliver(env)
    (mail,) = smtp.sink.messages
    assert mail.to == address and mail.message["Message-ID"] == f"<{president['id']}@roadshow.test>"
    resp = await env.client.get(
        f"/v1/email/presidents/{w.enterprises[0]}/messages/{president['id']}", headers=w.partner
    )
    detail = await resp.json()
    assert detail["status"] == "delivered" and detail["attempts"] == 3
    assert [a["outcome"] for a in detail["attempt_log"]] == ["failed", "rejected", "delivered"]
    assert address not in await resp.text()

    since = (env.clock() - timedelta(hours=1)).isoformat()
    until = (env.clock() + timedelta(hours=1)).isoformat()
    resp = await env.client.post(
        "/admin/email/redeliver",
        json={"since": since, "until": until},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert (await resp.json())["redelivered"] == 1  # the contact's
    await deliver(env)
    assert len(smtp.sink.messages) == 2


async def test_a_worker_that_died_mid_send_is_replaced_and_the_message_id_kept(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await make_world(env, [(0, 0, 1, 1)], enterprises=1, participants=1)
    await w.publish()
    channel = EmailChannel(env.settings, clock=env.clock)
    async with env.units.begin(Context(correlation_id="a-worker-about-to-die")) as uow:
        claimed = await channel.claim(uow, 10)
    assert len(claimed) == 2  # and then the worker died without a word
    await deliver(env)
    assert smtp.sink.messages == []  # leased: nobody else sends them meanwhile
    env.clock.advance(10)
    await deliver(env)
    assert len(smtp.sink.messages) == 2
    for lost in claimed:
        (mail,) = smtp.sink.to(lost.to.email)
        assert mail.message["Message-ID"] == f"<{lost.notification_id}@roadshow.test>"
        assert [a["outcome"] for a in await env.attempts(lost.notification_id)] == [
            "abandoned",
            "delivered",
        ]


async def test_a_reminder_too_late_to_help_is_cancelled(email_env: Env, smtp: SmtpServer) -> None:
    env = email_env
    w = await make_world(env, [(0, 0, 1, 1)], enterprises=1, participants=1)
    await w.publish()
    await deliver(env)
    env.clock.now = w.meetings[0].starts_at + timedelta(minutes=1)  # the workers were down
    await deliver(env)
    assert len(smtp.sink.messages) == 2  # the schedules only
    assert {r["status"] for r in await emails(env, kind="reminder")} == {"cancelled"}


async def test_the_last_meeting_and_the_completion_racing_still_publish_once(
    email_env: Env, smtp: SmtpServer
) -> None:
    """Two consumer instances, one with the schedule's last meeting, the other
    with schedule.completed, each blind to the other's uncommitted row: the
    hold lock makes the second see the first, so the schedule is published."""
    env = email_env
    w = await make_world(env, PAIRS)
    for m in w.meetings[:-1]:
        await env.consume(scheduled(m))
    last, done = scheduled(w.meetings[-1]), completed(w.schedule_id, len(w.meetings))
    async with env.pool.acquire() as first, env.pool.acquire() as second:
        tx = first.transaction()
        await tx.start()
        await env.handle(first, last)

        async def complete() -> None:
            async with second.transaction():
                await env.handle(second, done)

        racing = asyncio.create_task(complete())

        async def waiting_for_the_lock() -> bool:
            return bool(
                await env.pool.fetchval(
                    """SELECT count(*) FROM pg_locks
                        WHERE locktype = 'advisory' AND NOT granted AND database =
                              (SELECT oid FROM pg_database WHERE datname = current_database())"""
                )
            )

        await eventually(waiting_for_the_lock, within=10, what="the completion to wait")
        assert not racing.done()
        await tx.commit()
        await racing
    assert len(await emails(env, kind="schedule")) == 4
    await deliver(env)
    assert len(smtp.sink.messages) == 4


def wire_headers(raw: bytes, name: str) -> list[str]:
    """The values of a header as they were sent, lines unfolded but nothing decoded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    fields = head.replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n")
    prefix = name.lower() + ":"
    return [f[len(prefix) :].strip() for f in fields if f.lower().startswith(prefix)]
