"""Personal data in notification: with e-mail off, nothing about a person is
stored or sent (contacts and presidents are dropped on arrival). With e-mail
on, a person's name and address live in `recipients` and nowhere else — not in
stored messages, webhook bodies, held events, the outbox or the logs — and
`person.erased` (or a withdrawal) removes them and cancels what was pending."""

from __future__ import annotations

import uuid

from services.notification.email.rules import Role, recipient_id
from shared.contracts.registration import ErasedSubject, PersonErased, Withdrawn
from shared.envelope import Context, Envelope, new_event
from shared.testing.plugin import LOG_DIR
from tests.factories import PEOPLE
from tests.integration.notification.conftest import ROADSHOW, Env, Receiver, SmtpServer
from tests.integration.notification.mailworld import deliver, emails, make_world

TABLES = (
    "participants",
    "enterprises",
    "held_events",
    "subscriptions",
    "notifications",
    "delivery_attempts",
    "outbox",
    "inbox",
    "roadshows",
    "schedules",
    "meetings",
    "schedule_meetings",
    "email_matches",
    "match_mail_due",
    "email_answers",
)


async def _dump(env: Env, tables: tuple[str, ...]) -> str:
    rows = []
    for table in tables:
        rows += [r[0] for r in await env.pool.fetch(f"SELECT row_to_json(t)::text FROM {table} t")]
    return "\n".join(rows)


async def test_people_are_neither_stored_nor_sent(env: Env, receiver: Receiver) -> None:
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url, event_types=["match.proposed"])
    bank = await env.participant(partner)
    enterprise = await env.enterprise()
    await env.match(bank, enterprise)
    async with env.worker() as worker:
        await worker.deliver_due()
    assert len(receiver.requests) == 1 and sub

    text = await _dump(env, (*TABLES, "recipients")) + receiver.requests[0].body.decode()
    assert "enterprise" in text  # the dump is not empty
    assert any("@" in p for p in PEOPLE), "the factories made no people"
    assert [p for p in PEOPLE if p in text] == []


def _erased(kind: str, party: uuid.UUID) -> Envelope:
    return new_event(
        "registration",
        Context(correlation_id="erasure-test"),
        "person.erased",
        party,
        PersonErased(erasure_id=uuid.uuid4(), subjects=[ErasedSubject(kind=kind, id=party)]),
    )


async def test_people_live_in_one_table_and_erasure_removes_them(
    email_env: Env, smtp: SmtpServer, receiver: Receiver
) -> None:
    env = email_env
    w = await make_world(env, [(0, 0, 1, 1), (1, 1, 2, 2)])
    await env.subscribe(w.partner, receiver.url, event_types=["meeting.scheduled"])
    e0, e1 = w.enterprises
    p0, p1 = w.participants
    people = {party: env.people[party] for party in (*w.enterprises, *w.participants)}
    stored = {(p["name"], p["email"]) for p in people.values()}
    pairs = await env.pool.fetch("SELECT name, email FROM recipients")
    assert {(r["name"], r["email"]) for r in pairs} == stored  # names and addresses, no phone

    await w.publish()  # four schedules and four reminders, pending
    assert len(await emails(env)) == 8

    # Before anything is sent, E0's president is erased and P1 withdraws.
    await env.consume(_erased("enterprise.president", e0))
    withdrawn = Withdrawn(id=p1, roadshow_id=ROADSHOW, version=2)
    await env.consume(
        new_event(
            "registration", Context(correlation_id="w"), "participant.withdrawn", p1, withdrawn
        )
    )
    for party in (e0, p1):
        role: Role = "enterprise.president" if party == e0 else "participant.contact"
        row = await env.pool.fetchrow(
            "SELECT * FROM recipients WHERE id = $1", recipient_id(role, party)
        )
        assert row["name"] is None and row["email"] is None
        statuses = await env.pool.fetch(
            "SELECT status, last_error FROM notifications WHERE recipient_id = $1", row["id"]
        )
        assert {s["status"] for s in statuses} == {"cancelled"}
    erased = await env.pool.fetchval(
        "SELECT erased_at FROM recipients WHERE id = $1",
        recipient_id("enterprise.president", e0),
    )
    assert erased is not None

    await deliver(env)
    assert sorted(m.to for m in smtp.sink.messages) == sorted(
        [people[e1]["email"], people[p0]["email"]]
    )
    assert len(receiver.requests) == 2  # the meetings' webhooks

    # Nothing personal anywhere but `recipients`; there, nothing of the two gone.
    everything_else = await _dump(env, TABLES)
    everything_else += "".join(r.body.decode() for r in receiver.requests)
    assert [p for p in PEOPLE if p in everything_else] == []
    gone = {v for party in (e0, p1) for v in people[party].values() if v != "President"}
    assert [v for v in gone if v in await _dump(env, ("recipients",))] == []

    # The redelivered erasure changes nothing and fails nothing.
    await env.consume(_erased("enterprise.president", e0))

    # And the logs so far (the last test of the run scans them all again).
    logs = "".join(path.read_text() for path in LOG_DIR.glob("*.jsonl"))
    assert [v for p in people.values() for v in p.values() if v != "President" and v in logs] == []
