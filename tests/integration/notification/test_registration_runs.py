"""A poll batch of registrations is handled as one run (each step once for the
run): it ends as the same events handled one at a time would — every party and
person at their latest version, every event held for them routed, each person
due their match e-mail once, a participant without a partner left out."""

from __future__ import annotations

import uuid

from shared.contracts import parse_data
from shared.contracts.registration import Enterprise, Participant
from shared.envelope import Context, Envelope, new_event
from tests.integration.notification.conftest import Env, Receiver, match_event


def _next_version(event: Envelope, **change: object) -> Envelope:
    """The party's next version, as registration publishes an update."""
    data = parse_data(event)
    assert isinstance(data, Enterprise | Participant)
    kind = "enterprise" if isinstance(data, Enterprise) else "participant"
    newer = data.model_copy(update={"version": data.version + 1, **change})
    ctx = Context.caused_by(event)
    return new_event("registration", ctx, f"{kind}.updated", uuid.UUID(event.key), newer)


async def test_a_run_of_registrations_releases_what_was_held_and_keeps_the_latest(
    email_env: Env, receiver: Receiver
) -> None:
    env = email_env
    await env.roadshow()
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url, event_types=["match.proposed"])
    bank_event = env.participant_event(partner)
    first = env.enterprise_event(partner=partner)
    second = env.enterprise_event(partner=partner)
    bank, e1, e2 = (uuid.UUID(e.key) for e in (bank_event, first, second))
    # Matching was faster: the parties are unknown, so their match events wait.
    await env.consume_batch([match_event(bank, e) for e in (e1, e2)])
    assert await env.pool.fetchval("SELECT count(*) FROM held_events") == 2

    renamed = _next_version(first, name="Renamed Robotics Inc.")
    without_partner = env.participant_event(partner)
    orphan = new_event(
        "registration",
        Context(correlation_id="no-partner"),
        "participant.registered",
        uuid.UUID(without_partner.key),
        parse_data(without_partner),
    )
    await env.consume_batch([first, bank_event, orphan, renamed, second])

    assert await env.pool.fetchval("SELECT count(*) FROM held_events") == 0
    routed = await env.notifications(sub["subscription_id"])
    assert [(n["event_type"], n["participant_id"]) for n in routed] == [
        ("match.proposed", bank)
    ] * 2
    enterprises = await env.pool.fetch("SELECT id, name, version FROM enterprises")
    assert {r["id"]: (r["name"], r["version"]) for r in enterprises} == {
        e1: ("Renamed Robotics Inc.", 2),
        e2: (second.data["name"], 1),
    }
    participants = await env.pool.fetch("SELECT id FROM participants")
    assert [r["id"] for r in participants] == [bank]
    people = await env.pool.fetch("SELECT party_id, email, version FROM recipients")
    assert {r["party_id"]: (r["email"], r["version"]) for r in people} == {
        bank: (env.people[bank]["email"], 1),
        e1: (env.people[e1]["email"], 2),
        e2: (env.people[e2]["email"], 1),
    }
    due = await env.pool.fetch(
        "SELECT party_id FROM match_mail_due WHERE party_id = ANY($1::uuid[])", [bank, e1, e2]
    )
    assert sorted(r["party_id"] for r in due) == sorted([bank, e1, e2])
