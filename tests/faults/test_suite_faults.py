"""Faults on the real processes `make up` starts (python -m deploy.local), driven only
through the public HTTP APIs, signals and SQL on the Postgres server: each scenario
registers enterprises while the fault happens, then must end with exactly the
matches of a control road show (same parties, no fault), every bank webhook
delivered, nothing dead-lettered, nothing dead.

One suite for the module (started once: the tests share its control road show; each
scenario has its own road show). The broker restart runs last: it wipes the topics."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from demo.generator import generate
from demo.receiver import WebhookReceiver
from shared.embedded import drop_database, free_port
from shared.testing.suite import SERVICES, Suite, free_port_run
from tests.faults import harness as h
from tests.faults import scenarios as sc

ENTERPRISES = 100
PARTICIPANTS = 18  # 4 banks
RATE = 25.0  # registrations per second: the flow lasts 4 s
COMPRESSION = 1200.0  # the retry schedule's first 2 h in 6 s


@pytest_asyncio.fixture(scope="module")
async def run(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[sc.Run]:
    prefix = f"roadshow_f{uuid.uuid4().hex[:8]}_"
    suite = Suite(
        tmp_path_factory.mktemp("faults") / "suite",
        kafka_port=free_port(),
        first_port=free_port_run(4),
        database_url=pg_server_url,
        db_prefix=prefix,
        extra_env={
            "NOTIFICATION_RETRY_SCHEDULE": h.compressed_schedule(COMPRESSION),
            # A killed worker's claimed deliveries come back after the lease: shorter here.
            "NOTIFICATION_REQUEST_TIMEOUT_SECONDS": "3",
            "NOTIFICATION_SMTP_TIMEOUT_SECONDS": "3",
            "NOTIFICATION_DELIVERY_LEASE_SECONDS": "8",
            "ROADSHOW_BROKER_RECOVERY_SECONDS": "30",
        },
    )
    receiver = WebhookReceiver()
    port = free_port()
    try:
        await asyncio.to_thread(suite.start, 120)
        await receiver.start(port=port)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            r = sc.Run(
                suite,
                h.Api(session, suite.urls),
                receiver,
                pg_server_url,
                generate(11, ENTERPRISES, PARTICIPANTS),
                RATE,
                drain_s=60,
                rng=random.Random(11),
                receiver_port=port,
            )
            control = await sc.control(r)
            assert control.ok and control.matches > 0, control
            yield r
    finally:
        await receiver.stop()
        await asyncio.to_thread(suite.stop)
        await asyncio.gather(*(drop_database(pg_server_url, prefix + s) for s in SERVICES))


def assert_nothing_lost(o: sc.Outcome) -> None:
    assert o.registrations == ENTERPRISES, o
    assert o.recover_s is not None, f"not drained: {o}"
    assert (o.lost, o.doubled, o.unexpected) == (0, 0, 0), o
    assert o.matches == o.matches_expected, o
    assert o.webhooks_distinct == o.webhooks_expected, o  # duplicates (same id) are allowed
    assert (o.dead_lettered, o.dead) == (0, 0), o


async def test_matching_and_notification_killed_mid_flow(run: sc.Run) -> None:
    fault = sc.kills(("matching", "notification"), per_service=1, within=ENTERPRISES / RATE)
    outcome = await sc.scenario(run, "kills", fault)
    assert_nothing_lost(outcome)
    assert sum("exited with -9" in n for n in outcome.notes) == 2, outcome.notes


async def test_matching_database_outage_loses_nothing(run: sc.Run) -> None:
    fault = sc.database_outage("matching", seconds=4, after=1)
    # Drained in ~10 s when nothing is lost: don't wait a minute for matches that never come.
    assert_nothing_lost(await sc.scenario(run, "db", fault, drain_s=25))


async def test_receiver_down_for_the_first_hours_of_retries(run: sc.Run) -> None:
    outcome = await sc.scenario(run, "receiver", sc.receiver_down(6))
    assert_nothing_lost(outcome)


async def test_broker_restart_recovered_by_replay(run: sc.Run) -> None:
    """Last: the restarted broker has none of the earlier topics' records."""
    outcome = await sc.scenario(run, "broker", sc.broker_restart(after=1.5))
    assert_nothing_lost(outcome)
    assert any("outbox rows replayed" in n for n in outcome.notes), outcome.notes
