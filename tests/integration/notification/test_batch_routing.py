"""Routing does only the work that reaches someone: a run of matching events is
routed as one (one look-up of who is interested, one insert), events nobody
wants leave no row — neither a notification nor a held event."""

from __future__ import annotations

import json
import uuid

from shared.contracts.matching import (
    Match,
    MatchChange,
    MatchesChanged,
    match_change_id,
    match_shard_key,
)
from shared.envelope import Context, Envelope, new_event
from tests.integration.notification.conftest import Env, Receiver, match_event, meeting_event


async def _count(env: Env, table: str) -> int:
    count: int = await env.pool.fetchval(f"SELECT count(*) FROM {table}")
    return count


async def test_a_run_of_match_events_nobody_subscribes_to_writes_nothing(
    env: Env, receiver: Receiver
) -> None:
    # Someone listens, but to another partner's participants.
    listening = await env.partner()
    await env.subscribe(listening, receiver.url, event_types=["match.proposed", "match.updated"])
    await env.participant(listening)
    unheard = await env.partner()
    banks = [await env.participant(unheard) for _ in range(4)]
    enterprises = [await env.enterprise() for _ in range(10)]
    run = [match_event(b, e) for b in banks for e in enterprises]
    # Matching can be faster than registration: an enterprise not known yet.
    # Its bank's partner subscribes to nothing, so holding it would be waste.
    run += [match_event(banks[0], uuid.uuid4()) for _ in range(5)]
    await env.consume_batch(run)
    assert await _count(env, "notifications") == 0
    assert await _count(env, "held_events") == 0


async def test_a_run_routes_each_event_to_who_wants_it_in_one_go(
    env: Env, receiver: Receiver
) -> None:
    partner = await env.partner()
    sub = await env.subscribe(
        partner, receiver.url, event_types=["match.proposed", "meeting.scheduled"]
    )
    bank, fund = await env.participant(partner), await env.participant(partner, kind="fund")
    narrow = await env.subscribe(partner, receiver.url, participant_ids=[str(fund)])
    enterprises = [await env.enterprise() for _ in range(3)]
    early_bank = uuid.uuid4()  # its registration is still on its way
    run = [match_event(p, e) for p in (bank, fund) for e in enterprises]
    run += [match_event(bank, enterprises[0], "match.withdrawn")]  # nobody asked for these
    run += [meeting_event(fund, enterprises[1]), match_event(early_bank, enterprises[2])]
    await env.consume_batch(run)
    await env.consume_batch(run)  # the same run again routes nothing twice

    wanted = {e.id for e in run[:6]} | {run[7].id}
    assert {n["event_id"] for n in await env.notifications(sub["subscription_id"])} == wanted
    assert {n["event_id"] for n in await env.notifications(narrow["subscription_id"])} == {
        e.id for e in run[3:6]
    }
    assert await _count(env, "notifications") == 10
    assert await env.pool.fetchval("SELECT event_id FROM held_events") == run[8].id

    await env.participant(partner, participant_id=early_bank)
    assert await _count(env, "held_events") == 0
    assert run[8].id in {n["event_id"] for n in await env.notifications(sub["subscription_id"])}
    async with env.worker() as worker:
        while await worker.deliver_due():  # rounds: at most 4 per endpoint at once
            pass
    assert len(receiver.ids()) == len(set(receiver.ids())) == 11


def _batch(singles: list[Envelope]) -> Envelope:
    """The singles as matching publishes them: one `matches.changed` of their changes."""
    matches = [Match.model_validate(e.data) for e in singles]
    data = MatchesChanged(
        roadshow_id=matches[0].roadshow_id,
        changes=[MatchChange(type=e.type, match=m) for e, m in zip(singles, matches, strict=True)],
    )
    key = match_shard_key(data.roadshow_id, matches[0].match_id)
    return new_event("matching", Context(correlation_id="batch-test"), "matches.changed", key, data)


async def test_a_batch_of_match_changes_is_routed_as_the_single_events_it_stands_for(
    env: Env, receiver: Receiver
) -> None:
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url, event_types=["match.proposed"])
    banks = [await env.participant(partner) for _ in range(2)]
    early_bank = uuid.uuid4()  # its registration is still on its way: its change is held
    enterprise = await env.enterprise()
    batch = _batch([match_event(b, enterprise) for b in [*banks, early_bank]])
    await env.consume_batch([batch])
    # Published again (an outbox replay gives the batch a new delivery, same changes).
    await env.consume_batch([batch.model_copy(update={"id": uuid.uuid4()})])

    assert await _count(env, "held_events") == 1
    await env.participant(partner, participant_id=early_bank)
    assert await _count(env, "held_events") == 0
    banks.append(early_bank)

    changes = MatchesChanged.model_validate(batch.data).changes
    expected = {match_change_id(c.match.match_id, c.match.version) for c in changes}
    notes = await env.notifications(sub["subscription_id"])
    assert {n["event_id"] for n in notes} == expected and len(notes) == 3
    assert {n["correlation_id"] for n in notes} == {"batch-test"}
    async with env.worker() as worker:
        await worker.deliver_due()
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert sorted(b["data"]["participant"]["id"] for b in bodies) == sorted(map(str, banks))
    assert {b["type"] for b in bodies} == {"match.proposed"}
    assert {b["data"]["event_id"] for b in bodies} == {str(i) for i in expected}
