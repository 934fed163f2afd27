"""`python -m services.matching serve` as `make up` starts it: it migrates, serves
the API and runs every loop; readiness reports each loop; SIGTERM stops it
cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp

from services.matching.bootstrap import MIGRATIONS
from shared.embedded import EmbeddedBroker, free_port
from shared.testing.plugin import LOG_DIR, DatabaseFactory
from shared.testing.waiting import eventually
from shared.topics import Topics


async def test_serve_runs_api_and_every_loop(
    databases: DatabaseFactory, broker: EmbeddedBroker, topics: Topics
) -> None:
    dsn = await databases.fresh(MIGRATIONS)
    port = free_port()
    env = {
        **os.environ,
        "MATCHING_DATABASE_URL": dsn,
        "MATCHING_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "MATCHING_TOPIC_PREFIX": topics.prefix,
        "MATCHING_HTTP_PORT": str(port),
        "MATCHING_LOG_FILE": str(LOG_DIR / "matching.jsonl"),
        "MATCHING_CONSUMER_SESSION_TIMEOUT_MS": "3000",
        # What deploy/local.py passes to every service; matching ignores them.
        "MATCHING_ADMIN_TOKEN": "unused",
        "MATCHING_ALLOW_PRIVATE_ENDPOINTS": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.matching",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> dict[str, bool] | None:
                assert process.returncode is None, "matching exited"
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                        body = await resp.json()
                        return body["checks"] if resp.status == 200 else None
                except aiohttp.ClientError:
                    return None

            checks = await eventually(ready, within=30, interval=0.2, what="matching to be ready")
            assert checks == {
                "database": True,
                "outbox_relay": True,
                "registration_consumer": True,
                "answers_consumer": True,
                "scheduling_worker": True,
                "follow_up_loop": True,
            }
            async with http.get(f"http://127.0.0.1:{port}/v1/roadshows/x/matches") as resp:
                assert resp.status == 401  # partner routes need a key
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 20)
    assert returncode == 0
