"""After a meeting, from matching to a subscriber's endpoint: the events matching
writes to its outbox when a side records feedback, when the follow-up falls
due and when deal progress is recorded are handed to notification as its
consumer would, routed to the subscriptions that want them, delivered signed
to real receivers and verified there; a replay sends nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

from services.notification.http import webhooks
from shared.envelope import Envelope
from tests.integration.matching import conftest as matching
from tests.integration.matching.test_feedback import _put, _scheduled
from tests.integration.notification.conftest import Env, Receivers

# Matching's own fixture (its database, API, use cases), beside notification's `env`.
store = matching.store

AFTER = ["feedback.recorded", "follow-up.due", "follow-up.recorded"]


async def _envelopes(store: matching.Store, event_type: str) -> list[Envelope]:
    return [Envelope.model_validate(e) for e in await store.outbox(event_type)]


async def _deliver_all(env: Env) -> int:
    """Rounds until nothing is due (a round sends a few per subscription)."""
    sent = 0
    async with env.worker() as worker:
        while started := await worker.deliver_due():
            sent += started
    return sent


async def test_feedback_and_follow_ups_reach_the_subscribers_signed(
    store: matching.Store, env: Env, receivers: Receivers
) -> None:
    clock, ev, meetings = await _scheduled(store)
    meeting = meetings[0]
    partner_of = {
        side: await store.conn.fetchval(
            f"SELECT partner_id FROM {side}s WHERE id = $1", meeting[f"{side}_id"]
        )
        for side in ("participant", "enterprise")
    }
    # Notification knows the same partners and parties (from registration's events).
    fund_partner = await env.partner(partner_of["participant"])
    delegate = await env.partner(partner_of["enterprise"])
    for participant_id in {m["participant_id"] for m in meetings}:
        await env.participant(fund_partner, kind="fund", participant_id=participant_id)
    for enterprise_id in {m["enterprise_id"] for m in meetings}:
        await env.enterprise(enterprise_id=enterprise_id, partner=delegate)
    fund_hook, delegate_hook = await receivers(), await receivers()
    fund_sub = await env.subscribe(fund_partner, fund_hook.url, event_types=AFTER)
    delegate_sub = await env.subscribe(
        delegate, delegate_hook.url, event_types=AFTER, sides=["enterprise"]
    )

    clock.now = meetings[-1]["ends_at"]
    note = "Call back after the board meets in June."
    for side, headers, body in (
        ("participant", ev["headers"], {"took_place": "held", "interest": "high", "note": note}),
        ("enterprise", ev["delegate_headers"], {"took_place": "held", "interest": "medium"}),
    ):
        path = f"/v1/meetings/{meeting['id']}/feedback/{side}"
        status, got = await _put(store, path, body, headers)
        assert status == 200, got
    clock.now = meetings[-1]["ends_at"] + timedelta(days=90)
    async with store.unit() as uow:
        assert await store.uses.after.open_due(uow) == 4
    status, got = await _put(
        store,
        f"/v1/meetings/{meeting['id']}/follow-up",
        {"stage": "agreement-signed", "amount": "5000000", "currency": "CNY"},
        ev["headers"],
    )
    assert status == 200, got

    events = [e for t in AFTER for e in await _envelopes(store, t)]
    assert len(events) == 2 + 4 + 1
    for event in events:
        await env.consume(event)
    # The fund's partner: its own feedback, the due follow-up of its four
    # meetings and the deal; the delegate alike with its own feedback.
    assert await _deliver_all(env) == 6 + 6

    def verified(hook: Any, sub: dict[str, Any]) -> list[dict[str, Any]]:
        bodies = [Webhook(str(sub["secret"])).verify(r.body, r.headers) for r in hook.requests]
        for body in bodies:
            webhooks.WHAT[body["type"]][1].model_validate(body)  # as documented, nothing more
        return bodies

    for hook, sub, side in (
        (fund_hook, fund_sub, "participant"),
        (delegate_hook, delegate_sub, "enterprise"),
    ):
        bodies = verified(hook, sub)
        feedback = [b for b in bodies if b["type"] == "feedback.recorded"]
        # Each side hears of its own feedback only: the other's is its own word.
        assert [b["data"]["feedback"]["side"] for b in feedback] == [side]
        assert feedback[0]["data"]["feedback"]["meeting_id"] == str(meeting["id"])
        due = [b for b in bodies if b["type"] == "follow-up.due"]
        assert {b["data"]["follow_up"]["meeting_id"] for b in due} == {
            str(m["id"]) for m in meetings
        }
        (deal,) = [b for b in bodies if b["type"] == "follow-up.recorded"]
        assert deal["data"]["follow_up"]["amount"] == "5000000.00"
        assert deal["data"]["follow_up"]["reported_by"] == "participant"
        assert deal["data"]["participant"]["id"] == str(meeting["participant_id"])
        assert deal["data"]["enterprise"]["id"] == str(meeting["enterprise_id"])
        assert all(note not in r.body.decode() for r in hook.requests)

    # A replay (the outbox published again, past the inbox) makes nothing new.
    for event in events:
        await env.consume(event)
    assert await _deliver_all(env) == 0
    assert len(fund_hook.requests) == len(delegate_hook.requests) == 6
