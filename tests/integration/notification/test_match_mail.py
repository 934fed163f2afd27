"""People answer from their inbox, against a real SMTP server on loopback and
a real database: each person's first list of proposed matches with accept /
decline / must-meet links; a link's GET only asks, its POST records the answer
and stages answer.given in the outbox; forged and expired links write
nothing; the daily digest goes at most once a day, only when something
changed, and never to someone who opted out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from services.notification.email import repository as mail_repo
from services.notification.email.rules import recipient_id
from shared.contracts.matching import Match, match_id_for
from shared.contracts.notification import AnswerGiven
from shared.envelope import Envelope
from tests.integration.notification.conftest import Env, SmtpServer, match_event
from tests.integration.notification.mailworld import deliver, emails, html_of, other_mac, text_of

SETTLE = 300  # email_match_settle's default
DAY = 86_400
LINK = re.compile(
    r"  (Accept|Decline|Must meet): (https://notify\.roadshow\.test(/v1/email/answer\?token=\S+))"
)


async def _world(env: Env, enterprises: int = 1, participants: int = 1) -> dict[str, Any]:
    partner = await env.partner()
    await env.roadshow()
    es = [await env.enterprise(partner=partner) for _ in range(enterprises)]
    ps = [await env.participant(partner) for _ in range(participants)]
    return {"partner": partner, "enterprises": es, "participants": ps}


async def _send(env: Env) -> None:
    """One pass of the match e-mail loop, then of the delivery worker."""
    async with env.pool.acquire() as conn, conn.transaction():
        await env.use_cases.match_mail.make_due(conn)
    await deliver(env)


def _links(mail: Any) -> dict[str, str]:
    """The answer links of a message's text: label -> path with its token."""
    return {label: path for label, _url, path in LINK.findall(text_of(mail.message))}


async def _answers(env: Env) -> list[Any]:
    return list(await env.pool.fetch("SELECT * FROM email_answers ORDER BY seq"))


async def _answer_events(env: Env) -> list[AnswerGiven]:
    rows = await env.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type = 'answer.given' ORDER BY id"
    )
    return [AnswerGiven.model_validate(Envelope.model_validate(r["payload"]).data) for r in rows]


