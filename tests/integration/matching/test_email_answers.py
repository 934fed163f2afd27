"""A person's answer from their e-mail (notification's `answer.given`) on a real
database, through the answers consumer's own inbox transaction: recorded as
the side's interest exactly like a partner's (interest.recorded, expiry, the
match's interest over HTTP); a replay doubles nothing; the later answer given
wins, partner or person; a withdrawn match or closed scheduling takes none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from aiokafka.structs import ConsumerRecord

from services.matching.bootstrap import create_answers_consumer
from shared.consumer import IdempotentConsumer, _Parsed
from shared.contracts import parse_data
from shared.contracts.matching import InterestRecorded
from shared.contracts.notification import AnswerGiven
from shared.db import create_pool
from shared.envelope import Context, Envelope, new_event
from tests.integration.matching.conftest import (
    Store,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
)

T0 = datetime(2027, 5, 1, 9, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest_asyncio.fixture
async def answers(store: Store) -> Any:
    """The notification topic's consumer of matching, handling records through
    its inbox transaction (not its poll loop)."""
    consumer = create_answers_consumer(store.settings, store.uses)
    consumer._pool = await create_pool(store.dsn, 2)
    try:
        yield consumer
    finally:
        await consumer._pool.close()


async def _consume(consumer: IdempotentConsumer, envelope: Envelope) -> bool:
    record = ConsumerRecord(
        "roadshow.notification.v1", 0, 0, 0, 0, None, envelope.to_bytes(), None, 0, 0, []
    )
    before = consumer.handled
    await consumer._handle([_Parsed(record, envelope, parse_data(envelope))])
    return consumer.handled > before


def _answer(match: Any, side: str, answer: str, given_at: datetime) -> Envelope:
    data = AnswerGiven(
        answer_id=uuid.uuid4(),
        match_id=match["match_id"],
        roadshow_id=match["roadshow_id"],
        side=side,
        answer=answer,
        given_at=given_at,
        recipient_id=uuid.uuid4(),
    )
    return new_event(
        "notification", Context(correlation_id="email-answer"), "answer.given", data.match_id, data
    )


async def _setup(store: Store, **grid: Any) -> dict[str, Any]:
    clock = Clock()
    store.uses.interest.clock = clock
    organiser, headers = await store.partner()
    delegate, delegate_headers = await store.partner()
    rid = uuid.uuid4()
    await store.deliver("roadshow.created", roadshow_contract(rid, **grid), organiser)
    await store.deliver("participant.registered", participant_contract(rid, "fund"), organiser)
    await store.deliver("enterprise.registered", enterprise_contract(rid), delegate)
    (match,) = await store.conn.fetch("SELECT * FROM matches WHERE roadshow_id = $1", rid)
    return {
        "clock": clock,
        "match": match,
        "headers": headers,
        "delegate_headers": delegate_headers,
    }


async def _interest_events(store: Store) -> list[InterestRecorded]:
    return [
        InterestRecorded.model_validate(e["data"]) for e in await store.outbox("interest.recorded")
    ]


async def test_an_email_answer_is_the_sides_interest_and_a_replay_doubles_nothing(
    store: Store, answers: IdempotentConsumer
) -> None:
    ev = await _setup(store)
    match, clock = ev["match"], ev["clock"]
    event = _answer(match, "participant", "must-meet", T0)
    assert await _consume(answers, event)
    resp = await store.client.get(f"/v1/matches/{match['match_id']}", headers=ev["headers"])
    got = await resp.json()
    assert got["participant_interest"] == "must-meet" and got["enterprise_interest"] is None
    # The same expiry as a partner's answer: the silent side's request runs for the ttl.
    expires = T0 + timedelta(hours=72)
    assert datetime.fromisoformat(got["interest_expires_at"]) == expires
    (recorded,) = await _interest_events(store)
    assert (recorded.side, recorded.interest, recorded.expires_at) == (
        "participant",
        "must-meet",
        expires,
    )
    # Redelivered (a crash before the offset commit, a replay of notification's outbox).
    clock.now += timedelta(minutes=5)
    assert not await _consume(answers, event)
    assert len(await _interest_events(store)) == 1


async def test_the_later_answer_given_wins_whoever_gave_it(
    store: Store, answers: IdempotentConsumer
) -> None:
    ev = await _setup(store)
    match, clock = ev["match"], ev["clock"]
    path = f"/v1/matches/{match['match_id']}"
    # The partner declines for the participant at 10:00 ...
    clock.now = T0 + timedelta(hours=1)
    resp = await store.client.put(
        f"{path}/interest",
        json={"side": "participant", "interest": "decline"},
        headers=ev["headers"],
    )
    assert resp.status == 200, await resp.text()
    # ... an accept the person gave by e-mail at 09:30 arrives after it: too old.
    clock.now = T0 + timedelta(hours=2)
    assert await _consume(
        answers, _answer(match, "participant", "accept", T0 + timedelta(minutes=30))
    )
    got = await (await store.client.get(path, headers=ev["headers"])).json()
    assert got["participant_interest"] == "decline"
    assert [e.interest for e in await _interest_events(store)] == ["decline"]
    # An answer given by e-mail after the partner's replaces it, as a partner's would.
    assert await _consume(answers, _answer(match, "participant", "accept", clock.now))
    got = await (await store.client.get(path, headers=ev["headers"])).json()
    assert got["participant_interest"] == "accept"
    # And the enterprise's president answers for the enterprise's side.
    assert await _consume(answers, _answer(match, "enterprise", "decline", clock.now))
    got = await (await store.client.get(path, headers=ev["headers"])).json()
    assert (got["enterprise_interest"], got["participant_interest"]) == ("decline", "accept")
    assert [e.interest for e in await _interest_events(store)] == ["decline", "accept", "decline"]


async def test_no_answer_on_a_withdrawn_match_or_after_scheduling_closed(
    store: Store, answers: IdempotentConsumer
) -> None:
    ev = await _setup(store)
    match, clock = ev["match"], ev["clock"]
    closes = T0 + timedelta(hours=1)
    resp = await store.client.put(
        f"/v1/roadshows/{match['roadshow_id']}/matching-settings",
        json={
            "mode": "opt-in",
            "interest_ttl_hours": 48,
            "scheduling_closes_at": closes.isoformat(),
        },
        headers=ev["headers"],
    )
    assert resp.status == 200, await resp.text()
    clock.now = closes + timedelta(minutes=1)
    # Given after closing: dropped (not dead-lettered: the consumer handled it).
    assert await _consume(answers, _answer(match, "participant", "accept", clock.now))
    # Given before closing, arriving after: it counts.
    assert await _consume(
        answers, _answer(match, "enterprise", "accept", closes - timedelta(minutes=1))
    )
    assert [(e.side, e.interest) for e in await _interest_events(store)] == [
        ("enterprise", "accept")
    ]
    # Unknown match: dropped too.
    ghost = {**dict(match), "match_id": uuid.uuid4()}
    assert await _consume(answers, _answer(ghost, "participant", "accept", closes))
    assert len(await _interest_events(store)) == 1
