"""The enterprise's partner subscribes to its own enterprises' matches and
meetings (the participant's partner keeps its own); both get the reasons."""

from __future__ import annotations

import uuid
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.integration.notification.conftest import Env, Receiver, Receivers


async def test_the_enterprise_partner_hears_of_its_enterprise(
    env: Env, receivers: Receivers
) -> None:
    bank_partner, delegate = await env.partner(), await env.partner()
    bank_hook, delegate_hook = await receivers(), await receivers()
    bank = await env.participant(bank_partner, kind="bank")
    enterprise = await env.enterprise(partner=delegate)
    other = await env.enterprise(partner=await env.partner())
    types = ["match.proposed", "meeting.scheduled"]
    await env.subscribe(bank_partner, bank_hook.url, event_types=types)
    mine = await env.subscribe(delegate, delegate_hook.url, event_types=types, sides=["enterprise"])
    assert mine["sides"] == ["enterprise"] and mine["enterprise_ids"] is None
    # A participant-side subscription of the delegate hears nothing of the bank.
    await env.subscribe(delegate, delegate_hook.url, event_types=types)

    event = await env.match(bank, enterprise)
    await env.match(bank, other)  # another partner's enterprise
    await env.meeting(bank, enterprise)
    async with env.worker() as worker:
        # The bank's partner: two matches and the meeting; the delegate: its enterprise's.
        assert await worker.deliver_due() == 3 + 2

    received = [
        Webhook(str(mine["secret"])).verify(r.body, r.headers) for r in delegate_hook.requests
    ]
    assert [p["type"] for p in received] == ["match.proposed", "meeting.scheduled"]
    assert received[0]["data"]["match"]["match_id"] == event.data["match_id"]
    assert received[0]["data"]["enterprise"]["id"] == str(enterprise)
    assert received[0]["data"]["match"]["reasons"][0]["reason"]
    assert len(bank_hook.requests) == 3
    (listed,) = [
        n
        for n in await env.notifications(str(mine["subscription_id"]))
        if n["event_type"] == "match.proposed"
    ]
    assert listed["partner_id"] == uuid.UUID(delegate["X-Partner-Id"])


async def test_bad_sides_are_422_naming_the_field(env: Env, receiver: Receiver) -> None:
    partner = await env.partner()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sides": ["bank"]}, "sides.0"),
        ({"sides": []}, "sides"),
        ({"sides": ["enterprise", "enterprise"]}, "sides"),
        ({"enterprise_ids": ["nope"]}, "enterprise_ids.0"),
    ]
    for fields, field in cases:
        body: dict[str, Any] = {"url": receiver.url, "event_types": ["match.proposed"], **fields}
        resp = await env.client.post("/v1/subscriptions", json=body, headers=partner)
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["field"] == field
    count = await env.pool.fetchval("SELECT count(*) FROM subscriptions")
    assert count == 0
