"""The delivery worker outlives any failure of one unit of work (issue 11, items
4 and 5): a round that raises, a database connection dropped under it, a
database not there yet; a receiver's odd answer is recorded and bounded; a
delivery that keeps failing the same way ends dead with its error instead of
going out again after every lease."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from services.notification.bootstrap import PRODUCER, channels, create_worker
from services.notification.outbound.worker import DeliveryWorker, WorkerDatabase
from services.notification.webhooks.channel import Delivery
from shared.testing.waiting import eventually
from shared.unit_of_work import UnitOfWork
from tests.integration.notification.conftest import Env, Receiver, Reply


@contextlib.asynccontextmanager
async def running(worker: DeliveryWorker) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def _one_match(env: Env, receiver: Receiver) -> dict[str, Any]:
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url)
    await env.match(await env.participant(partner), await env.enterprise())
    return sub


def _worker(env: Env, **kwargs: Any) -> tuple[DeliveryWorker, Any]:
    """A worker on the env's database with its own pool, and its webhook channel."""
    webhook = channels(env.settings, clock=env.clock, resolver=env.resolver)[0]
    return (
        DeliveryWorker(
            [webhook],
            database=WorkerDatabase(env.dsn, PRODUCER, env.settings.topics.notification),
            concurrency=4,
            poll_seconds=kwargs.get("poll_seconds", 0.1),
            clock=env.clock,
        ),
        webhook,
    )


async def test_a_round_that_raises_anything_does_not_stop_the_worker(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker, webhook = _worker(env)
    real_claim = webhook.claim
    failures: list[BaseException] = [
        RuntimeError("a bug in one claim"),
        asyncpg.InterfaceError("connection is closed"),
        KeyError("subscription"),
    ]

    async def flaky_claim(uow: UnitOfWork, capacity: int) -> Sequence[Delivery]:
        if failures:
            raise failures.pop(0)
        result: Sequence[Delivery] = await real_claim(uow, capacity)
        return result

    monkeypatch.setattr(webhook, "claim", flaky_claim)
    await _one_match(env, receiver)
    async with running(worker) as task:

        async def delivered() -> bool:
            return len(receiver.requests) == 1

        await eventually(delivered, within=20, what="the delivery after three failed rounds")
        assert not task.done()
        assert worker.healthy()


async def test_a_dropped_database_connection_is_opened_again(env: Env, receiver: Receiver) -> None:
    # A long poll: only a working LISTEN connection delivers within seconds.
    worker, _ = _worker(env, poll_seconds=60)
    partner = await env.partner()
    await env.subscribe(partner, receiver.url)
    bank = await env.participant(partner)

    async def listening() -> bool:
        found: int = await env.pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND query LIKE 'LISTEN%'"""
        )
        return found == 1

    async with running(worker) as task:
        await eventually(listening, within=10, what="the worker to listen")
        await env.match(bank, await env.enterprise())
        await eventually(lambda: _requests(receiver, 1), within=10, what="the first delivery")
        # Every connection of the worker (pool and listener) drops at once.
        await env.pool.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        )
        await env.pool.expire_connections()  # the test's own were dropped too
        await eventually(listening, within=15, what="the worker to listen again")
        await env.match(bank, await env.enterprise())
        await eventually(lambda: _requests(receiver, 2), within=10, what="a delivery woken")
        assert not task.done()


async def _requests(receiver: Receiver, n: int) -> bool:
    return len(receiver.requests) == n


async def test_the_worker_waits_for_a_database_that_is_not_there_yet(env: Env) -> None:
    settings = env.settings.model_copy(
        update={"database_url": SecretStr("postgresql://postgres@127.0.0.1:1/nowhere")}
    )
    worker = create_worker(settings, clock=env.clock, resolver=env.resolver)
    async with running(worker) as task:
        await asyncio.sleep(1.5)
        assert not task.done()
        assert not worker.healthy()


async def test_an_odd_retry_after_is_recorded_and_bounded(env: Env, receiver: Receiver) -> None:
    """`Retry-After: ²` once escaped the send: the attempt was never recorded and
    the webhook went out again after every lease."""
    sub = await _one_match(env, receiver)
    receiver.default = Reply(503, headers={"Retry-After": "²"})
    async with env.worker() as worker:
        assert await worker.deliver_due() == 1
    (n,) = await env.notifications(sub["subscription_id"])
    (attempt,) = await env.attempts(n["id"])
    assert (attempt["outcome"], attempt["status_code"]) == ("failed", 503)
    assert n["status"] == "pending" and n["lease_token"] is None
    # The schedule's first delay (5 s, no jitter here), not the receiver's word.
    assert n["next_attempt_at"] == env.clock() + timedelta(seconds=5)


@pytest.mark.parametrize("failing", ["send", "record"])
async def test_a_delivery_that_keeps_failing_ends_dead_with_its_error(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    sub = await _one_match(env, receiver)

    async def broken(*_args: Any) -> Any:
        raise ValueError(f"{failing} is broken")

    async with env.worker() as worker:
        for channel in worker._channels:
            monkeypatch.setattr(channel, failing, broken)
        for _ in range(len(env.settings.retry_schedule) + 1):
            assert await worker.deliver_due() == 1
            env.clock.advance(3600)
            if failing == "record":
                break
        assert await worker.deliver_due() == 0
    (n,) = await env.notifications(sub["subscription_id"])
    assert n["status"] == "dead"
    assert n["last_error"] == f"ValueError: {failing} is broken"
    attempts = await env.attempts(n["id"])
    assert all(a["outcome"] == "failed" for a in attempts)
    assert len(attempts) == (1 if failing == "record" else 4)