async def test_each_side_gets_its_proposed_matches_with_three_links_and_answers_by_post(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await _world(env, participants=2)
    (e0,), (p0, p1) = w["enterprises"], w["participants"]
    # A registration rush: two matches of E0 in two events; one e-mail per person.
    await env.consume(match_event(p0, e0))
    await env.consume(match_event(p1, e0))
    await _send(env)
    assert smtp.sink.messages == []  # waits for the burst to settle
    env.clock.advance(SETTLE)
    await _send(env)

    (president,) = smtp.sink.to(env.people[e0]["email"])
    msg = president.message
    assert msg["X-Roadshow-Category"] == "matches" and "please answer" in msg["Subject"]
    assert not list(msg.iter_attachments())
    text = text_of(msg)
    assert text.count("New: ") == 2 and "(fit 82%)" in text
    assert "why: seeks debt financing, which the bank offers" in text
    assert len(LINK.findall(text)) == 6  # three per match
    assert html_of(msg).count("/v1/email/answer?token=") == 6
    (contact,) = smtp.sink.to(env.people[p0]["email"])
    links = _links(contact)
    assert set(links) == {"Accept", "Decline", "Must meet"}
    # Ids only in the links: no name or address of anyone.
    for person in env.people.values():
        assert all(
            person["email"] not in path and person["name"] not in path for path in links.values()
        )

    # GET (a mail scanner, a link preview) only asks.
    page = await env.client.get(links["Must meet"])
    assert page.status == 200 and page.content_type == "text/html"
    body = await page.text()
    assert '<form method="post"' in body and "Must meet" in body
    assert await _answers(env) == [] and await _answer_events(env) == []

    # The form's POST records it and stages answer.given, with ids only.
    done = await env.client.post(links["Must meet"])
    assert done.status == 200, await done.text()
    assert "your answer is recorded" in await done.text()
    (answer,) = await _answers(env)
    (event,) = await _answer_events(env)
    assert (event.match_id, event.side, event.answer) == (
        match_id_for(e0, p0),
        "participant",
        "must-meet",
    )
    assert event.answer_id == answer["id"]
    assert event.recipient_id == recipient_id("participant.contact", p0)
    payloads = "".join(
        str(r["payload"]) for r in await env.pool.fetch("SELECT payload FROM outbox")
    )
    for person in env.people.values():
        assert person["email"] not in payloads and person["name"] not in payloads

    # A double click repeats the latest answer: nothing new is recorded or sent.
    again = await env.client.post(links["Must meet"])
    assert again.status == 200
    assert len(await _answers(env)) == 1 and len(await _answer_events(env)) == 1
    # Another link of the same match changes the answer.
    assert (await env.client.post(links["Decline"])).status == 200
    assert [e.answer for e in await _answer_events(env)] == ["must-meet", "decline"]
    page = await env.client.get(links["Accept"])
    assert "Your answer so far: Decline." in await page.text()


async def test_forged_expired_and_foreign_links_write_nothing(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await _world(env)
    (e0,), (p0,) = w["enterprises"], w["participants"]
    await env.consume(match_event(p0, e0))
    env.clock.advance(SETTLE)
    await _send(env)
    links = _links(smtp.sink.to(env.people[p0]["email"])[0])
    accept = links["Accept"]
    token = accept.split("token=")[1]
    tag, payload, mac = token.split(".")
    other = links["Decline"].split("token=")[1].split(".")
    forged = [
        f"/v1/email/answer?token={tag}.{other[1]}.{mac}",  # decline's payload, accept's MAC
        f"/v1/email/answer?token={tag}.{payload}.{other_mac(mac)}",
        "/v1/email/answer?token=a1.bm90IG91cnM.bm90IG91cnM",
        "/v1/email/answer?token=" + "x" * 513,  # longer than any token: refused unread
    ]
    for path in forged:
        for method in ("GET", "POST"):
            resp = await env.client.request(method, path)
            assert resp.status in (404, 422), (method, path, resp.status)
            assert resp.content_type == "application/problem+json"
            assert (await resp.json())["field"] == "token"
    unsubscribe = smtp.sink.to(env.people[p0]["email"])[0].message["List-Unsubscribe"]
    unsubscribe_token = unsubscribe.split("token=")[1].rstrip(">")
    resp = await env.client.post(f"/v1/email/answer?token={unsubscribe_token}")
    assert resp.status == 404  # another purpose's token is no answer

    env.clock.advance(env.settings.email_answer_link_ttl + 1)
    for method in ("GET", "POST"):
        resp = await env.client.request(method, accept)
        assert resp.status == 409
        problem = await resp.json()
        assert problem["field"] == "token" and "expired" in problem["detail"]
    assert await _answers(env) == [] and await _answer_events(env) == []


async def test_a_withdrawn_match_and_an_erased_person_take_no_answer(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await _world(env)
    (e0,), (p0,) = w["enterprises"], w["participants"]
    await env.consume(match_event(p0, e0))
    env.clock.advance(SETTLE)
    await _send(env)
    links = _links(smtp.sink.to(env.people[p0]["email"])[0])
    withdrawn = match_event(p0, e0, "match.withdrawn")
    await env.consume(withdrawn.model_copy(update={"data": {**withdrawn.data, "version": 2}}))
    resp = await env.client.post(links["Accept"])
    assert resp.status == 409 and "withdrawn" in (await resp.json())["detail"]
    assert await _answers(env) == [] and await _answer_events(env) == []


async def test_the_digest_goes_once_a_day_and_only_when_something_changed(
    email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    w = await _world(env, participants=3)
    (e0,), (p0, p1, p2) = w["enterprises"], w["participants"]
    president = env.people[e0]["email"]
    await env.consume(match_event(p0, e0))
    env.clock.advance(SETTLE)
    await _send(env)
    assert len(smtp.sink.to(president)) == 1  # the first list

    # An hour later a new match, then another, then one rescored: one digest,
    # made a day after the first list went, holding all of it.
    env.clock.advance(3600)
    await env.consume(match_event(p1, e0))
    env.clock.advance(3600)
    await env.consume(match_event(p2, e0))
    rescored = match_event(p0, e0, "match.updated")
    await env.consume(rescored.model_copy(update={"data": {**rescored.data, "version": 2}}))
    env.clock.advance(6 * 3600)
    await _send(env)
    assert len(smtp.sink.to(president)) == 1  # not before a day has passed
    env.clock.advance(DAY)
    await _send(env)
    _first, digest = smtp.sink.to(president)
    assert digest.message["X-Roadshow-Category"] == "digest"
    (row,) = [
        r
        for r in await emails(env, kind="digest")
        if r["recipient_id"] == recipient_id("enterprise.president", e0)
    ]
    assert digest.message["Message-ID"] == f"<{row['id']}@roadshow.test>"
    text = text_of(digest.message)
    assert text.count("New: ") == 2 and text.count("Updated: ") == 1
    assert len(LINK.findall(text)) == 9

    # Nothing changed since: no digest, however long we wait.
    env.clock.advance(3 * DAY)
    await _send(env)
    assert len(smtp.sink.to(president)) == 2
    # A withdrawal is news too (and has nothing to answer).
    gone = match_event(p1, e0, "match.withdrawn")
    await env.consume(gone.model_copy(update={"data": {**gone.data, "version": 2}}))
    env.clock.advance(SETTLE)
    await _send(env)
    last = smtp.sink.to(president)[-1]
    assert "Withdrawn: " in text_of(last.message) and not LINK.findall(text_of(last.message))
    # Replaying the same change changes nothing.
    await env.consume(gone.model_copy(update={"data": {**gone.data, "version": 2}}))
    env.clock.advance(DAY + SETTLE)
    await _send(env)
    assert len(smtp.sink.to(president)) == 3


async def test_no_match_email_to_someone_who_opted_out(email_env: Env, smtp: SmtpServer) -> None:
    env = email_env
    w = await _world(env, participants=2)
    (e0,), (p0, p1) = w["enterprises"], w["participants"]
    await env.consume(match_event(p0, e0))
    env.clock.advance(SETTLE)
    await _send(env)
    assert len(smtp.sink.messages) == 2
    resp = await env.client.put(
        f"/v1/email/presidents/{e0}/opt-out", json={"opted_out": True}, headers=w["partner"]
    )
    assert resp.status == 200, await resp.text()
    await env.consume(match_event(p1, e0))
    env.clock.advance(DAY + SETTLE)
    await _send(env)
    assert len(smtp.sink.to(env.people[e0]["email"])) == 1  # no digest, no new list
    assert len(smtp.sink.to(env.people[p1]["email"])) == 1  # p1's own first list goes
    assert [r for r in await emails(env, kind="digest")] == []


async def test_stored_matches_keep_each_matchs_own_reasons_and_move_only_forward(
    email_env: Env,
) -> None:
    """The store's one statement splits the batch's reasons back per match (none,
    one, several), keeps the higher of two versions in a batch, and ignores an
    older version arriving later."""
    world = await _world(email_env, enterprises=3)
    p = world["participants"][0]
    events = [match_event(p, e) for e in world["enterprises"]]
    m0, m1, m2 = (Match.model_validate(e.data) for e in events)
    m1_v2 = m1.model_copy(update={"version": 2, "score": 0.9})
    now = datetime(2027, 1, 1, tzinfo=UTC)
    async with email_env.pool.acquire() as conn, conn.transaction():
        changed = await mail_repo.upsert_matches(
            conn, [m0, m1, m2, m1_v2], [[], ["old"], ["c", "d", "e"], ["new 1", "new 2"]], now
        )
        assert sorted(changed) == sorted([m0.match_id, m1.match_id, m2.match_id])
        again = await mail_repo.upsert_matches(conn, [m1], [["stale"]], now)
        assert again == []
    rows = {
        r["match_id"]: r
        for r in await email_env.pool.fetch("SELECT match_id, reasons, version FROM email_matches")
    }
    assert rows[m0.match_id]["reasons"] == []
    assert rows[m1.match_id]["reasons"] == ["new 1", "new 2"]
    assert rows[m1.match_id]["version"] == 2
    assert rows[m2.match_id]["reasons"] == ["c", "d", "e"]
