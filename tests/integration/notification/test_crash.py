"""A delivery worker killed with SIGKILL mid-delivery: once its lease runs out
another worker delivers the notifications it held, with the same webhook-id,
and no notification is lost or sent twice after success."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

from shared.testing.plugin import LOG_DIR
from shared.testing.waiting import eventually
from tests.integration.notification.conftest import EnvFactory, Receiver, Reply


def _worker(dsn: str, prefix: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NOTIFICATION_DATABASE_URL": dsn,
        "NOTIFICATION_TOPIC_PREFIX": prefix,
        "NOTIFICATION_ALLOW_PRIVATE_ENDPOINTS": "true",
        "NOTIFICATION_REQUEST_TIMEOUT_SECONDS": "2",
        "NOTIFICATION_DELIVERY_LEASE_SECONDS": "3",
        "NOTIFICATION_ENDPOINT_CONCURRENCY": "3",
        "NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
        "NOTIFICATION_RETRY_SCHEDULE": "1s,1s,1s",
        "NOTIFICATION_LOG_FILE": str(LOG_DIR / "notification-worker.jsonl"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.notification", "deliver"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_worker_killed_mid_delivery_loses_nothing(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    env = await make_env()
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url)
    bank = await env.participant(partner)
    for _ in range(6):
        await env.match(bank, await env.enterprise())
    expected = {str(n["id"]) for n in await env.notifications(sub["subscription_id"])}
    assert len(expected) == 6
    receiver.script = [Reply(hang=True)] * 3  # the first three never answer

    first = _worker(env.dsn, env.settings.topic_prefix)
    try:

        async def three_hanging() -> bool:
            return len(receiver.requests) >= 3

        await eventually(three_hanging, within=30, what="three requests in flight")
    finally:
        first.kill()  # SIGKILL: no cleanup, no goodbye, mid-request
        first.wait()
    assert first.returncode == -signal.SIGKILL
    hung = set(receiver.ids())
    assert len(hung) == 3
    in_flight = await env.pool.fetchval(
        "SELECT count(*) FROM delivery_attempts WHERE outcome = 'in_flight'"
    )
    assert in_flight == 3

    second = _worker(env.dsn, env.settings.topic_prefix)
    try:

        async def all_delivered() -> bool:
            rows = await env.notifications(sub["subscription_id"])
            return all(n["status"] == "delivered" for n in rows)

        await eventually(all_delivered, within=30, what="every notification delivered")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert second.returncode == 0, second.stderr.read() if second.stderr else ""

    sent = Counter(receiver.ids())
    assert set(sent) == expected  # none lost
    assert {i for i, k in sent.items() if k == 2} == hung  # the same webhook-id again
    assert all(k == 1 for i, k in sent.items() if i not in hung)  # nothing doubled
    for n in await env.notifications(sub["subscription_id"]):
        outcomes = [a["outcome"] for a in await env.attempts(n["id"])]
        if str(n["id"]) in hung:
            assert outcomes == ["abandoned", "delivered"]
        else:
            assert outcomes == ["delivered"]
    assert (await env.outbox_types()).count("notification.delivered") == 6
