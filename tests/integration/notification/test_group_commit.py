"""Attempts that end together are recorded in one transaction (group commit),
and one that cannot be recorded does not keep the others from being recorded."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.notification.webhooks.channel import WebhookChannel
from shared.testing.waiting import eventually
from tests.integration.notification.conftest import Env, Receiver, Reply

DELIVERIES = 4  # what one endpoint takes at once


async def _held_deliveries(env: Env, receiver: Receiver) -> dict[str, Any]:
    """A subscription with DELIVERIES notifications due, at a receiver that holds
    every request until released (so the attempts end together)."""
    partner = await env.partner()
    participant = await env.participant(partner)
    sub = await env.subscribe(partner, receiver.url)
    for _ in range(DELIVERIES):
        await env.match(participant, await env.enterprise())
    receiver.default = Reply(hang=True)
    return sub


async def _deliver_together(env: Env, receiver: Receiver, patch: Any = None) -> None:
    async with env.worker() as worker:
        if patch is not None:
            patch(next(c for c in worker._channels if isinstance(c, WebhookChannel)))
        assert await worker.run_once() == DELIVERIES

        async def all_waiting() -> bool | None:
            return receiver.in_flight == DELIVERIES or None

        await eventually(all_waiting, what="every request at the receiver")
        receiver.released.set()
        await worker.drain()


async def test_attempts_that_end_together_are_recorded_in_fewer_transactions(
    env: Env, receiver: Receiver
) -> None:
    sub = await _held_deliveries(env, receiver)
    await _deliver_together(env, receiver)
    rows = await env.pool.fetch(
        "SELECT status, xmin::text AS tx FROM notifications WHERE subscription_id = $1",
        uuid.UUID(sub["subscription_id"]),
    )
    assert [r["status"] for r in rows] == ["delivered"] * DELIVERIES
    # Rows written by one transaction share its id: the first to end is recorded
    # at once, those ending while it is written go together in the next one.
    assert len({r["tx"] for r in rows}) < DELIVERIES


async def test_one_attempt_that_cannot_be_recorded_leaves_the_others_recorded(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = await _held_deliveries(env, receiver)
    seen: list[uuid.UUID] = []

    def patch(channel: WebhookChannel) -> None:
        original = channel.record

        async def record(uow: Any, ended: Any) -> Any:
            for job, _ in ended:
                if job.notification_id not in seen:
                    seen.append(job.notification_id)
            # The second to end: it is recorded in a run with others.
            if len(seen) > 1 and any(job.notification_id == seen[1] for job, _ in ended):
                raise ValueError("this one cannot be recorded")
            return await original(uow, ended)

        monkeypatch.setattr(channel, "record", record)

    await _deliver_together(env, receiver, patch)
    by_id = {n["id"]: n for n in await env.notifications(sub["subscription_id"])}
    broken = seen[1]
    assert by_id[broken]["status"] == "dead"
    assert by_id[broken]["last_error"] == "ValueError: this one cannot be recorded"
    others = [n["status"] for i, n in by_id.items() if i != broken]
    assert others == ["delivered"] * (DELIVERIES - 1)


async def test_a_run_records_only_the_attempts_whose_lease_it_still_holds(
    env: Env, receiver: Receiver
) -> None:
    sub = await _held_deliveries(env, receiver)
    taken = uuid.uuid4()  # another worker's lease, as after this one's ran out

    async with env.worker() as worker:
        assert await worker.run_once() == DELIVERIES

        async def all_waiting() -> bool | None:
            return receiver.in_flight == DELIVERIES or None

        await eventually(all_waiting, what="every request at the receiver")
        lost = await env.pool.fetchval(
            "UPDATE notifications SET lease_token = $2 WHERE id = (SELECT id FROM notifications"
            " WHERE subscription_id = $1 ORDER BY id LIMIT 1) RETURNING id",
            uuid.UUID(sub["subscription_id"]),
            taken,
        )
        receiver.released.set()
        await worker.drain()
    rows = {
        r["id"]: r
        for r in await env.pool.fetch(
            "SELECT id, status, lease_token FROM notifications WHERE subscription_id = $1",
            uuid.UUID(sub["subscription_id"]),
        )
    }
    assert rows[lost]["status"] == "pending" and rows[lost]["lease_token"] == taken
    assert [r["status"] for i, r in rows.items() if i != lost] == ["delivered"] * (DELIVERIES - 1)
