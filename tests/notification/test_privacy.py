"""Nothing about a person reaches notification's database or its webhooks:
contacts and presidents arrive in registration events and are dropped."""

from __future__ import annotations

from tests.factories import PEOPLE
from tests.notification.conftest import Env, Receiver

TABLES = (
    "participants",
    "enterprises",
    "held_events",
    "subscriptions",
    "notifications",
    "delivery_attempts",
    "outbox",
    "inbox",
)


async def test_people_are_neither_stored_nor_sent(env: Env, receiver: Receiver) -> None:
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url, event_types=["match.proposed"])
    bank = await env.participant(partner)
    enterprise = await env.enterprise()
    await env.match(bank, enterprise)
    async with env.worker() as worker:
        await worker.deliver_due()
    assert len(receiver.requests) == 1 and sub

    dump = []
    for table in TABLES:
        dump += [r[0] for r in await env.pool.fetch(f"SELECT row_to_json(t)::text FROM {table} t")]
    text = "\n".join(dump) + receiver.requests[0].body.decode()
    assert "enterprise" in text  # the dump is not empty
    assert any("@" in p for p in PEOPLE), "the factories made no people"
    assert [p for p in PEOPLE if p in text] == []
