"""Feedback after a meeting by e-mail, against a real SMTP server on loopback
and a real database: once a published meeting has ended (the fake clock), each
side's person gets one feedback e-mail with a signed link, never a second
across passes and replays; the link's GET shows the form and writes nothing;
its POST validates (422 naming the field) and stages feedback.given in the
outbox, ids and choices only; forged, expired and foreign links write nothing;
opted-out people and cancelled meetings are not asked."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from services.notification.email.rules import recipient_id
from services.notification.use_cases import create_use_cases
from shared.contracts.notification import FeedbackGiven
from shared.envelope import Envelope
from tests.integration.notification.conftest import Env, SmtpServer
from tests.integration.notification.mailworld import (
    World,
    cancelled,
    deliver,
    emails,
    html_of,
    make_world,
    other_mac,
    text_of,
)

LINK = re.compile(r"Your feedback: https://notify\.roadshow\.test(/v1/email/feedback\?token=\S+)")
HELD = {"took_place": "held", "interest": "high", "next_step": "due-diligence"}


async def _ask(env: Env) -> int:
    """One pass of the feedback loop, then of the delivery worker."""
    async with env.pool.acquire() as conn, conn.transaction():
        seen = await env.use_cases.feedback_mail.make_due(conn)
    await deliver(env)
    return seen


async def _published(env: Env, pairs: list[tuple[int, int, int, int]], **kw: Any) -> World:
    w = await make_world(env, pairs, **kw)
    await w.publish()
    await deliver(env)  # the schedule e-mails
    return w


def _feedback_mails(smtp: SmtpServer, address: str) -> list[Any]:
    return [m for m in smtp.sink.to(address) if m.message["X-Roadshow-Category"] == "feedback"]


def _link(mail: Any) -> str:
    (path,) = LINK.findall(text_of(mail.message))
    return str(path)


async def _given(env: Env) -> list[FeedbackGiven]:
    rows = await env.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type = 'feedback.given' ORDER BY id"
    )
    return [FeedbackGiven.model_validate(Envelope.model_validate(r["payload"]).data) for r in rows]


async def _rows(env: Env) -> list[Any]:
    return list(await env.pool.fetch("SELECT * FROM email_feedback ORDER BY seq"))


async def test_a_meeting_that_ended_asks_each_side_once_with_a_signed_link(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await _published(env, [(0, 0, 1, 3)], enterprises=1, participants=1)
    (m,) = w.meetings
    (e0,), (p0,) = w.enterprises, w.participants
    # Before the meeting has ended nobody is asked.
    env.clock.now = m.ends_at - timedelta(seconds=1)
    assert await _ask(env) == 0
    assert await emails(env, kind="feedback") == []

    env.clock.now = m.ends_at
    assert await _ask(env) == 1
    rows = await emails(env, kind="feedback")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"delivered"}
    counterpart = await w.organisation(p0)
    (president,) = _feedback_mails(smtp, w.address(e0))
    (contact,) = _feedback_mails(smtp, w.address(p0))
    msg = president.message
    assert msg["Subject"] == f"How was your meeting with {counterpart}?"
    assert not list(msg.iter_attachments())  # the meeting is over: no calendar
    assert f"Dear {w.name(e0)}," in text_of(msg)
    assert "/v1/email/feedback?token=" in html_of(msg)
    link = _link(contact)
    for party in (e0, p0):  # ids only in the link: nobody's name or address
        assert w.address(party) not in link and w.name(party) not in link

    # Never twice: another pass, a replay of the meeting's events, a later pass,
    # a restarted service (its use cases built anew over the same database).
    assert await _ask(env) == 0
    await w.publish()
    env.clock.advance(3600)
    assert await _ask(env) == 0
    restarted = create_use_cases(env.settings, clock=env.clock)
    async with env.pool.acquire() as conn, conn.transaction():
        assert await restarted.feedback_mail.make_due(conn) == 0
    assert len(await emails(env, kind="feedback")) == 2
    assert len(_feedback_mails(smtp, w.address(p0))) == 1


async def _asked(env: Env, smtp: SmtpServer) -> tuple[World, str, str]:
    """One meeting that ended and its people asked: (world, contact's link, president's)."""
    w = await _published(env, [(0, 0, 1, 3)], enterprises=1, participants=1)
    env.clock.now = w.meetings[0].ends_at
    await _ask(env)
    (contact,) = _feedback_mails(smtp, w.address(w.participants[0]))
    (president,) = _feedback_mails(smtp, w.address(w.enterprises[0]))
    return w, _link(contact), _link(president)


async def test_the_link_shows_the_form_and_records_only_valid_feedback_by_post(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w, link, president_link = await _asked(env, smtp)
    (m,) = w.meetings
    (e0,), (p0,) = w.enterprises, w.participants
    # GET (a mail scanner, a link preview) shows the form and writes nothing.
    page = await env.client.get(link)
    assert page.status == 200 and page.content_type == "text/html"
    body = await page.text()
    assert '<form method="post"' in body and 'name="took_place"' in body
    assert 'value="term-sheet"' in body and 'value="high"' in body
    assert await _rows(env) == [] and await _given(env) == []

    # Bad input: 422 naming the field, nothing written.
    for bad, name in (
        ({"took_place": "late"}, "took_place"),
        ({"interest": "high"}, "took_place"),
        ({"took_place": "held"}, "interest"),
        ({"took_place": "held", "interest": ""}, "interest"),
        ({"took_place": "no-show", "interest": "low"}, "interest"),
        ({"took_place": "cancelled", "next_step": "none"}, "next_step"),
        ({**HELD, "next_step": "lunch"}, "next_step"),
        ({**HELD, "note": "call me on +86 21 5555 0000"}, "note"),
    ):
        resp = await env.client.post(link, data=bad)
        assert resp.status == 422, (bad, await resp.text())
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["field"] == name, bad
    resp = await env.client.post(link, json=HELD)  # not a form: no fields
    assert resp.status == 422 and (await resp.json())["field"] == "took_place"
    assert await _rows(env) == [] and await _given(env) == []

    # The form's POST records it and stages feedback.given, ids and choices only.
    done = await env.client.post(link, data={**HELD, "next_step": ""})
    assert done.status == 200, await done.text()
    assert "your feedback is recorded" in await done.text()
    (row,) = await _rows(env)
    (event,) = await _given(env)
    assert (event.meeting_id, event.side, event.took_place, event.interest, event.next_step) == (
        m.meeting_id,
        "participant",
        "held",
        "high",
        "none",  # none chosen: none, as matching records it
    )
    assert event.feedback_id == row["id"] and event.roadshow_id == m.roadshow_id
    assert event.recipient_id == recipient_id("participant.contact", p0)
    payloads = "".join(
        str(r["payload"]) for r in await env.pool.fetch("SELECT payload FROM outbox")
    )
    for party in (e0, p0):
        assert w.address(party) not in payloads and w.name(party) not in payloads

    # A double click repeats the latest feedback: nothing new is recorded or sent.
    again = await env.client.post(link, data={**HELD, "next_step": "none"})
    assert again.status == 200
    assert len(await _rows(env)) == 1 and len(await _given(env)) == 1
    # Sent again with another choice, it changes the feedback.
    assert (await env.client.post(link, data={"took_place": "no-show"})).status == 200
    assert [(e.took_place, e.interest) for e in await _given(env)] == [
        ("held", "high"),
        ("no-show", None),
    ]
    page = await env.client.get(link)
    assert "Your feedback so far: The other side did not come." in await page.text()
    # The president's own link speaks for the enterprise's side.
    assert (await env.client.post(president_link, data=HELD)).status == 200
    assert [e.side for e in await _given(env)] == ["participant", "participant", "enterprise"]


async def test_forged_expired_and_foreign_links_write_nothing(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w, link, other = await _asked(env, smtp)
    tag, payload, mac = link.split("token=")[1].split(".")
    forged = [
        # The enterprise's payload with the participant's MAC.
        f"/v1/email/feedback?token={tag}.{other.split('token=')[1].split('.')[1]}.{mac}",
        f"/v1/email/feedback?token={tag}.{payload}.{other_mac(mac)}",
        "/v1/email/feedback?token=f1.bm90IG91cnM.bm90IG91cnM",
        "/v1/email/feedback?token=" + "x" * 513,
    ]
    unsubscribe = _feedback_mails(smtp, w.address(w.participants[0]))[0].message["List-Unsubscribe"]
    forged.append("/v1/email/feedback?token=" + unsubscribe.split("token=")[1].rstrip(">"))
    for path in forged:
        for method in ("GET", "POST"):
            resp = await env.client.request(method, path, data=HELD)
            assert resp.status in (404, 422), (method, path, resp.status)
            assert resp.content_type == "application/problem+json"
            assert (await resp.json())["field"] == "token"
    # A feedback link is no answer link either.
    resp = await env.client.post("/v1/email/answer?" + link.split("?")[1])
    assert resp.status == 404

    env.clock.advance(env.settings.email_feedback_link_ttl + 1)
    for method in ("GET", "POST"):
        resp = await env.client.request(method, link, data=HELD)
        assert resp.status == 409
        problem = await resp.json()
        assert problem["field"] == "token" and "expired" in problem["detail"]
    assert await _rows(env) == [] and await _given(env) == []


async def test_no_request_to_someone_who_opted_out_for_a_cancelled_or_long_past_meeting(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    # E0 meets P0 (slot 1) and P1 (slot 2); E1 meets P1 (slot 3).
    w = await _published(env, [(0, 0, 1, 3), (0, 1, 2, 4), (1, 1, 3, 5)])
    (e0, e1), (p0, p1) = w.enterprises, w.participants
    resp = await env.client.put(
        f"/v1/email/presidents/{e0}/opt-out", json={"opted_out": True}, headers=w.partner
    )
    assert resp.status == 200, await resp.text()
    await env.consume(cancelled(w.meetings[1]))
    env.clock.now = w.meetings[0].ends_at
    assert await _ask(env) == 1
    # Only P0's contact: E0's president opted out; the cancelled meeting asks nobody.
    assert [m.to for m in smtp.sink.messages if m.message["X-Roadshow-Category"] == "feedback"] == [
        w.address(p0)
    ]
    # Seen over only long after it ended (e.g. a late replay): nobody is asked.
    env.clock.now = w.meetings[2].ends_at + timedelta(
        seconds=env.settings.email_feedback_window + 1
    )
    assert await _ask(env) == 1
    assert _feedback_mails(smtp, w.address(e1)) == [] and _feedback_mails(smtp, w.address(p1)) == []
    assert len(await emails(env, kind="feedback")) == 1
